"""RFC 4733 telephone-event packets for the sipp DTMF test (engine/sip/rtpfile.py)."""

from __future__ import annotations

import struct

import pytest

from jiesu.engine.sip.rtpfile import dtmf_packets, pcap_bytes


def events(packets: list[bytes]) -> list[tuple[int, int, bool, int, bool]]:
    """(timestamp, event, end bit, duration, marker) per encoded packet."""
    out = []
    for data in packets:
        _, second, _, ts, _ = struct.unpack("!BBHII", data[:12])
        event, flags, duration = struct.unpack("!BBH", data[12:16])
        out.append((ts, event, bool(flags & 0x80), duration, bool(second & 0x80)))
    return out


def test_each_key_is_one_event_ending_three_times() -> None:
    packets = dtmf_packets("1#", tone_ms=100, gap_ms=100)
    assert all(p.payload_type == 101 and len(p.payload) == 4 for p in packets)
    assert [p.seq for p in packets] == list(range(len(packets)))
    got = events([p.encode() for p in packets])
    first, second = got[:7], got[7:]
    assert [e[1] for e in first] == [1] * 7 and [e[1] for e in second] == [11] * 7
    assert {e[0] for e in first} == {0} and {e[0] for e in second} == {(140 + 100) * 8}
    assert [e[3] for e in first] == [160, 320, 480, 640, 800, 800, 800]
    assert [e[2] for e in first] == [False] * 4 + [True] * 3
    assert [e[4] for e in got] == [True] + [False] * 6 + [True] + [False] * 6
    assert [p.at_ms for p in packets[:8]] == [0, 20, 40, 60, 80, 100, 120, 240]


def test_pcap_uses_the_packets_send_times() -> None:
    packets = dtmf_packets("5", tone_ms=40, gap_ms=0)
    pcap = pcap_bytes(packets)
    at = 24
    times = []
    for _ in packets:
        sec, usec, caplen, _ = struct.unpack("<IIII", pcap[at : at + 16])
        times.append(sec * 1000 + usec // 1000)
        at += 16 + caplen
    assert times == [p.at_ms for p in packets] == [0, 20, 40, 60]
    assert at == len(pcap)


def test_unknown_key_is_refused() -> None:
    with pytest.raises(ValueError, match="not a DTMF key"):
        dtmf_packets("1x")
