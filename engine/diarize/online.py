"""Sans-I/O online diarizer for one mixed leg: 16 kHz PCM in, final speaker turns out.

Pipeline per 32 ms frame: speech probability (Silero; any :class:`SpeechProbability`) with
hysteresis. Every ``hop_s`` a window of the last ``window_s`` is embedded from its speech
frames only (:class:`Embedder`, CAM++ in production) and clustered online
(:class:`~jiesu.engine.diarize.clustering.OnlineClusterer`). A speech frame takes the speaker
of the embedded window whose speech centre is nearest, once no later window can be nearer:
``window_s / 2 + hop_s`` after the frame. Turns then pass a smoothing step: a change of speaker
counts only after ``min_switch_s`` of the new speaker (shorter flips are absorbed), and pauses
up to ``max_gap_s`` stay inside a turn. A turn is emitted when it is closed, so the label delay
is bounded by ``window_s / 2 + hop_s + max(min_switch_s, max_gap_s)`` past the turn's end, plus
one hop while a new-speaker candidate waits for its confirming window.

Labels are ``S1``, ``S2``, … in order of first appearance and are never renamed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from jiesu.engine.audio import PIPELINE_RATE_HZ, Leg
from jiesu.engine.diarize.clustering import Assignment, ClusterConfig, OnlineClusterer
from jiesu.engine.events import SpeakerTurn

__all__ = [
    "DiarizedTurn",
    "DiarizerConfig",
    "Embedder",
    "OnlineDiarizer",
    "SpeechProbability",
]

FRAME_SAMPLES = 512
"""Samples per speech-activity frame at 16 kHz (Silero's chunk, 32 ms)."""
FRAME_S = FRAME_SAMPLES / PIPELINE_RATE_HZ


class SpeechProbability(Protocol):
    """Streaming VAD: any number of float samples in, one probability per completed frame."""

    def feed(self, pcm: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]: ...


class Embedder(Protocol):
    """Speaker embeddings of windows of 16 kHz float audio (one row per window)."""

    def embed_batch(self, windows: list[npt.NDArray[np.float32]]) -> npt.NDArray[np.float32]: ...


@dataclass(frozen=True, slots=True)
class DiarizerConfig:
    """Knobs of :class:`OnlineDiarizer` (seconds unless stated)."""

    window_s: float = 1.5
    hop_s: float = 0.75
    #: A window is embedded only with at least this much speech in it.
    min_speech_s: float = 0.4
    #: Speech probability hysteresis.
    onset: float = 0.5
    offset: float = 0.35
    #: A new speaker must hold this long before the turn changes.
    min_switch_s: float = 0.5
    #: Pauses up to this long stay inside a turn.
    max_gap_s: float = 0.5
    #: Turns shorter than this are dropped (noise bursts).
    min_turn_s: float = 0.2
    cluster: ClusterConfig = field(default_factory=ClusterConfig)

    def __post_init__(self) -> None:
        if not 0 < self.hop_s <= self.window_s:
            raise ValueError("need 0 < hop_s <= window_s")
        if not 0 <= self.offset <= self.onset <= 1:
            raise ValueError("need 0 <= offset <= onset <= 1")

    @property
    def window_frames(self) -> int:
        return max(1, round(self.window_s / FRAME_S))

    @property
    def hop_frames(self) -> int:
        return max(1, round(self.hop_s / FRAME_S))

    @property
    def label_delay_frames(self) -> int:
        """Frames after which a frame's speaker can no longer change."""
        return self.window_frames // 2 + self.hop_frames


@dataclass(frozen=True, slots=True)
class DiarizedTurn:
    """One final speaker turn; times in ms of the leg's media, ``t_emit_ms`` = media time seen
    when it was emitted (its label latency is ``t_emit_ms - t_end_ms``)."""

    speaker: str
    t_start_ms: int
    t_end_ms: int
    t_emit_ms: int

    def event(self, leg: Leg = Leg.MIXED) -> SpeakerTurn:
        """The ``speaker.turn`` event for this turn."""
        return SpeakerTurn(leg, self.speaker, self.t_start_ms, self.t_end_ms)


@dataclass(slots=True)
class _Window:
    start: int
    end: int
    centre: float
    speaker: int | None = None


def _ms(frames: int) -> int:
    return round(frames * FRAME_S * 1000)


class OnlineDiarizer:
    """One mixed leg's diarizer. ``feed`` int16 16 kHz PCM; get the turns finalised by it."""

    def __init__(
        self, vad: SpeechProbability, embedder: Embedder, config: DiarizerConfig | None = None
    ) -> None:
        self.config = config if config is not None else DiarizerConfig()
        self._vad = vad
        self._embedder = embedder
        self._clusterer = OnlineClusterer(self.config.cluster)
        # Audio kept for the current window only; _audio_base = sample index of _audio[0].
        self._audio = np.zeros(0, dtype=np.float32)
        self._audio_base = 0
        self._speech: list[bool] = []  # per frame, from _frame_base
        self._frame_base = 0
        self._n_frames = 0
        self._in_speech = False
        self._next_window_end = self.config.window_frames
        self._windows: dict[int, _Window] = {}
        self._n_windows = 0
        self._finalised = 0
        # Turn builder: current turn (speaker, start, end) and a tentative run of another one.
        self._turn: tuple[int, int, int] | None = None
        self._tentative: tuple[int, int, int] | None = None
        self._gap = 0
        self._out: list[DiarizedTurn] = []
        #: Windows embedded so far (for the benchmark's real-time accounting).
        self.windows_embedded = 0

    @property
    def n_speakers(self) -> int:
        return self._clusterer.n_speakers

    def feed(self, pcm: npt.NDArray[np.int16]) -> list[DiarizedTurn]:
        """Take the next samples of the leg (16 kHz int16); return turns that became final."""
        if pcm.dtype != np.int16 or pcm.ndim != 1:
            raise ValueError(f"pcm must be 1-D int16, got {pcm.dtype} {pcm.shape}")
        samples = pcm.astype(np.float32) / 32768.0
        self._audio = np.concatenate([self._audio, samples])
        cfg = self.config
        for prob in self._vad.feed(samples):
            p = float(prob)
            self._in_speech = p >= (cfg.offset if self._in_speech else cfg.onset)
            self._speech.append(self._in_speech)
            self._n_frames += 1
            if self._n_frames == self._next_window_end:
                self._next_window_end += cfg.hop_frames
                self._embed_window(self._n_frames)
        upto = self._n_frames - cfg.label_delay_frames
        # Frames wait for windows the clusterer still holds (a new-speaker candidate).
        waiting = [w.start for w in self._windows.values() if w.speaker is None]
        self._finalise(min([upto, *waiting]))
        self._prune()
        return self._take()

    def flush(self) -> list[DiarizedTurn]:
        """End of the leg: label what is left and close the last turn."""
        if self._n_frames > 0 and self._n_frames != self._next_window_end - self.config.hop_frames:
            self._embed_window(self._n_frames)
        self._apply(self._clusterer.flush())
        self._finalise(self._n_frames)
        self._close_all(self._n_frames)
        return self._take()

    # -- windows ------------------------------------------------------------------------------

    def _embed_window(self, end: int) -> None:
        cfg = self.config
        start = max(0, end - cfg.window_frames)
        frames = [f for f in range(start, end) if self._speech[f - self._frame_base]]
        if len(frames) * FRAME_S < cfg.min_speech_s:
            # No neighbour to confirm a new-speaker candidate: resolve it now, so labels
            # never wait on a silence.
            self._apply(self._clusterer.flush())
            return
        parts = []
        for f in frames:
            a = f * FRAME_SAMPLES - self._audio_base
            parts.append(self._audio[a : a + FRAME_SAMPLES])
        audio = np.concatenate(parts)
        emb = self._embedder.embed_batch([audio])[0]
        self.windows_embedded += 1
        index = self._n_windows
        self._n_windows += 1
        self._windows[index] = _Window(start, end, float(np.mean(frames)) + 0.5)
        self._apply(self._clusterer.add(emb))

    def _apply(self, assignments: list[Assignment]) -> None:
        for resolved in assignments:
            if resolved.window in self._windows:
                self._windows[resolved.window].speaker = resolved.speaker

    def _speaker_of(self, frame: int) -> int | None:
        centre = frame + 0.5
        best: tuple[float, int] | None = None
        fallback: tuple[float, int] | None = None
        for w in self._windows.values():
            if w.speaker is None:
                continue
            d = abs(w.centre - centre)
            if w.start <= frame < w.end:
                if best is None or d < best[0]:
                    best = (d, w.speaker)
            elif d <= self.config.window_frames and (fallback is None or d < fallback[0]):
                fallback = (d, w.speaker)
        chosen = best if best is not None else fallback
        return None if chosen is None else chosen[1]

    # -- turns --------------------------------------------------------------------------------

    def _finalise(self, upto: int) -> None:
        cfg = self.config
        max_gap = max(1, round(cfg.max_gap_s / FRAME_S))
        min_switch = max(1, round(cfg.min_switch_s / FRAME_S))
        while self._finalised < upto:
            f = self._finalised
            self._finalised += 1
            spk = self._speaker_of(f) if self._speech[f - self._frame_base] else None
            if spk is None:
                self._gap += 1
                if self._gap > max_gap:
                    self._close_all(f)
                continue
            self._gap = 0
            if self._turn is None:
                self._turn = (spk, f, f + 1)
            elif spk == self._turn[0]:
                # The other speaker's short run is absorbed into this turn.
                self._turn = (spk, self._turn[1], f + 1)
                self._tentative = None
            elif self._tentative is not None and self._tentative[0] == spk:
                self._tentative = (spk, self._tentative[1], f + 1)
                if self._tentative[2] - self._tentative[1] >= min_switch:
                    self._emit(self._turn)
                    self._turn, self._tentative = self._tentative, None
            else:
                self._tentative = (spk, f, f + 1)

    def _close_all(self, now: int) -> None:
        if self._turn is not None:
            self._emit(self._turn, now)
        if self._tentative is not None:
            self._emit(self._tentative, now)
        self._turn = self._tentative = None

    def _emit(self, turn: tuple[int, int, int], now: int | None = None) -> None:
        spk, start, end = turn
        if (end - start) * FRAME_S < self.config.min_turn_s:
            return
        seen = self._n_frames if now is None else max(now, self._n_frames)
        self._out.append(DiarizedTurn(f"S{spk + 1}", _ms(start), _ms(end), _ms(seen)))

    def _take(self) -> list[DiarizedTurn]:
        out, self._out = self._out, []
        return out

    def _prune(self) -> None:
        """Drop audio, frames and windows no future window or label can need."""
        cfg = self.config
        keep_from = min(self._finalised, self._next_window_end - cfg.window_frames)
        keep_from = max(0, keep_from - 2 * cfg.window_frames)
        if keep_from > self._frame_base:
            del self._speech[: keep_from - self._frame_base]
            self._frame_base = keep_from
        # From the last window's start: the final window of flush() may begin there.
        last_start = self._next_window_end - cfg.hop_frames - cfg.window_frames
        sample_from = max(0, last_start * FRAME_SAMPLES)
        if sample_from > self._audio_base:
            self._audio = self._audio[sample_from - self._audio_base :]
            self._audio_base = sample_from
        for k in [k for k, w in self._windows.items() if w.end < keep_from]:
            del self._windows[k]
