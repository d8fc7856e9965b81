"""VAD cost per leg: today's per-leg Silero on the event loop vs the batched VadStage.

Simulated legs: ``N`` streams of real Mandarin speech (the clips of ``--audio``, looped, each
leg starting at another clip and offset), cut into 20 ms chunks of 16 kHz int16, ``--seconds``
of audio per leg. For each ``N`` of ``--legs`` (4 and 32 by default) two modes run, in
alternating order over ``--rounds`` rounds after an untimed warm-up of both:

- ``per_leg``: today's path, :func:`jiesu.engine.speech.pipeline.silero_vad_factory` (faster-
  whisper's Silero v6, one ONNX call per leg per 32 ms chunk, WebRTC veto), called on the event
  loop for every chunk of every leg.
- ``batched``: :class:`jiesu.engine.speech.vad_stage.VadStage` (Silero VAD 6.2 with a stream
  axis, one ONNX call for all legs per 32 ms step, WebRTC veto, on one executor thread). The
  driver submits one chunk of every leg and waits for their answers before the next step: real
  time compressed, one frame per leg per tick, as at full load.

Figures per mode: ``cpu_us_per_leg_audio_s`` (process CPU time, both threads, per leg per
second of audio; the driver's loop over the chunks is in both modes alike),
``onnx_calls_per_audio_s``, the event loop's time per chunk (``loop_us_p50``/``p95``: for
``per_leg`` the probability call; for ``batched`` the ``submit`` plus the chunk's share of
answering its batch on the loop), and for ``batched`` the model thread's CPU and the delay from
submit to answer. ``ratio_cpu`` = per_leg / batched CPU per leg.

``agreement`` (skip with ``--no-agreement``) compares the two models on every clip, at 16 kHz
and through a G.711 mu-law 8 kHz round trip: Silero decisions per 32 ms chunk at 0.5, the
gated 20 ms probabilities the endpointer gets, and the utterances the default endpointer cuts
from each (starts and ends matched by overlap).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from jiesu.engine.speech.vad_stage import (
    VadBatchCore,
    VadChunk,
    VadClose,
    VadStage,
    VadStageConfig,
    silero_batch_core,
)

Pcm = npt.NDArray[np.int16]
RATE = 16_000
CHUNK = 320
DEFAULT_AUDIO = Path("../shared/data/speech/mandarin")
WARMUP_S = 1.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``jiesu bench vad``."""
    parser.add_argument(
        "--legs",
        type=int,
        nargs="+",
        default=[4, 32],
        help="simulated legs, one run each (default: %(default)s)",
    )
    parser.add_argument(
        "--seconds", type=float, default=20.0, help="audio per leg (default: %(default)s)"
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="timed rounds per mode (default: %(default)s)"
    )
    parser.add_argument(
        "--audio",
        type=Path,
        default=DEFAULT_AUDIO,
        help="folder of 16-bit WAV speech clips (default: %(default)s)",
    )
    parser.add_argument("--no-agreement", action="store_true", help="skip the model comparison")


# -- audio -------------------------------------------------------------------------------------


def load_clips(folder: Path) -> list[tuple[str, Pcm]]:
    from jiesu.codecs.resample import resample
    from jiesu.engine.ingest.client import read_wav

    clips = []
    for path in sorted(folder.glob("*.wav")):
        pcm, rate = read_wav(path)
        clips.append((path.name, pcm if rate == RATE else resample(pcm, rate, RATE)))
    if not clips:
        raise SystemExit(f"no WAV clips in {folder}")
    return clips


def phone_line(pcm: Pcm) -> Pcm:
    """16 kHz -> 8 kHz -> G.711 mu-law -> 8 kHz -> 16 kHz, as a call through the PSTN."""
    from jiesu.codecs.g711 import ulaw_decode, ulaw_encode
    from jiesu.codecs.resample import resample

    return resample(ulaw_decode(ulaw_encode(resample(pcm, RATE, 8000))), 8000, RATE)


def leg_streams(clips: Sequence[Pcm], legs: int, seconds: float) -> list[list[Pcm]]:
    """Per leg, ``seconds`` of 20 ms chunks: all clips looped, from a different place each."""
    loop = np.concatenate(list(clips))
    n = int(seconds * RATE) // CHUNK * CHUNK
    out = []
    for leg in range(legs):
        start = (leg * 7919 * CHUNK) % len(loop)
        reps = (start + n) // len(loop) + 1
        audio = np.tile(loop, reps + 1)[start : start + n]
        out.append([audio[i : i + CHUNK] for i in range(0, n, CHUNK)])
    return out


