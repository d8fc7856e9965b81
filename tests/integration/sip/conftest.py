"""Fixtures for the SIP tests: a real supervisor with real pjsua2 workers on 127.0.0.1, fed
into a RecordingSink (or the production runtime), and sipp peers (see sipp_peer.py)."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from shared_data import MANDARIN_SPEECH

from jiesu.engine.calls import IngestSink
from jiesu.engine.config import SipConfig, SipRoutingConfig
from jiesu.engine.ingest.client import read_wav
from jiesu.engine.ingest.recording import RecordingSink
from jiesu.engine.metrics import Metrics
from jiesu.engine.sip.rtpfile import g711_packets, pcap_bytes
from jiesu.engine.sip.supervisor import SipSupervisor

pytest.importorskip("pjsua2", reason="pjsua2-python is not installed")

# The sipp helpers beside this file (pytest runs with --import-mode=importlib).
sys.path.insert(0, str(Path(__file__).resolve().parent))
from sipp_peer import free_udp_port


def sip_config(**overrides: Any) -> SipConfig:
    """A [sip] section for tests: free ports, IVR mode for 4000*, assist for 12345."""
    routing = overrides.pop("routing", {})
    settings: dict[str, Any] = {
        "enabled": True,
        "sip_port": 0,
        "rtp_port_start": free_udp_port(64),
        "rtp_ports_per_worker": 16,
        "restart_backoff_s": 0.1,
        **overrides,  # a test's own value wins over these defaults
    }
    return SipConfig(
        routing=SipRoutingConfig(
            **{"assist_numbers": ("12345",), "ivr_numbers": ("4000*",), **routing}
        ),
        **settings,
    )


@pytest.fixture
def speech_pcap(tmp_path: Path) -> Callable[..., tuple[Path, int, npt.NDArray[np.int16]]]:
    """``speech_pcap(name, codec)`` -> (pcap path, packet count, 16 kHz PCM of the clip)."""

    def make(name: str, codec: str = "pcmu") -> tuple[Path, int, npt.NDArray[np.int16]]:
        path = MANDARIN_SPEECH / name
        if not path.exists():
            pytest.skip(f"shared data missing: {path} (../shared/data/speech/mandarin)")
        pcm, rate = read_wav(path)
        packets = g711_packets(pcm, rate, "pcmu" if codec == "pcmu" else "pcma")
        out = tmp_path / f"{path.stem}-{codec}.pcap"
        out.write_bytes(pcap_bytes(packets))
        return out, len(packets), pcm

    return make


SupervisorFactory = Callable[..., Awaitable[tuple[SipSupervisor, Any]]]


@pytest.fixture
async def make_supervisor() -> AsyncIterator[SupervisorFactory]:
    """Start a supervisor: keyword arguments are SipConfig fields (``routing`` a dict),
    ``sink`` replaces the RecordingSink, ``faults`` go to the workers. Closed at the end."""
    running: list[SipSupervisor] = []

    async def make(
        sink: IngestSink | None = None, faults: tuple[str, ...] = (), **config: Any
    ) -> tuple[SipSupervisor, Any]:
        the_sink = sink if sink is not None else RecordingSink()
        supervisor = SipSupervisor(sip_config(**config), the_sink, Metrics(), faults=faults)
        running.append(supervisor)
        await supervisor.start()
        return supervisor, the_sink

    yield make
    for supervisor in running:
        await supervisor.close()


def replace(config: SipConfig, **changes: Any) -> SipConfig:
    return dataclasses.replace(config, **changes)
