"""Connections and calls over their life: authentication, capacity, hang-ups, shutdown, health,
a failing sink, and what reaches the logs."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import msgpack
import numpy as np
import pytest
from websockets.asyncio.client import connect

from jiesu.engine.audio import Leg
from jiesu.engine.auth import Role, token_fingerprint
from jiesu.engine.ingest.client import IngestClient, IngestRefused, encode_pcm
from jiesu.engine.ingest.protocol import Audio, Start, decode_server_frame, encode_frame


def frames(seconds: float = 0.2) -> list[bytes]:
    t = np.arange(int(8000 * seconds)) / 8000
    return encode_pcm((5000 * np.sin(2 * np.pi * 300 * t)).astype(np.int16), 8000, "pcmu")


async def sync(client: IngestClient) -> None:
    """Round trip: once a request is answered, every message sent before it was processed."""
    with pytest.raises(IngestRefused):
        await client.stop_call("sync-no-such-call")


async def test_welcome_names_the_limits_and_codecs(ingest: Any) -> None:
    client = await ingest.connected()
    assert client.welcome is not None
    assert client.welcome.max_frame_bytes == ingest.server.config.max_frame_bytes
    assert {"pcmu", "pcma", "g722", "l16", "s16le"} <= set(client.welcome.codecs)
    assert ingest.metrics.value("ingest_connections_active") == 1


@pytest.mark.parametrize("kind", ["bad_signature", "expired", "wrong_role", "malformed", "missing"])
async def test_a_refused_token_gets_an_error_and_close_4401(
    ingest: Any, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    good = ingest.token()
    token = {
        "bad_signature": good[:-2] + ("AA" if not good.endswith("AA") else "BB"),
        "expired": ingest.signer.mint("pbx", Role.INGEST, "12345", 60, time.time() - 3600),
        "wrong_role": ingest.token(role=Role.AGENT),
        "malformed": "no-dot-in-this-token",
        "missing": "",
    }[kind]
    client = ingest.client(token)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(IngestRefused) as info:
        await client.connect()
    assert info.value.code == "unauthorized"
    assert await client.wait_closed() == 4401
    assert ingest.metrics.value("ingest_auth_failures_total", {"reason": kind}) == 1
    logged = "\n".join(r.getMessage() for r in caplog.records)
    if token:
        assert token not in logged, "a token reached the log"
        assert token_fingerprint(token) in logged


async def test_the_first_message_must_be_hello(ingest: Any) -> None:
    async with connect(ingest.url) as ws:
        await ws.send(encode_frame(Start("c", "12345", "", "pcmu", 8000, (Leg.CALLER,))))
        error = decode_server_frame(await ws.recv())
        assert error.code == "unauthorized"  # type: ignore[union-attr]
        with pytest.raises(Exception):  # noqa: B017 - the server closes the connection
            await ws.recv()
        assert ws.close_code == 4401
    assert ingest.sink.started == {}


async def test_no_hello_in_time_closes_with_4408(make_ingest: Any) -> None:
    ingest = await make_ingest(hello_timeout_s=0.2)
    async with connect(ingest.url) as ws:
        error = decode_server_frame(await ws.recv())  # waits on the server, not on a sleep
        assert error.code == "hello_timeout"  # type: ignore[union-attr]
        await ws.wait_closed()
        assert ws.close_code == 4408
    assert ingest.metrics.value("ingest_auth_failures_total", {"reason": "hello_timeout"}) == 1


async def test_calls_beyond_capacity_are_refused(make_ingest: Any) -> None:
    ingest = await make_ingest(max_calls=2)
    first, second = await ingest.connected(), await ingest.connected()
    await first.start_call("cap-1", codec="pcmu")
    await second.start_call("cap-2", codec="pcmu")
    for client in (first, second):
        with pytest.raises(IngestRefused) as info:
            await client.start_call("cap-3", codec="pcmu")
        assert info.value.code == "capacity"
    assert ingest.metrics.value("ingest_calls_refused_total", {"reason": "capacity"}) == 2
    assert "cap-3" not in ingest.sink.started
    await first.stop_call("cap-1")
    await second.start_call("cap-3", codec="pcmu")  # a slot is free again
    assert ingest.server.active_calls == 2


async def test_a_connection_that_drops_without_stop_ends_its_calls(ingest: Any) -> None:
    client = await ingest.connected()
    await client.start_call("drop-a", codec="pcmu", legs=(Leg.CALLER, Leg.AGENT))
    await client.start_call("drop-b", codec="pcmu")
    payloads = frames()
    for seq, payload in enumerate(payloads):
        await client.send_audio("drop-a", Leg.CALLER, seq, payload, "pcmu")
    await sync(client)
    assert "drop-a" not in ingest.sink.ended
    client.connection.transport.abort()  # no close handshake: the TCP connection just dies
    for call in ("drop-a", "drop-b"):
        ended = await ingest.sink.wait_ended(call)
        assert ended.reason == "ingest_disconnected"
    stats = ingest.sink.ended["drop-a"].stats
    # Every frame that arrived was delivered, the resampler's tail included.
    assert stats.frames == stats.chunks == len(payloads)
    assert len(ingest.sink.leg_chunks("drop-a", Leg.CALLER)) == len(payloads)
    assert ingest.server.active_calls == 0
    assert ingest.metrics.value("ingest_calls_ended_total", {"reason": "ingest_disconnected"}) == 2


async def test_a_clean_close_without_stop_also_ends_the_calls(ingest: Any) -> None:
    client = await ingest.connected()
    await client.start_call("closed", codec="pcmu")
    for seq, payload in enumerate(frames()):
        await client.send_audio("closed", Leg.CALLER, seq, payload, "pcmu")
    await client.close()
    ended = await ingest.sink.wait_ended("closed")
    assert ended.reason == "ingest_disconnected"
    assert ended.stats.frames == ended.stats.chunks == len(frames())


async def test_server_close_ends_open_calls_with_reason_shutdown(make_ingest: Any) -> None:
    ingest = await make_ingest()
    client = await ingest.connected()
    await client.start_call("open-1", codec="pcmu")
    await client.send_audio("open-1", Leg.CALLER, 0, frames()[0], "pcmu")
    await sync(client)
    await ingest.server.close()
    assert ingest.sink.ended["open-1"].reason == "shutdown"
    assert ingest.sink.ended["open-1"].stats.chunks == 1
    assert await client.wait_closed() == 1001
    assert client.ended_by_server["open-1"].reason == "shutdown"
    assert ingest.server.active_calls == 0


async def test_healthz_answers_plain_http(ingest: Any) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", ingest.server.port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    await writer.drain()
    response = await reader.read()
    writer.close()
    await writer.wait_closed()
    assert response.startswith(b"HTTP/1.1 200"), response[:80]
    assert response.endswith(b"ok\n")


async def test_a_sink_that_refuses_a_call_gives_sink_error(ingest: Any) -> None:
    client = await ingest.connected()
    ingest.sink.fail_start = True
    with pytest.raises(IngestRefused) as info:
        await client.start_call("refused", codec="pcmu")
    assert info.value.code == "sink_error"
    assert ingest.server.active_calls == 0
    ingest.sink.fail_start = False
    await client.start_call("accepted", codec="pcmu")  # no capacity slot was leaked


async def test_a_sink_failing_on_audio_is_counted_and_the_call_goes_on(ingest: Any) -> None:
    client = await ingest.connected()
    ingest.sink.fail_audio = True
    await client.start_call("flaky", codec="l16", rate=16000)
    payload = b"\x00\x01" * 320
    for seq in range(3):
        await client.send_audio("flaky", Leg.CALLER, seq, payload, "l16")
    stats = await client.stop_call("flaky")
    assert stats.frames == 3 and stats.chunks == 3
    assert ingest.metrics.value("ingest_sink_errors_total", {"stage": "audio"}) == 3
    assert client.pending_errors() == []  # the client is not blamed for the sink


async def test_personal_data_and_tokens_stay_out_of_logs(
    ingest: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = ingest.token()
    client = IngestClient(ingest.url, token, client_name="pbx 13900001111")
    ingest.clients.append(client)
    await client.connect()
    await client.start_call("pii", codec="pcmu", caller_number="+86 139 1234 5678")
    await client.send_audio("pii", Leg.CALLER, 0, b"\x00" * 3, "pcmu")  # a debug-logged drop
    await client.stop_call("pii", reason="callback-13912345678")
    call = ingest.sink.started["pii"]
    assert call.caller_masked == "+86 139****5678"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "pii" in logged and "139****5678" in logged  # the call is logged, masked
    for secret in (token, "13912345678", "1234 5678", "12345678", "13900001111"):
        assert secret not in logged, f"{secret!r} reached the log"
    assert ingest.metrics.value("ingest_calls_ended_total", {"reason": "other"}) == 1


async def test_audio_for_a_call_of_another_connection_is_refused(ingest: Any) -> None:
    owner, intruder = await ingest.connected(), await ingest.connected()
    await owner.start_call("owned", codec="pcmu")
    await intruder.send_frame(Audio("owned", Leg.CALLER, 0, "pcmu", frames()[0]))
    assert (await intruder.next_error()).code == "unknown_call"
    stats = await owner.stop_call("owned")
    assert stats.received == 0


async def test_internal_frames_are_plain_msgpack_maps(ingest: Any) -> None:
    """A client in another language sees documented maps (spot check of the wire form)."""
    async with connect(ingest.url) as ws:
        await ws.send(msgpack.packb({"type": "hello", "token": ingest.token()}))
        welcome = msgpack.unpackb(await ws.recv())
        assert welcome["type"] == "welcome" and welcome["v"] == 1
        await ws.send(
            msgpack.packb(
                {
                    "type": "start",
                    "call_id": "plain",
                    "hotline": "12345",
                    "agent_id": "a1",
                    "codec": "pcmu",
                    "rate": 8000,
                    "legs": ["caller"],
                }
            )
        )
        assert msgpack.unpackb(await ws.recv()) == {"type": "started", "call_id": "plain"}
        await ws.send(msgpack.packb({"type": "stop", "call_id": "plain"}))
        stopped = msgpack.unpackb(await ws.recv())
        assert stopped["type"] == "stopped" and stopped["reason"] == "hangup"
        assert set(stopped["stats"]) >= {"frames", "lost", "duplicates", "out_of_order", "bad"}


async def test_the_command_line_client_streams_a_wav_file(
    ingest: Any,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json
    import wave

    from jiesu.engine.ingest.client import TOKEN_ENV, _main

    rate, seconds = 16000, 0.5
    t = np.arange(int(rate * seconds)) / rate
    pcm = (4000 * np.sin(2 * np.pi * 250 * t)).astype("<i2")
    path = tmp_path / "call.wav"
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(pcm.tobytes())
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    assert await _main([ingest.url, str(path), "--fast"]) == 2  # no token, no connection
    monkeypatch.setenv(TOKEN_ENV, ingest.token())
    code = await _main([ingest.url, str(path), "--codec", "pcma", "--call-id", "cli-1", "--fast"])
    assert code == 0
    stats = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert stats["frames"] == stats["chunks"] == 25
    assert ingest.sink.ended["cli-1"].stats.frames == 25
