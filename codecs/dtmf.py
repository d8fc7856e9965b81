"""DTMF key presses from RFC 4733 ``telephone-event`` RTP payloads.

Payload (4 bytes, network order)::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    |     event     |E|R| volume    |          duration             |

A sender reports one key press as a run of packets sharing one RTP timestamp (the start of the
event): the first with the marker bit, then updates with a growing duration, then the end
packet (E bit) sent three times. Events longer than 0xFFFF timestamp units are split into
segments, each with a new timestamp (previous timestamp + its duration) and no marker.

:class:`DtmfReceiver` turns such runs into exactly one :class:`DtmfDigit` per press, whatever
was lost, repeated or reordered in between. It is sans-I/O: it sees only what the caller feeds
it and never reads a clock; :meth:`DtmfReceiver.expire` lets the caller close a press whose end
packets were all lost, using the audio stream's RTP timestamps as the clock.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from jiesu.codecs.errors import CodecError

__all__ = [
    "EVENT_FLASH",
    "PAYLOAD_SIZE",
    "DtmfDigit",
    "DtmfReceiver",
    "DtmfStats",
    "TelephoneEvent",
    "parse_telephone_event",
]

#: Size of one event report.
PAYLOAD_SIZE = 4
#: Event code of a hook flash (register recall); its digit is "!".
EVENT_FLASH = 16
#: Characters of the DTMF event codes 0-16 of RFC 4733; "!" stands for hook flash (code 16).
_DIGITS = "0123456789*#ABCD!"
_MAX_DURATION = 0xFFFF
_TS_MOD = 1 << 32
_TS_HALF = 1 << 31


@dataclass(frozen=True, slots=True)
class TelephoneEvent:
    """One RFC 4733 event report, as carried in one RTP payload."""

    #: Event code (0-255): 0-9, 10 "*", 11 "#", 12-15 "A"-"D", 16 flash, others non-DTMF.
    event: int
    #: E bit: this report ends the event (the sender repeats it, normally three times).
    end: bool
    #: Tone power in -dBm0 (0 loudest, 63 quietest).
    volume: int
    #: Time since the event's RTP timestamp, in timestamp units (the payload's clock rate).
    duration: int

    @property
    def digit(self) -> str | None:
        """The key: "0"-"9", "*", "#", "A"-"D", "!" for flash; None for non-DTMF events."""
        return _DIGITS[self.event] if self.event < len(_DIGITS) else None


def parse_telephone_event(payload: bytes) -> TelephoneEvent:
    """Parse one 4-byte RFC 4733 payload; :class:`CodecError` if it is not one.

    The R bit is reserved and, as RFC 4733 requires of receivers, ignored. Any event code is
    accepted here (codes above 16 are other tones and signals, see :attr:`TelephoneEvent.digit`).
    Packets that report several events, or carry RFC 2198 redundancy, are not unpacked here and
    fail the length check.
    """
    if not isinstance(payload, bytes | bytearray | memoryview):
        raise CodecError(f"telephone-event payload must be bytes, got {type(payload).__name__}")
    if len(payload) != PAYLOAD_SIZE:
        raise CodecError(
            f"telephone-event payload must be {PAYLOAD_SIZE} bytes, got {len(payload)}"
        )
    event, flags, duration = struct.unpack("!BBH", payload)
    return TelephoneEvent(
        event=event, end=bool(flags & 0x80), volume=flags & 0x3F, duration=duration
    )


@dataclass(frozen=True, slots=True)
class DtmfDigit:
    """One key press, reported once."""

    digit: str
    #: RTP timestamp of the start of the press (of its first segment, for long presses).
    rtp_timestamp: int
    #: Length of the press in timestamp units, as far as the received reports tell.
    duration: int
    #: False when no end report arrived: the press was closed by a later event, expiry or flush.
    ended: bool = True


@dataclass(frozen=True, slots=True)
class DtmfStats:
    """What a :class:`DtmfReceiver` has seen."""

    packets: int = 0
    digits: int = 0
    #: Payloads that failed to parse.
    malformed: int = 0
    #: Non-DTMF events (codes above 16), not interpreted.
    ignored: int = 0
    #: Reports of a press already reported or superseded (end retransmissions, late packets).
    stale: int = 0
    #: Presses reported without having seen their end (all end packets lost).
    unended: int = 0


@dataclass(slots=True)
class _Press:
    event: int
    start: int  # RTP timestamp of the first segment
    segment: int  # RTP timestamp of the current segment
    segment_duration: int  # largest duration seen in the current segment
    previous_segments: int  # summed duration of the segments before the current one
    done: bool = False

    @property
    def duration(self) -> int:
        return self.previous_segments + self.segment_duration


def _ts_after(a: int, b: int) -> int:
    """How far timestamp ``a`` is after ``b`` modulo 2**32, as a signed value."""
    diff = (a - b) % _TS_MOD
    return diff - _TS_MOD if diff >= _TS_HALF else diff


class DtmfReceiver:
    """Sans-I/O receiver for one RTP stream's ``telephone-event`` packets.

    Feed every packet of the negotiated telephone-event payload type, in arrival order, to
    :meth:`feed`; it returns the presses that became complete. A press completes on its first
    end report, or when a report with a later timestamp shows a new event has begun (the old
    one's end packets were lost). Reports for a timestamp older than the current press are
    stale and ignored, so retransmissions and reordering never produce a second digit.
    """

    def __init__(self) -> None:
        self._press: _Press | None = None
        self._packets = 0
        self._digits = 0
        self._malformed = 0
        self._ignored = 0
        self._stale = 0
        self._unended = 0

    @property
    def stats(self) -> DtmfStats:
        """Counters so far (a snapshot)."""
        return DtmfStats(
            packets=self._packets,
            digits=self._digits,
            malformed=self._malformed,
            ignored=self._ignored,
            stale=self._stale,
            unended=self._unended,
        )

    @property
    def pending(self) -> bool:
        """True while a press has started and not yet been reported."""
        return self._press is not None and not self._press.done

    def feed(self, rtp_timestamp: int, marker: bool, payload: bytes) -> list[DtmfDigit]:
        """Take one packet; returns the presses it completes (usually none or one).

        A malformed payload raises :class:`CodecError` (so the caller can count and log it)
        and leaves the receiver exactly as it was: the next packets still complete the press.
        """
        self._packets += 1
        try:
            report = parse_telephone_event(payload)
        except CodecError:
            self._malformed += 1
            raise
        if report.digit is None:
            self._ignored += 1
            return []
        timestamp = rtp_timestamp % _TS_MOD
        press = self._press
        if press is None:
            return self._start(timestamp, report)
        after = _ts_after(timestamp, press.segment)
        if after < 0 or (after == 0 and press.done):
            self._stale += 1
            return []
        if after == 0:
            return self._update(press, report)
        if not press.done and self._continues(press, timestamp, marker, report):
            press.previous_segments += after
            press.segment = timestamp
            press.segment_duration = 0
            return self._update(press, report)
        closed = self._close(press, ended=False) if not press.done else []
        return closed + self._start(timestamp, report)

    def expire(self, rtp_timestamp: int, timeout: int) -> list[DtmfDigit]:
        """Close a press whose last report is more than ``timeout`` units before ``rtp_timestamp``.

        Call it with the audio stream's current RTP timestamp (same clock as the events) so a
        press whose end packets were all lost is still reported, ``timeout`` after it went quiet.
        """
        press = self._press
        if press is None or press.done:
            return []
        last_report = (press.segment + press.segment_duration) % _TS_MOD
        if _ts_after(rtp_timestamp % _TS_MOD, last_report) > timeout:
            return self._close(press, ended=False)
        return []

    def flush(self) -> list[DtmfDigit]:
        """End of stream: report a press still open (its end was never seen)."""
        press = self._press
        if press is None or press.done:
            return []
        return self._close(press, ended=False)

    @staticmethod
    def _continues(press: _Press, timestamp: int, marker: bool, report: TelephoneEvent) -> bool:
        # A long press's next segment starts where the previous one ended, without a marker.
        # Requiring the exact boundary keeps a second press of the same key (whose first,
        # marked packet was lost) from being merged into the first.
        if marker or report.event != press.event:
            return False
        boundary = _ts_after(timestamp, press.segment)
        return boundary in (press.segment_duration, _MAX_DURATION)

    def _start(self, timestamp: int, report: TelephoneEvent) -> list[DtmfDigit]:
        # The marker bit is not required: the first packet of a press may have been lost.
        press = _Press(
            event=report.event,
            start=timestamp,
            segment=timestamp,
            segment_duration=report.duration,
            previous_segments=0,
        )
        self._press = press
        return self._close(press, ended=True) if report.end else []

    def _update(self, press: _Press, report: TelephoneEvent) -> list[DtmfDigit]:
        # Reordered updates may carry a smaller duration than one already seen: keep the max.
        press.segment_duration = max(press.segment_duration, report.duration)
        return self._close(press, ended=True) if report.end else []

    def _close(self, press: _Press, *, ended: bool) -> list[DtmfDigit]:
        press.done = True
        self._digits += 1
        if not ended:
            self._unended += 1
        return [
            DtmfDigit(
                digit=_DIGITS[press.event],
                rtp_timestamp=press.start,
                duration=press.duration,
                ended=ended,
            )
        ]
