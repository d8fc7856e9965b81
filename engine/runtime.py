"""The embedded runtime behind ``jiesu serve``: event log, screen gateway and audio ingest in
one asyncio loop, built from the configuration and torn down in reverse order.

Nothing here is global: :class:`Runtime` owns every component and is passed down explicitly.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from jiesu.engine.alerts.service import AlertService
from jiesu.engine.assist.stages import AssistService
from jiesu.engine.audio import AudioChunk
from jiesu.engine.auth import TokenSigner, load_or_create_secret
from jiesu.engine.calls import CallStats, IngestCall, IngestSink
from jiesu.engine.config import AssistConfig, JiesuConfig, SpeechConfig, StorageConfig
from jiesu.engine.diarize.service import DiarizationService, build_diarization
from jiesu.engine.eventlog import EventLog
from jiesu.engine.events import CallEnded, CallStarted, CallState, CallStateChanged
from jiesu.engine.gateway.server import Gateway
from jiesu.engine.ingest.server import IngestServer
from jiesu.engine.metrics import Metrics
from jiesu.engine.postcall.service import PostcallService
from jiesu.engine.sip.supervisor import SipSupervisor
from jiesu.engine.speech.batcher import BatcherConfig
from jiesu.engine.speech.endpointer import EndpointerConfig
from jiesu.engine.speech.leg import RecognizerConfig
from jiesu.engine.speech.pipeline import (
    LegKey,
    PipelineConfig,
    SpeechPipeline,
    VadStageFactory,
    silero_vad_factory,
    whisper_decoder,
    whisper_partial_key,
)
from jiesu.engine.speech.vad_stage import VadStage, silero_batch_core
from jiesu.engine.storage.keys import CallerKeyer
from jiesu.engine.voice.service import VoiceService, build_voice

log = logging.getLogger(__name__)

#: Seconds the work-order stages get at shutdown to finish the calls' last finals.
ASSIST_DRAIN_S = 30.0


@dataclass
class CallAudioRouter(IngestSink):
    """Production ingest sink: call life-cycle to the event log, audio to the speech pipeline.

    Without a speech pipeline (``[speech] enabled = false``) chunks are only counted.
    """

    event_log: EventLog
    metrics: Metrics
    speech: SpeechPipeline | None = None
    #: The work-order stages; they learn the caller's key before the call's first event.
    assist: AssistService | None = None
    #: The alert stages; they keep the caller's recent audio for prosody.
    alerts: AlertService | None = None
    #: Speaker turns of mixed legs ([speech] diarize_mixed).
    diarize: DiarizationService | None = None

    async def call_started(self, call: IngestCall) -> None:
        if self.assist is not None:
            self.assist.open_call(call)
        await self.event_log.append(
            call.call_id,
            0,
            CallStarted(call.hotline, call.agent_id, call.mode, call.legs, call.caller_masked),
        )
        await self.event_log.append(call.call_id, 0, CallStateChanged(CallState.TALKING))
        self.metrics.inc("calls_started_total")

    def audio(self, chunk: AudioChunk) -> None:
        self.metrics.inc("audio_chunks_total", labels={"leg": chunk.leg.value})
        if self.speech is not None:
            self.speech.audio(chunk)
        if self.diarize is not None:
            self.diarize.audio(chunk)
        if self.alerts is not None:
            self.alerts.audio(chunk)

    async def call_ended(self, call_id: str, reason: str, stats: CallStats) -> None:
        if self.speech is not None:
            # The transcript's last finals go in before the call is marked ended.
            await self.speech.end_call(call_id)
        if self.diarize is not None:
            await self.diarize.end_call(call_id)
        await self.event_log.append(call_id, stats.duration_ms, CallEnded(reason))
        if stats.lost or stats.bad or stats.duplicates or stats.out_of_order:
            log.info(
                "call %s ended (%s): %d frames, %d lost, %d bad, %d duplicate, %d out of order",
                call_id,
                reason,
                stats.frames,
                stats.lost,
                stats.bad,
                stats.duplicates,
                stats.out_of_order,
            )
        self.metrics.inc("calls_ended_total", labels={"reason": reason})


class Runtime:
    """Every long-lived component of one ``jiesu serve`` process."""

    def __init__(self, config: JiesuConfig, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self.metrics = Metrics()
        self.signer = TokenSigner(load_or_create_secret(config.auth.token_secret_file))
        self.event_log = EventLog(config.storage.event_log, synchronous=config.storage.synchronous)
        self.router = CallAudioRouter(self.event_log, self.metrics)
        self.gateway = Gateway(config.gateway, self.signer, self.event_log, self.metrics, clock)
        self.caller_keyer = CallerKeyer(load_or_create_secret(caller_secret_path(config)))
        self.ingest = IngestServer(
            config.ingest, self.signer, self.router, self.metrics, caller_keyer=self.caller_keyer
        )
        self.assist: AssistService | None = None
        self.alerts: AlertService | None = None
        #: Post-call QA and summary ([assist] postcall).
        self.postcall: PostcallService | None = None
        #: The SIP door ([sip] enabled): pjsua2 worker processes feeding the same router.
        self.sip: SipSupervisor | None = None
        #: The voice channel of the calls Jiesu answers itself ([voice], SIP on).
        self.voice: VoiceService | None = None
        if config.sip.enabled:
            self.sip = SipSupervisor(
                config.sip,
                self.router,
                self.metrics,
                config.hotline,
                caller_keyer=self.caller_keyer,
            )

    async def start(self) -> None:
        await self.event_log.start()
        if self.config.speech.enabled:
            self.router.speech = await asyncio.to_thread(
                build_speech_pipeline, self.config.speech, self.event_log, self.metrics
            )
            await self.router.speech.start()
        if self.config.speech.diarize_mixed:
            self.router.diarize = await asyncio.to_thread(
                build_diarization, self.event_log, self.metrics
            )
        if self.config.assist.enabled:
            self.assist = await build_assist(
                self.config.assist,
                self.config.storage,
                self.config.hotline,
                self.event_log,
                self.metrics,
                self.caller_keyer,
            )
            if self.assist is not None:
                await self.assist.start()
                self.router.assist = self.assist
                self.gateway.ticket_editor = self.assist.edit
        if self.config.assist.enabled and self.config.assist.alerts:
            from jiesu.engine.alerts.service import build_alerts

            self.alerts = await asyncio.to_thread(build_alerts, self.event_log, self.metrics)
            if self.alerts is not None:
                await self.alerts.start()
                self.router.alerts = self.alerts
        if self.config.assist.enabled and self.config.assist.postcall:
            self.postcall = await build_postcall(
                self.config, self.event_log, self.metrics, self.assist
            )
            if self.postcall is not None:
                await self.postcall.start()
        await self.gateway.start()
        await self.ingest.start()
        if self.sip is not None:
            self.voice = await asyncio.to_thread(
                build_voice, self.config, self.sip, self.event_log, self.metrics
            )
            if self.voice is not None:
                self.voice.start()
                self.sip.answered_listener = self.voice
            await self.sip.start()
            log.info("sip workers: %s", ", ".join(f"udp:{p}" for p in self.sip.ports))
        gw, ing = self.config.gateway, self.config.ingest
        log.info("screens: ws://%s:%d (GET /healthz, /metrics)", gw.host, self.gateway.port)
        log.info(
            "agent screen: http://%s:%d/agent, supervisor: http://%s:%d/supervisor",
            gw.host,
            self.gateway.port,
            gw.host,
            self.gateway.port,
        )
        log.info("audio ingest: ws://%s:%d", ing.host, self.ingest.port)
        storage = self.config.storage
        log.info("event log: %s (synchronous=%s)", storage.event_log, storage.synchronous)

    async def close(self) -> None:
        """Stop taking audio first, then close the screens, then flush the log."""
        if self.sip is not None:
            await self.sip.close()
        if self.voice is not None:
            await self.voice.close()
        await self.ingest.close()
        if self.router.speech is not None:
            await self.router.speech.close()
        if self.router.diarize is not None:
            await self.router.diarize.close()
        if self.assist is not None:
            # The last finals' fields and the final ticket save go in before the log closes.
            await self.assist.close(drain_s=ASSIST_DRAIN_S)
        if self.alerts is not None:
            await self.alerts.close(drain_s=ASSIST_DRAIN_S)
        if self.postcall is not None:
            # After the assist stages: the last calls' QA waits for their finished orders.
            await self.postcall.close(drain_s=ASSIST_DRAIN_S)
        await self.gateway.close()
        await self.event_log.close()

    async def run_until_signal(
        self,
        on_ready: Callable[[], None] = lambda: None,
        work: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Serve until SIGINT or SIGTERM (or until ``work`` returns), then shut down cleanly."""
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        tasks: list[asyncio.Task[object]] = []
        try:
            await self.start()
            on_ready()
            tasks.append(asyncio.create_task(stop.wait()))
            if work is not None:
                tasks.append(asyncio.create_task(_as_task_body(work)))
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    log.error("stopping after an error: %r", task.exception())
            log.info("stopping")
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            await self.close()
        log.info("stopped")


