"""Supervisor and worker behaviour with real processes: a full worker refuses cleanly, a worker
that dies is restarted and its calls are reported ended, a callback that raises is logged and
counted while the call goes on."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from sipp_peer import free_udp_port, run_sipp, uac_scenario

from jiesu.engine.ingest.recording import RecordingSink

INVITE = (
    "INVITE sip:40001@127.0.0.1:{port} SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:{me};rport;branch=z9hG4bK-{n}\r\n"
    "Max-Forwards: 70\r\nTo: <sip:40001@127.0.0.1>\r\n"
    "From: <sip:13812345678@127.0.0.1>;tag=t{n}\r\nCall-ID: raw-{n}@127.0.0.1\r\n"
    "CSeq: 1 INVITE\r\nContact: <sip:caller@127.0.0.1:{me}>\r\n"
    "Content-Type: application/sdp\r\nContent-Length: {length}\r\n\r\n{sdp}"
)
SDP = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio {rtp} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)
OPTIONS = (
    "OPTIONS sip:jiesu@127.0.0.1:{port} SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:{me};rport;branch=z9hG4bK-o{n}\r\n"
    "Max-Forwards: 70\r\nTo: <sip:jiesu@127.0.0.1>\r\n"
    "From: <sip:probe@127.0.0.1>;tag=o{n}\r\nCall-ID: opt-{n}@127.0.0.1\r\n"
    "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
)


class RawPeer:
    """A bare UDP SIP peer: sends requests, returns the final responses by Call-ID."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.n = 0

    def close(self) -> None:
        self.sock.close()

    def invite(self, port: int) -> str:
        self.n += 1
        sdp = SDP.format(rtp=free_udp_port(2))
        text = INVITE.format(port=port, me=self.port, n=self.n, length=len(sdp), sdp=sdp)
        self.sock.sendto(text.encode(), ("127.0.0.1", port))
        return f"raw-{self.n}@127.0.0.1"

    def options(self, port: int) -> str:
        self.n += 1
        text = OPTIONS.format(port=port, me=self.port, n=self.n)
        self.sock.sendto(text.encode(), ("127.0.0.1", port))
        return f"opt-{self.n}@127.0.0.1"

    def final(self, call_id: str, timeout_s: float = 5.0) -> str:
        """The first final (>= 200) response for ``call_id``, whole."""
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65535).decode(errors="replace")
            except TimeoutError:
                break
            status = data.split(" ", 2)
            if f"Call-ID: {call_id}" in data and len(status) > 1 and status[1] >= "200":
                return data
        raise AssertionError(f"no final response for {call_id}")


class TalkingSink(RecordingSink):
    """Sets ``talking`` once ``frames`` chunks of some call have arrived."""

    def __init__(self, frames: int) -> None:
        super().__init__()
        self.frames = frames
        self.count = 0
        self.talking = asyncio.Event()

    def audio(self, chunk: Any) -> None:
        super().audio(chunk)
        self.count += 1
        if self.count >= self.frames:
            self.talking.set()


@pytest.fixture
def peer() -> Any:
    p = RawPeer()
    yield p
    p.close()


async def test_full_worker_answers_503_with_retry_after(
    make_supervisor: Any, peer: RawPeer
) -> None:
    supervisor, _ = await make_supervisor(calls_per_worker=1, retry_after_s=7)
    port = supervisor.ports[0]
    first = await asyncio.to_thread(peer.final, peer.invite(port))
    assert first.startswith("SIP/2.0 200")
    second = await asyncio.to_thread(peer.final, peer.invite(port))
    assert second.startswith("SIP/2.0 503")
    assert "Retry-After: 7" in second
    await supervisor.sync()  # the counter travels from the worker as a frame
    assert supervisor.metrics.value("sip_calls_refused_total", {"reason": "full"}) == 1


async def test_pjsua_call_limit_answers_486(make_supervisor: Any, peer: RawPeer) -> None:
    """The wheel's hard limit is 4 calls per process: the 5th gets pjsua's own 486."""
    supervisor, _ = await make_supervisor(calls_per_worker=4)
    port = supervisor.ports[0]
    for _ in range(4):
        assert (await asyncio.to_thread(peer.final, peer.invite(port))).startswith("SIP/2.0 200")
    fifth = await asyncio.to_thread(peer.final, peer.invite(port))
    assert fifth.startswith("SIP/2.0 486")


async def test_dead_worker_is_restarted_and_its_call_reported_ended(
    make_supervisor: Any, speech_pcap: Any, tmp_path: Path, peer: RawPeer
) -> None:
    sink = TalkingSink(frames=25)
    supervisor, _ = await make_supervisor(sink=sink)
    handle = supervisor.workers[0]
    assert handle.process is not None
    old_pid = handle.process.pid
    pcap, _, _ = speech_pcap("firered_BAC009S0764W0121.wav")
    call = asyncio.create_task(
        run_sipp(
            uac_scenario(pcap, 20_000),
            tmp_path,
            f"127.0.0.1:{supervisor.ports[0]}",
            service="40001",
            sip_port=free_udp_port(),
            media_port=free_udp_port(4),
            timeout_s=25,
        )
    )
    await asyncio.wait_for(sink.talking.wait(), 20)
    call_id = next(iter(sink.started))
    os.kill(old_pid, signal.SIGKILL)
    ended = await asyncio.wait_for(sink.wait_ended(call_id), 10)
    assert ended.reason == "worker_lost"
    await asyncio.wait_for(handle.ready.wait(), 20)  # cleared when the death was seen
    assert handle.process.pid != old_pid
    assert handle.restarts == 1
    assert supervisor.metrics.value("sip_worker_restarts_total", {"worker": "0"}) == 1
    reply = await asyncio.to_thread(peer.final, peer.options(handle.port))
    assert reply.startswith("SIP/2.0 200"), "the restarted worker does not answer"
    call.cancel()
    await asyncio.gather(call, return_exceptions=True)


async def test_callback_that_raises_is_logged_and_the_call_goes_on(
    make_supervisor: Any, speech_pcap: Any, tmp_path: Path, capfd: Any
) -> None:
    supervisor, sink = await make_supervisor(faults=("onDtmfDigit",))
    pcap, packets, _ = speech_pcap("firered_BAC009S0764W0121.wav")
    result = await run_sipp(
        uac_scenario(pcap, packets * 20, info_dtmf="37"),
        tmp_path,
        f"127.0.0.1:{supervisor.ports[0]}",
        service="40001",
        sip_port=free_udp_port(),
        media_port=free_udp_port(4),
    )
    assert result.rc == 0, result.output[-3000:]
    call_id = next(iter(sink.started))
    ended = await asyncio.wait_for(sink.wait_ended(call_id), 10)
    assert ended.reason == "caller_hangup"
    await supervisor.sync()
    errors = supervisor.metrics.value("sip_callback_errors_total", {"callback": "onDtmfDigit"})
    assert errors == 2
    # The audio kept flowing past the failing callbacks (the INFOs come after the clip).
    assert len(sink.leg_chunks(call_id, sink.started[call_id].legs[0])) >= packets - 2
    assert "error in pjsua2 callback onDtmfDigit" in capfd.readouterr().err
