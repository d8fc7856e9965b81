"""Browser tests of the screens: the real engine in-process, a cuttable link, a real Chromium.

* The engine is the production :class:`~jiesu.engine.runtime.Runtime` (event log on SQLite in
  ``tmp_path``, the screen gateway serving the web app, the audio ingest) with the speech
  models switched off: calls are placed through the real audio ingest, and the events the
  speech and assist stages would write are appended to the real event log with
  ``EventLog.append``, as those stages do, so the real gateway streams them to the page.
* The browser reaches the gateway through :class:`CutLink`, a TCP relay the test can cut
  (every connection aborted, new ones refused) to kill the websocket from the network side.
* Chromium is Debian's (``apt-get install chromium``), driven by Playwright for Python; tests
  skip with a message when either is missing. Screenshots go to ``$JIESU_ARTIFACTS/ui`` (or
  ``tmp_path``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from jiesu.bench.replay import offline_config
from jiesu.engine.audio import Leg
from jiesu.engine.auth import Role
from jiesu.engine.config import AssistConfig, GatewayConfig
from jiesu.engine.events import CallMode, Event, Payload
from jiesu.engine.ingest.client import IngestClient
from jiesu.engine.runtime import Runtime

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1366, "height": 768}
#: Every wait on the page is bounded by this (ms).
WAIT_MS = 15_000
HOTLINE = "12345"

try:
    from playwright.async_api import Browser, Page, async_playwright
except ImportError:  # pragma: no cover - the test extra installs it
    async_playwright = None
    Browser = Page = Any


class CutLink:
    """A TCP relay in front of the gateway that the test can cut and restore."""

    def __init__(self) -> None:
        self.upstream_port = 0
        self.cut_off = False
        self.accepted = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut_off or not self.upstream_port:
            writer.transport.abort()
            return
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.transport.abort()
            return
        pair = (writer, up_writer)
        self._pipes.add(pair)
        tasks = [
            asyncio.create_task(self._pump(reader, up_writer)),
            asyncio.create_task(self._pump(up_reader, writer)),
        ]
        self._tasks.update(tasks)
        try:
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            self._tasks.difference_update(tasks)
            self._pipes.discard(pair)
            for w in pair:
                w.transport.abort()

    @staticmethod
    async def _pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            dst.transport.abort()

    def cut(self) -> int:
        """Abort every open connection (no close frames: like a pulled cable); refuse new ones."""
        self.cut_off = True
        pipes = list(self._pipes)
        for a, b in pipes:
            a.transport.abort()
            b.transport.abort()
        return len(pipes)

    def restore(self) -> None:
        self.cut_off = False

    async def close(self) -> None:
        self.cut()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@dataclass
class Engine:
    runtime: Runtime
    link: CutLink
    port: int
    ingest_url: str
    artifacts: Path
    _t0: dict[str, float] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def token(self, sub: str, role: Role = Role.AGENT, ttl_s: int = 3600) -> str:
        return self.runtime.signer.mint(sub, role, HOTLINE, ttl_s, time.time())

    async def place_call(
        self, call_id: str, agent_id: str, caller: str, mode: CallMode = CallMode.ASSIST
    ) -> IngestClient:
        """A call through the real audio ingest (G.711 two legs); returns the open client."""
        client = IngestClient(self.ingest_url, self.token("test-pbx", Role.INGEST))
        await client.connect()
        await client.start_call(
            call_id,
            codec="pcmu",
            legs=(Leg.CALLER, Leg.AGENT),
            hotline=HOTLINE,
            agent_id=agent_id,
            caller_number=caller,
            mode=mode,
        )
        self._t0[call_id] = time.monotonic()
        return client

    async def emit(self, call_id: str, payload: Payload, t_media: int | None = None) -> Event:
        """Append an event as the engine's stages do: durable first, then streamed."""
        if t_media is None:
            t_media = int((time.monotonic() - self._t0.get(call_id, time.monotonic())) * 1000)
        return await self.runtime.event_log.append(call_id, t_media, payload)

    async def shot(self, page: Page, name: str) -> Path:
        path = self.artifacts / f"{name}.png"
        await page.screenshot(path=str(path))
        return path

    async def open_page(self, browser: Browser, path: str) -> tuple[Page, list[str]]:
        """A 1366x768 page on ``path`` with its console errors and page errors collected."""
        context = await browser.new_context(viewport=VIEWPORT, locale="zh-CN")
        page = await context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
        page.on(
            "console",
            lambda msg: (
                problems.append(f"console.{msg.type}: {msg.text}") if msg.type == "error" else None
            ),
        )
        page.set_default_timeout(WAIT_MS)
        await page.goto(self.base + path)
        return page, problems

    @contextlib.asynccontextmanager
    async def placed_call(
        self,
        call_id: str,
        agent_id: str,
        caller: str = "13812345678",
        mode: CallMode = CallMode.ASSIST,
    ) -> AsyncIterator[IngestClient]:
        """A call open on the ingest for the duration of the block, hung up after it."""
        client = await self.place_call(call_id, agent_id, caller, mode)
        try:
            yield client
        finally:
            with contextlib.suppress(Exception):
                await client.stop_call(call_id)
            await client.close()


def _artifacts(tmp_path: Path) -> Path:
    root = os.environ.get("JIESU_ARTIFACTS")
    folder = Path(root) / "ui" if root else tmp_path / "artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
async def engine(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Engine]:
    """The engine, assist stages off. Indirect parameters (a dict) change it:
    ``{"assist": True}`` runs the assist stages, ``{"screen_queue_limit": 8}`` the gateway's
    per-screen queue."""
    options: dict[str, Any] = getattr(request, "param", {})
    link = CutLink()
    port = await link.start()
    origin = f"http://127.0.0.1:{port}"
    config = offline_config(
        tmp_path,
        hotline=HOTLINE,
        gateway=GatewayConfig(
            port=0,
            allowed_origins=(origin,),
            allow_missing_origin=False,
            hello_timeout_s=5.0,
            screen_queue_limit=options.get("screen_queue_limit", 1000),
        ),
        # The assist stages' events are what the test writes; test_edit_roundtrip runs them.
        assist=AssistConfig(enabled=options.get("assist", False)),
    )
    runtime = Runtime(config)
    await runtime.start()
    link.upstream_port = runtime.gateway.port
    engine = Engine(
        runtime, link, port, f"ws://127.0.0.1:{runtime.ingest.port}/", _artifacts(tmp_path)
    )
    try:
        yield engine
    finally:
        await link.close()
        await runtime.close()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if async_playwright is None:
        pytest.skip("Playwright for Python is not installed (pip install -e '.[test]')")
    if shutil.which(str(CHROMIUM)) is None:
        pytest.skip("Debian's Chromium is not installed: apt-get install chromium")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()