async def _as_task_body(work: Callable[[], Awaitable[None]]) -> object:
    await work()
    return None


def load_hotwords(path: Path) -> tuple[str, ...]:
    """Every string in the TOML file's lists (any table layout); none if the file is absent."""
    from jiesu.engine.config import read_toml

    if not path.exists():
        return ()
    words: list[str] = []

    def collect(value: object) -> None:
        if isinstance(value, str):
            if value.strip():
                words.append(value.strip())
        elif isinstance(value, list):
            for item in value:
                collect(item)
        elif isinstance(value, dict):
            for item in value.values():
                collect(item)

    collect(read_toml(path))
    return tuple(dict.fromkeys(words))


def tickets_path(storage: StorageConfig) -> Path:
    """The ticket database: as configured, except that the default follows a moved event log
    (a configuration that puts the event log elsewhere keeps its tickets beside it)."""
    default = StorageConfig()
    if storage.tickets == default.tickets and storage.event_log != default.event_log:
        return storage.event_log.parent / default.tickets.name
    return storage.tickets


def caller_secret_path(config: JiesuConfig) -> Path:
    """The caller-key secret: as configured; the default follows a moved token secret."""
    default = JiesuConfig()
    path = config.storage.caller_key_secret_file
    if (
        path == default.storage.caller_key_secret_file
        and config.auth.token_secret_file != default.auth.token_secret_file
    ):
        return config.auth.token_secret_file.parent / path.name
    return path


