"""The alert cores' I/O edge: committed call events in, emotion/risk/coaching events out.

:class:`AlertService` follows the event log through a :class:`~jiesu.engine.follower.Follower`
(as the assist stages do: it sees what the screens see, once durable, each call in ``seq``
order on its own worker) and runs, per call, the pure cores of this package:

* caller (or mixed-leg) partials and finals -> :func:`~.risk.risk_step` (urgent, first);
* caller finals -> text emotion (on a worker thread: the model never runs on the loop) ->
  :func:`~.emotion.emotion_step`;
* both legs' finals, call start/end and a 1 s media clock -> :func:`~.coach.coach_step`.

Prosody needs the caller's PCM, which does not travel in events: the router hands every caller
(or mixed) chunk to :meth:`AlertService.audio`, which keeps the last ``RING_S`` seconds per call in
a :class:`~.pcm_ring.PcmRing`; a caller final cuts its own span out of it and its prosody is
measured on the worker thread with the text emotion. Where the span is gone (a late final) the
utterance is judged on text alone.

Calls are tracked up to ``max_calls``; a call whose ``call.ended`` never came is forgotten
oldest-first beyond that (``alerts_calls_evicted_total``).

Queue policy: the follower's (a bounded queue per call, the missed events read back from the
log, ``alerts_queue_overflows_total``): no final or call event is lost. Partials are skippable:
only queued while the call's queue is under half full, and not read back (a later partial or
the final carries the same words).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from jiesu.engine.alerts.coach import CoachSettings, CoachState, MediaTick, coach_step
from jiesu.engine.alerts.config import AlertsConfig
from jiesu.engine.alerts.emotion import (
    EmotionSettings,
    EmotionState,
    UtteranceEvidence,
    emotion_step,
)
from jiesu.engine.alerts.pcm_ring import PcmRing
from jiesu.engine.alerts.prosody import Prosody, measure
from jiesu.engine.alerts.risk import RiskRules, RiskState, risk_step
from jiesu.engine.alerts.text_emotion import TextEmotion, TextEmotionModel
from jiesu.engine.audio import AudioChunk, Leg
from jiesu.engine.eventlog import EventLog
from jiesu.engine.events import (
    CallEnded,
    CallStarted,
    Event,
    Payload,
    TranscriptFinal,
    TranscriptPartial,
)
from jiesu.engine.follower import Follower
from jiesu.engine.metrics import Metrics
from jiesu.engine.service_threads import ServiceThreads

log = logging.getLogger(__name__)

_RELEVANT = (CallStarted, CallEnded, TranscriptFinal, TranscriptPartial)
_RISK_LEGS = (Leg.CALLER, Leg.MIXED)
#: Seconds of caller audio kept per call for prosody (a final lags its audio by ~1-2 s).
RING_S = 40.0


def _wanted(event: Event) -> bool:
    """Call events, finals and the partials the risk rules read (caller or mixed leg)."""
    payload = event.payload
    if isinstance(payload, TranscriptPartial):
        return payload.leg in _RISK_LEGS
    return isinstance(payload, _RELEVANT)


@dataclass
class _Call:
    risk: RiskState = field(default_factory=RiskState)
    emotion: EmotionState = field(default_factory=EmotionState)
    coach: CoachState = field(default_factory=CoachState)
    #: t_wall - t_media of the call's events (ms), to run the media clock between events.
    offset_ms: int | None = None
    #: Recent caller audio per leg, for the prosody of the next final.
    audio: dict[Leg, PcmRing] = field(default_factory=dict)


class AlertService:
    """Runs emotion, risk and coaching for every call and appends what they emit."""

    def __init__(
        self,
        event_log: EventLog,
        metrics: Metrics,
        config: AlertsConfig,
        model: TextEmotionModel,
        *,
        queue_limit: int = 256,
        tick_s: float = 1.0,
        max_calls: int = 2000,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self._log = event_log
        self._metrics = metrics
        self._model = model
        self._risk_rules: RiskRules = config.risk_rules()
        self._emotion: EmotionSettings = config.emotion_settings(model.active_thresholds())
        self._coach: CoachSettings = config.coach
        self._follower = Follower(
            event_log,
            self._handle,
            metrics,
            name="alerts",
            new_state=lambda _c: _Call(),
            wants=_wanted,
            skippable=lambda e: isinstance(e.payload, TranscriptPartial),
            queue_limit=queue_limit,
            max_calls=max_calls,
        )
        self._tick_s = tick_s
        self._clock_ms = clock_ms
        self._ticker: asyncio.Task[None] | None = None
        self._threads = ServiceThreads("alerts", metrics)

    async def warm_up(self) -> None:
        """Load the text model's lazy parts (the embedder) now, not on the first final."""
        await self._threads.compute(self._model.predict, "您好，我想反映一个问题")

    async def start(self) -> None:
        self._follower.start()
        self._ticker = asyncio.create_task(self._ticks(), name="alerts clock")

    async def close(self, drain_s: float = 30.0) -> None:
        """Stop listening and the clock, finish what is queued (at most ``drain_s``)."""
        await self._follower.close(drain_s)
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
            self._ticker = None
        await self._threads.close()

    async def idle(self) -> None:
        """Wait until every event published so far has been handled (tests, shutdown)."""
        await self._follower.idle()

    def audio(self, chunk: AudioChunk) -> None:
        """A chunk as it passes the router (on the loop): kept for the caller's prosody."""
        if chunk.leg not in _RISK_LEGS:
            return
        call = self._follower.open(chunk.call_id)
        if call is None:
            return  # the call has ended
        ring = call.audio.get(chunk.leg)
        if ring is None:
            ring = call.audio[chunk.leg] = PcmRing(RING_S, chunk.rate)
        ring.append(chunk.t_media_ms, chunk.pcm)

    def _evidence(
        self, final: TranscriptFinal, pcm: npt.NDArray[np.int16] | None
    ) -> tuple[TextEmotion, Prosody | None]:
        """Text emotion and prosody of one final (worker thread)."""
        text = self._model.predict(final.text)
        return text, measure(pcm, final.text) if pcm is not None else None

    # --- a call's worker (the follower's) -------------------------------------------------

    async def _handle(self, call: _Call, event: Event) -> None:
        payload = event.payload
        call.offset_ms = event.t_wall - event.t_media
        out: list[Payload] = []
        if isinstance(payload, CallStarted | CallEnded):
            call.coach, tips = coach_step(call.coach, payload, self._coach)
            out.extend(tips)
        if isinstance(payload, TranscriptPartial | TranscriptFinal) and payload.leg in _RISK_LEGS:
            call.risk, risks = risk_step(call.risk, payload, self._risk_rules)
            if risks:
                # Urgent: appended before the slower emotion model runs.
                await self._append(event.call_id, event.t_media, list(risks))
                self._metrics.inc("alerts_risk_total", len(risks))
        if isinstance(payload, TranscriptFinal):
            if payload.leg in _RISK_LEGS and payload.text.strip():
                ring = call.audio.get(payload.leg)
                pcm = ring.span(payload.t_start, payload.t_end) if ring is not None else None
                self._metrics.inc("alerts_prosody_total", labels={"audio": str(pcm is not None)})
                text, prosody = await self._threads.compute(self._evidence, payload, pcm)
                evidence = UtteranceEvidence(payload.utterance_id, text, prosody)
                call.emotion, emotions = emotion_step(
                    call.emotion, evidence, self._emotion, payload.leg
                )
                out.extend(emotions)
            call.coach, tips = coach_step(call.coach, payload, self._coach)
            out.extend(tips)
        await self._append(event.call_id, event.t_media, out)

    async def _append(self, call_id: str, t_media: int, payloads: list[Payload]) -> None:
        if payloads:
            await self._log.append_many(call_id, [(t_media, p) for p in payloads])
            for p in payloads:
                self._metrics.inc("alerts_events_total", labels={"type": p.TYPE})

    async def _ticks(self) -> None:
        """The media clock for dead air: runs the coach between events, once a second."""
        while True:
            await asyncio.sleep(self._tick_s)
            now = self._clock_ms()
            for call_id, call in self._follower.states():
                if call.offset_ms is None:
                    continue
                t_media = now - call.offset_ms
                call.coach, tips = coach_step(call.coach, MediaTick(t_media), self._coach)
                if tips:
                    await self._append(call_id, t_media, list(tips))


def build_alerts(event_log: EventLog, metrics: Metrics) -> AlertService | None:
    """The service with the shipped alerts.toml and emotion model; None (logged) if unusable."""
    from jiesu.engine.alerts.config import load_alerts
    from jiesu.engine.alerts.loaders import load_text_emotion
    from jiesu.engine.alerts.text_emotion import e5_embedder
    from jiesu.engine.config import ConfigError

    try:
        config = load_alerts()
        model = load_text_emotion().with_embedder(e5_embedder())
    except (ConfigError, OSError, ValueError, KeyError) as exc:
        metrics.inc("alerts_disabled_total")
        log.error("alerts disabled: %s", exc)
        return None
    return AlertService(event_log, metrics, config, model)
