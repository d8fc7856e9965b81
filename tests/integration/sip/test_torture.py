"""The 49 RFC 4475 torture messages over UDP to a live worker: it must not crash, must answer
an OPTIONS afterwards, and must never answer an invalid message with 2xx.

Valid INVITEs are routed to the answer mode (``unmatched = "ivr"``) so that a 2xx is possible
at all; responses go to the top Via, so its sent-by is pointed at the test's socket.
"""

from __future__ import annotations

import asyncio
import re
import socket
import time
from typing import Any

import pytest
from shared_data import SHARED_DATA

TORTURE = SHARED_DATA / "sip" / "rfc4475_torture"

#: RFC 4475 section 3.1.2 (syntactically invalid) and 3.3 (application-layer errors).
#: Not ``zeromf``: RFC 4475 3.3.11 calls Max-Forwards 0 "a legal SIP request" that an endpoint
#: processes as if the value were still positive (only a proxy answers 483), so a 200 is right.
INVALID = {
    "badinv01", "clerr", "ncl", "scalar02", "scalarlg", "quotbal", "ltgtruri", "lwsruri",
    "lwsstart", "trws", "escruri", "baddate", "regbadct", "badaspec", "baddn", "badvers",
    "mismatch01", "mismatch02", "bigcode", "insuf", "unkscm", "unksm2", "bext01", "invut",
    "multi01", "mcl01", "sdp01",
}  # fmt: skip

#: Malformed OPTIONS that pjsip parses and its built-in responder would answer 200; the
#: worker's request gate (engine/sip/request_gate.py) must answer them 400 first.
GATED_OPTIONS = {"badaspec", "baddn", "mcl01"}

_VIA = re.compile(rb"^((?:Via|v)\s*:\s*SIP\s*/\s*2\.0\s*/\s*UDP\s+)([^;\s]+)", re.I | re.M)


def aim_via(message: bytes, port: int) -> bytes:
    """Point the first Via's sent-by at 127.0.0.1:port (rport asks for the source port too)."""
    return _VIA.sub(lambda m: m[1] + f"127.0.0.1:{port}".encode(), message, count=1)


def exchange(
    sock: socket.socket, message: bytes, target: tuple[str, int], wait_s: float
) -> list[bytes]:
    if message:
        sock.sendto(message, target)
    replies = []
    deadline = time.monotonic() + wait_s
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            data, _ = sock.recvfrom(65535)
        except TimeoutError:
            break
        replies.append(data)
    return replies


def call_id_of(message: bytes) -> str:
    match = re.search(rb"^(?:Call-ID|i)\s*:\s*(\S+)", message, re.I | re.M)
    return match[1].decode(errors="replace") if match else ""


OPTIONS = (
    "OPTIONS sip:jiesu@127.0.0.1:{port} SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bK-opt-{n}\r\n"
    "Max-Forwards: 70\r\nTo: <sip:jiesu@127.0.0.1>\r\n"
    "From: <sip:probe@127.0.0.1>;tag=opt{n}\r\nCall-ID: opt-{n}@127.0.0.1\r\n"
    "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
)


async def test_torture_messages_do_not_crash_or_get_2xx(make_supervisor: Any) -> None:
    files = sorted(TORTURE.glob("*.dat")) if TORTURE.is_dir() else []
    if len(files) < 49:
        pytest.skip(f"needs the RFC 4475 messages in {TORTURE} (../shared/data/sip)")
    supervisor, _ = await make_supervisor(routing={"unmatched": "ivr", "assist_numbers": ()})
    port = supervisor.ports[0]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    me = sock.getsockname()[1]
    replies: list[bytes] = []
    call_ids: dict[str, str] = {}
    try:
        for path in files:
            message = aim_via(path.read_bytes(), me)
            call_ids[path.stem] = call_id_of(message)
            replies += await asyncio.to_thread(exchange, sock, message, ("127.0.0.1", port), 0.2)
        replies += await asyncio.to_thread(exchange, sock, b"", ("127.0.0.1", port), 1.0)
        ok = await asyncio.to_thread(
            exchange, sock, OPTIONS.format(port=port, me=me, n=1).encode(), ("127.0.0.1", port), 2.0
        )
    finally:
        sock.close()
    # Responses are matched to messages by Call-ID (a 200 can come late, or be retransmitted).
    answered: dict[str, list[str]] = {name: [] for name in call_ids}
    for reply in replies:
        status = reply.split(b"\r\n", 1)[0].decode(errors="replace")
        for name, cid in call_ids.items():
            if cid and call_id_of(reply) == cid and status not in answered[name]:
                answered[name].append(status)
    for name, lines in answered.items():
        print(f"{name:12s} {lines}")
    assert supervisor.workers[0].process is not None
    assert supervisor.workers[0].process.returncode is None, "the worker died"
    assert supervisor.metrics.value("sip_worker_restarts_total", {"worker": "0"}) == 0
    assert any(line.startswith("SIP/2.0 200") for r in ok for line in [r.decode(errors="replace")])
    wrongly_accepted = {
        name: lines
        for name, lines in answered.items()
        if name in INVALID and any(line.startswith("SIP/2.0 2") for line in lines)
    }
    assert not wrongly_accepted, wrongly_accepted
    for name in GATED_OPTIONS:
        assert any(line.startswith("SIP/2.0 400") for line in answered[name]), (name, answered)
    assert any(line.startswith("SIP/2.0 200") for line in answered["zeromf"]), answered
    rejected = supervisor.metrics.value(
        "sip_requests_rejected_total", {"method": "OPTIONS", "reason": "malformed"}
    )
    assert rejected >= len(GATED_OPTIONS)
    assert supervisor.metrics.value("sip_request_gate_unavailable_total", {"why": "layout"}) == 0
    invites = {n for n in INVALID if (TORTURE / f"{n}.dat").read_bytes().startswith(b"INVITE")}
    assert not invites & set(wrongly_accepted), "an invalid INVITE was answered 2xx"