async def build_assist(
    config: AssistConfig,
    storage: StorageConfig,
    hotline: str,
    event_log: EventLog,
    metrics: Metrics,
    keyer: CallerKeyer,
) -> AssistService | None:
    """Load the schema, the models and the ticket store (off the loop); None if they cannot be
    loaded: the engine then runs without the work order, and says why."""
    from jiesu.engine.assist.filler import TicketFiller
    from jiesu.engine.assist.loaders import load_schema, load_toolkit
    from jiesu.engine.storage import open_store

    began = time.monotonic()
    try:
        schema = load_schema(config.workorder_file)
        toolkit = await asyncio.to_thread(
            load_toolkit, config.departments_file, config.knowledge_file
        )
        store = await asyncio.to_thread(open_store, storage.dsn, str(tickets_path(storage)))
    except Exception as exc:
        metrics.inc("assist_disabled_total")
        log.error("assist disabled (no work order, caller history or tickets): %s", exc)
        return None
    log.info(
        "assist: %d work-order fields, tickets in %s, loaded in %.1f s",
        len(schema.fields),
        "PostgreSQL" if storage.dsn else tickets_path(storage),
        time.monotonic() - began,
    )
    return AssistService(
        event_log,
        TicketFiller(schema, toolkit),
        metrics,
        hotline=hotline,
        store=store,
        caller_keyer=keyer,
        queue_limit=config.queue_limit,
    )


