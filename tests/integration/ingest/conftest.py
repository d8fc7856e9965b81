"""Fixtures for the ingest integration tests: real servers on 127.0.0.1 with real tokens and
codecs, feeding a RecordingSink (the sink is the ingest's boundary)."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from shared_data import MANDARIN_SPEECH

from jiesu.engine.auth import Role, TokenSigner
from jiesu.engine.config import IngestConfig
from jiesu.engine.ingest.client import IngestClient, read_wav
from jiesu.engine.ingest.recording import RecordingSink
from jiesu.engine.ingest.server import IngestServer
from jiesu.engine.metrics import Metrics

SPEECH_DIR = MANDARIN_SPEECH
HOTLINE = "12345"


@dataclass
class Ingest:
    """One running server with its sink and metrics, and clients that are closed afterwards."""

    server: IngestServer
    sink: RecordingSink
    metrics: Metrics
    signer: TokenSigner
    url: str
    clients: list[IngestClient] = field(default_factory=list)

    def token(self, role: Role = Role.INGEST, hotline: str = HOTLINE, ttl_s: int = 600) -> str:
        return self.signer.mint("pbx-test", role, hotline, ttl_s, time.time())

    def client(self, token: str | None = None) -> IngestClient:
        """A client, not yet connected (``await client.connect()``)."""
        client = IngestClient(self.url, self.token() if token is None else token)
        self.clients.append(client)
        return client

    async def connected(self) -> IngestClient:
        client = self.client()
        await client.connect()
        return client

    def dropped(self, reason: str) -> float:
        return self.metrics.value("ingest_frames_dropped_total", {"reason": reason})

    def bad(self, reason: str) -> float:
        return self.metrics.value("ingest_bad_messages_total", {"reason": reason})


IngestFactory = Callable[..., Awaitable[Ingest]]


@pytest.fixture
async def make_ingest() -> AsyncIterator[IngestFactory]:
    """Start a server: keyword arguments are IngestConfig fields, ``server_kwargs`` go to
    IngestServer. Everything started is closed at the end of the test."""
    running: list[Ingest] = []

    async def make(server_kwargs: dict[str, Any] | None = None, **config: Any) -> Ingest:
        cfg = IngestConfig(**{"host": "127.0.0.1", "port": 0, **config})
        signer = TokenSigner(os.urandom(32))
        sink = RecordingSink()
        metrics = Metrics()
        server = IngestServer(cfg, signer, sink, metrics, **(server_kwargs or {}))
        await server.start()
        ingest = Ingest(server, sink, metrics, signer, f"ws://127.0.0.1:{server.port}/")
        running.append(ingest)
        return ingest

    yield make
    for ingest in running:
        for client in ingest.clients:
            await client.close()
        await ingest.server.close()
        assert ingest.sink.violations == [], "sink contract broken"


@pytest.fixture
async def ingest(make_ingest: IngestFactory) -> Ingest:
    return await make_ingest()


@pytest.fixture
def speech() -> Callable[[str], tuple[npt.NDArray[np.int16], int, Path]]:
    """Load a real Mandarin recording (16 kHz mono): (pcm, rate, path). Skips the test, saying
    why, when the shared data set is not on this machine."""

    def load(name: str) -> tuple[npt.NDArray[np.int16], int, Path]:
        path = SPEECH_DIR / name
        if not path.is_file():
            pytest.skip(f"real speech recording {path} is not present (set JIESU_SHARED_DATA)")
        pcm, rate = read_wav(path)
        return pcm, rate, path

    return load
