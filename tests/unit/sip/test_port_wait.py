"""Waiting for a peer's SIP port: read-only detection of a bound UDP port."""

from __future__ import annotations

import asyncio
import socket

import pytest

from jiesu.engine.sip.sipp import udp_port_bound, wait_udp_bound


def test_a_bound_port_is_seen_and_a_closed_one_is_not() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    assert udp_port_bound(port)
    sock.close()
    assert not udp_port_bound(port)


async def test_wait_returns_once_the_port_is_bound_and_times_out_otherwise() -> None:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    waiter = asyncio.create_task(wait_udp_bound(port, timeout_s=10))
    await asyncio.sleep(0)
    assert not waiter.done()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", port))
    try:
        await asyncio.wait_for(waiter, 10)
    finally:
        sock.close()
    with pytest.raises(TimeoutError, match=f"UDP port {port}"):
        await wait_udp_bound(port, timeout_s=0.05)
