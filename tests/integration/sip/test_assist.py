"""Assist mode (B2BUA): a sipp caller dials the hotline, the worker rings a sipp "agent phone",
bridges the two through the conference bridge and taps each leg on its own.

An agent phone (or caller) run with ``-rtp_echo`` sends back exactly what it hears, so the
other party's audio showing up on its leg proves the bridge carries audio that way.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
from sipp_peer import free_udp_port, run_sipp, uac_scenario, uas_scenario, wait_udp_bound
from test_answer import align  # type: ignore[import-not-found]

from jiesu.codecs.resample import resample
from jiesu.engine.audio import Leg
from jiesu.engine.events import CallMode
from jiesu.engine.ingest.recording import RecordingSink

CALLER_CLIP = "firered_BAC009S0764W0121.wav"  # 4.2 s
AGENT_CLIP = "mossttsd_zh_spk2_moon.wav"  # 8.6 s, another voice


def band_limited(pcm: Any) -> Any:
    return resample(resample(pcm, 16000, 8000), 8000, 16000)


async def assist_call(
    make_supervisor: Any,
    tmp_path: Path,
    caller_pcap: Path | None,
    agent_pcap: Path | None,
    talk_ms: int,
    *,
    caller_echo: bool = False,
    agent_echo: bool = False,
    info_dtmf: str = "",
) -> tuple[Any, RecordingSink, str]:
    agent_port = free_udp_port()
    supervisor, sink = await make_supervisor(
        routing={"agent_uri": f"sip:agent-7@127.0.0.1:{agent_port}"}
    )
    agent = asyncio.create_task(
        run_sipp(
            uas_scenario(agent_pcap),
            tmp_path,
            None,
            name="agent",
            sip_port=agent_port,
            media_port=free_udp_port(4),
            extra=("-rtp_echo",) if agent_echo else (),
            timeout_s=30,
        )
    )
    await wait_udp_bound(agent_port)  # the agent's phone listens first
    caller = await run_sipp(
        uac_scenario(caller_pcap, talk_ms, info_dtmf=info_dtmf),
        tmp_path,
        f"127.0.0.1:{supervisor.ports[0]}",
        service="12345",
        sip_port=free_udp_port(),
        media_port=free_udp_port(4),
        extra=("-rtp_echo",) if caller_echo else (),
    )
    agent_result = await agent
    assert caller.rc == 0, caller.output[-3000:]
    assert agent_result.rc == 0, agent_result.output[-3000:]
    call_id = next(iter(sink.started))
    await asyncio.wait_for(sink.wait_ended(call_id), 10)
    assert sink.violations == []
    return supervisor, sink, call_id


async def test_both_legs_are_tapped_apart_and_never_mixed(
    make_supervisor: Any, speech_pcap: Any, tmp_path: Path
) -> None:
    caller_pcap, caller_packets, caller_pcm = speech_pcap(CALLER_CLIP)
    agent_pcap, _, agent_pcm = speech_pcap(AGENT_CLIP)
    supervisor, sink, call_id = await assist_call(
        make_supervisor, tmp_path, caller_pcap, agent_pcap, caller_packets * 20, info_dtmf="15"
    )
    call = sink.started[call_id]
    assert call.mode is CallMode.ASSIST and call.legs == (Leg.CALLER, Leg.AGENT)
    assert call.agent_id == "agent-7"
    assert sink.ended[call_id].reason == "caller_hangup"
    caller_out = sink.leg_pcm(call_id, Leg.CALLER)
    agent_out = sink.leg_pcm(call_id, Leg.AGENT)
    _, caller_own = align(caller_out, band_limited(caller_pcm))
    _, agent_own = align(agent_out, band_limited(agent_pcm[: len(caller_pcm)]))
    _, caller_cross = align(caller_out, band_limited(agent_pcm[: len(caller_pcm)]))
    _, agent_cross = align(agent_out, band_limited(caller_pcm))
    print(f"own {caller_own:.2f}/{agent_own:.2f}, cross {caller_cross:.2f}/{agent_cross:.2f}")
    assert caller_own > 0.8 and agent_own > 0.8
    assert caller_cross < 0.5 and agent_cross < 0.5, "the legs are mixed"
    # SIP INFO DTMF from the caller was seen (and passed on to the agent as RFC 4733).
    assert supervisor.metrics.value("sip_dtmf_total", {"method": "info"}) == 2
    assert supervisor.metrics.value("sip_callback_errors_total", {"callback": "onDtmfDigit"}) == 0


async def test_caller_audio_reaches_the_agent_phone(
    make_supervisor: Any, speech_pcap: Any, tmp_path: Path
) -> None:
    caller_pcap, packets, caller_pcm = speech_pcap(CALLER_CLIP)
    _, sink, call_id = await assist_call(
        make_supervisor, tmp_path, caller_pcap, None, packets * 20 + 500, agent_echo=True
    )
    lag, heard = align(sink.leg_pcm(call_id, Leg.AGENT), band_limited(caller_pcm))
    print(f"agent phone echoed the caller: correlation {heard:.2f} at lag {lag}")
    assert heard > 0.7


async def test_agent_audio_reaches_the_caller(
    make_supervisor: Any, speech_pcap: Any, tmp_path: Path
) -> None:
    agent_pcap, packets, agent_pcm = speech_pcap(CALLER_CLIP)
    _, sink, call_id = await assist_call(
        make_supervisor, tmp_path, None, agent_pcap, packets * 20 + 1000, caller_echo=True
    )
    lag, heard = align(sink.leg_pcm(call_id, Leg.CALLER), band_limited(agent_pcm))
    print(f"caller echoed the agent: correlation {heard:.2f} at lag {lag}")
    assert heard > 0.7
    assert np.abs(sink.leg_pcm(call_id, Leg.AGENT)).mean() > 50
