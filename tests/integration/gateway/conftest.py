"""Real gateway, real event log (SQLite in tmp_path), real tokens, real websocket clients."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from jiesu.engine.audio import Leg
from jiesu.engine.auth import Role, TokenSigner
from jiesu.engine.config import GatewayConfig
from jiesu.engine.eventlog import EventLog
from jiesu.engine.events import CallMode, CallStarted, Event
from jiesu.engine.gateway import Gateway
from jiesu.engine.metrics import Metrics

SECRET = b"gateway-tests-secret-0123456789abcdef"
HOTLINE = "12345"
TIMEOUT = 10.0


class Client:
    """A screen as a test drives it: JSON in, JSON out, every wait bounded."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.welcome: dict[str, Any] = {}

    async def send(self, message: dict[str, Any] | str | bytes) -> None:
        await self.ws.send(message if isinstance(message, str | bytes) else json.dumps(message))

    async def recv(self, within: float = TIMEOUT) -> dict[str, Any]:
        async with asyncio.timeout(within):
            frame = await self.ws.recv()
        data = json.loads(frame)
        assert isinstance(data, dict)
        return data

    async def until(
        self, done: Callable[[dict[str, Any]], bool], within: float = TIMEOUT
    ) -> list[dict[str, Any]]:
        """Messages received up to and including the first for which ``done`` is true."""
        got: list[dict[str, Any]] = []
        async with asyncio.timeout(within):
            while True:
                got.append(await self.recv(within))
                if done(got[-1]):
                    return got

    async def closed(self, within: float = TIMEOUT) -> tuple[list[dict[str, Any]], int | None]:
        """Read until the server closes; the messages read and the close code."""
        got: list[dict[str, Any]] = []
        async with asyncio.timeout(within):
            try:
                while True:
                    got.append(json.loads(await self.ws.recv()))
            except ConnectionClosed:
                pass
        return got, self.ws.close_code


class Harness:
    def __init__(self, log: EventLog, tmp: Path) -> None:
        self.log = log
        self.signer = TokenSigner(SECRET)
        self.metrics = Metrics()
        self.tmp = tmp
        self.gateway: Gateway | None = None
        self.clients: list[ClientConnection] = []

    @property
    def url(self) -> str:
        assert self.gateway is not None
        return f"ws://127.0.0.1:{self.gateway.port}/screen"

    async def start(self, **kwargs: Any) -> Gateway:
        tuning = {k: kwargs.pop(k) for k in ("write_limit", "close_timeout_s") if k in kwargs}
        config = GatewayConfig(**{"port": 0, "hello_timeout_s": 2.0, **kwargs})
        self.gateway = Gateway(config, self.signer, self.log, self.metrics, **tuning)
        await self.gateway.start()
        return self.gateway

    def token(
        self,
        sub: str,
        role: Role = Role.AGENT,
        hotline: str = HOTLINE,
        ttl_s: int = 3600,
        calls: tuple[str, ...] = (),
        now: float | None = None,
    ) -> str:
        return self.signer.mint(
            sub, role, hotline, ttl_s, time.time() if now is None else now, calls
        )

    async def start_call(self, call_id: str, agent_id: str, hotline: str = HOTLINE) -> Event:
        payload = CallStarted(hotline, agent_id, CallMode.ASSIST, (Leg.CALLER, Leg.AGENT))
        return await self.log.append(call_id, 0, payload)

    async def connect(self, **kwargs: Any) -> ClientConnection:
        kwargs.setdefault("proxy", None)
        kwargs.setdefault("open_timeout", TIMEOUT)
        ws = await connect(self.url, **kwargs)
        self.clients.append(ws)
        return ws

    async def open(self, token: str, **kwargs: Any) -> Client:
        """Connect, say hello, and expect a welcome."""
        client = Client(await self.connect(**kwargs))
        await client.send({"type": "hello", "protocol": 1, "token": token})
        client.welcome = await client.recv()
        assert client.welcome["type"] == "welcome", client.welcome
        return client

    async def aclose(self) -> None:
        for ws in self.clients:
            ws.transport.abort()
        if self.gateway is not None:
            await self.gateway.close()


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    log = EventLog(tmp_path / "events.sqlite3", synchronous="NORMAL")
    await log.start()
    h = Harness(log, tmp_path)
    try:
        yield h
    finally:
        await h.aclose()
        await log.close()


@pytest.fixture
async def gw(harness: Harness) -> Harness:
    """A harness with a gateway started on defaults (port 0, 2 s hello timeout)."""
    await harness.start()
    return harness
