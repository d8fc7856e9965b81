"""Malformed and oversize frames, plain HTTP on the screen port, and shutdown."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.exceptions import ConnectionClosed

from jiesu.engine.audio import Leg
from jiesu.engine.events import TranscriptFinal

BAD = "gateway_bad_messages_total"


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("{not json", "bad_json"),
        ("[1, 2]", "not_object"),
        ('{"type": "subscribe_all"}', "unknown_type"),
        ('{"call_id": "c1"}', "unknown_type"),
        ('{"type": "follow"}', "bad_fields"),
        ('{"type": "follow", "call_id": "c1", "after_seq": "7"}', "bad_fields"),
        ('{"type": "follow", "call_id": "c1", "after_seq": -1}', "bad_fields"),
        ('{"type": "follow", "call_id": "c1", "extra": true}', "bad_fields"),
        ('{"type": "hello", "protocol": 1, "token": "x"}', "unexpected_hello"),
        (b"\x00\x01binary", "binary"),
    ],
)
async def test_malformed_message_gets_error_and_connection_stays(gw, frame, reason: str) -> None:  # type: ignore[no-untyped-def]
    await gw.start_call("c1", "a1")
    client = await gw.open(gw.token("a1"))
    await client.send(frame)
    error = await client.recv()
    assert (error["type"], error["code"], error["reason"]) == ("error", "bad_message", reason)
    assert gw.metrics.value(BAD, {"reason": reason}) == 1
    # The screen still works.
    await client.send({"type": "follow", "call_id": "c1"})
    assert (await client.recv())["type"] == "following"
    assert (await client.recv())["seq"] == 1


async def test_too_many_bad_messages_close_the_screen(gw) -> None:  # type: ignore[no-untyped-def]
    client = await gw.open(gw.token("a1"))
    for _ in range(19):
        await client.send("nope")
        assert (await client.recv())["code"] == "bad_message"
    await client.send("nope")
    got, code = await client.closed()
    assert code == 4400
    assert got == [
        {"type": "error", "code": "bad_message", "reason": "too_many", "detail": "20 bad messages"}
    ]


async def test_oversize_frame_closes_only_that_screen(harness) -> None:  # type: ignore[no-untyped-def]
    gw = harness
    await gw.start(max_message_bytes=4096)
    await gw.start_call("c1", "a1")
    bystander = await gw.open(gw.token("a1"))
    await bystander.send({"type": "follow", "call_id": "c1"})
    assert (await bystander.recv())["type"] == "following"
    assert (await bystander.recv())["seq"] == 1

    offender = await gw.open(gw.token("a1"))
    await offender.send(json.dumps({"type": "follow", "call_id": "x" * 10_000}))
    with pytest.raises(ConnectionClosed):
        async with asyncio.timeout(10):
            await offender.ws.recv()
    assert offender.ws.close_code == 1009
    async with asyncio.timeout(10):
        await offender.ws.wait_closed()
    # The server survives, counts it, and other screens keep receiving.
    event = await gw.log.append("c1", 5, TranscriptFinal(Leg.CALLER, "u", "still here", 0, 1))
    assert (await bystander.recv())["seq"] == event.seq
    newcomer = await gw.open(gw.token("a1"))
    assert newcomer.welcome["type"] == "welcome"
    assert gw.metrics.value(BAD, {"reason": "oversize"}) == 1


async def http_get(port: int, path: str) -> tuple[int, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    async with asyncio.timeout(10):
        raw = await reader.read()
    writer.close()
    head, _, body = raw.decode().partition("\r\n\r\n")
    return int(head.split()[1]), body


async def test_healthz_metrics_and_404(gw) -> None:  # type: ignore[no-untyped-def]
    client = await gw.open(gw.token("a1"))
    await client.send("junk")
    await client.recv()
    assert await http_get(gw.gateway.port, "/healthz") == (200, "ok\n")
    status, body = await http_get(gw.gateway.port, "/metrics")
    assert status == 200
    lines = dict(line.rsplit(" ", 1) for line in body.strip().splitlines())
    assert lines["gateway_screens"] == "1"
    assert lines['gateway_bad_messages_total{reason="bad_json"}'] == "1"
    # "/" is the screens' start page now (jiesu.engine.gateway.static); other paths are 404.
    assert (await http_get(gw.gateway.port, "/nothing-here"))[0] == 404
    assert (await http_get(gw.gateway.port, "/admin?x=1"))[0] == 404


async def test_close_sends_going_away_to_every_screen(harness) -> None:  # type: ignore[no-untyped-def]
    gw = harness
    await gw.start()
    await gw.start_call("c1", "a1")
    screens = [await gw.open(gw.token(f"a{i}")) for i in range(3)]
    lurker = await gw.connect()  # connected, no hello yet
    port = gw.gateway.port
    await gw.gateway.close()
    for screen in screens:
        _, code = await screen.closed()
        assert code == 1001
    async with asyncio.timeout(10):
        await lurker.wait_closed()
    assert lurker.close_code == 1001
    assert gw.metrics.value("gateway_screens") == 0
    with pytest.raises(OSError):  # no longer listening
        await asyncio.open_connection("127.0.0.1", port)
