"""Assist mode, early media: the agent's side answers 183 with SDP and streams audio before
its 200 (an ACD announcement, a ringback tone). The caller must get a 183 with SDP (checked
by the sipp caller scenario) and hear that audio before the call is answered.

The caller runs with ``-rtp_echo``: what reaches its media port comes straight back, so the
agent's clip showing up on the caller's leg proves it reached the caller. The agent's phone
sends nothing after its 200, so finding the whole clip ending before the 200 can only mean it
travelled as early media.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from scenarios import load
from sipp_peer import assist_call, free_udp_port, run_sipp, wait_udp_bound
from test_answer import align  # type: ignore[import-not-found]
from test_assist import band_limited  # type: ignore[import-not-found]

from jiesu.engine.audio import Leg

CLIP = "firered_BAC009S0764W0121.wav"  # 4.2 s
RATE = 16000


async def test_agent_early_media_reaches_the_caller_before_the_answer(
    make_supervisor: Any, speech_pcap: Any, tmp_path: Path
) -> None:
    pcap, packets, pcm = speech_pcap(CLIP)
    agent_port = free_udp_port()
    supervisor, sink = await make_supervisor(
        routing={"agent_uri": f"sip:agent-7@127.0.0.1:{agent_port}"}
    )
    early_ms, tail_ms = packets * 20 + 600, 1500
    agent = asyncio.create_task(
        run_sipp(
            load("agent_early", pcap=pcap, early_ms=early_ms),
            tmp_path,
            None,
            name="agent",
            sip_port=agent_port,
            media_port=free_udp_port(4),
            timeout_s=30,
        )
    )
    await wait_udp_bound(agent_port)
    # The caller's scenario succeeds only if the 183 carried SDP.
    scenario = load("caller_early", tail_ms=tail_ms)
    call_id = await assist_call(supervisor, sink, agent, scenario, tmp_path, extra=("-rtp_echo",))
    ended = sink.ended[call_id]
    assert ended.reason == "caller_hangup" and sink.violations == []
    reference = band_limited(pcm)
    caller_leg = sink.leg_pcm(call_id, Leg.CALLER)
    agent_leg = sink.leg_pcm(call_id, Leg.AGENT)
    # Both legs were tapped from the early media on, not from the 200.
    for leg in (caller_leg, agent_leg):
        assert len(leg) >= (early_ms + tail_ms - 500) * RATE // 1000, len(leg) / RATE
    _, agent_own = align(agent_leg, reference)
    lag, echoed = align(caller_leg, reference)
    clip_end_s = (lag + len(reference)) / RATE
    answered_s = len(caller_leg) / RATE - tail_ms / 1000
    print(
        f"agent leg {agent_own:.2f}; caller echoed the early clip: {echoed:.2f}, clip ends at "
        f"{clip_end_s:.2f} s, the 200 came about {answered_s:.2f} s into the caller's leg"
    )
    assert agent_own > 0.8, "the agent's early media was not tapped"
    assert echoed > 0.7, "the agent's early media did not reach the caller"
    assert clip_end_s < answered_s + 0.3, "the clip was not heard before the answer"