# -- the two modes -----------------------------------------------------------------------------


@dataclass
class ModeRun:
    cpu_s: float = 0.0
    wall_s: float = 0.0
    loop_cpu_s: float = 0.0
    worker_cpu_s: float = 0.0
    onnx_calls: int = 0
    loop_us: list[float] = field(default_factory=list)
    delay_ms: list[float] = field(default_factory=list)
    rejected: int = 0


async def run_per_leg(streams: list[list[Pcm]]) -> ModeRun:
    from jiesu.engine.speech.pipeline import silero_vad_factory
    from jiesu.models.vad import SILERO_CHUNK

    factory = silero_vad_factory()
    probability = [factory() for _ in streams]
    run = ModeRun()
    steps = len(streams[0])
    cpu0, loop0, wall0 = time.process_time(), time.thread_time(), time.perf_counter()
    for step in range(steps):
        for leg, chunks in enumerate(streams):
            t = time.perf_counter()
            probability[leg](chunks[step])
            run.loop_us.append((time.perf_counter() - t) * 1e6)
        if step % 50 == 49:
            await asyncio.sleep(0)  # a real loop serves other tasks between chunks
    run.cpu_s = time.process_time() - cpu0
    run.loop_cpu_s = time.thread_time() - loop0
    run.wall_s = time.perf_counter() - wall0
    # 320-sample feeds complete at most one 512-sample chunk each: one ONNX call per chunk.
    run.onnx_calls = len(streams) * (steps * CHUNK // SILERO_CHUNK)
    return run


class _TimedStage(VadStage[int]):
    """Times the loop side of answering each batch (the stage's only other loop work)."""

    answer_us: list[tuple[float, int]]

    def _deliver(self, entries: Any, results: Any) -> None:
        t = time.perf_counter()
        super()._deliver(entries, results)
        self.answer_us.append(((time.perf_counter() - t) * 1e6, len(entries)))


async def run_batched(streams: list[list[Pcm]], core: VadBatchCore[int]) -> ModeRun:
    legs = len(streams)
    step_done = asyncio.Event()
    answered = 0
    submitted_at: dict[tuple[int, int], float] = {}
    run = ModeRun()

    def on_probability(key: int, seq: int, probability: float) -> None:
        nonlocal answered
        run.delay_ms.append((time.perf_counter() - submitted_at.pop((key, seq))) * 1e3)
        answered += 1
        if answered % legs == 0:
            step_done.set()

    stage = _TimedStage(on_probability, VadStageConfig(max_streams=max(legs, 1)), core=core)
    stage.answer_us = []
    model = core.model
    calls0 = int(getattr(model, "calls", 0))
    steps = len(streams[0])
    submit_us: list[float] = []
    async with stage:
        cpu0, loop0, wall0 = time.process_time(), time.thread_time(), time.perf_counter()
        worker0 = stage.stats().worker_cpu_s
        for step in range(steps):
            step_done.clear()
            for leg, chunks in enumerate(streams):
                t = time.perf_counter()
                submitted_at[(leg, step)] = t
                stage.submit(leg, step, chunks[step])
                submit_us.append((time.perf_counter() - t) * 1e6)
            await step_done.wait()
        run.cpu_s = time.process_time() - cpu0
        run.loop_cpu_s = time.thread_time() - loop0
        run.wall_s = time.perf_counter() - wall0
        stats = stage.stats()
        run.worker_cpu_s = stats.worker_cpu_s - worker0
        run.rejected = stats.rejected
        run.onnx_calls = int(getattr(model, "calls", 0)) - calls0
        for leg in range(legs):
            stage.close(leg)
        await stage.drain()
    # Each chunk's loop time: its submit plus an even share of answering its batch.
    share = [us / max(n, 1) for us, n in stage.answer_us for _ in range(n)]
    run.loop_us = [s + a for s, a in zip(submit_us, share, strict=False)]
    return run


def _pct(values: Sequence[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(values), q)), 1) if values else 0.0