async def build_postcall(
    config: JiesuConfig,
    event_log: EventLog,
    metrics: Metrics,
    assist: AssistService | None,
) -> PostcallService | None:
    """The post-call QA and summary with the configured rubric and the work order's labels, on
    its own connection to the ticket store; None (logged) if the rubric or store is unusable."""
    from jiesu.engine.assist.loaders import load_schema
    from jiesu.engine.postcall.rubric import load_rubric
    from jiesu.engine.postcall.summary import SummarySettings
    from jiesu.engine.storage import open_store

    try:
        rubric = load_rubric(config.assist.qa_rubric_file)
        schema = load_schema(config.assist.workorder_file)
        store = await asyncio.to_thread(
            open_store, config.storage.dsn, str(tickets_path(config.storage))
        )
    except Exception as exc:
        metrics.inc("postcall_disabled_total")
        log.error("post-call QA and summary disabled: %s", exc)
        return None
    defaults = SummarySettings()

    def named(kind: str, default: str) -> str:
        spec = schema.by_kind(kind)
        return spec.name if spec is not None else default

    settings = SummarySettings(
        request_type_field=named("request_type", defaults.request_type_field),
        category_field=named("category", defaults.category_field),
        address_field=named("address", defaults.address_field),
    )
    log.info("post-call QA: rubric %s, %d items", rubric.name, len(rubric.items))
    return PostcallService(
        event_log,
        metrics,
        rubric,
        store,
        labels={spec.name: spec.label for spec in schema.fields},
        summary=settings,
        settle=assist.call_done if assist is not None else None,
        settle_s=config.assist.postcall_settle_s,
    )


def build_speech_pipeline(
    config: SpeechConfig, event_log: EventLog, metrics: Metrics
) -> SpeechPipeline:
    """Load the models (blocking: run off the loop) and build the pipeline."""
    from jiesu.models.whisper_ct2 import WhisperCt2, prepare_whisper_base

    began = time.monotonic()
    model_dir = prepare_whisper_base() if config.model == "whisper-base-ct2" else Path(config.model)
    model = WhisperCt2(
        model_dir,
        device=config.device,
        compute_type=config.compute_type,
        cpu_threads=config.cpu_threads,
        lanes=config.decode_lanes,
        beam_size=config.beam_size,
    )
    hotwords = load_hotwords(config.hotwords_file)
    pipeline_config = PipelineConfig(
        recognizer=RecognizerConfig(
            endpointer=EndpointerConfig(
                hangover_ms=config.hangover_ms,
                early_final_ms=config.early_final_ms,
                max_utterance_s=config.max_utterance_s,
                partial_interval_ms=config.partial_interval_ms,
            )
        ),
        batcher=BatcherConfig(
            max_batch=config.max_batch,
            max_wait_ms=config.max_wait_ms,
            lanes=config.decode_lanes,
        ),
        hotwords=hotwords,
    )
    vad_stage: VadStageFactory | None = None
    if config.batched_vad:
        core = silero_batch_core()  # loads Silero 6.2 once, here off the loop

        def vad_stage(on_probability: Callable[[LegKey, int, float], None]) -> VadStage[LegKey]:
            return VadStage(on_probability, core=core)

    pipeline = SpeechPipeline(
        whisper_decoder(model, config.language, final_min_window_s=config.final_min_window_s),
        silero_vad_factory(),
        event_log,
        metrics,
        pipeline_config,
        partial_key=whisper_partial_key(model),
        vad_stage=vad_stage,
    )
    log.info(
        "speech: %s on %s/%s, %d hotwords, loaded in %.1f s",
        model_dir,
        config.device,
        config.compute_type,
        len(hotwords),
        time.monotonic() - began,
    )
    return pipeline
