"""sipp for the tests: the helpers of :mod:`jiesu.engine.sip.sipp`, skipping when sipp is absent."""

from __future__ import annotations

from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import pytest

from jiesu.engine.sip import sipp
from jiesu.engine.sip.sipp import (
    SippResult,
    free_udp_port,
    uac_scenario,
    uas_scenario,
    wait_udp_bound,
)

__all__ = [
    "SippResult",
    "assist_call",
    "free_udp_port",
    "run_sipp",
    "uac_scenario",
    "uas_scenario",
    "wait_udp_bound",
]


async def run_sipp(scenario: str, workdir: Path, target: str | None, **kwargs: Any) -> SippResult:
    if sipp.SIPP is None:
        pytest.skip(
            "sipp is not installed (Debian package sip-tester; ./jiesu.sh test installs it)"
        )
    return await sipp.run_sipp(scenario, workdir, target, **kwargs)


async def assist_call(
    supervisor: Any,
    sink: Any,
    agent: Awaitable[SippResult],
    scenario: str,
    workdir: Path,
    **kwargs: Any,
) -> str:
    """The caller's sipp dials 12345 on the first worker while ``agent`` (the agent phone's
    sipp, already listening) runs; both must succeed. The call's id, once it has ended."""
    kwargs.setdefault("timeout_s", 30)
    caller = await run_sipp(
        scenario,
        workdir,
        f"127.0.0.1:{supervisor.ports[0]}",
        service="12345",
        sip_port=free_udp_port(),
        media_port=free_udp_port(4),
        **kwargs,
    )
    agent_result = await agent
    assert caller.rc == 0, caller.output[-3000:]
    assert agent_result.rc == 0, agent_result.output[-3000:]
    call_id: str = next(iter(sink.started))
    await sink.wait_ended(call_id, 10)
    return call_id
