"""Per-leg streaming recognition state: audio in, decode requests and transcript payloads out.

One :class:`LegRecognizer` per (call, leg). It is sans-I/O: the caller feeds
:class:`~jiesu.engine.audio.AudioChunk`\\ s with :meth:`LegRecognizer.push` and gets back
:class:`Decode` work items (a partial or a final of one utterance, with its audio). It runs them
through the shared ASR batcher and hands each result back with :meth:`on_partial` /
:meth:`on_final`, which return the payloads to publish. Speech probability comes from an
injected function (Silero + WebRTC in production, a script in tests), so nothing here loads a
model, reads a clock or awaits.

Guards against invented text: only audio the endpointer judged to be speech is ever decoded; a
final whose decoder says "no speech" or whose text is a known Whisper filler on a short
utterance is dropped (and counted by the caller); a partial judged the same way is not shown.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from jiesu.engine.audio import AudioChunk, Leg
from jiesu.engine.events import TimedToken, TranscriptFinal, TranscriptPartial
from jiesu.engine.speech.endpointer import (
    Endpointer,
    EndpointerConfig,
    EndpointEvent,
    PartialDue,
    PauseSeen,
    SpeechStart,
    UtteranceEnd,
)
from jiesu.engine.speech.hotwords import HotwordCorrector, build_prompt, suspects
from jiesu.engine.speech.local_agreement import LocalAgreement
from jiesu.engine.speech.textnorm import TextNormalizer

Pcm = npt.NDArray[np.int16]
#: Speech probability of one chunk (16 kHz int16), e.g. Silero gated by WebRTC.
SpeechProbability = Callable[[Pcm], float]

#: Text Whisper produces on non-speech (subtitle credits, sign-offs), compared after
#: normalisation; dropped when the utterance is short or the decoder was unsure.
FILLER_TEXTS = frozenset(
    {
        "谢谢观看",
        "谢谢大家",
        "谢谢收看",
        "请不吝点赞订阅转发打赏支持明镜与点点栏目",
        "字幕由amaraorg社区提供",
        "字幕志愿者",
        "优优独播剧场yoyotelevisionseriesexclusive",
        "我们下期再见",
        "感谢观看",
        "本期视频就到这里",
    }
)


@dataclass(frozen=True, slots=True)
class RecognizerConfig:
    endpointer: EndpointerConfig = field(default_factory=EndpointerConfig)
    #: Audio kept before the endpointer's speech start (the first syllable's onset).
    preroll_ms: int = 200
    #: A final whose no-speech probability is above this (and whose average log-probability is
    #: below ``min_avg_logprob``) is dropped as invented.
    no_speech_threshold: float = 0.6
    min_avg_logprob: float = -1.0
    #: Utterances shorter than this with filler text are dropped.
    filler_max_ms: int = 3000
    #: Characters of the leg's previous text given to the decoder as context (0: none).
    #: Off by default: on the Mandarin dev clips a 60-character history prompt raised
    #: Whisper base's CER from 0.179 to 0.203 (`jiesu bench asr-accuracy --prompt history`).
    prompt_history_chars: int = 0
    #: Put the hotwords in the decoder prompt too (they are always used for correction).
    #: Off by default: measured on Whisper base, a hotword prompt makes it invent those words.
    prompt_hotwords: bool = False
    prompt_max_chars: int = 120
    #: Decode a final again with the hotwords it sounds like as the prompt (hotwords needed).
    hotword_second_pass: bool = True
    #: How alike (pinyin) a window must sound to a hotword to ask for the second pass.
    second_pass_threshold: float = 0.7
    local_agreement_n: int = 2


@dataclass(frozen=True, slots=True)
class Decode:
    """Audio of one utterance to decode, final or partial."""

    leg: Leg
    utterance_id: str
    final: bool
    t_start: int
    t_end: int
    pcm: Pcm
    prompt: str
    #: Which partial of the utterance this is (results of older partials are ignored).
    revision: int
    #: An early final: decoded when a pause began, kept only if the utterance's end comes with
    #: the same audio (:meth:`LegRecognizer.still_paused`, :func:`same_audio`).
    early: bool = False


@dataclass(frozen=True, slots=True)
class DecodedText:
    """What the decoder said about one :class:`Decode`."""

    text: str
    no_speech_prob: float = 0.0
    avg_logprob: float = 0.0
    #: The characters of ``text`` (spaces excepted) with times in ms from the start of the
    #: decode's audio, when the model aligned them; empty otherwise.
    chars: tuple[TimedToken, ...] = ()
    #: The language the model transcribed in (detected when not forced); "" when unknown.
    language: str = ""


@dataclass(slots=True)
class _Utterance:
    index: int
    t_start: int
    agreement: LocalAgreement
    revision: int = 0
    published_revision: int = -1


@dataclass
class LegRecognizer:
    """Streaming recognition of one leg (see module docstring)."""

    call_id: str
    leg: Leg
    speech_probability: SpeechProbability
    normalizer: TextNormalizer
    hotwords: HotwordCorrector | None = None
    hotword_prompt: tuple[str, ...] = ()
    config: RecognizerConfig = RecognizerConfig()
    _endpointer: Endpointer = field(init=False)
    _chunks: deque[AudioChunk] = field(init=False)
    _current: _Utterance | None = field(init=False, default=None)
    _history: str = field(init=False, default="")
    #: Samples of the last chunk that did not fill a frame, and when the next frame starts.
    _leftover: Pcm = field(init=False)
    _frame_t: int | None = field(init=False, default=None)
    dropped_finals: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self._endpointer = Endpointer(self.config.endpointer)
        self._chunks = deque()
        self._leftover = np.zeros(0, dtype=np.int16)

    # --- audio in ------------------------------------------------------------------------

    def push(self, chunk: AudioChunk) -> list[Decode]:
        """Feed one chunk (in seq order, any length); returns the decodes now due.

        The endpointer counts time in frames of ``endpointer.frame_ms``: a chunk is cut into
        such frames (the rest waits for the next chunk), so a door sending 100 ms chunks gets
        the same 600 ms hangover as one sending 20 ms RTP frames, not five times it."""
        self._chunks.append(chunk)
        frame_ms = self.config.endpointer.frame_ms
        size = frame_ms * chunk.rate // 1000
        if self._frame_t is None or chunk.t_media_ms >= self._frame_t + frame_ms:
            # First chunk, or media time jumped ahead: frames start again at this chunk.
            self._frame_t, self._leftover = chunk.t_media_ms, self._leftover[:0]
        pcm = np.concatenate([self._leftover, chunk.pcm]) if len(self._leftover) else chunk.pcm
        work: list[Decode] = []
        whole = len(pcm) - len(pcm) % size
        for offset in range(0, whole, size):
            frame = pcm[offset : offset + size]
            energy = float(np.sqrt(np.mean(np.square(frame, dtype=np.float64))))
            events = self._endpointer.push(self._frame_t, self.speech_probability(frame), energy)
            self._frame_t += frame_ms
            work += self._handle(events)
        self._leftover = pcm[whole:].copy()
        self._trim()
        return work

    def flush(self) -> list[Decode]:
        """End of the leg: the utterance in progress, if any, becomes a final."""
        return self._handle(self._endpointer.flush())

    def _handle(self, events: Sequence[EndpointEvent]) -> list[Decode]:
        work: list[Decode] = []
        for event in events:
            if isinstance(event, SpeechStart):
                # Open the utterance now so its onset is kept in the buffer.
                self._utterance(event.utterance, event.t_start)
            elif isinstance(event, PartialDue):
                utterance = self._utterance(event.utterance, event.t_start)
                utterance.revision += 1
                work.append(self._decode(utterance, event.t_start, event.t_end, final=False))
            elif isinstance(event, PauseSeen):
                utterance = self._utterance(event.utterance, event.t_start)
                early = self._decode(utterance, event.t_start, event.t_end, final=True)
                work.append(dataclasses.replace(early, early=True))
            elif isinstance(event, UtteranceEnd):
                utterance = self._utterance(event.utterance, event.t_start)
                work.append(self._decode(utterance, event.t_start, event.t_end, final=True))
                self._current = None
        return work

    def still_paused(self, early: Decode) -> bool:
        """Whether the pause that ``early`` was decoded for still goes on: the same utterance,
        in speech state, with no speech heard since ``early.t_end``. When it does not, the early
        final is useless (speech resumed, or the utterance was split) and can be withdrawn."""
        return (
            self._endpointer.in_speech
            and self._utterance_id(self._endpointer.utterance) == early.utterance_id
            and self._endpointer.last_speech_end == early.t_end
        )

    def _utterance(self, index: int, t_start: int) -> _Utterance:
        if self._current is None or self._current.index != index:
            agreement = LocalAgreement(self.config.local_agreement_n)
            self._current = _Utterance(index, t_start, agreement)
        return self._current

    def _decode(self, utterance: _Utterance, t_start: int, t_end: int, final: bool) -> Decode:
        begin = max(0, t_start - self.config.preroll_ms)
        return Decode(
            leg=self.leg,
            utterance_id=self._utterance_id(utterance.index),
            final=final,
            t_start=t_start,
            t_end=t_end,
            pcm=self._audio(begin, t_end),
            prompt=self._prompt(),
            revision=utterance.revision,
        )

    def _utterance_id(self, index: int) -> str:
        return f"{self.leg.value}-{index}"

    def _audio(self, begin_ms: int, end_ms: int) -> Pcm:
        parts = []
        for chunk in self._chunks:
            start = chunk.t_media_ms
            end = start + len(chunk.pcm) * 1000 // chunk.rate
            if end <= begin_ms or start >= end_ms:
                continue
            lo = max(0, (begin_ms - start) * chunk.rate // 1000)
            hi = min(len(chunk.pcm), (end_ms - start) * chunk.rate // 1000)
            parts.append(chunk.pcm[lo:hi])
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)

    def _trim(self) -> None:
        """Keep only the audio a future decode can still ask for."""
        if not self._chunks:
            return
        newest = self._chunks[-1].t_media_ms
        if self._current is not None:
            keep_from = self._current.t_start - self.config.preroll_ms
        else:
            # The endpointer may still date a starting utterance back by min_speech_ms.
            span = self.config.endpointer.min_speech_ms + self.config.endpointer.hangover_ms
            keep_from = newest - span - self.config.preroll_ms
        # Never more than the longest utterance (plus pre-roll), whatever the endpointer says.
        limit = newest - int(self.config.endpointer.max_utterance_s * 1000) - 1000
        keep_from = max(keep_from, limit)
        while self._chunks and self._chunks[0].t_media_ms + self._chunks[0].duration_ms < keep_from:
            self._chunks.popleft()

    def _prompt(self) -> str:
        limit = self.config.prompt_history_chars
        history = self._history[-limit:] if limit else ""
        words = self.hotword_prompt if self.config.prompt_hotwords else ()
        return build_prompt(words, history, self.config.prompt_max_chars)

    # --- results in ----------------------------------------------------------------------

    def on_partial(self, decode: Decode, result: DecodedText) -> TranscriptPartial | None:
        """A partial's text; None when it is stale (a newer partial or the final came first)."""
        utterance = self._current
        if (
            utterance is None
            or self._utterance_id(utterance.index) != decode.utterance_id
            or decode.revision <= utterance.published_revision
        ):
            return None
        text = _clean(self.normalizer.to_simplified(result.text))
        # The finals' guards apply to partials too: never show text the final would drop.
        if not text or self._invented(decode, result, text):
            return None
        utterance.published_revision = decode.revision
        agreement = utterance.agreement.insert(_spread(text, decode.t_start, decode.t_end))
        return TranscriptPartial(
            leg=self.leg,
            utterance_id=decode.utterance_id,
            text=agreement.text,
            t_start=decode.t_start,
            t_end=decode.t_end,
            stable_chars=agreement.stable_chars,
        )

    def second_pass(self, decode: Decode, result: DecodedText) -> Decode | None:
        """A second decode of a final, prompted with the few hotwords its text sounds like
        (see :func:`~jiesu.engine.speech.hotwords.suspects`); None when none is worth it.

        The caller decodes it and passes that result to :meth:`on_final` instead; a second
        pass is never asked for twice."""
        if not self.config.hotword_second_pass or self.hotwords is None or decode.prompt:
            return None
        text = _clean(self.normalizer.to_simplified(result.text))
        if not text or self._invented(decode, result, text):
            return None
        words = suspects(self.hotwords, text, threshold=self.config.second_pass_threshold)
        if not words:
            return None
        prompt = build_prompt(words, "", self.config.prompt_max_chars)
        return dataclasses.replace(decode, prompt=prompt)

    def keeps_second_pass(self, second: Decode, result: DecodedText) -> bool:
        """Whether the second pass's text is the better one: only when it now holds one of the
        hotwords it was prompted with. Otherwise the prompt did not help and may only have
        changed other words, so the first pass stands."""
        text = self.normalizer.to_simplified(result.text)
        words = [w for w in re.split("[，。]", second.prompt) if w]
        return any(w in text for w in words)

    def on_final(self, decode: Decode, result: DecodedText) -> TranscriptFinal | None:
        """The final's text, normalised and corrected; None when it is judged invented."""
        text = _clean(self.normalizer.normalize(result.text))
        if self.hotwords is not None and text:
            text = self.hotwords.correct(text).text
        if not text or self._invented(decode, result, text):
            self.dropped_finals += 1
            return None
        self._history = (self._history + text)[-self.config.prompt_history_chars :]
        return TranscriptFinal(
            leg=self.leg,
            utterance_id=decode.utterance_id,
            text=text,
            t_start=decode.t_start,
            t_end=decode.t_end,
            tokens=self._final_tokens(decode, result, text),
            language=result.language or "zh",
        )

    def _final_tokens(
        self, decode: Decode, result: DecodedText, text: str
    ) -> tuple[TimedToken, ...]:
        """The final text's characters with call-media times, from the model's alignment."""
        if not result.chars:
            return ()
        begin = max(0, decode.t_start - self.config.preroll_ms)
        raw = "".join(c.text for c in result.chars)
        simplified = self.normalizer.to_simplified(raw)
        if len(simplified) != len(raw):
            simplified = raw
        heard = [
            TimedToken(ch, begin + c.t_start, begin + c.t_end, c.probability)
            for ch, c in zip(simplified, result.chars, strict=True)
        ]
        return map_timings(text, heard, decode.t_end)

    def _invented(self, decode: Decode, result: DecodedText, text: str) -> bool:
        unsure = (
            result.no_speech_prob > self.config.no_speech_threshold
            and result.avg_logprob < self.config.min_avg_logprob
        )
        if unsure:
            return True
        short = decode.t_end - decode.t_start <= self.config.filler_max_ms
        return short and self.normalizer.for_scoring(text) in FILLER_TEXTS


