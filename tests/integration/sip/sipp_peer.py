"""sipp for the tests: the helpers of :mod:`jiesu.engine.sip.sipp`, skipping when sipp is absent."""

from __future__ import annotations

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
