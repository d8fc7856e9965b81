"""G.711 RTP packets, RFC 4733 telephone-event packets and classic pcap files: the audio and
DTMF that test peers (sipp's ``play_pcap_audio``) stream into a call. Pure functions: values
in, bytes out."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from jiesu.codecs.g711 import alaw_encode, ulaw_encode
from jiesu.codecs.resample import resample

Codec = Literal["pcmu", "pcma"]
PAYLOAD_TYPE: dict[str, int] = {"pcmu": 0, "pcma": 8}
SAMPLES_PER_PACKET = 160  # 20 ms at 8 kHz

_PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)  # linktype Ethernet


@dataclass(frozen=True, slots=True)
class RtpPacket:
    seq: int
    timestamp: int
    payload: bytes
    payload_type: int
    ssrc: int = 0x4A494553
    #: Set on the first packet of a talk spurt or of a telephone event.
    marker: bool = False
    #: When the packet is sent, in ms from the first (None: its index times the ptime).
    at_ms: int | None = None

    def encode(self, marker: bool = False) -> bytes:
        first = 0x80  # version 2, no padding, no extension, no CSRC
        second = (0x80 if marker or self.marker else 0) | self.payload_type
        header = struct.pack(
            "!BBHII", first, second, self.seq & 0xFFFF, self.timestamp & 0xFFFFFFFF, self.ssrc
        )
        return header + self.payload


def g711_packets(pcm: npt.NDArray[np.int16], rate: int, codec: Codec) -> list[RtpPacket]:
    """The recording as 20 ms G.711 packets (the last one padded with silence)."""
    narrow = resample(pcm, rate, 8000) if rate != 8000 else pcm
    pad = (-len(narrow)) % SAMPLES_PER_PACKET
    if pad:
        narrow = np.concatenate([narrow, np.zeros(pad, dtype=np.int16)])
    encode = ulaw_encode if codec == "pcmu" else alaw_encode
    packets = []
    for i in range(len(narrow) // SAMPLES_PER_PACKET):
        block = narrow[i * SAMPLES_PER_PACKET : (i + 1) * SAMPLES_PER_PACKET]
        packets.append(RtpPacket(i, i * SAMPLES_PER_PACKET, encode(block), PAYLOAD_TYPE[codec]))
    return packets


#: RFC 4733 §3.2 event codes of the DTMF keys.
DTMF_EVENTS: dict[str, int] = {
    **{str(d): d for d in range(10)},
    "*": 10,
    "#": 11,
    **{k: 12 + i for i, k in enumerate("ABCD")},
}


def dtmf_packets(
    digits: str,
    *,
    payload_type: int = 101,
    tone_ms: int = 100,
    gap_ms: int = 100,
    volume: int = 10,
    ssrc: int = 0x4A494554,
) -> list[RtpPacket]:
    """``digits`` as RFC 4733 telephone events at 8 kHz, one key after another.

    Per key: a packet every 20 ms with the event's start timestamp and its growing duration
    (the first with the marker bit), the last one with the E bit sent three times (§2.5.1.4),
    then ``gap_ms`` of nothing before the next key. Packets carry their send time (``at_ms``).
    """
    packets: list[RtpPacket] = []
    at = 0
    for key in digits:
        event = DTMF_EVENTS.get(key.upper())
        if event is None:
            raise ValueError(f"not a DTMF key: {key!r}")
        start_ts = at * 8
        steps = max(1, tone_ms // 20)
        for step in range(steps + 2):
            end = step >= steps - 1
            duration = min(step + 1, steps) * 160
            payload = struct.pack("!BBH", event, (0x80 if end else 0) | (volume & 0x3F), duration)
            packets.append(
                RtpPacket(
                    seq=len(packets),
                    timestamp=start_ts,
                    payload=payload,
                    payload_type=payload_type,
                    ssrc=ssrc,
                    marker=step == 0,
                    at_ms=at,
                )
            )
            at += 20
        at += gap_ms
    return packets


def _ip_checksum(header: bytes) -> int:
    total = int(sum(struct.unpack(f"!{len(header) // 2}H", header)))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _frame(udp_payload: bytes, src_port: int, dst_port: int) -> bytes:
    udp = struct.pack("!HHHH", src_port, dst_port, 8 + len(udp_payload), 0) + udp_payload
    ip = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(udp),
        0,
        0,
        64,
        17,
        0,
        bytes([127, 0, 0, 1]),
        bytes([127, 0, 0, 1]),
    )
    ip = ip[:10] + struct.pack("!H", _ip_checksum(ip)) + ip[12:]
    ether = b"\x00" * 12 + b"\x08\x00"
    return ether + ip + udp


def _records(packets: list[RtpPacket], ptime_ms: int) -> Iterator[bytes]:
    for i, packet in enumerate(packets):
        data = _frame(packet.encode(marker=i == 0), 6000, 6000)
        micros = (i * ptime_ms if packet.at_ms is None else packet.at_ms) * 1000
        yield struct.pack("<IIII", micros // 1_000_000, micros % 1_000_000, len(data), len(data))
        yield data


def pcap_bytes(packets: list[RtpPacket], ptime_ms: int = 20) -> bytes:
    """A pcap file (Ethernet/IPv4/UDP) that replays the packets one ``ptime_ms`` apart (or at
    their own ``at_ms``)."""
    return _PCAP_HEADER + b"".join(_records(packets, ptime_ms))