def same_audio(early: Decode, final: Decode) -> bool:
    """Whether an early final decoded exactly what ``final`` asks for (so its result stands)."""
    return (
        early.utterance_id == final.utterance_id
        and early.t_start == final.t_start
        and early.t_end == final.t_end
        and early.prompt == final.prompt
        and len(early.pcm) == len(final.pcm)
    )


def _clean(text: str) -> str:
    # A decode cut short can end inside a multi-byte character of Whisper's byte-level BPE.
    return text.replace("\ufffd", "").strip()


def _spread(text: str, t_start: int, t_end: int) -> list[TimedToken]:
    """Characters with times spread evenly over the window (the model gives no timings yet)."""
    n = max(1, len(text))
    step = (t_end - t_start) / n
    return [
        TimedToken(ch, int(t_start + i * step), int(t_start + (i + 1) * step), 1.0)
        for i, ch in enumerate(text)
    ]


def map_timings(text: str, heard: Sequence[TimedToken], t_end: int) -> tuple[TimedToken, ...]:
    """Times for each character of ``text`` (the normalised, corrected final) from the
    characters the model aligned (``heard``, before normalisation).

    Characters kept by normalisation take their own times; a replaced run (digits for number
    words, a corrected hotword) shares the time of what it replaced; an inserted character
    (punctuation) sits at the end of the one before it. Times never go backwards and never
    pass ``t_end``.
    """
    source = "".join(t.text for t in heard)
    matcher = difflib.SequenceMatcher(None, source, text, autojunk=False)
    out: list[TimedToken] = []
    last = heard[0].t_start if heard else 0
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            for k in range(j2 - j1):
                h = heard[i1 + k]
                out.append(TimedToken(text[j1 + k], h.t_start, h.t_end, h.probability))
        elif op == "replace":
            span = heard[i1:i2]
            start, end = span[0].t_start, span[-1].t_end
            prob = sum(h.probability for h in span) / len(span)
            step = (end - start) / (j2 - j1)
            for k in range(j2 - j1):
                a, b = int(start + k * step), int(start + (k + 1) * step)
                out.append(TimedToken(text[j1 + k], a, b, prob))
        elif op == "insert":
            at = out[-1].t_end if out else last
            out.extend(TimedToken(text[j], at, at, 1.0) for j in range(j1, j2))
    clean: list[TimedToken] = []
    floor = 0
    for token in out:
        start = min(max(token.t_start, floor), t_end)
        end = min(max(token.t_end, start), t_end)
        clean.append(TimedToken(token.text, start, end, round(token.probability, 3)))
        floor = start
    return tuple(clean)


def pcm_to_float(pcm: Pcm) -> npt.NDArray[np.float32]:
    return (pcm.astype(np.float32) / 32768.0).astype(np.float32)
