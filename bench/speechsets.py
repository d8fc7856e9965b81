"""Development speech sets: harder Mandarin ASR items built from the 11 shared dev clips.

Whisper base was tuned on 11 short Mandarin clips and then lost to plain faster-whisper on
unseen speech: a fast, unpaused, meeting-style utterance collapsed into a loop, a clause was
lost, a clean sentence was misheard. This module builds harder items from the same clips, and
splits them **by source clip** into two groups that never share a clip:

* ``tune``: thresholds and decoding choices are tuned here;
* ``report``: figures are reported here, after tuning, never tuned on.

For each group (see :data:`CLIPS` for the fixed assignment and docs/speech-sets.md):

* ``clips``: the group's original clips (the manifest points at them, nothing is copied);
* ``long``: several clips of the group, leading and trailing silence trimmed, levels matched,
  joined with at most 60 ms between them into unpaused runs of up to 28 s (the endpointer
  splits a turn at 15 s, so runs past 15 s cross that split);
* ``fast``: every clip at 1.2×, 1.3× and 1.4×, once as tape speed (soxr resampling: faster
  and higher) and once with a WSOLA time stretch (faster, same pitch), plus each ``long`` run
  at 1.3× WSOLA (the fast unpaused talker);
* ``turns``: clips of different sources (different voices) one after the other in one
  channel, each boundary a speaker change, with −300 ms (overlap) to +200 ms between turns;
  the reference is the turns' references in start order;
* ``calls`` (``report`` only): both legs of the real English 8 kHz phone call
  ``calls/en_two_party``, cut at their quietest points into pieces of at most 28 s and upsampled
  to 16 kHz. It has **no reference** (the text column is empty): agreement-only.

Every manifest is ``trans.tsv`` with the header ``file\\ttext\\tsource`` (file relative to the
manifest, reference, provenance: source clips and transformation), the format ``jiesu bench
asr-accuracy`` reads. Audio is 16 kHz mono int16 WAV, written into a git-ignored folder
(``var/speechsets`` by default) and rebuilt only when the inputs, the seed or this module's
code change (``stamp.json``). The sources are for development use only and never
redistributed (``../shared/data/README.md``).

``python -m jiesu.bench.speechsets --out var/speechsets [--seed N] [--data ../shared/data]``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import wave
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from jiesu.codecs.resample import resample
from jiesu.models.registry import shared_data_path

Pcm = npt.NDArray[np.int16]

RATE = 16_000
DEFAULT_OUT = Path("var/speechsets")
DEFAULT_DATA = Path("../shared/data")
DEFAULT_SEED = 12345
MANIFEST_NAME = "trans.tsv"
MANIFEST_HEADER = ("file", "text", "source")
STAMP_NAME = "stamp.json"
#: Bump when the output changes in a way the source hash would not show (it always does now).
BUILDER_VERSION = 1

SPLITS = ("tune", "report")
SETS = ("clips", "long", "fast", "turns")
CALLS_SET = "report/calls"
CALLS_README = "no reference: agreement-only"

#: Whisper's window is 30 s; items stay under it with room for the final's padding.
MAX_ITEM_S = 28.0
#: A long run is at least this long when the group's clips allow (the endpointer splits at 15).
LONG_TARGET_S = (15.5, MAX_ITEM_S)
LONG_ITEMS = 4
MAX_JOIN_GAP_MS = 60
TURN_ITEMS = 4
TURN_GAP_MS = (-300, 200)
FAST_FACTORS = (1.2, 1.3, 1.4)
LONG_FAST_FACTOR = 1.3
#: A frame is speech when its RMS is within this of the loudest frame and above the floor.
TRIM_THRESHOLD_DB = -35.0
TRIM_FLOOR = 100.0  # int16 RMS, about -50 dBFS: a near-silent file has no speech at all
TRIM_FRAME_MS = 10
TRIM_PAD_MS = 30
#: Speech level that joined clips are brought to (RMS of the speech frames), and the peak cap.
LEVEL_DBFS = -24.0
PEAK_DBFS = -1.0
#: Calls are cut at the quietest 300 ms between 10 s and 28 s into the rest of the leg.
CALL_MIN_PIECE_S = 10.0
CALL_QUIET_WINDOW_MS = 300
CALL_MIN_SPEECH_S = 1.0
CALL_FILES = ("Auto_Repairs_40_UTC_agent.wav", "Auto_Repairs_40_UTC_caller.wav")
CALL_DIR = Path("calls/en_two_party")


@dataclass(frozen=True, slots=True)
class SourceClip:
    """One shared Mandarin dev clip and the group it belongs to."""

    path: str  # relative to the data folder
    kind: str  # read / broadcast / podcast / conversation / meeting / acted
    origin: str  # the corpus or repository the voice comes from (turns pair different ones)
    split: str
    seconds: float  # as stored, for the balance check and the docs

    @property
    def name(self) -> str:
        return Path(self.path).stem


#: The fixed split, balanced by duration (48.6 s / 49.7 s) and kind of speech. Each group
#: has read speech, a broadcast voice, a podcast and one long free-speech clip; ``report``
#: also has the one real conversation, ``tune`` the podcast that sounds most like one.
CLIPS: tuple[SourceClip, ...] = (
    SourceClip("speech/mandarin/higgs_mabaoguo.wav", "meeting", "higgs-audio", "tune", 27.70),
    SourceClip("speech/mandarin/fireredtts2_zh_S1.wav", "podcast", "FireRedTTS2", "tune", 11.93),
    SourceClip(
        "speech/mandarin/firered_BAC009S0764W0121.wav", "read", "AISHELL-1 S0764", "tune", 4.20
    ),
    SourceClip("speech/mandarin/cosyvoice_zero_shot_prompt.wav", "read", "CosyVoice", "tune", 3.48),
    SourceClip("speech/mandarin/speechio_CCTV_1.wav", "broadcast", "CCTV", "tune", 1.28),
    SourceClip("speech/mandarin/soulx_male_mandarin.wav", "podcast", "SoulX", "report", 13.78),
    SourceClip("speech/mandarin/higgs_zh_man_sichuan.wav", "acted", "higgs-audio", "report", 12.89),
    SourceClip(
        "speech/mandarin/mossttsd_zh_spk2_moon.wav", "broadcast", "MOSS-TTSD", "report", 8.64
    ),
    SourceClip(
        "speech/mandarin/ming_CTS-CN-F2F-2019-11-11-423-012-A.wav",
        "conversation",
        "MagicData-RAMC",
        "report",
        8.13,
    ),
    SourceClip(
        "speech/mandarin_extra/aishell-BAC009S0724W0121.wav",
        "read",
        "AISHELL-1 S0724",
        "report",
        4.28,
    ),
    SourceClip("speech/mandarin/firered_IT0011W0001.wav", "read", "AISHELL-2", "report", 1.99),
)


class SpeechDataMissing(FileNotFoundError):
    """The shared development data is not where it was looked for."""


@dataclass(frozen=True, slots=True)
class Item:
    """One planned item of a set: which clips, in which order, transformed how."""

    split: str
    set: str
    file: str
    sources: tuple[str, ...]  # clip names, in start order
    gaps_ms: tuple[int, ...] = ()  # between consecutive sources; negative: overlap
    speed: float = 1.0
    method: str = ""  # "" (as recorded), "tape" or "wsola"

    @property
    def key(self) -> str:
        return f"{self.split}/{self.set}"


@dataclass(frozen=True, slots=True)
class CallPiece:
    """A stretch of one call leg, in samples of the leg's own rate."""

    leg_file: str
    start: int
    end: int
    rate: int


