"""Speech latency: N concurrent two-leg calls of real speech, paced in real time through the ingest.

Each call is a conversation built from the recordings in ``--audio``: the caller says a clip,
pauses, the agent answers with another clip, and so on, on two separate legs, sent as G.711
μ-law in 20 ms frames in real time over the websocket ingest into the production runtime
(event log, VAD, endpointer, shared Whisper batcher). Calls start a little apart, as real calls do.

Latency is measured from the moment the audio a result depends on reached the pipeline to the
moment its event was durable and published:

* a partial depends on the audio up to its ``t_end``; *first-partial latency* is that of the
  first partial of each utterance;
* a final depends on the endpoint: the audio up to ``t_end`` plus the endpointer's hangover;
  *final-after-endpoint latency* is measured from the arrival of that frame.

Also reported: the model's real-time factor (decode time over audio time), partials skipped
(stale or superseded), frames lost at the ingest, and the partial interval: the time between two
partials of one utterance as published, which stretches when the model is busy (partials of a
leg are skipped while its previous one is decoding or finals wait).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from jiesu.bench.replay import offline_config
from jiesu.engine.audio import AudioChunk, Leg
from jiesu.engine.auth import Role
from jiesu.engine.config import IngestConfig, SpeechConfig, StorageConfig
from jiesu.engine.events import Event, TranscriptFinal, TranscriptPartial

Pcm = npt.NDArray[np.int16]
RATE = 16_000
DEFAULT_AUDIO = Path("../shared/data/speech/mandarin")
FINAL_P95_TARGET_S = 1.5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calls", type=int, default=4, help="concurrent two-leg calls")
    add_common_arguments(parser)


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--audio", type=Path, default=DEFAULT_AUDIO, help="folder of WAV clips")
    parser.add_argument("--seconds", type=float, default=45.0, help="length of each call")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--compute-type", default="int8")
    parser.add_argument("--beam-size", type=int, default=5)
    parser.add_argument("--max-batch", type=int, default=8)
    parser.add_argument(
        "--lanes",
        type=int,
        default=SpeechConfig().decode_lanes,
        help="decodes at once on the one model (1: one after the other)",
    )
    parser.add_argument(
        "--early-final-ms",
        type=int,
        default=SpeechConfig().early_final_ms,
        help="pause that starts a final's decode early (0: decode at the endpoint only)",
    )
    parser.add_argument(
        "--batched-vad",
        action="store_true",
        help="Silero batched across legs on its own thread ([speech] batched_vad)",
    )
    parser.add_argument("--seed", type=int, default=12345)


def load_clips(folder: Path) -> list[Pcm]:
    from jiesu.codecs.resample import resample
    from jiesu.engine.ingest.client import read_wav

    paths = sorted(folder.glob("*.wav"))
    if not paths:
        raise SystemExit(f"latency: no WAV files in {folder} (is ../shared/data there?)")
    clips = []
    for path in paths:
        pcm, rate = read_wav(path)
        pcm = pcm if rate == RATE else resample(pcm, rate, RATE)
        clips.append(pcm[: 12 * RATE])  # a turn of at most 12 s
    return clips


def conversation(clips: list[Pcm], seconds: float, rng: random.Random) -> dict[Leg, Pcm]:
    """Alternating turns on two legs: one speaks while the other is silent."""
    total = int(seconds * RATE)
    legs = {Leg.CALLER: np.zeros(total, np.int16), Leg.AGENT: np.zeros(total, np.int16)}
    pos, speaker = int(rng.uniform(0.5, 1.5) * RATE), Leg.CALLER
    while pos < total:
        clip = clips[rng.randrange(len(clips))]
        end = min(total, pos + len(clip))
        legs[speaker][pos:end] = clip[: end - pos]
        pos = end + int(rng.uniform(0.8, 1.6) * RATE)
        speaker = Leg.AGENT if speaker is Leg.CALLER else Leg.CALLER
    return legs


def _percentiles(values: list[float]) -> dict[str, float | int]:
    if not values:
        return {"n": 0}
    arr = np.array(values) * 1000
    return {
        "n": len(values),
        "p50_ms": round(float(np.percentile(arr, 50)), 1),
        "p95_ms": round(float(np.percentile(arr, 95)), 1),
        "p99_ms": round(float(np.percentile(arr, 99)), 1),
        "max_ms": round(float(arr.max()), 1),
    }


@dataclass
class _Probe:
    """Arrival times of chunks at the pipeline and publish times of transcript events."""

    arrivals: dict[tuple[str, Leg], list[float]] = field(default_factory=lambda: defaultdict(list))
    partial_latency: list[float] = field(default_factory=list)
    first_partial_latency: list[float] = field(default_factory=list)
    #: Time between two partials of one utterance at the client: the cadence the agent sees.
    partial_interval: list[float] = field(default_factory=list)
    last_partial: dict[tuple[str, str], float] = field(default_factory=dict)
    final_latency: list[float] = field(default_factory=list)
    #: (latency s, utterance length ms) of every final, for the slowest-finals diagnosis.
    finals: list[tuple[float, int]] = field(default_factory=list)
    seen_utterances: set[tuple[str, str]] = field(default_factory=set)
    hangover_ms: int = 600

    def arrival(self, call_id: str, leg: Leg, media_ms: int) -> float | None:
        times = self.arrivals[(call_id, leg)]
        index = min(len(times) - 1, max(0, media_ms // 20))
        return times[index] if times else None

    def on_event(self, event: Event, now: float) -> None:
        payload = event.payload
        if isinstance(payload, TranscriptPartial):
            fed = self.arrival(event.call_id, payload.leg, payload.t_end - 20)
            if fed is None:
                return
            self.partial_latency.append(now - fed)
            key = (event.call_id, payload.utterance_id)
            if key in self.last_partial:
                self.partial_interval.append(now - self.last_partial[key])
            self.last_partial[key] = now
            if key not in self.seen_utterances:
                self.seen_utterances.add(key)
                self.first_partial_latency.append(now - fed)
        elif isinstance(payload, TranscriptFinal):
            fed = self.arrival(event.call_id, payload.leg, payload.t_end + self.hangover_ms - 20)
            if fed is not None:
                self.final_latency.append(now - fed)
                self.finals.append((now - fed, payload.t_end - payload.t_start))


async def measure(
    calls: int,
    seconds: float,
    clips: list[Pcm],
    speech: SpeechConfig,
    seed: int,
) -> dict[str, object]:
    """Run ``calls`` concurrent calls through a fresh runtime and return the figures."""
    from jiesu.engine.ingest.client import IngestClient
    from jiesu.engine.runtime import Runtime

    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="jiesu-latency-") as tmp:
        config = offline_config(
            Path(tmp),
            ingest=IngestConfig(port=0, max_calls=max(64, calls)),
            storage=StorageConfig(event_log=Path(tmp) / "events.sqlite3"),
            speech=speech,
        )
        runtime = Runtime(config)
        await runtime.start()
        loop = asyncio.get_running_loop()
        probe = _Probe(hangover_ms=speech.hangover_ms)
        pipeline = runtime.router.speech
        assert pipeline is not None
        model_busy = [0.0]
        original_audio = pipeline.audio

        def audio(chunk: AudioChunk) -> None:
            probe.arrivals[(chunk.call_id, chunk.leg)].append(loop.time())
            original_audio(chunk)

        pipeline.audio = audio  # type: ignore[method-assign]
        runtime.event_log.subscribe(lambda event: probe.on_event(event, loop.time()))
        _time_model(pipeline, model_busy)
        token = runtime.signer.mint("bench", Role.INGEST, config.hotline, 3600, time.time())
        url = f"ws://127.0.0.1:{runtime.ingest.port}/"
        lost = [0]

        async def one_call(index: int) -> None:
            await asyncio.sleep(rng.uniform(0, 2.0) if index else 0)  # calls start apart
            legs = conversation(clips, seconds, random.Random(seed + index))
            async with IngestClient(url, token) as client:
                stats = await client.stream_call(
                    f"bench-{index}", legs, RATE, codec="pcmu", realtime=True
                )
                if stats is not None:
                    lost[0] += stats.lost

        began = loop.time()
        try:
            await asyncio.gather(*(one_call(i) for i in range(calls)))
        finally:
            wall = loop.time() - began
            batcher = pipeline.batcher.stats()
            metrics = runtime.metrics
            await runtime.close()
    audio_s = calls * 2 * seconds
    final = _percentiles(probe.final_latency)
    return {
        "calls": calls,
        "legs": calls * 2,
        "seconds_per_call": seconds,
        "wall_s": round(wall, 1),
        "first_partial_latency": _percentiles(probe.first_partial_latency),
        "partial_latency": _percentiles(probe.partial_latency),
        "partial_interval": _percentiles(probe.partial_interval),
        "final_latency": final,
        "slowest_finals": [
            {"latency_ms": round(lat * 1000), "speech_ms": ms}
            for lat, ms in sorted(probe.finals, reverse=True)[:5]
        ],
        "real_time_factor": round(model_busy[0] / audio_s, 3),
        "partials_published": int(metrics.value("asr_partials_total")),
        "partials_skipped": int(
            sum(v for k, v in metrics.snapshot().items() if k.startswith("asr_partials_skipped"))
        ),
        "finals_published": int(metrics.value("asr_finals_total")),
        "finals_failed": int(
            sum(v for k, v in metrics.snapshot().items() if k.startswith("asr_finals_failed"))
        ),
        "frames_lost": lost[0],
        "early_final_ms": speech.early_final_ms,
        "decode_lanes": speech.decode_lanes,
        "batched_vad": speech.batched_vad,
        "early_finals": {
            outcome: int(metrics.value("asr_early_finals_total", {"outcome": outcome}))
            for outcome in ("used", "withdrawn", "skipped")
        },
        "batches": batcher.batches,
        "batch_sizes": dict(batcher.sizes),
        "final_p95_ok": bool(final.get("p95_ms", 1e9) <= FINAL_P95_TARGET_S * 1000),
    }


def _time_model(pipeline: object, busy: list[float]) -> None:
    """Wrap the batcher's model function to add up the time the model works."""
    batcher = pipeline.batcher  # type: ignore[attr-defined]
    decode = batcher._model_fn

    def timed(batch: list[object]) -> object:
        began = time.perf_counter()
        try:
            return decode(batch)
        finally:
            busy[0] += time.perf_counter() - began

    batcher._model_fn = timed


def speech_config(args: argparse.Namespace) -> SpeechConfig:
    return replace(
        SpeechConfig(),
        device=args.device,
        compute_type=args.compute_type,
        beam_size=args.beam_size,
        max_batch=args.max_batch,
        early_final_ms=args.early_final_ms,
        decode_lanes=args.lanes,
        batched_vad=args.batched_vad,
    )


def machine() -> dict[str, object]:
    return {"cpu_count": os.cpu_count(), "python": platform.python_version()}


def run(args: argparse.Namespace) -> dict[str, object]:
    clips = load_clips(args.audio)
    result = asyncio.run(measure(args.calls, args.seconds, clips, speech_config(args), args.seed))
    return {
        **result,
        "device": args.device,
        "compute_type": args.compute_type,
        "target": f"final-after-endpoint p95 <= {FINAL_P95_TARGET_S} s",
        "target_met": result["final_p95_ok"],
        "note": "development numbers: real recordings from ../shared/data, G.711 over loopback",
        **machine(),
    }
