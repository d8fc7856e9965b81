"""A caller's phone for voice tests and benchmarks: the media side of a sipp call.

sipp does the SIP (its INVITE's SDP points the call's RTP at this phone's UDP port); the phone
does what a handset does with the audio, in real time on the event loop:

* records every packet Jiesu sends (arrival time, payload decoded from G.711 μ-law);
* sends a 20 ms μ-law packet every 20 ms: silence, plus what the test scheduled
  (:meth:`RtpPhone.say`: a recording from a given moment), plus, when ``echo_db`` is set, the
  handset's echo: what it received ``echo_ms`` earlier, attenuated and slightly filtered;
* sends keys as RFC 4733 telephone events (:meth:`RtpPhone.press`, payload type 101).

Jiesu's address is learnt from its first packet (pjmedia sends from the port it listens on).
Times are ``time.monotonic()`` seconds.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from jiesu.codecs.g711 import ulaw_decode, ulaw_encode
from jiesu.engine.sip.rtpfile import DTMF_EVENTS, RtpPacket

Pcm = npt.NDArray[np.int16]
RATE = 8000
FRAME = 160
PTIME_S = 0.02
#: Received packets kept (10 minutes of 20 ms packets).
KEPT_PACKETS = 30_000
#: A handset's echo path (not a pure delay): the same short filter as ``jiesu bench bargein``.
ECHO_FILTER = (0.6, 0.3, 0.1)


@dataclass(frozen=True, slots=True)
class Received:
    at: float
    seq: int
    pcm: Pcm


@dataclass(slots=True)
class _Speech:
    pcm: Pcm
    start_frame: int
    sent_at: float = 0.0


@dataclass
class RtpPhone(asyncio.DatagramProtocol):
    """See the module doc. ``start()`` binds it and begins sending; ``close()`` stops it."""

    echo_db: float | None = None
    echo_ms: int = 120
    #: What arrived, oldest dropped past :data:`KEPT_PACKETS` (a long call stays bounded).
    received: deque[Received] = field(default_factory=lambda: deque(maxlen=KEPT_PACKETS))
    #: Frames sent so far (the phone's own media clock).
    frames_sent: int = 0
    _transport: asyncio.DatagramTransport | None = None
    _remote: tuple[str, int] | None = None
    _sender: asyncio.Task[None] | None = None
    _speech: list[_Speech] = field(default_factory=list)
    _keys: deque[RtpPacket] = field(default_factory=deque)
    _echo: deque[Pcm] = field(default_factory=deque)
    _seq: int = 0
    _first_audio: asyncio.Event = field(default_factory=asyncio.Event)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    #: Received frames louder than ``voiced_dbfs`` count as sound (a prompt), the rest silence.
    voiced_dbfs: float = -40.0
    #: Arrival time of the latest voiced frame, and the silent frames received since.
    last_voiced_at: float = 0.0
    silent_run: int = 0

    async def start(self, host: str = "127.0.0.1") -> int:
        """Bind a UDP port on ``host`` and start the 20 ms sender; returns the port."""
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=(host, 0))
        self._transport = transport
        self._sender = asyncio.create_task(self._send_loop())
        port: int = transport.get_extra_info("sockname")[1]
        return port

    async def close(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
            await asyncio.gather(self._sender, return_exceptions=True)
        if self._transport is not None:
            self._transport.close()

    async def wait_audio(self, timeout_s: float = 10.0) -> None:
        """Until Jiesu's first packet arrived."""
        await asyncio.wait_for(self._first_audio.wait(), timeout_s)

    async def wait_until(self, done: Callable[[], bool], timeout_s: float = 15.0) -> None:
        """Until ``done()`` holds, checked after each packet received."""
        async with asyncio.timeout(timeout_s):
            while not done():
                self._arrived.clear()
                await self._arrived.wait()

    async def wait_sound(self, timeout_s: float = 15.0) -> float:
        """Until a voiced frame arrives after now; its arrival time."""
        since = time.monotonic()
        await self.wait_until(lambda: self.last_voiced_at > since, timeout_s)
        return self.last_voiced_at

    async def wait_silence(self, frames: int = 10, timeout_s: float = 15.0) -> float:
        """Until ``frames`` silent frames arrived in a row; the last voiced frame's arrival."""
        await self.wait_until(lambda: self.silent_run >= frames, timeout_s)
        return self.last_voiced_at

    # --- what the test does ---------------------------------------------------------------
    def say(self, pcm: Pcm, after_s: float = 0.0) -> _Speech:
        """Speak ``pcm`` (8 kHz) starting ``after_s`` from now; returns its record (its
        ``sent_at`` is set when its first frame goes out)."""
        start = self.frames_sent + round(after_s / PTIME_S)
        speech = _Speech(pcm, start)
        self._speech.append(speech)
        return speech

    def press(self, keys: str, tone_ms: int = 100, gap_ms: int = 100) -> None:
        """Queue ``keys`` as RFC 4733 events (one packet per 20 ms, after what is queued)."""
        timestamp = self.frames_sent * FRAME
        for key in keys:
            steps = max(1, tone_ms // 20)
            for step in range(steps + 2):
                end = step >= steps - 1
                duration = min(step + 1, steps) * FRAME
                payload = struct.pack("!BBH", DTMF_EVENTS[key], (0x80 if end else 0) | 10, duration)
                self._keys.append(RtpPacket(0, timestamp, payload, 101, 0x50484F4E, step == 0))
            for _ in range(gap_ms // 20):
                self._keys.append(RtpPacket(0, 0, b"", -1))  # a pause between keys
            timestamp += (steps + 2 + gap_ms // 20) * FRAME

    def heard(self, since: float = 0.0) -> Pcm:
        """What arrived since ``since`` as one 8 kHz signal (in arrival order)."""
        parts = [r.pcm for r in self.received if r.at >= since]
        return np.concatenate(parts) if parts else np.zeros(0, np.int16)

    # --- asyncio ------------------------------------------------------------------------
    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if len(data) < 12 or data[0] >> 6 != 2:
            return
        payload_type = data[1] & 0x7F
        if payload_type != 0:
            return  # only PCMU audio is recorded (telephone events from Jiesu are ignored)
        if self._remote is None:
            self._remote = (str(addr[0]), int(addr[1]))
        seq = struct.unpack("!H", data[2:4])[0]
        pcm = ulaw_decode(data[12:])
        now = time.monotonic()
        self.received.append(Received(now, seq, pcm))
        rms = float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2))) / 32768 if len(pcm) else 0.0
        if rms > 10 ** (self.voiced_dbfs / 20):
            self.last_voiced_at = now
            self.silent_run = 0
        else:
            self.silent_run += 1
        self._arrived.set()
        if self.echo_db is not None:
            self._echo.append(pcm)
        self._first_audio.set()

    async def _send_loop(self) -> None:
        start = time.monotonic()
        while True:
            self._send_one()
            # Paced on an absolute schedule (not a sleep as synchronisation: a phone's clock).
            next_at = start + self.frames_sent * PTIME_S
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    def _mix(self) -> Pcm:
        frame = np.zeros(FRAME, np.float64)
        echo_frames = self.echo_ms // 20
        if self.echo_db is not None and len(self._echo) >= echo_frames + 2:
            while len(self._echo) > echo_frames + 2:
                self._echo.popleft()
            past = np.concatenate(list(self._echo)[:2]).astype(np.float64)
            filtered = np.convolve(past, ECHO_FILTER)[FRAME : 2 * FRAME]
            frame += filtered * 10 ** (-self.echo_db / 20)
        now = time.monotonic()
        for speech in self._speech:
            offset = (self.frames_sent - speech.start_frame) * FRAME
            if 0 <= offset < len(speech.pcm):
                if offset == 0:
                    speech.sent_at = now
                piece = speech.pcm[offset : offset + FRAME].astype(np.float64)
                frame[: len(piece)] += piece
        return np.clip(frame, -32768, 32767).astype(np.int16)

    def _send_one(self) -> None:
        transport, remote = self._transport, self._remote
        pcm = self._mix()
        self.frames_sent += 1
        if transport is None or remote is None:
            return
        if self._keys:
            key = self._keys.popleft()
            if key.payload_type < 0:
                return
            self._seq += 1
            packet = RtpPacket(self._seq, key.timestamp, key.payload, 101, key.ssrc, key.marker)
            transport.sendto(packet.encode(), remote)
            return
        self._seq += 1
        packet = RtpPacket(self._seq, self.frames_sent * FRAME, ulaw_encode(pcm), 0, 0x50484F4E)
        transport.sendto(packet.encode(), remote)
