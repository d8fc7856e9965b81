"""Speech capacity: the most concurrent two-leg calls with final-after-endpoint p95 <= 1.5 s.

Runs the latency benchmark (``jiesu bench latency``: real speech, real-time paced, production
runtime) at a growing number of calls, each level in a fresh runtime, and stops at the first
level that misses the target (or at ``--max-calls``). ``max_calls`` is the last level that met
it; every level's figures are kept in ``levels``.
"""

from __future__ import annotations

import argparse
import asyncio

from jiesu.bench.latency import (
    FINAL_P95_TARGET_S,
    add_common_arguments,
    load_clips,
    machine,
    measure,
    speech_config,
)

CPU_TARGET_CALLS = 4
GPU_TARGET_CALLS = 200


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--start", type=int, default=1, help="first number of calls")
    parser.add_argument("--step", type=int, default=1, help="calls added per level")
    parser.add_argument("--max-calls", type=int, default=12, help="stop here even if met")
    add_common_arguments(parser)


def _level(result: dict[str, object]) -> dict[str, object]:
    keep = ("calls", "final_latency", "first_partial_latency", "partial_interval", "real_time_factor",
            "partials_skipped", "finals_failed", "frames_lost", "batch_sizes", "final_p95_ok")  # fmt: skip
    return {key: result[key] for key in keep}


def run(args: argparse.Namespace) -> dict[str, object]:
    clips = load_clips(args.audio)
    speech = speech_config(args)
    levels: list[dict[str, object]] = []
    max_calls = 0
    calls = args.start
    while calls <= args.max_calls:
        result = asyncio.run(measure(calls, args.seconds, clips, speech, args.seed))
        levels.append(_level(result))
        if not result["final_p95_ok"]:
            break
        max_calls = calls
        calls += args.step
    target = GPU_TARGET_CALLS if args.device == "cuda" else CPU_TARGET_CALLS
    return {
        "max_calls": max_calls,
        "levels": levels,
        "seconds_per_call": args.seconds,
        "device": args.device,
        "compute_type": args.compute_type,
        "criterion": f"final-after-endpoint p95 <= {FINAL_P95_TARGET_S} s",
        "target": f">= {target} concurrent two-leg calls",
        "target_met": max_calls >= target,
        "note": "development numbers: real recordings from ../shared/data, G.711 over loopback",
        **machine(),
    }
