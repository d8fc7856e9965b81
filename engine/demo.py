"""``jiesu demo``: the engine plus a recorded call replayed through the audio ingest.

The call is the real two-party phone recording in ``../shared/data/calls/en_two_party``
(caller and agent on separate 8 kHz legs), sent as G.711 μ-law in real time, as a PBX would.
Where that folder is absent a synthetic two-leg call (alternating tone bursts) stands in, and
the log says so. Screens connect with the printed tokens and see the call on the board; later
issues add the transcript, work order and alerts on top of the same flow.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt

from jiesu.engine.audio import Leg
from jiesu.engine.auth import Role
from jiesu.engine.config import JiesuConfig
from jiesu.engine.ingest.client import IngestClient, read_wav
from jiesu.engine.runtime import Runtime

log = logging.getLogger(__name__)

RECORDED_CALL = Path("../shared/data/calls/en_two_party")
DEMO_AGENT = "agent-demo"
SECONDS_BETWEEN_CALLS = 3.0


def load_demo_call(folder: Path = RECORDED_CALL) -> tuple[dict[Leg, npt.NDArray[np.int16]], int]:
    """The legs of the demo call and their sample rate."""
    callers, agents = sorted(folder.glob("*_caller.wav")), sorted(folder.glob("*_agent.wav"))
    if callers and agents:
        caller, rate = read_wav(callers[0])
        agent, agent_rate = read_wav(agents[0])
        if agent_rate == rate:
            return {Leg.CALLER: caller, Leg.AGENT: agent}, rate
    log.warning("%s not found: replaying a synthetic call (tones) instead", folder)
    rate = 8000
    t = np.arange(rate * 20) / rate
    burst = (np.sin(2 * np.pi * 440 * t) * 8000 * ((t % 4) < 2)).astype(np.int16)
    return {Leg.CALLER: burst, Leg.AGENT: np.roll(burst, 2 * rate)}, rate


async def run_demo(config: JiesuConfig, once: bool = False) -> int:
    runtime = Runtime(config)
    legs, rate = load_demo_call()
    now = time.time()
    ttl = config.auth.token_ttl_s
    ingest_token = runtime.signer.mint("demo-replayer", Role.INGEST, config.hotline, ttl, now)

    def on_ready() -> None:
        supervisor = runtime.signer.mint(
            "supervisor-demo", Role.SUPERVISOR, config.hotline, ttl, now
        )
        agent = runtime.signer.mint(DEMO_AGENT, Role.AGENT, config.hotline, ttl, now)
        # Printed for the person running the demo, not logged: tokens never go to log files.
        print(f"screens: ws://{config.gateway.host}:{runtime.gateway.port}", flush=True)
        print(f"supervisor token: {supervisor}", flush=True)
        print(f"agent token ({DEMO_AGENT}): {agent}", flush=True)

    async def replay() -> None:
        url = f"ws://{config.ingest.host}:{runtime.ingest.port}/"
        number = 0
        async with IngestClient(url, ingest_token) as client:
            while True:
                number += 1
                call_id = f"demo-{int(now)}-{number}"
                log.info("demo call %s: replaying %.0f s", call_id, len(legs[Leg.CALLER]) / rate)
                await client.stream_call(
                    call_id, legs, rate, codec="pcmu", realtime=True, agent_id=DEMO_AGENT
                )
                if once:
                    return
                await asyncio.sleep(SECONDS_BETWEEN_CALLS)  # a gap between demo calls

    await runtime.run_until_signal(on_ready, replay)
    return 0
