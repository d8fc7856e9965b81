"""Sans-I/O endpointer: per-frame speech decisions in, utterance boundaries out.

Fed one frame (normally 20 ms) at a time with its media time, a speech probability (or a 0/1 VAD
decision) and optionally its energy, :meth:`Endpointer.push` returns what happened:

- :class:`SpeechStart` once ``min_speech_ms`` of speech has been heard (shorter blips, such as
  clicks and DTMF edges, never start an utterance);
- :class:`PartialDue` every ``partial_interval_ms`` of new utterance audio that contains speech,
  so the streaming recogniser decodes a partial at most that long after the audio arrived;
- :class:`PauseSeen` once per pause when it is ``early_final_ms`` old (shorter than the
  hangover): the utterance *may* have ended, so its final can be decoded early and kept if the
  :class:`UtteranceEnd` that follows covers the same audio (speech resumed: it does not);
- :class:`UtteranceEnd` after ``hangover_ms`` of non-speech, or when a turn grows past
  ``max_utterance_s``: then it is split at the most silent frame of the last ``split_search_s``
  (a pause when there is one, only mid-speech when there is none) and a new utterance starts
  right after the split.

Times are integer milliseconds of media time. Nothing here reads a clock or does I/O.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EndpointerConfig:
    """Endpointer tuning; every duration in milliseconds unless the name says seconds."""

    frame_ms: int = 20
    #: A frame is speech when its probability is at least this.
    threshold: float = 0.5
    #: Speech needed (within one run, gaps shorter than the hangover allowed) to start an utterance.
    min_speech_ms: int = 200
    #: Non-speech after the last speech frame that ends an utterance.
    hangover_ms: int = 600
    max_utterance_s: float = 15.0
    #: How far back from the length limit to look for a pause to split at.
    split_search_s: float = 3.0
    partial_interval_ms: int = 500
    #: Non-speech after which :class:`PauseSeen` is emitted (0: never). Must be shorter than
    #: ``hangover_ms`` to be of use.
    early_final_ms: int = 250

    def __post_init__(self) -> None:
        if self.frame_ms <= 0:
            raise ValueError("frame_ms must be positive")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError("threshold must be in (0, 1]")
        if self.min_speech_ms < 0 or self.hangover_ms < self.frame_ms:
            raise ValueError("min_speech_ms must be >= 0 and hangover_ms at least one frame")
        if self.partial_interval_ms < self.frame_ms:
            raise ValueError("partial_interval_ms must be at least one frame")
        if self.early_final_ms < 0:
            raise ValueError("early_final_ms must not be negative")
        if self.split_search_s <= 0 or self.max_utterance_s * 1000 <= self.split_search_s * 1000:
            raise ValueError("need 0 < split_search_s < max_utterance_s")


class EndReason(enum.StrEnum):
    #: ``hangover_ms`` of non-speech followed the speech.
    PAUSE = "pause"
    #: The turn reached ``max_utterance_s`` and was split.
    MAX_LENGTH = "max_length"
    #: :meth:`Endpointer.flush` was called (end of the stream).
    FLUSH = "flush"


@dataclass(frozen=True, slots=True)
class SpeechStart:
    utterance: int
    t_start: int


@dataclass(frozen=True, slots=True)
class PartialDue:
    """Decode a partial of the utterance's audio ``[t_start, t_end)`` now."""

    utterance: int
    t_start: int
    t_end: int


@dataclass(frozen=True, slots=True)
class PauseSeen:
    """The utterance's audio ``[t_start, t_end)`` is followed by ``early_final_ms`` of
    non-speech: if the pause lasts, an :class:`UtteranceEnd` with the same times follows."""

    utterance: int
    t_start: int
    t_end: int


@dataclass(frozen=True, slots=True)
class UtteranceEnd:
    """The utterance's audio is ``[t_start, t_end)``; decode the final."""

    utterance: int
    t_start: int
    t_end: int
    reason: EndReason


EndpointEvent = SpeechStart | PartialDue | PauseSeen | UtteranceEnd


@dataclass(frozen=True, slots=True)
class _Frame:
    t: int
    prob: float
    energy: float