def _summary(runs: list[ModeRun], legs: int, seconds: float) -> dict[str, Any]:
    audio_s = legs * seconds
    cpu = [r.cpu_s / audio_s * 1e6 for r in runs]
    loop_us = [v for r in runs for v in r.loop_us]
    out: dict[str, Any] = {
        "cpu_us_per_leg_audio_s": round(statistics.mean(cpu), 1),
        "cpu_us_per_leg_audio_s_rounds": [round(c, 1) for c in cpu],
        "loop_cpu_us_per_leg_audio_s": round(
            statistics.mean(r.loop_cpu_s for r in runs) / audio_s * 1e6, 1
        ),
        "onnx_calls_per_audio_s": round(statistics.mean(r.onnx_calls for r in runs) / seconds, 2),
        "loop_us_per_chunk_p50": _pct(loop_us, 50),
        "loop_us_per_chunk_p95": _pct(loop_us, 95),
        "loop_us_per_chunk_max": _pct(loop_us, 100),
        "wall_s": round(statistics.mean(r.wall_s for r in runs), 3),
    }
    delays = [v for r in runs for v in r.delay_ms]
    if delays:
        out["worker_cpu_us_per_leg_audio_s"] = round(
            statistics.mean(r.worker_cpu_s for r in runs) / audio_s * 1e6, 1
        )
        out["answer_delay_ms_p50"] = _pct(delays, 50)
        out["answer_delay_ms_p95"] = _pct(delays, 95)
        out["rejected"] = sum(r.rejected for r in runs)
    return out


