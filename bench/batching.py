"""Batching: ASR throughput of N calls through one shared Batcher vs the same work call by call.

One :class:`~jiesu.models.whisper_ct2.WhisperCt2` model is loaded once. The work is ``calls``
concurrent calls, each finishing ``utterances`` utterances one after another (real Mandarin
clips from ``--audio``, cut to at most ``--max-seconds`` and cycled so that the calls of one wave
get different clips). Batched mode: one asyncio task per call submits each utterance as a final
to ONE shared :class:`~jiesu.engine.speech.batcher.Batcher` in front of the model and awaits the
text before submitting its next one, so the N calls' utterances arrive together, wave after wave.
The batcher and the model have ``--lanes`` decode lanes, as in production (two by default: two
batches may run at once, one thread each on a 2-core CPU).
Sequential mode: the same requests, one per model call, wave by wave, on the same model object.
The two modes alternate over ``--rounds`` rounds (which goes first flips each round) after an
untimed warm-up of both, so machine noise hits both alike. Latency is per request from its
arrival: in batched mode from submit to result, in sequential mode from the start of its wave
(all N arrive together; a one-at-a-time server makes the later ones wait). ``ratio`` =
sequential_s / batched_s. Texts must be identical between the modes (``text_mismatches``).
Targets: CPU ratio >= 1.3 at 4 calls; CUDA ratio >= 3 at 32 calls; no text mismatch.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import os
import platform
import sys
import time
import wave
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from jiesu.engine.speech.batcher import Batcher, BatcherConfig, Priority
from jiesu.models.whisper_ct2 import SAMPLE_RATE, AsrRequest, AsrResult

DEFAULT_AUDIO = Path("../shared/data/speech/mandarin")
#: (calls, minimum ratio) per device kind; see issue 3 "Benchmarks".
TARGETS: dict[str, tuple[int, float]] = {"cpu": (4, 1.3), "cuda": (32, 3.0)}
DEFAULT_COMPUTE_TYPE = {"cpu": "int8", "cuda": "float16"}
#: Mismatching (call, utterance) pairs kept in the result as examples.
MISMATCH_EXAMPLES = 5

Pcm = npt.NDArray[np.float32]
TranscribeFn = Callable[[list[AsrRequest]], Sequence[AsrResult]]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``jiesu bench batching``."""
    parser.add_argument(
        "--calls", type=int, default=4, help="concurrent calls (default: %(default)s)"
    )
    parser.add_argument(
        "--utterances",
        type=int,
        default=5,
        help="utterances per call per round (default: %(default)s)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds; each runs both modes, alternating which goes first (default: %(default)s)",
    )
    parser.add_argument(
        "--audio",
        type=Path,
        default=DEFAULT_AUDIO,
        help="folder of 16 kHz mono 16-bit WAV clips (default: %(default)s)",
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=10.0,
        help="cut each clip to at most this many seconds (default: %(default)s)",
    )
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="model device")
    parser.add_argument(
        "--compute-type",
        default=None,
        help="CTranslate2 compute type (default: int8 on cpu, float16 on cuda)",
    )
    parser.add_argument(
        "--lanes",
        type=int,
        default=2,
        help="decode lanes of the model and the batcher, as [speech] decode_lanes; the "
        "sequential mode runs on the same model one request at a time (default: %(default)s)",
    )
    parser.add_argument(
        "--cpu-threads",
        type=int,
        default=0,
        help="CTranslate2 intra-op threads, 0 = its default (default: %(default)s)",
    )
    parser.add_argument("--beam-size", type=int, default=5, help="beam size (default: %(default)s)")
    parser.add_argument(
        "--max-batch",
        type=int,
        default=None,
        help="Batcher max_batch (default: the number of calls)",
    )
    parser.add_argument(
        "--max-wait-ms",
        type=float,
        default=10.0,
        help="Batcher max_wait_ms (default: %(default)s)",
    )


# --- audio -----------------------------------------------------------------------------------


def load_clips(folder: Path, max_seconds: float) -> list[tuple[str, Pcm]]:
    """Every ``*.wav`` in ``folder`` (sorted by name) as float32 PCM cut to ``max_seconds``.

    Raises SystemExit with a clear message when the folder is missing, holds no WAV, or a file
    is not 16 kHz mono 16-bit.
    """
    if not folder.is_dir():
        raise SystemExit(
            f"audio folder {folder} not found (resolved: {folder.resolve()}); the benchmark "
            "needs real 16 kHz clips, e.g. ../shared/data/speech/mandarin (see --audio)"
        )
    limit = int(max_seconds * SAMPLE_RATE)
    clips: list[tuple[str, Pcm]] = []
    for path in sorted(folder.glob("*.wav")):
        with wave.open(str(path), "rb") as handle:
            if (handle.getframerate(), handle.getnchannels(), handle.getsampwidth()) != (
                SAMPLE_RATE,
                1,
                2,
            ):
                raise SystemExit(f"{path}: expected 16 kHz mono 16-bit PCM WAV")
            raw = handle.readframes(handle.getnframes())
        pcm = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
        if pcm.size:
            clips.append((path.name, np.ascontiguousarray(pcm[:limit])))
    if not clips:
        raise SystemExit(f"audio folder {folder} holds no non-empty *.wav clip")
    return clips


