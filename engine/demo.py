"""``jiesu demo``: the engine with its SIP door on, and a synthetic 12345 call placed over SIP.

The call is ``sip_config/demo`` (a script written for Jiesu, synthesised: see
``bench/demo_call.py``). Two sipp processes play it: a caller that dials the hotline number
(assist mode, so the SIP worker acts as a B2BUA) and the agent's phone that the worker rings at
``[sip.routing] agent_uri``, which this module points at a free local port. Each plays its own
leg as G.711 μ-law RTP, so the engine hears the two parties on separate legs as in production.
The call repeats (same caller number) until Ctrl-C; from the second call on, the caller is a
repeat caller with an earlier ticket. ``--no-demo-call`` only serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from jiesu.engine.auth import Role, TokenSigner
from jiesu.engine.config import ConfigError, JiesuConfig, SpeechConfig, read_toml
from jiesu.engine.ingest.client import read_wav
from jiesu.engine.runtime import Runtime
from jiesu.engine.sip import sipp
from jiesu.engine.sip.rtpfile import g711_packets, pcap_bytes

log = logging.getLogger(__name__)

DEMO_DIR = Path("sip_config/demo")
#: The demo call is set in Hangzhou; the default hotwords file names Chengdu's places.
DEMO_HOTWORDS = DEMO_DIR / "hotwords.toml"
SECONDS_BETWEEN_CALLS = 5.0
#: Line silence after the last turn before the caller hangs up (ms).
TAIL_MS = 1500


class DemoError(Exception):
    """The demo cannot run (its files or sipp are missing); the message says what to do."""


@dataclass(frozen=True, slots=True)
class DemoCall:
    """The two time-aligned legs of the demo call and who is on them."""

    caller: npt.NDArray[np.int16]
    agent: npt.NDArray[np.int16]
    rate: int
    caller_number: str
    agent_id: str

    @property
    def duration_ms(self) -> int:
        return len(self.caller) * 1000 // self.rate


def load_demo_call(folder: Path = DEMO_DIR) -> DemoCall:
    """The demo call from ``folder`` (call_script.toml, caller.wav, agent.wav)."""
    try:
        script = read_toml(folder / "call_script.toml")
        caller, rate = read_wav(folder / "caller.wav")
        agent, agent_rate = read_wav(folder / "agent.wav")
    except (OSError, ConfigError, ValueError) as exc:
        raise DemoError(f"demo call in {folder} unreadable: {exc}") from exc
    if agent_rate != rate or len(agent) != len(caller):
        raise DemoError(f"{folder}: caller.wav and agent.wav differ in rate or length")
    return DemoCall(
        caller,
        agent,
        rate,
        str(script.get("caller_number", "13900000000")),
        str(script.get("agent_id", "agent-demo")),
    )


def free_udp_port() -> int:
    """A UDP port free on 127.0.0.1 right now (the agent phone's SIP port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def demo_config(config: JiesuConfig, agent_id: str, agent_port: int) -> JiesuConfig:
    """``config`` with the SIP door on, the agent phone at ``agent_port`` and the hotwords of
    the demo call's city (:data:`DEMO_HOTWORDS`) where the hotwords file is the default one."""
    routing = dataclasses.replace(
        config.sip.routing, agent_uri=f"sip:{agent_id}@127.0.0.1:{agent_port}"
    )
    speech = config.speech
    if speech.hotwords_file == SpeechConfig().hotwords_file:
        speech = dataclasses.replace(speech, hotwords_file=DEMO_HOTWORDS)
    return dataclasses.replace(
        config,
        sip=dataclasses.replace(config.sip, enabled=True, routing=routing),
        speech=speech,
    )


def screen_links(
    config: JiesuConfig, signer: TokenSigner, port: int, agent_id: str, now: float
) -> dict[str, str]:
    """Agent and supervisor URLs with a signed token in the fragment (never sent to a server)."""
    ttl = config.auth.token_ttl_s
    base = f"http://{config.gateway.host}:{port}"
    agent = signer.mint(agent_id, Role.AGENT, config.hotline, ttl, now)
    lead = signer.mint("supervisor-demo", Role.SUPERVISOR, config.hotline, ttl, now)
    return {"agent": f"{base}/agent#token={agent}", "supervisor": f"{base}/supervisor#token={lead}"}


async def _sipp(args: list[str], workdir: Path) -> int:
    """Run one sipp to its end; killed (and waited for) if the demo is cancelled."""
    proc = await asyncio.create_subprocess_exec(
        *args, cwd=workdir, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        return await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def place_demo_call(call: DemoCall, sip_port: int, agent_port: int, workdir: Path) -> None:
    """One demo call: the agent phone (sipp UAS) waits, the caller (sipp UAC) dials 12345."""
    if sipp.SIPP is None:
        raise DemoError("sipp is not installed (Debian package sip-tester; ./jiesu.sh installs it)")
    for leg, pcm in (("caller", call.caller), ("agent", call.agent)):
        (workdir / f"{leg}.pcap").write_bytes(pcap_bytes(g711_packets(pcm, call.rate, "pcmu")))
    (workdir / "agent.xml").write_text(sipp.uas_scenario(workdir / "agent.pcap"), "ascii")
    (workdir / "caller.xml").write_text(
        sipp.uac_scenario(
            workdir / "caller.pcap", call.duration_ms + TAIL_MS, caller=call.caller_number
        ),
        "ascii",
    )
    timeout = f"{call.duration_ms // 1000 + 60}s"
    common = ["-i", "127.0.0.1", "-mi", "127.0.0.1", "-nostdin", "-m", "1", "-timeout", timeout]
    agent = asyncio.create_task(
        _sipp(
            [
                sipp.SIPP,
                "-sf",
                "agent.xml",
                *common,
                "-p",
                str(agent_port),
                "-mp",
                str(sipp.free_udp_port(4)),
            ],
            workdir,
        )
    )
    try:
        # The agent phone must listen before the caller dials, or the worker's INVITE to it
        # meets a closed port and the call fails.
        await sipp.wait_udp_bound(agent_port)
        rc = await _sipp(
            [
                sipp.SIPP,
                "-sf",
                "caller.xml",
                *common,
                "-s",
                "12345",
                "-p",
                str(sipp.free_udp_port()),
                "-mp",
                str(sipp.free_udp_port(4)),
                f"127.0.0.1:{sip_port}",
            ],
            workdir,
        )
        agent_rc = await agent
    finally:
        agent.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await agent
    if rc != 0 or agent_rc != 0:
        log.error("demo call: sipp caller exit %d, agent phone exit %d", rc, agent_rc)


async def run_demo(config: JiesuConfig, demo_call: bool = True, once: bool = False) -> int:
    """Serve with the SIP door on; unless ``demo_call`` is false, place the demo call."""
    call = load_demo_call()
    agent_port = free_udp_port()
    runtime = Runtime(demo_config(config, call.agent_id, agent_port))

    def on_ready() -> None:
        links = screen_links(
            runtime.config, runtime.signer, runtime.gateway.port, call.agent_id, time.time()
        )
        assert runtime.sip is not None
        # Printed for the person running the demo, not logged: tokens never go to log files.
        print(f"\n话务员 agent screen:      {links['agent']}", flush=True)
        print(f"班长 supervisor screen:   {links['supervisor']}", flush=True)
        print(f"SIP: sip:12345@127.0.0.1:{runtime.sip.ports[0]} (Ctrl-C stops)\n", flush=True)

    async def calls() -> None:
        assert runtime.sip is not None
        number = 0
        with tempfile.TemporaryDirectory(prefix="jiesu-demo-") as tmp:
            while True:
                number += 1
                log.info("demo call %d: %.0f s over SIP", number, call.duration_ms / 1000)
                await place_demo_call(call, runtime.sip.ports[0], agent_port, Path(tmp))
                if once:
                    return
                await asyncio.sleep(SECONDS_BETWEEN_CALLS)  # a pause between demo calls

    if demo_call and sipp.SIPP is None:
        raise DemoError("sipp is not installed (Debian package sip-tester; ./jiesu.sh installs it)")
    await runtime.run_until_signal(on_ready, calls if demo_call else None)
    return 0
