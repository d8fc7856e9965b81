"""Delivery guarantees: resume without gaps or duplicates; a stalled screen is dropped alone."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import pytest

from jiesu.engine.audio import Leg
from jiesu.engine.events import (
    AlertLevel,
    EmotionAlert,
    FieldOrigin,
    Payload,
    SpeakerTurn,
    TicketField,
    TranscriptFinal,
    TranscriptPartial,
)


def payload(i: int, partials: bool) -> Payload:
    """A varied stream; with ``partials`` most events are coalescable partials."""
    leg = Leg.CALLER if i % 2 else Leg.AGENT
    if partials and i % 4 != 0:
        return TranscriptPartial(leg, f"u{i // 4}", f"partial {i}", i, i + 1, 0)
    kind = i % 5
    if kind == 0:
        return EmotionAlert(leg, AlertLevel.INFO, "calm", 0.5, f"event {i}")
    if kind == 1:
        return TicketField("address", f"地址 {i}", 0.7, FieldOrigin.AUTO, False)
    if kind == 2:
        return SpeakerTurn(leg, "spk", i, i + 1)
    return TranscriptFinal(leg, f"u{i}", f"final {i}", i, i + 1)


@pytest.mark.parametrize("partials", [False, True], ids=["finals", "with-partials"])
async def test_resume_after_drop_has_no_gap_and_no_duplicate(gw, partials: bool) -> None:  # type: ignore[no-untyped-def]
    total, drop_at, reconnect_at = 1000, 300, 600
    types: dict[int, str] = {1: "call.started"}
    await gw.start_call("c1", "a1")
    reached_reconnect = asyncio.Event()
    follow_sent = asyncio.Event()

    async def produce() -> None:
        for i in range(2, total + 1):
            if i == reconnect_at + 1:
                # Events keep coming while the screen resumes: the rest is appended while the
                # gateway reads the history for the new connection.
                reached_reconnect.set()
                await follow_sent.wait()
            event = await gw.log.append("c1", i, payload(i, partials))
            types[event.seq] = event.type

    producer = asyncio.create_task(produce())
    seen: list[int] = []

    first = await gw.open(gw.token("a1"))
    await first.send({"type": "follow", "call_id": "c1", "after_seq": 0})
    # Board events (alerts) of the agent's own call may arrive before the follow is answered.
    await first.until(lambda m: m["type"] == "following")
    while not seen or seen[-1] < drop_at:
        seen.append((await first.recv())["seq"])
    assert not producer.done(), "the drop must happen while events are being appended"
    first.ws.transport.abort()  # the network goes away; frames in flight are lost

    async with asyncio.timeout(30):
        await reached_reconnect.wait()
    second = await gw.open(gw.token("a1"))
    await second.send({"type": "follow", "call_id": "c1", "after_seq": seen[-1]})
    follow_sent.set()
    ack = (await second.until(lambda m: m["type"] == "following"))[-1]
    assert ack == {"type": "following", "call_id": "c1", "after_seq": seen[-1]}
    while seen[-1] < total:
        seen.append((await second.recv())["seq"])
    async with asyncio.timeout(30):
        await producer

    # Nothing more for this call: the next message is the next new event.
    extra = await gw.log.append("c1", total + 1, payload(0, False))
    assert (await second.recv())["seq"] == extra.seq

    assert len(seen) == len(set(seen)), "duplicates"
    assert seen == sorted(seen), "out of order"
    missing = set(range(1, total + 1)) - set(seen)
    if partials:
        assert all(types[s] == "transcript.partial" for s in missing), "only partials coalesce"
    else:
        assert not missing, f"gaps: {sorted(missing)[:10]}"


async def test_stalled_screen_gets_resync_and_others_keep_up(harness) -> None:  # type: ignore[no-untyped-def]
    gw = harness
    await gw.start(screen_queue_limit=32, write_limit=4096, close_timeout_s=30)
    await gw.start_call("c1", "a1")
    token = gw.token("a1")

    # The stalled screen: a tiny socket receive buffer, and it stops reading altogether.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", gw.gateway.port))
    sock.setblocking(False)
    stalled = await gw.open(token, sock=sock)
    healthy = await gw.open(token)
    for client in (stalled, healthy):
        await client.send({"type": "follow", "call_id": "c1", "after_seq": 1})
        assert (await client.recv())["type"] == "following"
    stalled.ws.transport.pause_reading()

    appended_at: dict[int, float] = {}
    received_at: dict[int, float] = {}
    received: list[int] = []

    async def read_healthy(until_seq: asyncio.Future[int]) -> None:
        while not (until_seq.done() and received and received[-1] >= until_seq.result()):
            message = await healthy.recv()
            received.append(message["seq"])
            received_at[message["seq"]] = time.monotonic()

    last_seq: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    reader = asyncio.create_task(read_healthy(last_seq))
    i = 0
    after_resync = 0
    while after_resync < 50:
        assert i < 50_000, "the stalled screen was never told to resync"
        batch = [(i + k, payload(i + k, False)) for k in range(10)]
        events = await gw.log.append_many("c1", batch)
        now = time.monotonic()
        for event in events:
            appended_at[event.seq] = now
        i += 10
        if gw.metrics.value("gateway_resyncs_total") >= 1:
            after_resync += 10
    last = events[-1].seq
    last_seq.set_result(last)
    async with asyncio.timeout(30):
        await reader

    # The healthy screen got everything, in order, each event soon after it was durable.
    assert received == list(range(2, last + 1))
    lag = max(received_at[s] - appended_at[s] for s in received)
    assert lag < 2.0, f"healthy screen lagged {lag:.3f} s behind the log"
    assert gw.metrics.value("gateway_resyncs_total") == 1

    # The stalled screen, once it reads again, finds a prefix of the stream, then resync, then
    # a 4408 close.
    stalled.ws.transport.resume_reading()
    got, code = await stalled.closed(within=30)
    assert code == 4408
    assert got[-1] == {"type": "resync", "reason": "slow_consumer"}
    seqs = [m["seq"] for m in got[:-1]]
    assert seqs == list(range(2, 2 + len(seqs)))
    assert len(seqs) < last - 1

    # It resumes where it stopped and gets exactly the rest.
    again = await gw.open(token)
    await again.send({"type": "follow", "call_id": "c1", "after_seq": seqs[-1] if seqs else 1})
    assert (await again.recv())["type"] == "following"
    rest = [(await again.recv())["seq"] for _ in range(last - (seqs[-1] if seqs else 1))]
    assert rest == list(range((seqs[-1] if seqs else 1) + 1, last + 1))


async def test_partials_coalesce_in_a_backed_up_queue(harness) -> None:  # type: ignore[no-untyped-def]
    """While a screen is not reading, a stream of partials does not grow its queue."""
    gw = harness
    await gw.start(screen_queue_limit=32, write_limit=1024, close_timeout_s=30)
    await gw.start_call("c1", "a1")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", gw.gateway.port))
    sock.setblocking(False)
    client = await gw.open(gw.token("a1"), sock=sock)
    await client.send({"type": "follow", "call_id": "c1", "after_seq": 1})
    assert (await client.recv())["type"] == "following"
    client.ws.transport.pause_reading()
    # Fill the pipe with partials until the gateway starts coalescing, then much more.
    n = 0
    while gw.metrics.value("gateway_partials_coalesced_total") < 2000:
        assert n < 100_000, "partials never coalesced"
        batch = [
            (n + k, TranscriptPartial(Leg.CALLER, "u1", "x" * 200 + str(n + k), 0, n + k, 0))
            for k in range(20)
        ]
        await gw.log.append_many("c1", batch)
        n += 20
    final = await gw.log.append("c1", n, TranscriptFinal(Leg.CALLER, "u1", "done", 0, n))
    assert gw.metrics.value("gateway_resyncs_total") == 0
    client.ws.transport.resume_reading()
    got = []
    while not got or got[-1]["seq"] != final.seq:
        got.append(json.loads(await asyncio.wait_for(client.ws.recv(), 10)))
    seqs = [m["seq"] for m in got]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))
    assert len(seqs) < n - 2000  # coalesced partials were never sent
    assert got[-2]["type"] == "transcript.partial"  # the latest partial survived
    assert got[-2]["seq"] == final.seq - 1