@dataclass(frozen=True, slots=True)
class ManifestRow:
    file: str
    text: str
    source: str


# ---- the split


def clips_of(split: str) -> tuple[SourceClip, ...]:
    """The group's clips, in :data:`CLIPS` order."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    return tuple(c for c in CLIPS if c.split == split)


def split_of(name: str) -> str:
    """The split a source clip (by name) belongs to."""
    for clip in CLIPS:
        if clip.name == name:
            return clip.split
    raise KeyError(name)


# ---- pure signal helpers


def frame_rms(pcm: Pcm, rate: int = RATE, frame_ms: int = TRIM_FRAME_MS) -> npt.NDArray[np.float64]:
    """RMS of consecutive ``frame_ms`` frames (the last, partial frame included)."""
    n = max(1, rate * frame_ms // 1000)
    x = pcm.astype(np.float64)
    pad = (-len(x)) % n
    if pad:
        x = np.concatenate([x, np.zeros(pad)])
    if not len(x):
        return np.zeros(0)
    return np.asarray(np.sqrt(np.mean(x.reshape(-1, n) ** 2, axis=1)), dtype=np.float64)


def speech_frames(
    pcm: Pcm,
    rate: int = RATE,
    threshold_db: float = TRIM_THRESHOLD_DB,
    floor: float = TRIM_FLOOR,
    frame_ms: int = TRIM_FRAME_MS,
) -> npt.NDArray[np.bool_]:
    """Frames whose energy is within ``threshold_db`` of the loudest frame and above ``floor``."""
    rms = frame_rms(pcm, rate, frame_ms)
    if not len(rms):
        return np.zeros(0, dtype=bool)
    limit = max(floor, float(rms.max()) * 10 ** (threshold_db / 20))
    return np.asarray(rms >= limit, dtype=bool)


def trim_silence(
    pcm: Pcm,
    rate: int = RATE,
    threshold_db: float = TRIM_THRESHOLD_DB,
    floor: float = TRIM_FLOOR,
    pad_ms: int = TRIM_PAD_MS,
) -> Pcm:
    """``pcm`` without its leading and trailing silence (a simple energy threshold), keeping
    ``pad_ms`` around the speech so that soft onsets and endings are not cut."""
    voiced = np.flatnonzero(speech_frames(pcm, rate, threshold_db, floor))
    if not len(voiced):
        return pcm[:0].copy()
    n = rate * TRIM_FRAME_MS // 1000
    pad = rate * pad_ms // 1000
    start = max(0, int(voiced[0]) * n - pad)
    end = min(len(pcm), (int(voiced[-1]) + 1) * n + pad)
    return pcm[start:end].copy()


def match_level(pcm: Pcm, rate: int = RATE, level_dbfs: float = LEVEL_DBFS) -> Pcm:
    """``pcm`` scaled so its speech frames have RMS ``level_dbfs``, peaks capped at
    :data:`PEAK_DBFS`: clips recorded at different levels are joined as one voice level."""
    voiced = speech_frames(pcm, rate)
    rms = frame_rms(pcm, rate)
    if not voiced.any() or not len(pcm):
        return pcm.copy()
    speech_rms = float(np.sqrt(np.mean(rms[voiced] ** 2)))
    peak = float(np.max(np.abs(pcm.astype(np.float64))))
    gain = 32768.0 * 10 ** (level_dbfs / 20) / speech_rms
    gain = min(gain, 32767.0 * 10 ** (PEAK_DBFS / 20) / peak) if peak else gain
    return _to_int16(pcm.astype(np.float64) * gain)


def join(pieces: Sequence[Pcm], gaps: Sequence[int]) -> tuple[Pcm, list[int]]:
    """``pieces`` one after the other with ``gaps[i]`` samples between piece i and i+1:
    silence when positive, an overlap (the two mixed) when negative. Returns the signal and
    each piece's start. An overlap never reaches back before the previous piece's start."""
    if len(gaps) != max(0, len(pieces) - 1):
        raise ValueError(
            f"{len(pieces)} pieces need {max(0, len(pieces) - 1)} gaps, got {len(gaps)}"
        )
    starts: list[int] = []
    position = 0
    for i, piece in enumerate(pieces):
        if i:
            position = max(starts[-1], position + int(gaps[i - 1]))
        starts.append(position)
        position += len(piece)
    total = max((s + len(p) for s, p in zip(starts, pieces, strict=True)), default=0)
    mix = np.zeros(total, dtype=np.int32)
    for start, piece in zip(starts, pieces, strict=True):
        mix[start : start + len(piece)] += piece.astype(np.int32)
    return np.clip(mix, -32768, 32767).astype(np.int16), starts


def tape_speed(pcm: Pcm, factor: float, rate: int = RATE) -> Pcm:
    """``pcm`` played ``factor`` times faster, as a tape: shorter and higher (soxr)."""
    return resample(np.ascontiguousarray(pcm, dtype=np.int16), round(rate * factor), rate)


def wsola(
    pcm: Pcm,
    factor: float,
    rate: int = RATE,
    frame_ms: float = 40.0,
    tolerance_ms: float = 10.0,
) -> Pcm:
    """``pcm`` ``factor`` times faster at the same pitch: waveform-similarity overlap-add.

    Frames of ``frame_ms`` are taken ``factor`` times further apart than they are laid down
    (half a frame, Hann windows that sum to one); each is shifted by up to ``tolerance_ms``
    to the offset that best continues the previous frame (largest cross-correlation), so the
    periods line up and the voice keeps its pitch.
    """
    n = int(rate * frame_ms / 1000) // 2 * 2
    hop = n // 2
    tol = int(rate * tolerance_ms / 1000)
    out_len = round(len(pcm) / factor)
    if out_len == 0 or not len(pcm):
        return pcm[:0].copy()
    window = np.hanning(n + 1)[:n]  # periodic Hann: shifted by n/2 the windows sum to 1
    x = np.concatenate(
        [np.zeros(tol), pcm.astype(np.float64), np.zeros(2 * n + 2 * tol + int(hop * factor))]
    )
    frames = out_len // hop + 2
    y = np.zeros(frames * hop + n)
    previous = 0
    for k in range(frames):
        nominal = round(k * hop * factor)
        if k == 0:
            position = nominal
        else:
            natural = x[tol + previous + hop : tol + previous + hop + n]
            lo = nominal - tol
            region = x[tol + lo : tol + lo + n + 2 * tol]
            if len(region) < n + 2 * tol:
                break
            candidates = np.lib.stride_tricks.sliding_window_view(region, n)
            position = lo + int(np.argmax(candidates @ natural))
        y[k * hop : k * hop + n] += x[tol + position : tol + position + n] * window
        previous = position
    return _to_int16(y[:out_len])


def quiet_cuts(
    pcm: Pcm,
    rate: int,
    max_s: float = MAX_ITEM_S,
    min_s: float = CALL_MIN_PIECE_S,
    window_ms: int = CALL_QUIET_WINDOW_MS,
) -> list[tuple[int, int]]:
    """``pcm`` cut into pieces of at most ``max_s``, each cut at the middle of the quietest
    ``window_ms`` between ``min_s`` and ``max_s`` after the piece's start."""
    frame = rate * 10 // 1000
    rms = frame_rms(pcm, rate, 10)
    width = max(1, window_ms // 10)
    energy = np.convolve(rms**2, np.ones(width) / width, mode="same")
    limit = int(max_s * rate)
    pieces: list[tuple[int, int]] = []
    start = 0
    while len(pcm) - start > limit:
        lo = (start + int(min_s * rate)) // frame
        hi = (start + limit) // frame
        cut = (lo + int(np.argmin(energy[lo:hi]))) * frame
        pieces.append((start, cut))
        start = cut
    if start < len(pcm):
        pieces.append((start, len(pcm)))
    return pieces


def _to_int16(samples: npt.NDArray[np.float64]) -> Pcm:
    return np.clip(np.rint(samples), -32768, 32767).astype(np.int16)


# ---- planning (pure: durations and a seed in, items out)


def plan_sets(
    seconds: Mapping[str, float], seed: int, clips: Sequence[SourceClip] = CLIPS
) -> list[Item]:
    """Every item of both splits. ``seconds``: each clip's duration after trimming (what the
    ``long`` and ``turns`` items are made of). Deterministic for a seed; no item mixes clips
    of the two splits."""
    rng = np.random.default_rng(seed)
    items: list[Item] = []
    for split in SPLITS:
        group = [c for c in clips if c.split == split]
        items += [Item(split, "clips", Path(c.path).name, (c.name,)) for c in group]
        long = _plan_long(split, group, seconds, rng)
        items += long
        for clip in group:
            for method in ("tape", "wsola"):
                for factor in FAST_FACTORS:
                    name = f"{clip.name}-{method}{factor:.1f}.wav"
                    items.append(Item(split, "fast", name, (clip.name,), (), factor, method))
        for run in long:
            name = f"{Path(run.file).stem}-wsola{LONG_FAST_FACTOR:.1f}.wav"
            items.append(
                Item(split, "fast", name, run.sources, run.gaps_ms, LONG_FAST_FACTOR, "wsola")
            )
        items += _plan_turns(split, group, seconds, rng)
    return items


def _duration(chosen: Sequence[str], gaps: Sequence[int], seconds: Mapping[str, float]) -> float:
    return sum(seconds[c] for c in chosen) + sum(gaps) / 1000


def _plan_long(
    split: str,
    group: Sequence[SourceClip],
    seconds: Mapping[str, float],
    rng: np.random.Generator,
) -> list[Item]:
    names = [c.name for c in group]
    items: list[Item] = []
    seen: set[tuple[str, ...]] = set()
    for _ in range(200):
        if len(items) == LONG_ITEMS:
            break
        target = float(rng.uniform(*LONG_TARGET_S))
        chosen: list[str] = []
        gaps: list[int] = []
        for name in rng.permutation(names):
            gap = int(rng.integers(0, MAX_JOIN_GAP_MS + 1)) if chosen else 0
            more = [*chosen, str(name)]
            if _duration(more, gaps + ([gap] if chosen else []), seconds) <= MAX_ITEM_S:
                if chosen:
                    gaps.append(gap)
                chosen = more
            if _duration(chosen, gaps, seconds) >= target:
                break
        if len(chosen) >= 2 and tuple(chosen) not in seen:
            seen.add(tuple(chosen))
            name = f"long-{len(items) + 1:02d}.wav"
            items.append(Item(split, "long", name, tuple(chosen), tuple(gaps)))
    return items


def _plan_turns(
    split: str,
    group: Sequence[SourceClip],
    seconds: Mapping[str, float],
    rng: np.random.Generator,
) -> list[Item]:
    origin = {c.name: c.origin for c in group}
    names = [c.name for c in group]
    items: list[Item] = []
    seen: set[tuple[str, ...]] = set()
    for _ in range(200):
        if len(items) == TURN_ITEMS:
            break
        wanted = int(rng.integers(2, 5))
        chosen: list[str] = []
        gaps: list[int] = []
        for name in rng.permutation(names):
            name = str(name)
            if chosen and origin[name] == origin[chosen[-1]]:
                continue
            # Every item has one overlap and one pause at least across the set: the first
            # boundary of an even item overlaps, of an odd one pauses; the rest are drawn.
            if not chosen:
                gap = 0
            elif not gaps:
                low, high = TURN_GAP_MS
                gap = (
                    int(rng.integers(low, 0))
                    if len(items) % 2 == 0
                    else int(rng.integers(0, high + 1))
                )
            else:
                gap = int(rng.integers(TURN_GAP_MS[0], TURN_GAP_MS[1] + 1))
            more_gaps = gaps + ([gap] if chosen else [])
            if _duration([*chosen, name], more_gaps, seconds) <= MAX_ITEM_S:
                chosen.append(name)
                gaps = more_gaps
            if len(chosen) == wanted:
                break
        if len(chosen) >= 2 and tuple(chosen) not in seen:
            seen.add(tuple(chosen))
            name = f"turns-{len(items) + 1:02d}.wav"
            items.append(Item(split, "turns", name, tuple(chosen), tuple(gaps)))
    return items


# ---- rendering


def render(item: Item, audio: Mapping[str, Pcm], rate: int = RATE) -> Pcm:
    """The item's signal from the source clips' audio (16 kHz int16, as recorded)."""
    if item.set == "clips":
        return audio[item.sources[0]]
    if item.set == "fast" and len(item.sources) == 1:
        pcm = audio[item.sources[0]]
    else:
        pieces = [match_level(trim_silence(audio[name], rate), rate) for name in item.sources]
        pcm, _ = join(pieces, [g * rate // 1000 for g in item.gaps_ms])
    if item.method == "tape":
        return tape_speed(pcm, item.speed, rate)
    if item.method == "wsola":
        return wsola(pcm, item.speed, rate)
    return pcm


def provenance(item: Item) -> str:
    """What the item is made of, for the manifest's ``source`` column."""
    sources = " + ".join(item.sources)
    if item.set == "clips":
        return f"{sources}: as recorded"
    parts = [sources]
    if len(item.sources) > 1:
        gaps = ", ".join(f"{g:+d}" for g in item.gaps_ms)
        parts.append(
            f"trimmed at {TRIM_THRESHOLD_DB:.0f} dB, level {LEVEL_DBFS:.0f} dBFS, gaps ms [{gaps}]"
        )
    if item.method == "tape":
        parts.append(f"tape speed x{item.speed:.1f} (soxr resampling: faster and higher pitch)")
    elif item.method == "wsola":
        parts.append(f"WSOLA time stretch x{item.speed:.1f} (faster, pitch kept)")
    return f"{item.set}: " + "; ".join(parts)


def reference(item: Item, references: Mapping[str, str]) -> str:
    """The sources' references joined in start order."""
    return "".join(references[name] for name in item.sources)


def format_manifest(rows: Sequence[ManifestRow]) -> str:
    """``trans.tsv`` text: the header, then one tab-separated row per item."""
    lines = ["\t".join(MANIFEST_HEADER)]
    for row in rows:
        for value in (row.file, row.text, row.source):
            if "\t" in value or "\n" in value:
                raise ValueError(f"manifest field holds a tab or newline: {value!r}")
        lines.append(f"{row.file}\t{row.text}\t{row.source}")
    return "\n".join(lines) + "\n"


def read_manifest(path: Path) -> list[ManifestRow]:
    """Rows of a ``trans.tsv`` written by :func:`format_manifest` (header skipped)."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        file, text, source = ([*line.split("\t"), "", ""])[:3]
        rows.append(ManifestRow(file, text, source))
    return rows


# ---- files


def read_wav(path: Path) -> tuple[Pcm, int]:
    """Mono int16 samples and rate of a 16-bit PCM WAV file."""
    with wave.open(str(path), "rb") as handle:
        if handle.getsampwidth() != 2 or handle.getnchannels() != 1:
            raise ValueError(f"{path}: expected 16-bit mono PCM")
        rate = handle.getframerate()
        data = np.frombuffer(handle.readframes(handle.getnframes()), dtype="<i2")
    return data.astype(np.int16), rate


def write_wav(path: Path, pcm: Pcm, rate: int = RATE) -> None:
    """16-bit mono PCM WAV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(np.ascontiguousarray(pcm, dtype="<i2").tobytes())


def read_references(data_dir: Path) -> dict[str, str]:
    """Reference text of every clip of :data:`CLIPS`, by clip name, from the shared manifests."""
    refs: dict[str, str] = {}
    for folder in sorted({Path(c.path).parent for c in CLIPS}):
        manifest = data_dir / folder / MANIFEST_NAME
        for line in manifest.read_text(encoding="utf-8").splitlines()[1:]:
            parts = line.split("\t")
            if len(parts) >= 2 and parts[0].endswith(".wav"):
                refs[Path(parts[0]).stem] = parts[1]
    missing = [c.name for c in CLIPS if c.name not in refs]
    if missing:
        raise SpeechDataMissing(f"no reference for {missing} in the manifests under {data_dir}")
    return refs


def input_files(data_dir: Path) -> list[Path]:
    """Every file the sets are built from (clips, their manifests, the call legs)."""
    folders = sorted({Path(c.path).parent for c in CLIPS})
    files = [data_dir / c.path for c in CLIPS] + [data_dir / f / MANIFEST_NAME for f in folders]
    return files + [data_dir / CALL_DIR / name for name in CALL_FILES]


def check_data(data_dir: Path) -> None:
    """Raise :class:`SpeechDataMissing` naming the first missing input."""
    for path in input_files(data_dir):
        if not path.is_file():
            raise SpeechDataMissing(
                f"speech sets: {path} not found; the shared development data "
                f"({data_dir}) is needed to build them"
            )


def fingerprint(data_dir: Path, seed: int) -> dict[str, object]:
    """What the sets depend on: the inputs' contents, the seed and this module's code."""
    inputs = {
        str(path.relative_to(data_dir)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in input_files(data_dir)
    }
    code = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    return {
        "version": BUILDER_VERSION,
        "code": code,
        "seed": seed,
        "data": str(data_dir.resolve()),
        "inputs": inputs,
    }


def manifest_paths(out_dir: Path) -> dict[str, Path]:
    """Manifest path of every set, by ``split/set`` name."""
    paths = {
        f"{split}/{name}": out_dir / split / name / MANIFEST_NAME
        for split in SPLITS
        for name in SETS
    }
    paths[CALLS_SET] = out_dir / CALLS_SET / MANIFEST_NAME
    return paths


def build_speechsets(
    data_dir: Path = DEFAULT_DATA, out_dir: Path = DEFAULT_OUT, seed: int = DEFAULT_SEED
) -> dict[str, Path]:
    """Build (or reuse) every set into ``out_dir``; returns each set's manifest path by name
    (``tune/clips``, ``tune/long``, …, ``report/calls``). Raises :class:`SpeechDataMissing`
    when the shared data is absent."""
    check_data(data_dir)
    paths = manifest_paths(out_dir)
    stamp = out_dir / STAMP_NAME
    wanted = fingerprint(data_dir, seed)
    if stamp.is_file() and all(p.is_file() for p in paths.values()):
        try:
            if json.loads(stamp.read_text(encoding="utf-8")) == wanted:
                return paths
        except json.JSONDecodeError:
            pass
    # The stamp goes first and comes back last: a build cut short is never taken as complete.
    stamp.unlink(missing_ok=True)
    for split in SPLITS:
        shutil.rmtree(out_dir / split, ignore_errors=True)
    _build_items(data_dir, out_dir, seed, paths)
    _build_calls(data_dir, paths[CALLS_SET])
    stamp.write_text(json.dumps(wanted, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return paths


def _build_items(data_dir: Path, out_dir: Path, seed: int, paths: Mapping[str, Path]) -> None:
    references = read_references(data_dir)
    audio: dict[str, Pcm] = {}
    for clip in CLIPS:
        pcm, rate = read_wav(data_dir / clip.path)
        audio[clip.name] = pcm if rate == RATE else resample(pcm, rate, RATE)
    seconds = {name: len(trim_silence(pcm)) / RATE for name, pcm in audio.items()}
    rows: dict[str, list[ManifestRow]] = {key: [] for key in paths if key != CALLS_SET}
    clip_path = {c.name: data_dir / c.path for c in CLIPS}
    for item in plan_sets(seconds, seed):
        folder = paths[item.key].parent
        if item.set == "clips":
            # The original file, by path: shared data is never copied.
            file = os.path.relpath(clip_path[item.sources[0]].resolve(), folder.resolve())
        else:
            file = item.file
            write_wav(folder / file, render(item, audio))
        rows[item.key].append(ManifestRow(file, reference(item, references), provenance(item)))
    for key, set_rows in rows.items():
        paths[key].parent.mkdir(parents=True, exist_ok=True)
        paths[key].write_text(format_manifest(set_rows), encoding="utf-8")


def plan_calls(legs: Mapping[str, tuple[Pcm, int]]) -> list[CallPiece]:
    """Pieces of each call leg: cut at quiet points, only those with some speech in them
    (a leg is silent while the other party talks)."""
    pieces: list[CallPiece] = []
    for leg_file, (pcm, rate) in legs.items():
        # Speech is judged against the whole leg's loudest frame, not each piece's own.
        voiced = speech_frames(pcm, rate)
        frame = rate * TRIM_FRAME_MS // 1000
        for start, end in quiet_cuts(pcm, rate):
            speech_s = float(voiced[start // frame : end // frame].sum()) * TRIM_FRAME_MS / 1000
            if speech_s >= CALL_MIN_SPEECH_S:
                pieces.append(CallPiece(leg_file, start, end, rate))
    return pieces


def _build_calls(data_dir: Path, manifest: Path) -> None:
    legs = {name: read_wav(data_dir / CALL_DIR / name) for name in CALL_FILES}
    rows = []
    counters: dict[str, int] = {}
    for piece in plan_calls(legs):
        pcm, rate = legs[piece.leg_file]
        leg = Path(piece.leg_file).stem.rsplit("_", 1)[-1]
        counters[leg] = counters.get(leg, 0) + 1
        file = f"{leg}-{counters[leg]:02d}.wav"
        write_wav(manifest.parent / file, resample(pcm[piece.start : piece.end], rate, RATE))
        source = (
            f"calls: {CALL_DIR / piece.leg_file} {piece.start / rate:.2f}-{piece.end / rate:.2f} s, "
            f"cut at the quietest {CALL_QUIET_WINDOW_MS} ms, {rate} Hz -> {RATE} Hz (soxr); "
            "no reference"
        )
        rows.append(ManifestRow(file, "", source))
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(format_manifest(rows), encoding="utf-8")
    (manifest.parent / "README").write_text(
        f"{CALLS_README}\n\nThe real English two-party call {CALL_DIR} has no transcript: the text "
        "column of trans.tsv is empty. Score one system against another (agreement), never "
        "as accuracy.\n",
        encoding="utf-8",
    )


# ---- summary and command line


def summarize(paths: Mapping[str, Path]) -> dict[str, dict[str, float]]:
    """Items and seconds of audio per set."""
    out: dict[str, dict[str, float]] = {}
    for key, manifest in paths.items():
        rows = read_manifest(manifest)
        seconds = 0.0
        for row in rows:
            with wave.open(str(manifest.parent / row.file), "rb") as handle:
                seconds += handle.getnframes() / handle.getframerate()
        out[key] = {"items": len(rows), "seconds": round(seconds, 1)}
    return out


def is_agreement_only(path: Path) -> bool:
    """Whether a manifest has no references (every text empty): agreement-only scoring."""
    rows = read_manifest(path)
    return bool(rows) and all(not row.text.strip() for row in rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Build the sets; print items and seconds per set. Exit 1 without the shared data."""
    parser = argparse.ArgumentParser(
        prog="python -m jiesu.bench.speechsets", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="output folder (default %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="default %(default)s")
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="shared data folder (default %(default)s)"
    )
    args = parser.parse_args(argv)
    try:
        paths = build_speechsets(args.data, args.out, args.seed)
    except SpeechDataMissing as exc:
        print(str(exc), file=sys.stderr)
        return 1
    for key, figures in summarize(paths).items():
        print(
            f"{key:14s} {int(figures['items']):4d} items {figures['seconds']:8.1f} s  {paths[key]}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())


def add_callers_argument(parser: argparse.ArgumentParser) -> None:
    """``--speech``: folders of the callers' recordings (the shared Mandarin sets)."""
    parser.add_argument(
        "--speech",
        type=Path,
        nargs="+",
        default=[
            shared_data_path("speech", "mandarin"),
            shared_data_path("speech", "mandarin_extra"),
        ],
        help="folders of WAV recordings (the callers)",
    )


def caller_clips(folders: list[Path]) -> list[Path]:
    """The recordings of ``folders``, sorted; exits with a message when there are none."""
    clips = sorted(p for folder in folders if folder.is_dir() for p in folder.glob("*.wav"))
    if not clips:
        raise SystemExit(f"no recordings in {[str(f) for f in folders]}")
    return clips
