"""`jiesu serve` as a real process: starts, logs where it listens, carries a call from the audio
ingest to a screen, masks personal data in its logs, and stops cleanly on SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from websockets.asyncio.client import connect

from jiesu.engine.audio import Leg
from jiesu.engine.ingest.client import IngestClient

CALLER_NUMBER = "13812345678"
READY_TIMEOUT_S = 30.0


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jiesu.engine.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def write_config(folder: Path) -> Path:
    path = folder / "jiesu.toml"
    path.write_text(
        'hotline = "12345"\n'
        "[gateway]\nport = 0\n[ingest]\nport = 0\n"
        '[auth]\ntoken_secret_file = "state/token.secret"\n'
        '[storage]\nevent_log = "state/events.sqlite3"\n',
        encoding="utf-8",
    )
    return path


@dataclass
class Served:
    process: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    screens_url: str = ""
    ingest_url: str = ""
    ready_after_s: float = 0.0

    @property
    def log(self) -> str:
        return "\n".join(self.lines)


async def start_serve(cwd: Path, config: Path) -> Served:
    began = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "jiesu.engine.cli",
        "serve",
        "--config",
        str(config),
        cwd=cwd,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    served = Served(process)
    assert process.stderr is not None

    async def until_ready() -> None:
        assert process.stderr is not None
        async for raw in process.stderr:
            line = raw.decode().rstrip()
            served.lines.append(line)
            if m := re.search(r"screens: (ws://\S+)", line):
                served.screens_url = m.group(1)
            if m := re.search(r"audio ingest: (ws://\S+)", line):
                served.ingest_url = m.group(1)
            if "ready" in line and "after launch" in line:
                return
        raise AssertionError("serve exited before it was ready:\n" + served.log)

    await asyncio.wait_for(until_ready(), READY_TIMEOUT_S)
    served.ready_after_s = time.monotonic() - began
    return served


async def drain_until_exit(served: Served) -> int:
    assert served.process.stderr is not None
    async for raw in served.process.stderr:
        served.lines.append(raw.decode().rstrip())
    return await served.process.wait()


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_serve_carries_a_call_to_a_screen_and_stops_cleanly(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    workdir = tmp_path
    config = write_config(workdir)
    served = await start_serve(workdir, config)
    try:
        assert served.screens_url.startswith("ws://127.0.0.1:")
        assert served.ingest_url.startswith("ws://127.0.0.1:")
        print(f"jiesu serve ready after {served.ready_after_s:.2f} s")

        mint = lambda role, sub: cli(  # noqa: E731
            "token", "--config", str(config), "--role", role, "--sub", sub, cwd=workdir
        )
        supervisor, ingest = mint("supervisor", "lead-1"), mint("ingest", "pbx-1")
        assert supervisor.returncode == 0 and ingest.returncode == 0, supervisor.stderr
        supervisor_token, ingest_token = supervisor.stdout.strip(), ingest.stdout.strip()

        async with connect(served.screens_url) as screen:
            await screen.send(
                json.dumps({"type": "hello", "protocol": 1, "token": supervisor_token})
            )
            welcome = json.loads(await asyncio.wait_for(screen.recv(), 10))
            assert welcome["type"] == "welcome" and welcome["role"] == "supervisor"

            pcm = (np.sin(np.arange(8000 * 2) * 2 * np.pi * 440 / 8000) * 6000).astype(np.int16)
            async with IngestClient(served.ingest_url, ingest_token) as client:
                stats = await client.stream_call(
                    "call-e2e",
                    {Leg.CALLER: pcm, Leg.AGENT: pcm},
                    8000,
                    codec="pcmu",
                    agent_id="agent-7",
                    caller_number=CALLER_NUMBER,
                )
            assert stats is not None and stats.frames == 2 * 100 and stats.lost == 0

            seen: list[dict[str, object]] = []
            while not seen or seen[-1]["type"] != "call.ended":
                message = json.loads(await asyncio.wait_for(screen.recv(), 10))
                if message.get("call_id") == "call-e2e":
                    seen.append(message)
            assert [m["type"] for m in seen] == ["call.started", "call.state", "call.ended"]
            assert [m["seq"] for m in seen] == [1, 2, 3]
            started = seen[0]["payload"]
            assert isinstance(started, dict)
            assert started["agent_id"] == "agent-7"
            assert started["caller_masked"] == "138****5678"

        port = served.screens_url.rsplit(":", 1)[1].rstrip("/")
        health = await asyncio.to_thread(
            lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10).read()
        )
        assert health.strip() == b"ok"
        metrics = await asyncio.to_thread(
            lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read()
        )
        assert b"calls_started_total 1" in metrics
        assert b'calls_ended_total{reason="hangup"} 1' in metrics
    finally:
        if served.process.returncode is None:
            served.process.send_signal(stop_signal)
        code = await asyncio.wait_for(drain_until_exit(served), 30)

    assert code == 0, served.log
    assert "stopped" in served.lines[-1]
    assert CALLER_NUMBER not in served.log
    assert supervisor_token not in served.log and ingest_token not in served.log
    # the call is on disk after the shutdown
    events = workdir / "state" / "events.sqlite3"
    with sqlite3.connect(events) as db:
        rows = db.execute("SELECT seq, type FROM events WHERE call_id = 'call-e2e'").fetchall()
        assert rows == [(1, "call.started"), (2, "call.state"), (3, "call.ended")]
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_invalid_configuration_exits_3_naming_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[gateway]\nport = -1\n", encoding="utf-8")
    result = cli("serve", "--config", str(bad), cwd=tmp_path)
    assert result.returncode == 3
    assert f"{bad}: gateway.port: expected an integer 0-65535, got -1" in result.stderr


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = cli("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("serve", "demo", "token", "schema", "check-config", "bench"):
        assert command in result.stdout
    assert cli("no-such-command", cwd=tmp_path).returncode == 2