async def compare(
    streams: list[list[Pcm]], rounds: int, core: VadBatchCore[int], seconds: float
) -> dict[str, Any]:
    legs = len(streams)
    warm = [chunks[: int(WARMUP_S * RATE) // CHUNK] for chunks in streams]
    await run_per_leg(warm)
    await run_batched(warm, core)
    per_leg: list[ModeRun] = []
    batched: list[ModeRun] = []
    for r in range(rounds):
        order: list[Callable[[], Any]] = [
            lambda: run_per_leg(streams),
            lambda: run_batched(streams, core),
        ]
        sinks = [per_leg, batched]
        if r % 2:
            order.reverse()
            sinks.reverse()
        for make, sink in zip(order, sinks, strict=True):
            sink.append(await make())
    a, b = _summary(per_leg, legs, seconds), _summary(batched, legs, seconds)
    return {
        "legs": legs,
        "per_leg": a,
        "batched": b,
        "ratio_cpu": round(a["cpu_us_per_leg_audio_s"] / b["cpu_us_per_leg_audio_s"], 2),
        "ratio_loop_cpu": round(
            a["loop_cpu_us_per_leg_audio_s"] / max(b["loop_cpu_us_per_leg_audio_s"], 1e-9), 2
        ),
        "ratio_loop_us_p50": round(
            a["loop_us_per_chunk_p50"] / max(b["loop_us_per_chunk_p50"], 1e-9), 2
        ),
        "ratio_loop_us_p95": round(
            a["loop_us_per_chunk_p95"] / max(b["loop_us_per_chunk_p95"], 1e-9), 2
        ),
        "ratio_onnx_calls": round(
            a["onnx_calls_per_audio_s"] / max(b["onnx_calls_per_audio_s"], 1e-9), 2
        ),
    }


# -- agreement between the models ----------------------------------------------------------


def _utterances(probs: Sequence[float]) -> list[tuple[int, int]]:
    from jiesu.engine.speech.endpointer import Endpointer, UtteranceEnd

    ep = Endpointer()
    out = []
    events = [e for i, p in enumerate(probs) for e in ep.push(i * 20, p)] + ep.flush()
    for e in events:
        if isinstance(e, UtteranceEnd):
            out.append((e.t_start, e.t_end))
    return out


def _match(
    old: list[tuple[int, int]], new: list[tuple[int, int]]
) -> tuple[list[int], list[int], int]:
    """Start and end differences (new - old, ms) of overlapping utterance pairs, each
    utterance used once; and how many of either side found no partner."""
    starts, ends, used = [], [], set()
    for a0, a1 in old:
        best = None
        for j, (b0, b1) in enumerate(new):
            overlap = min(a1, b1) - max(a0, b0)
            if j not in used and overlap > 0 and (best is None or overlap > best[0]):
                best = (overlap, j)
        if best is not None:
            used.add(best[1])
            b0, b1 = new[best[1]]
            starts.append(b0 - a0)
            ends.append(b1 - a1)
    unmatched = (len(old) - len(starts)) + (len(new) - len(used))
    return starts, ends, unmatched


def agreement(clips: list[tuple[str, Pcm]], core: VadBatchCore[int]) -> dict[str, Any]:
    from jiesu.engine.speech.pipeline import silero_vad_factory
    from jiesu.models.vad import SileroBatchVad, SileroVad, SileroVadModel

    v6 = SileroVadModel()
    batch = core.model
    assert isinstance(batch, SileroBatchVad)
    factory = silero_vad_factory()
    out: dict[str, Any] = {}
    for channel in ("16k", "g711_8k"):
        chunk_same = chunk_total = frame_same = frame_total = 0
        starts: list[int] = []
        ends: list[int] = []
        unmatched = n_old = n_new = 0
        max_dp: list[float] = []
        for i, (_, pcm) in enumerate(clips):
            audio = phone_line(pcm) if channel == "g711_8k" else pcm
            x = (audio.astype(np.float32) / 32768.0).astype(np.float32)
            old_chunks = SileroVad(v6).feed(x)
            stream = batch.open_stream()
            new_chunks = batch.run({stream: audio})[stream]
            batch.close_stream(stream)
            chunk_same += int(np.sum((old_chunks >= 0.5) == (new_chunks >= 0.5)))
            chunk_total += len(old_chunks)
            max_dp.append(float(np.mean(np.abs(old_chunks - new_chunks))))
            frames = [audio[j : j + CHUNK] for j in range(0, len(audio) - CHUNK + 1, CHUNK)]
            per_leg = factory()
            old = [per_leg(f) for f in frames]
            new = [p for _, _, p in core.process([VadChunk(i, j, f) for j, f in enumerate(frames)])]
            core.process([VadClose(i)])
            frame_same += sum((a >= 0.5) == (b >= 0.5) for a, b in zip(old, new, strict=True))
            frame_total += len(old)
            u_old, u_new = _utterances(old), _utterances(new)
            s, e, u = _match(u_old, u_new)
            starts += s
            ends += e
            unmatched += u
            n_old += len(u_old)
            n_new += len(u_new)
        out[channel] = {
            "clips": len(clips),
            "silero_chunks": chunk_total,
            "silero_chunk_agreement": round(chunk_same / chunk_total, 4),
            "silero_mean_abs_prob_diff": round(statistics.mean(max_dp), 4),
            "gated_20ms_agreement": round(frame_same / frame_total, 4),
            "utterances_v6": n_old,
            "utterances_v6_2": n_new,
            "utterances_unmatched": unmatched,
            "start_diff_ms_mean": round(statistics.mean(starts), 1) if starts else None,
            "start_diff_ms_median_abs": statistics.median(abs(v) for v in starts)
            if starts
            else None,
            "start_diff_ms_max_abs": max((abs(v) for v in starts), default=None),
            "start_within_100ms": round(sum(abs(v) <= 100 for v in starts) / len(starts), 3)
            if starts
            else None,
            "end_diff_ms_mean": round(statistics.mean(ends), 1) if ends else None,
            "end_diff_ms_median_abs": statistics.median(abs(v) for v in ends) if ends else None,
        }
    return out


# -- entry point -----------------------------------------------------------------------------


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def run(args: argparse.Namespace) -> dict[str, Any]:
    clips = load_clips(args.audio)
    load_before = os.getloadavg()
    results: dict[str, Any] = {"seconds_per_leg": args.seconds, "rounds": args.rounds}
    core = silero_batch_core(VadStageConfig(max_streams=max([*args.legs, 1])))
    for legs in args.legs:
        streams = leg_streams([pcm for _, pcm in clips], legs, args.seconds)
        results[f"legs_{legs}"] = asyncio.run(compare(streams, args.rounds, core, args.seconds))
    if not args.no_agreement:
        results["agreement"] = agreement(clips, core)
    from jiesu.models.vad import SileroBatchVad, SileroVadModel

    batch = core.model
    assert isinstance(batch, SileroBatchVad)
    results.update(
        {
            "audio": str(args.audio),
            "clips": len(clips),
            "model_per_leg": f"silero-vad-v6 ({SileroVadModel().path.name}, faster-whisper)",
            # The package folder that supplied the file, not this machine's absolute path.
            "model_batched": "silero-vad-batch "
            f"({batch.path.parent.parent.name}/{batch.path.parent.name}/{batch.path.name})",
            "cpu_count": os.cpu_count(),
            "loadavg_1m_before": round(load_before[0], 2),
            "loadavg_1m_after": round(os.getloadavg()[0], 2),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "onnxruntime": _version("onnxruntime"),
            "note": "CPU figures are process CPU time (both threads) per leg per second of "
            "audio; loop figures are the event loop's share only",
        }
    )
    return results


if __name__ == "__main__":  # pragma: no cover - `jiesu bench vad` is the entry point
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    add_arguments(parser)
    print(json.dumps(run(parser.parse_args(sys.argv[1:])), indent=2, ensure_ascii=False))