def plan_work(
    clips: Sequence[tuple[str, Pcm]], calls: int, utterances: int
) -> list[list[tuple[str, AsrRequest]]]:
    """``work[call][k]``: the clip of utterance ``k`` of ``call``.

    Clip index ``(k * calls + call) % len(clips)``: the calls of one wave get different clips
    (while ``calls <= len(clips)``) and successive waves walk through all of them.
    """
    return [
        [
            (
                clips[(k * calls + call) % len(clips)][0],
                AsrRequest(clips[(k * calls + call) % len(clips)][1]),
            )
            for k in range(utterances)
        ]
        for call in range(calls)
    ]


# --- the two modes ---------------------------------------------------------------------------


@dataclass
class ModeRun:
    """What one mode produced in one round."""

    seconds: float
    latencies_s: list[float]
    #: ``texts[call][k]``
    texts: list[list[str]]


@dataclass
class Tally:
    """Sums over the timed rounds of one mode."""

    seconds: float = 0.0
    latencies_s: list[float] = field(default_factory=list)
    rounds_s: list[float] = field(default_factory=list)

    def add(self, run: ModeRun) -> None:
        self.seconds += run.seconds
        self.latencies_s.extend(run.latencies_s)
        self.rounds_s.append(run.seconds)


async def run_batched(
    batcher: Batcher[AsrRequest, AsrResult], work: list[list[tuple[str, AsrRequest]]]
) -> ModeRun:
    """Every call as its own task, submitting its utterances one after another as finals."""
    latencies: list[float] = []
    texts: list[list[str]] = [[] for _ in work]

    async def call(index: int) -> None:
        for _name, request in work[index]:
            submitted = time.perf_counter()
            result = await batcher.submit(
                request, deadline=time.monotonic() + 3600.0, priority=Priority.FINAL
            )
            latencies.append(time.perf_counter() - submitted)
            texts[index].append(result.text)

    started = time.perf_counter()
    await asyncio.gather(*(call(i) for i in range(len(work))))
    return ModeRun(time.perf_counter() - started, latencies, texts)


def run_sequential(transcribe: TranscribeFn, work: list[list[tuple[str, AsrRequest]]]) -> ModeRun:
    """The same requests one per model call, wave by wave (all calls' utterance k, then k+1)."""
    latencies: list[float] = []
    texts: list[list[str]] = [[] for _ in work]
    started = time.perf_counter()
    for k in range(max((len(w) for w in work), default=0)):
        arrived = time.perf_counter()
        for index, utterances in enumerate(work):
            if k < len(utterances):
                (result,) = transcribe([utterances[k][1]])
                latencies.append(time.perf_counter() - arrived)
                texts[index].append(result.text)
    return ModeRun(time.perf_counter() - started, latencies, texts)


# --- the measurement -------------------------------------------------------------------------


async def measure(
    transcribe: TranscribeFn,
    work: list[list[tuple[str, AsrRequest]]],
    rounds: int,
    config: BatcherConfig,
) -> dict[str, Any]:
    """Warm up both modes, then ``rounds`` timed rounds of both, alternating the order.

    Returns the figures that do not depend on the model or machine (those are added by
    :func:`run`).
    """
    batcher: Batcher[AsrRequest, AsrResult] = Batcher(transcribe, config, name="asr-bench")
    try:
        # Untimed warm-up: first-call allocations of every window bucket and batch shape.
        await run_batched(batcher, work)
        run_sequential(transcribe, work)
        warm = batcher.stats()
        batched, sequential = Tally(), Tally()
        mismatches: list[dict[str, Any]] = []
        n_mismatch = 0
        for r in range(rounds):
            if r % 2 == 0:
                b = await run_batched(batcher, work)
                s = run_sequential(transcribe, work)
            else:
                s = run_sequential(transcribe, work)
                b = await run_batched(batcher, work)
            batched.add(b)
            sequential.add(s)
            for call, utterances in enumerate(work):
                for k, (name, _request) in enumerate(utterances):
                    if b.texts[call][k] != s.texts[call][k]:
                        n_mismatch += 1
                        if len(mismatches) < MISMATCH_EXAMPLES:
                            mismatches.append(
                                {
                                    "round": r,
                                    "call": call,
                                    "utterance": k,
                                    "clip": name,
                                    "batched": b.texts[call][k],
                                    "sequential": s.texts[call][k],
                                }
                            )
        stats = batcher.stats()
    finally:
        await batcher.close()
    # Histogram of the timed rounds only (the warm-up's batches are subtracted).
    warm_sizes = dict(warm.sizes)
    sizes = {
        size: count - warm_sizes.get(size, 0)
        for size, count in stats.sizes
        if count - warm_sizes.get(size, 0) > 0
    }
    n_utts = rounds * sum(len(w) for w in work)
    batches = stats.batches - warm.batches
    return {
        "utterances": n_utts,
        "batched_s": round(batched.seconds, 3),
        "sequential_s": round(sequential.seconds, 3),
        "ratio": round(sequential.seconds / batched.seconds, 3) if batched.seconds > 0 else None,
        "batched_utt_per_s": round(n_utts / batched.seconds, 3) if batched.seconds else None,
        "sequential_utt_per_s": (
            round(n_utts / sequential.seconds, 3) if sequential.seconds else None
        ),
        "batched_round_s": [round(x, 3) for x in batched.rounds_s],
        "sequential_round_s": [round(x, 3) for x in sequential.rounds_s],
        "batched_p50_ms": _pct_ms(batched.latencies_s, 50),
        "batched_p95_ms": _pct_ms(batched.latencies_s, 95),
        "sequential_p50_ms": _pct_ms(sequential.latencies_s, 50),
        "sequential_p95_ms": _pct_ms(sequential.latencies_s, 95),
        "batches": batches,
        "mean_batch_size": round(n_utts / batches, 3) if batches else None,
        "batch_size_histogram": {str(size): count for size, count in sorted(sizes.items())},
        "batcher_failed_batches": stats.failed_batches,
        "batcher_rejected": stats.rejected,
        "batcher_skipped": stats.skipped,
        "text_mismatches": n_mismatch,
        "text_mismatch_examples": mismatches,
    }


