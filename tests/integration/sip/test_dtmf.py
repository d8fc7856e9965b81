"""Assist mode, DTMF: the caller presses keys as RFC 4733 telephone events (a pcap written by
``rtpfile.dtmf_packets``, replayed by sipp) and as SIP INFO ``application/dtmf-relay``.

The keys must reach the main process in order with their method (``SipSupervisor.dtmf``,
``sip_dtmf_total{method}``), and be passed on to the agent's leg as RFC 4733: the agent's
phone is a sipp UAS whose SDP points its RTP at a UDP socket of this test, which decodes the
telephone events the worker sends there.
"""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path
from typing import Any

from scenarios import load
from sipp_peer import assist_call, free_udp_port, run_sipp, wait_udp_bound

from jiesu.engine.sip.rtpfile import DTMF_EVENTS, dtmf_packets, pcap_bytes

KEYS = {value: key for key, value in DTMF_EVENTS.items()}


class EventCatcher(asyncio.DatagramProtocol):
    """Collects RTP; telephone events are the 4-byte payloads (audio frames are 160 bytes)."""

    def __init__(self) -> None:
        self.audio = 0
        #: (timestamp, event) in the order first seen: one entry per key press.
        self.presses: list[tuple[int, int]] = []

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if len(data) != 16 or data[0] >> 6 != 2:
            self.audio += 1
            return
        timestamp = struct.unpack("!I", data[4:8])[0]
        press = (timestamp, data[12])
        if press not in self.presses:
            self.presses.append(press)

    def keys(self) -> str:
        return "".join(KEYS.get(event, "?") for _, event in self.presses)


async def test_rfc4733_and_info_dtmf_reach_the_main_process_and_the_agent(
    make_supervisor: Any, tmp_path: Path
) -> None:
    rfc_keys, info_keys = "12#", "5*"
    events = dtmf_packets(rfc_keys)
    pcap = tmp_path / "dtmf.pcap"
    pcap.write_bytes(pcap_bytes(events))
    events_ms = (events[-1].at_ms or 0) + 400
    loop = asyncio.get_running_loop()
    transport, catcher = await loop.create_datagram_endpoint(
        EventCatcher, local_addr=("127.0.0.1", 0)
    )
    try:
        rtp_port = transport.get_extra_info("sockname")[1]
        agent_port = free_udp_port()
        supervisor, sink = await make_supervisor(
            routing={"agent_uri": f"sip:agent-7@127.0.0.1:{agent_port}"}
        )
        agent = asyncio.create_task(
            run_sipp(
                load("agent_dtmf", rtp_port=rtp_port),
                tmp_path,
                None,
                name="agent",
                sip_port=agent_port,
                timeout_s=30,
            )
        )
        await wait_udp_bound(agent_port)
        scenario = load(
            "caller_dtmf",
            pcap=pcap,
            events_ms=events_ms,
            info_1=info_keys[0],
            info_2=info_keys[1],
        )
        call_id = await assist_call(supervisor, sink, agent, scenario, tmp_path)
        await supervisor.sync()  # every message the worker sent is in
    finally:
        transport.close()
    got = [(d.digit, d.method, d.leg) for d in supervisor.dtmf if d.call_id == call_id]
    print(f"main process: {got}; agent's RTP: keys {catcher.keys()!r}, {catcher.audio} audio")
    assert got == [(k, "rfc4733", "caller") for k in rfc_keys] + [
        (k, "info", "caller") for k in info_keys
    ]
    assert supervisor.metrics.value("sip_dtmf_total", {"method": "rfc4733"}) == len(rfc_keys)
    assert supervisor.metrics.value("sip_dtmf_total", {"method": "info"}) == len(info_keys)
    assert supervisor.metrics.value("sip_callback_errors_total", {"callback": "onDtmfDigit"}) == 0
    # Passed on to the agent's leg as telephone events, in the order pressed.
    assert catcher.keys() == rfc_keys + info_keys
    assert catcher.audio > 20  # the socket really was the agent leg's RTP peer