class Endpointer:
    """One per leg. Feed contiguous frames in time order with :meth:`push`."""

    def __init__(self, config: EndpointerConfig | None = None) -> None:
        self._cfg = config or EndpointerConfig()
        cfg = self._cfg
        self._max_ms = round(cfg.max_utterance_s * 1000)
        # Only the last split_search_s of frames are ever looked at, so that is all we keep.
        self._recent: deque[_Frame] = deque(
            maxlen=max(1, round(cfg.split_search_s * 1000) // cfg.frame_ms)
        )
        self._utterance = 0
        self._in_speech = False
        self._next_t: int | None = None
        # Candidate (before SpeechStart) bookkeeping.
        self._cand_start: int | None = None
        self._cand_speech_ms = 0
        # Utterance bookkeeping.
        self._start = 0
        self._last_speech_end = 0
        self._silence_ms = 0
        self._last_partial = 0
        self._speech_since_partial = False

    @property
    def in_speech(self) -> bool:
        return self._in_speech

    @property
    def utterance(self) -> int:
        """The number of the current (or last) utterance."""
        return self._utterance

    @property
    def last_speech_end(self) -> int:
        """End of the last speech frame heard (ms)."""
        return self._last_speech_end

    def push(self, t_ms: int, prob: float, energy: float = 0.0) -> list[EndpointEvent]:
        """Take the frame starting at ``t_ms``; return the events it causes, in order."""
        if self._next_t is not None and t_ms < self._next_t:
            raise ValueError(f"frame at {t_ms} ms goes back in time (expected >= {self._next_t})")
        frame = _Frame(t_ms, float(prob), float(energy))
        self._next_t = t_ms + self._cfg.frame_ms
        speech = frame.prob >= self._cfg.threshold
        self._recent.append(frame)
        if not self._in_speech:
            return self._push_idle(frame, speech)
        return self._push_speech(frame, speech)

    def flush(self) -> list[EndpointEvent]:
        """End of stream: close an open utterance (trailing silence is not included)."""
        self._cand_start = None
        self._cand_speech_ms = 0
        if not self._in_speech:
            return []
        self._in_speech = False
        return [UtteranceEnd(self._utterance, self._start, self._last_speech_end, EndReason.FLUSH)]

    # --- states ----------------------------------------------------------------------------

    def _push_idle(self, frame: _Frame, speech: bool) -> list[EndpointEvent]:
        cfg = self._cfg
        end = frame.t + cfg.frame_ms
        if speech:
            if self._cand_start is None:
                self._cand_start = frame.t
                self._cand_speech_ms = 0
            self._cand_speech_ms += cfg.frame_ms
            self._last_speech_end = end
            if self._cand_speech_ms >= max(cfg.min_speech_ms, cfg.frame_ms):
                return self._begin(self._cand_start, end)
        elif self._cand_start is not None and end - self._last_speech_end >= cfg.hangover_ms:
            # Too little speech before a real pause: a click or a cough, not an utterance.
            self._cand_start = None
            self._cand_speech_ms = 0
        return []

    def _begin(self, start: int, now: int) -> list[EndpointEvent]:
        self._utterance += 1
        self._in_speech = True
        self._start = start
        self._cand_start = None
        self._cand_speech_ms = 0
        self._silence_ms = 0
        self._last_partial = start
        self._speech_since_partial = True
        events: list[EndpointEvent] = [SpeechStart(self._utterance, start)]
        events += self._maybe_partial(now)
        return events

    def _push_speech(self, frame: _Frame, speech: bool) -> list[EndpointEvent]:
        cfg = self._cfg
        end = frame.t + cfg.frame_ms
        events: list[EndpointEvent] = []
        if speech:
            self._silence_ms = 0
            self._last_speech_end = end
            self._speech_since_partial = True
        else:
            self._silence_ms += cfg.frame_ms
            if self._silence_ms >= cfg.hangover_ms:
                self._in_speech = False
                return [
                    UtteranceEnd(
                        self._utterance, self._start, self._last_speech_end, EndReason.PAUSE
                    )
                ]
            early = cfg.early_final_ms
            if early > 0 and self._silence_ms - cfg.frame_ms < early <= self._silence_ms:
                events.append(PauseSeen(self._utterance, self._start, self._last_speech_end))
        if end - self._start >= self._max_ms:
            return events + self._split(end)
        return events + self._maybe_partial(end)

    def _maybe_partial(self, now: int) -> list[EndpointEvent]:
        if self._speech_since_partial and now - self._last_partial >= self._cfg.partial_interval_ms:
            self._last_partial = now
            self._speech_since_partial = False
            return [PartialDue(self._utterance, self._start, now)]
        return []

    def _split(self, now: int) -> list[EndpointEvent]:
        """Cut the turn at the most silent recent frame; the rest starts a new utterance."""
        cfg = self._cfg
        frames = list(self._recent)
        thr = cfg.threshold
        # Length of the non-speech run each frame belongs to: a longer pause is a safer cut.
        run_len = [0] * len(frames)
        i = 0
        while i < len(frames):
            j = i
            while j < len(frames) and (frames[j].prob < thr) == (frames[i].prob < thr):
                j += 1
            for k in range(i, j):
                run_len[k] = (j - i) if frames[i].prob < thr else 0
            i = j

        def score(k: int) -> tuple[bool, float, float, int]:
            f = frames[k]
            # A pause frame always beats a speech frame; then lower probability, lower energy,
            # longer pause.
            return (f.prob >= thr, f.prob, f.energy, -run_len[k])

        best = min(range(len(frames)), key=score)
        cut = frames[best]
        pause = cut.prob < thr
        end_t = cut.t if pause else cut.t + cfg.frame_ms
        first_end = min(self._last_speech_before(end_t, frames), end_t) if pause else end_t
        events: list[EndpointEvent] = [
            UtteranceEnd(
                self._utterance, self._start, max(first_end, self._start), EndReason.MAX_LENGTH
            )
        ]
        new_start = cut.t + cfg.frame_ms
        rest = frames[best + 1 :]
        if any(f.prob >= thr for f in rest):
            self._utterance += 1
            self._start = new_start
            self._last_partial = new_start
            self._speech_since_partial = True
            self._silence_ms = 0
            for f in rest:
                self._silence_ms = 0 if f.prob >= thr else self._silence_ms + cfg.frame_ms
            events.append(SpeechStart(self._utterance, new_start))
            events += self._maybe_partial(now)
        else:
            # Only silence after the cut: this is an ordinary pause that is not yet long enough.
            self._in_speech = False
        return events

    def _last_speech_before(self, t: int, frames: list[_Frame]) -> int:
        """End of the last speech frame before ``t`` (the utterance's real end at a pause)."""
        for f in reversed(frames):
            if f.t < t and f.prob >= self._cfg.threshold:
                return f.t + self._cfg.frame_ms
        return t
