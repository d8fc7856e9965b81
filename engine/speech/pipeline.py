"""The speech pipeline's I/O edge: chunks of every call in, transcript events to the event log.

Per (call, leg) a :class:`~jiesu.engine.speech.leg.LegRecognizer` decides what to decode; every
decode of every call goes through ONE shared :class:`~jiesu.engine.speech.batcher.Batcher` in
front of the Whisper model, so utterances of concurrent calls are decoded in one batch; its
decode lanes (``BatcherConfig.lanes``) run that many batches at once, one lane always free for
finals. Finals outrank partials; a partial that would come out later than its deadline is
skipped rather than shown late.

Early finals: when a pause is ``early_final_ms`` old (shorter than the hangover), the
utterance's final is decoded at once if the model has no final waiting; when the endpoint
confirms it with the same audio, that result is the final (so at low load the final is out
about when the endpoint is decided, not a decode later); when speech resumes it is withdrawn.

Batched VAD (optional, ``vad_stage``): chunks go to one
:class:`~jiesu.engine.speech.vad_stage.VadStage` for every leg (one Silero call per tick for all
legs, on its own thread); a leg's chunk reaches its recogniser when its probability comes back,
in order. Without it each leg runs its own Silero on the event loop (``vad_factory``).

Ordering: per leg, finals are published in utterance order (each final task waits for the
previous one of its leg); a partial whose utterance is already final is dropped by the
recogniser. :meth:`SpeechPipeline.end_call` flushes the legs and waits for their finals, so a
call's transcript is complete before its ``call.ended`` event.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

from jiesu.engine.audio import AudioChunk, Leg
from jiesu.engine.eventlog import EventLog
from jiesu.engine.events import TimedToken
from jiesu.engine.metrics import Metrics
from jiesu.engine.speech.batcher import (
    Batcher,
    BatcherClosed,
    BatcherConfig,
    BatcherFull,
    Priority,
    Skipped,
)
from jiesu.engine.speech.hotwords import HotwordCorrector
from jiesu.engine.speech.leg import (
    Decode,
    DecodedText,
    LegRecognizer,
    Pcm,
    RecognizerConfig,
    SpeechProbability,
    pcm_to_float,
    same_audio,
)
from jiesu.engine.speech.textnorm import TextNormalizer
from jiesu.engine.speech.vad_stage import VadStage

log = logging.getLogger(__name__)

#: Padding after the speech in a partial's window (0.5 s; finals use the model's 1.5 s): a
#: partial that loops is dropped and replaced by the next, and a smaller window is cheaper.
PARTIAL_MARGIN_FRAMES = 50

#: Decodes the texts of a batch (the model adapter, run on the batcher's thread).
DecodeBatch = Callable[[list[Decode]], Sequence[DecodedText]]
#: Makes the speech-probability function of a new leg (each leg has its own VAD state).
VadFactory = Callable[[], SpeechProbability]
#: A leg of a call, as the batched VAD knows it.
LegKey = tuple[str, Leg]
#: Builds the batched VAD stage around the pipeline's ``on_probability`` callback.
VadStageFactory = Callable[[Callable[[LegKey, int, float], None]], VadStage[LegKey]]


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    recognizer: RecognizerConfig = field(default_factory=RecognizerConfig)
    batcher: BatcherConfig = field(
        default_factory=lambda: BatcherConfig(max_batch=8, max_wait_ms=10.0, max_queue=256)
    )
    #: A partial not decoded within this many seconds is skipped (newer audio supersedes it).
    partial_deadline_s: float = 1.0
    final_deadline_s: float = 30.0
    hotwords: tuple[str, ...] = ()


@dataclass
class _Early:
    """An early final of a leg, being decoded or decoded (None: it failed)."""

    decode: Decode
    task: asyncio.Task[DecodedText | None]


@dataclass
class _HeldProbability:
    """A leg's speech probability as the batched VAD last gave it (the recogniser's VAD)."""

    value: float = 0.0

    def __call__(self, pcm: Pcm) -> float:
        return self.value


@dataclass
class _Leg:
    recognizer: LegRecognizer
    #: The previous final's task of this leg: finals publish in order.
    last_final: asyncio.Task[None] | None = None
    partial_in_flight: bool = False
    early: _Early | None = None
    #: Batched VAD only: the probability the stage gave, and the chunks not yet pushed, in
    #: order, each with whether the stage took it (False: it is pushed with the held value).
    held: _HeldProbability = field(default_factory=_HeldProbability)
    waiting: deque[tuple[AudioChunk, bool]] = field(default_factory=deque)
    #: Chunks the stage refused; logged at the first only (after a seq gap, every chunk is).
    refused: int = 0


@dataclass
class _Call:
    legs: dict[Leg, _Leg] = field(default_factory=dict)
    tasks: set[asyncio.Task[object]] = field(default_factory=set)


class SpeechPipeline:
    """Consumes AudioChunks of every call; appends transcript events to the event log."""

    def __init__(
        self,
        decode_batch: DecodeBatch,
        vad_factory: VadFactory,
        event_log: EventLog,
        metrics: Metrics,
        config: PipelineConfig = PipelineConfig(),
        clock: Callable[[], float] = time.monotonic,
        partial_key: Callable[[Decode], Hashable] | None = None,
        vad_stage: VadStageFactory | None = None,
    ) -> None:
        self._config = config
        self._vad_factory = vad_factory
        self._vad_stage = vad_stage(self._on_probability) if vad_stage is not None else None
        self._started = False
        self._log = event_log
        self._metrics = metrics
        self._clock = clock
        self._normalizer = TextNormalizer()
        self._hotwords = HotwordCorrector(config.hotwords) if config.hotwords else None
        self._batcher: Batcher[Decode, DecodedText] = Batcher(
            lambda batch: decode_batch(batch),
            config.batcher,
            clock=clock,
            name="asr",
            partial_key=partial_key,
        )
        self._calls: dict[str, _Call] = {}

    @property
    def batcher(self) -> Batcher[Decode, DecodedText]:
        return self._batcher

    async def start(self) -> None:
        """Start the batched VAD's thread, if there is one (before the first chunk)."""
        if self._vad_stage is not None:
            await self._vad_stage.start()
        self._started = True

    def audio(self, chunk: AudioChunk) -> None:
        """Feed one chunk (non-blocking: decodes are scheduled as tasks)."""
        call = self._calls.setdefault(chunk.call_id, _Call())
        leg = call.legs.get(chunk.leg)
        if leg is None:
            leg = call.legs[chunk.leg] = self._new_leg(chunk.call_id, chunk.leg)
        if self._vad_stage is None:
            self._push(chunk.call_id, call, leg, chunk)
            return
        if not self._started:
            raise RuntimeError("SpeechPipeline.start() before audio() with a batched VAD")
        try:
            self._vad_stage.submit((chunk.call_id, chunk.leg), chunk.seq, chunk.pcm)
        except ValueError as exc:
            # A door broke the chunk contract (a seq gap, audio after the leg closed): the
            # audio is still transcribed, with the leg's last probability, and counted.
            self._metrics.inc("asr_vad_refused_total")
            leg.refused += 1
            if leg.refused == 1:
                log.warning(
                    "call %s %s: batched VAD refused a chunk (later ones only counted): %s",
                    chunk.call_id,
                    chunk.leg,
                    exc,
                )
            if not leg.waiting:
                self._push(chunk.call_id, call, leg, chunk)
            else:
                leg.waiting.append((chunk, False))
            return
        leg.waiting.append((chunk, True))

    def _on_probability(self, key: LegKey, seq: int, probability: float) -> None:
        """The batched VAD's answer for one chunk (on the loop, in seq order per leg)."""
        call = self._calls.get(key[0])
        leg = call.legs.get(key[1]) if call is not None else None
        if call is None or leg is None or not leg.waiting or leg.waiting[0][0].seq != seq:
            self._metrics.inc("asr_vad_unmatched_total")
            log.error("batched VAD answered %s seq %d, which no leg waits for", key[1], seq)
            return
        chunk, _ = leg.waiting.popleft()
        leg.held.value = probability
        self._push(key[0], call, leg, chunk)
        while leg.waiting and not leg.waiting[0][1]:
            self._push(key[0], call, leg, leg.waiting.popleft()[0])

    def _push(self, call_id: str, call: _Call, leg: _Leg, chunk: AudioChunk) -> None:
        for decode in leg.recognizer.push(chunk):
            self._schedule(call_id, call, leg, decode)
        if leg.early is not None and not leg.recognizer.still_paused(leg.early.decode):
            self._withdraw_early(leg)

    async def end_call(self, call_id: str) -> None:
        """Flush every leg and wait until the call's last finals are in the log."""
        call = self._calls.get(call_id)
        if call is None:
            return
        if self._vad_stage is not None:
            for name in call.legs:
                self._vad_stage.close((call_id, name))
            await self._vad_stage.drain()  # every chunk answered and pushed
        self._calls.pop(call_id, None)
        for leg in call.legs.values():
            while leg.waiting:  # only refused chunks can be left
                self._push(call_id, call, leg, leg.waiting.popleft()[0])
            for decode in leg.recognizer.flush():
                self._schedule(call_id, call, leg, decode)
            if leg.early is not None:
                self._withdraw_early(leg)
        if call.tasks:
            await asyncio.gather(*call.tasks, return_exceptions=True)
        dropped = sum(leg.recognizer.dropped_finals for leg in call.legs.values())
        if dropped:
            self._metrics.inc("asr_finals_dropped_total", dropped, {"reason": "no_speech"})

    async def close(self) -> None:
        for call_id in list(self._calls):
            await self.end_call(call_id)
        if self._vad_stage is not None:
            await self._vad_stage.aclose()
        await self._batcher.close(drain=False)

    def _new_leg(self, call_id: str, leg: Leg) -> _Leg:
        held = _HeldProbability()
        vad = held if self._vad_stage is not None else self._vad_factory()
        return _Leg(self._recognizer(call_id, leg, vad), held=held)

    def _recognizer(self, call_id: str, leg: Leg, vad: SpeechProbability) -> LegRecognizer:
        return LegRecognizer(
            call_id=call_id,
            leg=leg,
            speech_probability=vad,
            normalizer=self._normalizer,
            hotwords=self._hotwords,
            hotword_prompt=self._config.hotwords,
            config=self._config.recognizer,
        )

    def _schedule(self, call_id: str, call: _Call, leg: _Leg, decode: Decode) -> None:
        if decode.early:
            self._start_early(call, leg, decode)
            return
        early = leg.early
        if early is not None and not (decode.final and same_audio(early.decode, decode)):
            self._withdraw_early(leg)
            early = None
        if decode.final:
            leg.early = None
            if early is not None:
                self._metrics.inc("asr_early_finals_total", labels={"outcome": "used"})
            task = asyncio.create_task(self._final(call_id, leg, decode, leg.last_final, early))
            leg.last_final = task
        else:
            if self._batcher.waiting(Priority.FINAL):
                # The model is behind on finals, which matter more; this partial's audio would
                # be stale by the time it ran. The next PartialDue brings fresher audio.
                self._metrics.inc("asr_partials_skipped_total", labels={"reason": "finals_waiting"})
                return
            if leg.partial_in_flight:
                # The previous partial is still being decoded: this one would queue behind it
                # with older audio than the next; skip it, the next PartialDue brings fresh audio.
                self._metrics.inc("asr_partials_skipped_total", labels={"reason": "in_flight"})
                return
            leg.partial_in_flight = True
            task = asyncio.create_task(self._partial(call_id, leg, decode))
        call.tasks.add(task)
        task.add_done_callback(call.tasks.discard)

    def _start_early(self, call: _Call, leg: _Leg, decode: Decode) -> None:
        if leg.early is not None:
            self._withdraw_early(leg)
        if self._batcher.waiting(Priority.FINAL):
            # The model is behind on finals: an early decode would only queue with them, and
            # would be wasted work if the caller goes on speaking.
            self._metrics.inc("asr_early_finals_total", labels={"outcome": "skipped"})
            return
        task = asyncio.create_task(self._decode_early(decode))
        leg.early = _Early(decode, task)
        call.tasks.add(task)
        task.add_done_callback(call.tasks.discard)

    def _withdraw_early(self, leg: _Leg) -> None:
        """Speech resumed (or the utterance ended otherwise): the early final is not needed."""
        assert leg.early is not None
        leg.early.task.cancel()  # withdraws it from the batcher's queue if not yet running
        leg.early = None
        self._metrics.inc("asr_early_finals_total", labels={"outcome": "withdrawn"})

    async def _decode_early(self, decode: Decode) -> DecodedText | None:
        deadline = self._clock() + self._config.final_deadline_s
        try:
            return await self._batcher.submit(decode, deadline=deadline, priority=Priority.FINAL)
        except Exception as exc:
            self._metrics.inc(
                "asr_early_finals_failed_total", labels={"reason": type(exc).__name__}
            )
            return None

    async def _partial(self, call_id: str, leg: _Leg, decode: Decode) -> None:
        try:
            deadline = self._clock() + self._config.partial_deadline_s
            result = await self._batcher.submit(
                decode, deadline=deadline, priority=Priority.PARTIAL
            )
        except (Skipped, BatcherFull, BatcherClosed) as exc:
            self._metrics.inc("asr_partials_skipped_total", labels={"reason": type(exc).__name__})
            return
        finally:
            leg.partial_in_flight = False
        payload = leg.recognizer.on_partial(decode, result)
        if payload is not None:
            await self._log.append(call_id, decode.t_end, payload)
            self._metrics.inc("asr_partials_total")

    async def _final(
        self,
        call_id: str,
        leg: _Leg,
        decode: Decode,
        previous: asyncio.Task[None] | None,
        early: _Early | None = None,
    ) -> None:
        started = self._clock()
        result: DecodedText | None = None
        if early is not None:
            result = await early.task
        try:
            if result is None:
                result = await self._batcher.submit(
                    decode,
                    deadline=started + self._config.final_deadline_s,
                    priority=Priority.FINAL,
                )
        except (Skipped, BatcherFull, BatcherClosed) as exc:
            # A lost final loses text: count it loudly, never silently.
            self._metrics.inc("asr_finals_failed_total", labels={"reason": type(exc).__name__})
            log.error("call %s: final %s not decoded: %r", call_id, decode.utterance_id, exc)
            result = None
        again = leg.recognizer.second_pass(decode, result) if result is not None else None
        if again is not None:
            try:
                second = await self._batcher.submit(
                    again, deadline=started + self._config.final_deadline_s, priority=Priority.FINAL
                )
                kept = leg.recognizer.keeps_second_pass(again, second)
                if kept:
                    decode, result = again, second
                self._metrics.inc("asr_final_second_passes_total", labels={"kept": str(kept)})
            except (Skipped, BatcherFull, BatcherClosed) as exc:
                # The first pass stands; only the hotword prompt is lost.
                self._metrics.inc(
                    "asr_second_pass_failed_total", labels={"reason": type(exc).__name__}
                )
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        if result is None:
            return
        payload = leg.recognizer.on_final(decode, result)
        if payload is not None:
            await self._log.append(call_id, decode.t_end, payload)
            self._metrics.inc("asr_finals_total")


