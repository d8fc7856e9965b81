"""Screen gateway: delivery latency of N agent screens and the supervisors' board under load.

A real Gateway with a real event log (SQLite in a temporary directory, synchronous=FULL) runs
in this process; events are appended with EventLog.append at a paced rate per call (mostly
transcript partials and finals, an emotion alert every 20th event so the supervisors' board
has traffic). The screens run in a separate process (multiprocessing, spawn) over real
websockets on 127.0.0.1: each agent screen follows its own call, each supervisor takes the
board of every call. Latency runs from just before append (time.monotonic_ns(), embedded in
the event's text) to the moment the screen's recv() returns; CLOCK_MONOTONIC is system-wide on
Linux, so both processes read the same clock. Target: 200 screens at 10 events/s each plus 2
supervisors, p99 <= 50 ms, no screen dropped, no event missing.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import logging
import multiprocessing
import os
import platform
import resource
import secrets
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from jiesu.bench.stats import percentile
from jiesu.engine.audio import Leg
from jiesu.engine.auth import Role, TokenSigner
from jiesu.engine.config import GatewayConfig
from jiesu.engine.eventlog import EventLog
from jiesu.engine.events import (
    AlertLevel,
    CallEnded,
    CallMode,
    CallStarted,
    CallState,
    CallStateChanged,
    EmotionAlert,
    Payload,
    TranscriptFinal,
    TranscriptPartial,
)
from jiesu.engine.gateway import Gateway
from jiesu.engine.metrics import Metrics

HOTLINE = "12345"
TARGET_SCREENS = 200
TARGET_RATE = 10.0
TARGET_SUPERVISORS = 2
TARGET_P99_MS = 50.0
#: Every this many events of a call, one is an emotion alert (a board event).
ALERT_EVERY = 20
#: Every this many events of a call, one is a final; the rest are partials.
FINAL_EVERY = 5
SAMPLE_TEXT = "您好，我想反映一下我们小区门口道路施工噪音的问题，晚上十一点以后还在施工"
#: Seconds the screens have to receive everything after the last event was appended.
DRAIN_S = 30.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--screens",
        type=int,
        default=TARGET_SCREENS,
        help="agent screens, one call each (default: %(default)s)",
    )
    parser.add_argument(
        "--supervisors",
        type=int,
        default=TARGET_SUPERVISORS,
        help="supervisor board screens (default: %(default)s)",
    )
    parser.add_argument(
        "--events", type=int, default=100, help="events per call (default: %(default)s)"
    )
    parser.add_argument(
        "--rate", type=float, default=TARGET_RATE, help="events/s per call (default: %(default)s)"
    )
    parser.add_argument(
        "--queue-limit",
        type=int,
        default=GatewayConfig().screen_queue_limit,
        help="per-screen outbox limit, gateway.screen_queue_limit (default: %(default)s)",
    )


def run(args: argparse.Namespace) -> dict[str, object]:
    if args.screens < 1 or args.events < 1 or args.rate <= 0 or args.supervisors < 0:
        raise SystemExit("--screens and --events must be >= 1, --rate > 0, --supervisors >= 0")
    # Hundreds of screens opening and closing: keep per-connection INFO lines out of the way.
    quiet = [logging.getLogger(name) for name in ("websockets", "jiesu.engine.gateway")]
    levels = [logger.level for logger in quiet]
    for logger in quiet:
        logger.setLevel(max(logger.getEffectiveLevel(), logging.WARNING))
    try:
        return asyncio.run(
            _bench(args.screens, args.supervisors, args.events, args.rate, args.queue_limit)
        )
    finally:
        for logger, level in zip(quiet, levels, strict=True):
            logger.setLevel(level)


# --- the event stream ------------------------------------------------------------------------


def _payload(k: int, stamp_ns: int) -> Payload:
    """Event ``k`` of a call, carrying its append timestamp after a '#'."""
    leg = Leg.CALLER if (k // FINAL_EVERY) % 2 == 0 else Leg.AGENT
    utterance = f"u{k // FINAL_EVERY}"
    if k % ALERT_EVERY == ALERT_EVERY - 1:
        return EmotionAlert(Leg.CALLER, AlertLevel.WARNING, "angry", 0.87, f"语气激烈 #{stamp_ns}")
    n = len(SAMPLE_TEXT)
    if k % FINAL_EVERY == FINAL_EVERY - 1:
        return TranscriptFinal(leg, utterance, f"{SAMPLE_TEXT} #{stamp_ns}", k * 200, k * 200 + 900)
    shown = SAMPLE_TEXT[: max(4, n * (k % FINAL_EVERY + 1) // FINAL_EVERY)]
    return TranscriptPartial(leg, utterance, f"{shown} #{stamp_ns}", k * 200, k * 200 + 500, 2)


def _call_id(i: int) -> str:
    return f"bench-{i:04d}"


# --- server side (this process) --------------------------------------------------------------


async def _bench(
    screens: int, supervisors: int, events: int, rate: float, queue_limit: int
) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="jiesu-bench-gateway-") as tmp:
        event_log = EventLog(Path(tmp) / "events.sqlite3", synchronous="FULL")
        await event_log.start()
        try:
            return await _bench_with_log(event_log, screens, supervisors, events, rate, queue_limit)
        finally:
            await event_log.close()


async def _bench_with_log(
    event_log: EventLog,
    screens: int,
    supervisors: int,
    events: int,
    rate: float,
    queue_limit: int,
) -> dict[str, object]:
    signer = TokenSigner(secrets.token_bytes(32))
    metrics = Metrics()
    config = GatewayConfig(
        port=0,
        max_screens=max(screens + supervisors + 16, GatewayConfig().max_screens),
        screen_queue_limit=queue_limit,
        hello_timeout_s=30.0,
    )
    gateway = Gateway(config, signer, event_log, metrics)
    # Calls exist (started, talking) before the screens connect.
    start_seq: dict[str, int] = {}
    for i in range(screens):
        call_id = _call_id(i)
        await event_log.append(
            call_id,
            0,
            CallStarted(HOTLINE, f"agent-{i:04d}", CallMode.ASSIST, (Leg.CALLER, Leg.AGENT)),
        )
        start_seq[call_id] = (
            await event_log.append(call_id, 0, CallStateChanged(CallState.TALKING))
        ).seq
    await gateway.start()
    now = time.time()
    plan = {
        "port": gateway.port,
        "agents": [
            (
                signer.mint(f"agent-{i:04d}", Role.AGENT, HOTLINE, 3600, now),
                _call_id(i),
                start_seq[_call_id(i)],
            )
            for i in range(screens)
        ],
        "supervisors": [
            signer.mint(f"supervisor-{j}", Role.SUPERVISOR, HOTLINE, 3600, now)
            for j in range(supervisors)
        ],
        "calls": screens,
    }
    ctx = multiprocessing.get_context("spawn")
    parent_end, child_end = ctx.Pipe()
    child = ctx.Process(target=_client_process, args=(child_end, plan), name="bench-screens")
    child.start()
    child_end.close()
    try:
        ready = await asyncio.to_thread(_recv_with_timeout, parent_end, 120.0)
        if ready.get("error"):
            raise RuntimeError(f"screen process failed to connect: {ready['error']}")

        # Paced producers, one per call, phases spread over one period.
        appended: dict[str, dict[int, str]] = {}
        usage_before = resource.getrusage(resource.RUSAGE_SELF)
        loop = asyncio.get_running_loop()
        t0 = loop.time() + 0.2
        period = 1.0 / rate

        async def produce(i: int) -> None:
            call_id = _call_id(i)
            types: dict[int, str] = {}
            appended[call_id] = types
            offset = period * i / screens
            for k in range(events):
                due = t0 + offset + k * period
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                stamp = time.monotonic_ns()
                event = await event_log.append(call_id, k * 200, _payload(k, stamp))
                types[event.seq] = event.type

        started = time.monotonic()
        await asyncio.gather(*(produce(i) for i in range(screens)))
        produced_s = time.monotonic() - started
        usage_after = resource.getrusage(resource.RUSAGE_SELF)
        for i in range(screens):
            ended = await event_log.append(_call_id(i), events * 200, CallEnded("bench_done"))
            appended[_call_id(i)][ended.seq] = ended.type
        parent_end.send({"type": "end"})
        report: dict[str, Any] = await asyncio.to_thread(
            _recv_with_timeout, parent_end, DRAIN_S + 60.0
        )
    finally:
        await gateway.close()
        child.join(timeout=30)
        if child.is_alive():
            child.kill()
        parent_end.close()

    return _summarise(
        report,
        appended,
        screens=screens,
        supervisors=supervisors,
        events=events,
        rate=rate,
        produced_s=produced_s,
        server_cpu_s=(usage_after.ru_utime - usage_before.ru_utime)
        + (usage_after.ru_stime - usage_before.ru_stime),
        metrics=metrics,
        queue_limit=queue_limit,
    )


def _recv_with_timeout(conn: Connection, timeout: float) -> dict[str, Any]:
    if not conn.poll(timeout):
        raise TimeoutError(f"screen process silent for {timeout:.0f} s")
    message = conn.recv()
    assert isinstance(message, dict)
    return message


def _summarise(
    report: dict[str, Any],
    appended: dict[str, dict[int, str]],
    *,
    screens: int,
    supervisors: int,
    events: int,
    rate: float,
    produced_s: float,
    server_cpu_s: float,
    metrics: Metrics,
    queue_limit: int,
) -> dict[str, object]:
    agent_lat = np.asarray(report["agent_latencies_ns"], dtype=np.int64)
    sup_lat = np.asarray(report["supervisor_latencies_ns"], dtype=np.int64)
    every = np.concatenate([agent_lat, sup_lat]) / 1e6

    missing = 0
    coalesced = 0
    for call_id, received in report["agent_seqs"].items():
        got = set(received)
        for seq, kind in appended[call_id].items():
            if seq not in got:
                if kind == TranscriptPartial.TYPE:
                    coalesced += 1
                else:
                    missing += 1
    board_expected = {
        (call_id, seq)
        for call_id, types in appended.items()
        for seq, kind in types.items()
        if kind in (EmotionAlert.TYPE, CallEnded.TYPE)
    }
    for received in report["supervisor_board"]:
        missing += len(board_expected - {tuple(x) for x in received})

    p99 = percentile(every, 99, digits=3)
    dropped = int(report["dropped_screens"])
    load_ok = (
        screens >= TARGET_SCREENS and rate >= TARGET_RATE and supervisors >= TARGET_SUPERVISORS
    )
    delivered = int(report["delivered"])
    return {
        "screens": screens,
        "supervisors": supervisors,
        "events_per_call": events,
        "rate_per_call": rate,
        "events": screens * events,
        "produce_s": round(produced_s, 3),
        "appended_per_s": round(screens * events / produced_s, 1),
        "delivered": delivered,
        "events_per_s": round(delivered / produced_s, 1),
        "p50_ms": percentile(every, 50, digits=3),
        "p90_ms": percentile(every, 90, digits=3),
        "p99_ms": p99,
        "max_ms": round(float(every.max()), 3) if every.size else None,
        "agent_p99_ms": percentile(agent_lat / 1e6, 99, digits=3),
        "supervisor_p99_ms": percentile(sup_lat / 1e6, 99, digits=3),
        "dropped_screens": dropped,
        "missing_events": missing,
        "partials_coalesced": coalesced,
        "gateway_resyncs": int(metrics.value("gateway_resyncs_total")),
        "gateway_events_sent": int(metrics.value("gateway_events_sent_total")),
        "server_cpu_s": round(server_cpu_s, 2),
        "client_cpu_s": round(float(report["cpu_s"]), 2),
        "screen_queue_limit": queue_limit,
        "event_log": "sqlite WAL, synchronous=FULL, temp dir",
        "target": (
            f"{TARGET_SCREENS} screens at {TARGET_RATE:g} events/s each + "
            f"{TARGET_SUPERVISORS} supervisors: p99 <= {TARGET_P99_MS:g} ms, "
            "no screen dropped, no event missing"
        ),
        "target_met": bool(
            load_ok and p99 is not None and p99 <= TARGET_P99_MS and dropped == 0 and missing == 0
        ),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "websockets": importlib.metadata.version("websockets"),
    }


# --- screens (the child process) -------------------------------------------------------------


def _client_process(conn: Connection, plan: dict[str, Any]) -> None:
    try:
        report = asyncio.run(_clients(conn, plan))
    except BaseException as exc:  # report instead of hanging the parent
        conn.send({"error": repr(exc)})
        raise
    conn.send(report)
    conn.close()


class _Screen:
    def __init__(self, token: str, call_id: str | None, after_seq: int) -> None:
        self.token = token
        self.call_id = call_id
        self.after_seq = after_seq
        self.seqs: list[int] = []
        self.board: list[tuple[str, int]] = []
        self.ended: set[str] = set()
        self.dropped = False


async def _clients(conn: Connection, plan: dict[str, Any]) -> dict[str, Any]:
    from websockets.asyncio.client import ClientConnection, connect
    from websockets.exceptions import ConnectionClosed

    url = f"ws://127.0.0.1:{plan['port']}/screen"
    agents = [_Screen(token, call_id, after) for token, call_id, after in plan["agents"]]
    sups = [_Screen(token, None, 0) for token in plan["supervisors"]]
    calls: int = plan["calls"]
    agent_lat: list[int] = []
    sup_lat: list[int] = []
    delivered = 0
    all_done = asyncio.Event()
    remaining = len(agents) + len(sups)
    opening = asyncio.Semaphore(32)

    def finished() -> None:
        nonlocal remaining
        remaining -= 1
        if remaining == 0:
            all_done.set()

    async def open_screen(screen: _Screen) -> ClientConnection:
        async with opening:
            ws = await connect(url, proxy=None, compression=None, max_size=2**20)
            await ws.send(json.dumps({"type": "hello", "protocol": 1, "token": screen.token}))
            welcome = json.loads(await ws.recv())
            if welcome.get("type") != "welcome":
                raise RuntimeError(f"no welcome: {welcome}")
            if screen.call_id is not None:
                await ws.send(
                    json.dumps(
                        {"type": "follow", "call_id": screen.call_id, "after_seq": screen.after_seq}
                    )
                )
                while json.loads(await ws.recv()).get("type") != "following":
                    pass
            return ws

    async def read(screen: _Screen, ws: ClientConnection) -> None:
        nonlocal delivered
        latencies = agent_lat if screen.call_id is not None else sup_lat
        try:
            while True:
                frame = await ws.recv()
                now = time.monotonic_ns()
                message = json.loads(frame)
                kind = message.get("type")
                if kind == "resync":
                    screen.dropped = True
                    continue
                if "seq" not in message:
                    continue
                delivered += 1
                payload = message["payload"]
                text = payload.get("text") or payload.get("reason") or ""
                mark = text.rfind("#")
                if mark >= 0:
                    latencies.append(now - int(text[mark + 1 :]))
                if screen.call_id is not None:
                    screen.seqs.append(message["seq"])
                else:
                    screen.board.append((message["call_id"], message["seq"]))
                if kind == "call.ended":
                    screen.ended.add(message["call_id"])
                    if screen.call_id is not None or len(screen.ended) == calls:
                        finished()
                        return
        except ConnectionClosed:
            screen.dropped = True
            finished()

    screens = agents + sups
    connections = await asyncio.gather(*(open_screen(s) for s in screens))
    readers = [asyncio.create_task(read(s, ws)) for s, ws in zip(screens, connections, strict=True)]
    usage_before = resource.getrusage(resource.RUSAGE_SELF)
    conn.send({"type": "ready"})
    # Wait for the parent's "end", then give the screens DRAIN_S to receive everything.
    await asyncio.to_thread(conn.recv)
    try:
        async with asyncio.timeout(DRAIN_S):
            await all_done.wait()
    except TimeoutError:
        pass
    usage_after = resource.getrusage(resource.RUSAGE_SELF)
    for task in readers:
        task.cancel()
    for ws in connections:
        await ws.close()
    return {
        "agent_latencies_ns": agent_lat,
        "supervisor_latencies_ns": sup_lat,
        "delivered": delivered,
        "agent_seqs": {s.call_id: s.seqs for s in agents},
        "supervisor_board": [s.board for s in sups],
        "dropped_screens": sum(s.dropped for s in screens),
        "cpu_s": (usage_after.ru_utime - usage_before.ru_utime)
        + (usage_after.ru_stime - usage_before.ru_stime),
    }


if __name__ == "__main__":  # pragma: no cover - `jiesu bench gateway` is the entry point
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    add_arguments(parser)
    print(json.dumps(run(parser.parse_args(sys.argv[1:])), indent=2, ensure_ascii=False))