def _pct_ms(values: Sequence[float], q: float) -> float | None:
    return round(float(np.percentile(np.asarray(values), q)) * 1000.0, 1) if values else None


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def run(args: argparse.Namespace) -> dict[str, object]:
    """Load the clips and the model, measure both modes, and return the result object."""
    if args.calls < 1 or args.utterances < 1 or args.rounds < 1 or args.max_seconds <= 0:
        raise SystemExit("--calls, --utterances and --rounds must be >= 1, --max-seconds > 0")
    clips = load_clips(args.audio, args.max_seconds)
    load_before = os.getloadavg()
    compute_type: str = args.compute_type or DEFAULT_COMPUTE_TYPE[args.device]
    max_batch: int = args.max_batch or args.calls

    import ctranslate2  # type: ignore[import-untyped]

    from jiesu.models.whisper_ct2 import WhisperCt2, prepare_whisper_base

    loaded = time.perf_counter()
    model = WhisperCt2(
        prepare_whisper_base(),
        device=args.device,
        compute_type=compute_type,
        cpu_threads=args.cpu_threads,
        lanes=args.lanes,
        beam_size=args.beam_size,
    )
    load_s = time.perf_counter() - loaded
    work = plan_work(clips, args.calls, args.utterances)
    config = BatcherConfig(
        max_batch=max_batch,
        max_wait_ms=args.max_wait_ms,
        max_queue=max(256, 2 * args.calls),
        lanes=args.lanes,
    )
    figures = asyncio.run(measure(model.transcribe_batch, work, args.rounds, config))
    load_after = os.getloadavg()

    target_calls, target_ratio = TARGETS[args.device]
    ratio = figures["ratio"]
    windows: dict[str, int] = {}
    for utterances in work:
        for _name, request in utterances:
            key = str(model.window_for(request))
            windows[key] = windows.get(key, 0) + args.rounds
    return {
        "calls": args.calls,
        **figures,
        "utterances_per_call_per_round": args.utterances,
        "rounds": args.rounds,
        "clips": len(clips),
        "clip_max_s": args.max_seconds,
        "audio": str(args.audio),
        "window_frames_histogram": dict(sorted(windows.items(), key=lambda kv: int(kv[0]))),
        "device": args.device,
        "compute_type": compute_type,
        "cpu_threads": model.cpu_threads,
        "cpu_threads_note": "threads per lane; 0 = CTranslate2's default intra-op thread count",
        "lanes": args.lanes,
        "beam_size": args.beam_size,
        "max_batch": max_batch,
        "max_wait_ms": args.max_wait_ms,
        "model": "whisper-base-ct2",
        "model_load_s": round(load_s, 3),
        "target": (
            f"{args.device}: ratio >= {target_ratio:g} at {target_calls} calls, "
            "texts identical in both modes"
        ),
        "target_met": bool(
            args.calls == target_calls
            and ratio is not None
            and ratio >= target_ratio
            and figures["text_mismatches"] == 0
            and figures["batcher_failed_batches"] == 0
        ),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": _cpu_model(),
        # Other processes on the machine compete for the same cores; the 1-minute load average
        # before and after shows how busy it was (the interleaved rounds share that noise).
        "loadavg_1m_before": round(load_before[0], 2),
        "loadavg_1m_after": round(load_after[0], 2),
        "cuda_devices": int(ctranslate2.get_cuda_device_count()),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "ctranslate2": _version("ctranslate2"),
        "faster_whisper": _version("faster-whisper"),
    }


if __name__ == "__main__":  # pragma: no cover - `jiesu bench batching` is the entry point
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    add_arguments(parser)
    print(json.dumps(run(parser.parse_args(sys.argv[1:])), indent=2, ensure_ascii=False))
