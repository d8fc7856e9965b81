"""Post-call summary delay: hang-up to QA and summary stored, on the production runtime.

Each scripted call of ``--data`` (the work-order benchmark's calls: ``utterances`` as
``[leg, text]`` pairs) is replayed through the real :class:`~jiesu.engine.runtime.Runtime`
(event log and ticket store on SQLite in a temporary folder, the assist stages with the shipped
extractors, classifiers and knowledge base, the post-call service; speech models and emotion
alerts off): opened and hung up through the runtime's ingest sink, its finals appended to the
event log as the speech pipeline appends them. Finals are paced as on a live call: the work
order catches up between them, except the last one, which arrives right before the hang-up
(as the speech pipeline flushes it), so the post-call work waits for its fill as it does live.
``--concurrency`` calls run at once, ``--repeat`` times over the set.

Measured per call, from the event log: ``call.ended`` -> the first ``call.summary`` (stored
before it is appended), and -> the last one when the call was rescored (the order finished
after ``[assist] postcall_settle_s``), with the number of calls whose order was not finished
within the settle time. Target: first summary p95 <= 3 s, every call's QA and summary stored.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from jiesu.bench.replay import PAUSE_MS, offline_config, paced_finals, replay_finals
from jiesu.bench.workorder import DEFAULT_DATA, load_calls
from jiesu.engine.audio import Leg
from jiesu.engine.calls import CallStats, IngestCall
from jiesu.engine.config import AssistConfig
from jiesu.engine.events import CallMode, QaResult
from jiesu.engine.runtime import Runtime
from jiesu.engine.storage import open_store

TARGET_S = 3.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="scripted calls")
    parser.add_argument("--repeat", type=int, default=2, help="times over the calls (default 2)")
    parser.add_argument("--concurrency", type=int, default=4, help="calls at once (default 4)")
    parser.add_argument(
        "--settle-s", type=float, default=AssistConfig().postcall_settle_s, help="settle time"
    )


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {
        "p50": round(statistics.median(values), 3),
        "p95": round(_pct(values, 0.95), 3),
        "max": round(max(values), 3),
    }


async def _call(runtime: Runtime, call_id: str, script: dict[str, Any]) -> None:
    router = runtime.router
    legs = (Leg.CALLER, Leg.AGENT)
    await router.call_started(
        IngestCall(call_id, "12345", "agent-bench", CallMode.ASSIST, legs, "l16", 16000, "")
    )
    finals = paced_finals(script["utterances"], f"{call_id}-")
    await replay_finals(runtime, call_id, finals)
    duration_ms = finals[-1].t_end + PAUSE_MS if finals else 0
    await router.call_ended(call_id, "hangup", CallStats(duration_ms=duration_ms))


async def _replay(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    calls = load_calls(args.data)
    config = offline_config(
        folder, assist=AssistConfig(alerts=False, postcall_settle_s=args.settle_s)
    )
    began = time.monotonic()
    runtime = Runtime(config)
    await runtime.start()
    start_s = time.monotonic() - began
    if runtime.postcall is None or runtime.assist is None:
        await runtime.close()
        raise RuntimeError("the assist or post-call service did not start (see the log)")
    ids: list[str] = []
    try:
        jobs = [(f"{c['call_id']}-r{r}", c) for r in range(args.repeat) for c in calls]
        for i in range(0, len(jobs), args.concurrency):
            batch = jobs[i : i + args.concurrency]
            await asyncio.gather(*(_call(runtime, cid, c) for cid, c in batch))
            ids += [cid for cid, _ in batch]
        await runtime.postcall.idle()
        first: list[float] = []
        last: list[float] = []
        scores: list[float] = []
        rescored = 0
        for call_id in ids:
            events = await runtime.event_log.read(call_id)
            ended = next(e for e in events if e.type == "call.ended")
            summaries = [e for e in events if e.type == "call.summary"]
            results = [e.payload for e in events if isinstance(e.payload, QaResult)]
            if not summaries:
                continue
            first.append((summaries[0].t_wall - ended.t_wall) / 1000)
            last.append((summaries[-1].t_wall - ended.t_wall) / 1000)
            rescored += len(summaries) > 1
            scores.append(results[-1].score)
        timeouts = runtime.metrics.value("postcall_settle_timeouts_total")
    finally:
        await runtime.close()
    # Read back through a connection of its own, as a QA reviewer's tool would.
    store = open_store(sqlite_path=str(folder / "tickets.sqlite3"))
    try:
        stored = sum(
            store.qa_for_call(cid) is not None and store.summary_for_call(cid) is not None
            for cid in ids
        )
    finally:
        store.close()
    return {
        "calls": len(ids),
        "summaries": len(first),
        "stored": stored,
        #: Calls whose order was not finished within the settle time (scored without its
        #: last fields first; rescored when they changed the record).
        "settle_timeouts": int(timeouts),
        "rescored": rescored,
        "first_summary_s": _stats(first),
        "final_summary_s": _stats(last),
        "qa_score_mean": round(statistics.mean(scores), 1) if scores else None,
        "runtime_start_s": round(start_s, 2),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="jiesu-bench-postcall-") as tmp:
        result = asyncio.run(_replay(args, Path(tmp)))
    p95 = result["first_summary_s"].get("p95")
    return {
        "benchmark": "postcall",
        "data": str(args.data),
        "repeat": args.repeat,
        "concurrency": args.concurrency,
        "settle_s": args.settle_s,
        "target": f"summary stored <= {TARGET_S} s after hang-up (p95 of the first summary)",
        "target_met": p95 is not None and p95 <= TARGET_S and result["stored"] == result["calls"],
        **result,
    }