def silero_vad_factory(threads: int = 1) -> VadFactory:
    """Speech probability from Silero (per-leg state, shared session), vetoed by WebRTC VAD."""
    from jiesu.models.vad import SileroVad, SileroVadModel, WebRtcVadGate

    model = SileroVadModel(threads=threads)

    def factory() -> SpeechProbability:
        stream = SileroVad(model)
        gate = WebRtcVadGate(aggressiveness=2, rate=16000, frame_ms=20)
        last = 0.0

        def probability(pcm: Pcm) -> float:
            nonlocal last
            probs = stream.feed(pcm_to_float(pcm))
            if len(probs):
                last = float(probs.max())
            if len(pcm) == gate.frame_samples and not gate.is_speech(pcm):
                return min(last, 0.3)
            return last

        return probability

    return factory


def whisper_decoder(
    model: object,
    language: str = "zh",
    *,
    char_timings: bool = True,
    final_min_window_s: float = 0.0,
) -> DecodeBatch:
    """Adapt a :class:`~jiesu.models.whisper_ct2.WhisperCt2` to :data:`DecodeBatch`; finals
    get per-character times (``char_timings``) from the model's alignment. ``language``
    ``"auto"`` lets the model detect it per utterance (a multilingual model only).

    ``final_min_window_s``: finals decode in at least this window (0: the smallest bucket that
    fits). Whisper base reads 8 kHz G.711 speech better in its full 30 s window (Mandarin dev
    CER 0.200 against 0.214 in fitted windows) at several times the encoder's cost: worth it on
    a GPU, not on a 2-core CPU.
    """
    from jiesu.models.whisper_ct2 import AsrRequest, WhisperCt2, bucket_for, is_looping

    assert isinstance(model, WhisperCt2)
    floor = int(final_min_window_s * 100)
    large = [b for b in model.buckets if b >= floor]
    final_floor = min(large) if floor and large else (max(model.buckets) if floor else 0)

    def final_window(pcm_len: int) -> int | None:
        if not final_floor:
            return None
        return max(final_floor, bucket_for(pcm_len, model.buckets, model.margin_frames))

    def decode(batch: list[Decode]) -> list[DecodedText]:
        requests = [
            AsrRequest(
                pcm_to_float(d.pcm[: 30 * 16000]),
                prompt=d.prompt,
                language=None if language == "auto" else language,
                beam_size=None if d.final else 1,
                retry_suspect=d.final,
                margin_frames=None if d.final else PARTIAL_MARGIN_FRAMES,
                window_frames=final_window(min(len(d.pcm), 30 * 16000)) if d.final else None,
                char_timings=d.final and char_timings,
                timestamps=d.final,
            )
            for d in batch
        ]
        return [
            # A looping partial is noise that the next partial replaces: show nothing for it.
            DecodedText(
                "" if not d.final and is_looping(r.text) else r.text,
                r.no_speech_prob,
                r.avg_logprob,
                tuple(
                    TimedToken(
                        c.char, round(c.start_s * 1000), round(c.end_s * 1000), c.probability
                    )
                    for c in r.chars
                ),
                r.language,
            )
            for d, r in zip(batch, model.transcribe_batch(requests), strict=True)
        ]

    return decode


def whisper_partial_key(model: object) -> Callable[[Decode], Hashable]:
    """The window bucket a partial decodes in: partials of one bucket batch into one encode."""
    from jiesu.models.whisper_ct2 import WhisperCt2, bucket_for

    assert isinstance(model, WhisperCt2)
    buckets = model.buckets

    def key(decode: Decode) -> Hashable:
        return bucket_for(min(len(decode.pcm), 30 * 16000), buckets, PARTIAL_MARGIN_FRAMES)

    return key
