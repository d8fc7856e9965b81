"""An in-process engine for the assist tests: real event log, gateway, ingest and ticket store
(SQLite in tmp_path), the real CallAudioRouter, websocket screens and ingest clients."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from jiesu.engine.assist.filler import TicketFiller
from jiesu.engine.assist.loaders import SCHEMA_FILE, load_schema
from jiesu.engine.assist.stages import AssistService
from jiesu.engine.assist.toolkit import AssistToolkit
from jiesu.engine.auth import Role, TokenSigner
from jiesu.engine.config import GatewayConfig, IngestConfig
from jiesu.engine.eventlog import EventLog
from jiesu.engine.gateway import Gateway
from jiesu.engine.ingest.client import IngestClient
from jiesu.engine.ingest.server import IngestServer
from jiesu.engine.metrics import Metrics
from jiesu.engine.runtime import CallAudioRouter
from jiesu.engine.storage import CallerKeyer, open_store
from jiesu.engine.storage.base import TicketStore

HOTLINE = "12345"
TIMEOUT = 20.0


class Screen:
    """A screen as a test drives it: JSON in, JSON out, every wait bounded."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.seen: list[dict[str, Any]] = []

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message, ensure_ascii=False))

    async def recv(self) -> dict[str, Any]:
        async with asyncio.timeout(TIMEOUT):
            data = json.loads(await self.ws.recv())
        self.seen.append(data)
        return data

    async def until(self, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        while True:
            message = await self.recv()
            if done(message):
                return message

    async def until_seq(self, seq: int) -> None:
        await self.until(lambda m: m.get("call_id") is not None and m.get("seq", 0) >= seq)

    def fields(self, call_id: str) -> list[dict[str, Any]]:
        return [
            m["payload"]
            for m in self.seen
            if m.get("type") == "ticket.field" and m.get("call_id") == call_id
        ]


@dataclass
class Engine:
    log: EventLog
    gateway: Gateway
    ingest: IngestServer
    assist: AssistService
    store_path: Path
    dsn: str
    signer: TokenSigner
    metrics: Metrics
    screens: list[ClientConnection] = field(default_factory=list)
    clients: list[IngestClient] = field(default_factory=list)

    async def screen(self, agent_id: str) -> Screen:
        ws = await connect(f"ws://127.0.0.1:{self.gateway.port}/screen", proxy=None)
        self.screens.append(ws)
        screen = Screen(ws)
        token = self.signer.mint(agent_id, Role.AGENT, HOTLINE, 600, time.time())
        await screen.send({"type": "hello", "protocol": 1, "token": token})
        assert (await screen.recv())["type"] == "welcome"
        return screen

    async def ingest_client(self) -> IngestClient:
        token = self.signer.mint("pbx-test", Role.INGEST, HOTLINE, 600, time.time())
        client = IngestClient(f"ws://127.0.0.1:{self.ingest.port}/", token)
        self.clients.append(client)
        await client.connect()
        return client

    def store(self) -> TicketStore:
        """A second connection to the ticket database, for checking what was saved."""
        return open_store(dsn=self.dsn, sqlite_path=str(self.store_path))


EngineFactory = Callable[..., Any]


@pytest.fixture
async def make_engine(tmp_path: Path) -> AsyncIterator[EngineFactory]:
    running: list[Engine] = []

    async def make(toolkit: AssistToolkit, dsn: str = "") -> Engine:
        """An engine; ``dsn`` puts the ticket store on PostgreSQL instead of SQLite."""
        log = EventLog(tmp_path / "events.sqlite3", synchronous="NORMAL")
        await log.start()
        metrics = Metrics()
        signer = TokenSigner(os.urandom(32))
        keyer = CallerKeyer(os.urandom(32))
        store_path = tmp_path / "tickets.sqlite3"
        schema = load_schema(SCHEMA_FILE)
        assist = AssistService(
            log,
            TicketFiller(schema, toolkit),
            metrics,
            hotline=HOTLINE,
            store=open_store(dsn=dsn, sqlite_path=str(store_path)),
            caller_keyer=keyer,
            queue_limit=8,
        )
        await assist.start()
        router = CallAudioRouter(log, metrics, assist=assist)
        gateway = Gateway(GatewayConfig(port=0), signer, log, metrics)
        gateway.ticket_editor = assist.edit
        await gateway.start()
        ingest = IngestServer(IngestConfig(port=0), signer, router, metrics, caller_keyer=keyer)
        await ingest.start()
        engine = Engine(log, gateway, ingest, assist, store_path, dsn, signer, metrics)
        running.append(engine)
        return engine

    yield make
    for engine in running:
        for client in engine.clients:
            await client.close()
        await engine.ingest.close()
        await engine.assist.idle()
        await engine.assist.close()
        for ws in engine.screens:
            ws.transport.abort()
        await engine.gateway.close()
        await engine.log.close()
