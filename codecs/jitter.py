"""Sans-I/O jitter buffer for one RTP stream's payloads.

The network thread :meth:`JitterBuffer.push`\\ es packets as they arrive; the media clock calls
:meth:`JitterBuffer.pop` once per packet interval (e.g. every 20 ms) and gets the next packet in
sequence order, a :class:`Loss` where one is missing, or ``None`` when there is nothing to play
yet. The buffer never reads a clock and never decodes: it orders opaque payloads.

Policies, all counted in :class:`JitterStats`:

* Start and underrun: playout starts once ``depth`` packets are held, or once a packet has
  waited ``depth`` ticks (so a lone packet before a pause is not held back for ever). If the
  buffer runs dry while playing, ``pop`` returns ``None`` and playout buffers again (an
  ``underrun``), rather than declaring packets lost that may simply not be sent yet (a paused
  or on-hold sender keeps its sequence numbers going where it left off). :meth:`flush` hands
  out whatever is held at the end of the stream.
* Gaps: a missing sequence number is declared a :class:`Loss` when its turn comes and a later
  packet is already held, so the consumer can conceal exactly one packet interval.
* Duplicates (a sequence number already held) are dropped. Late packets (a sequence number
  already played, declared lost or skipped) are dropped.
* Capacity: the buffer covers at most ``capacity`` consecutive sequence numbers. A packet
  beyond that window slides the window forward: held packets that fall out of it are dropped
  (``overflow``), playout resumes at the oldest packet still held, and sequence numbers passed
  over without having arrived are ``skipped``; neither is reported as :class:`Loss`. This
  bounds memory and latency when the consumer stalls or the sender jumps its sequence
  numbers, and drops the oldest audio, which is the least useful to a real-time listener.

Sequence numbers are 16-bit and wrap; each packet also gets an extended ``index`` that does not
wrap (the first packet's index is its sequence number), which downstream code can use as a
gap-free frame counter.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from jiesu.codecs.errors import CodecError

__all__ = ["JitterBuffer", "JitterStats", "Loss", "Packet", "PushResult"]

_SEQ_MOD = 1 << 16
_SEQ_HALF = 1 << 15
_TS_MOD = 1 << 32


@dataclass(frozen=True, slots=True)
class Packet:
    """A packet handed to the consumer in sequence order."""

    #: RTP sequence number as received (0-65535).
    seq: int
    #: Extended sequence number: ``seq`` plus 65536 per wrap, relative to the first packet.
    index: int
    #: RTP timestamp as received.
    timestamp: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class Loss:
    """The packet due now never arrived: conceal one packet interval."""

    seq: int
    index: int


class PushResult(enum.Enum):
    """What :meth:`JitterBuffer.push` did with a packet."""

    #: Held for playout (possibly pushing older packets out, see ``JitterStats.overflow``).
    ACCEPTED = "accepted"
    #: Same sequence number already held; dropped.
    DUPLICATE = "duplicate"
    #: Its turn has passed (played, declared lost or skipped), or it is further behind the newest
    #: packet than the buffer's capacity; dropped.
    LATE = "late"


@dataclass(frozen=True, slots=True)
class JitterStats:
    """Counters of one :class:`JitterBuffer` (a snapshot).

    Every pushed packet is exactly one of: played, overflow, duplicate, late, or still held;
    so ``received == played + overflow + duplicates + late + held``.
    """

    #: Packets pushed, whatever became of them.
    received: int = 0
    #: Packets handed out by ``pop``.
    played: int = 0
    duplicates: int = 0
    late: int = 0
    #: :class:`Loss` entries handed out by ``pop``.
    lost: int = 0
    #: Held packets dropped unplayed because the window had to slide past them.
    overflow: int = 0
    #: Sequence numbers jumped over by a window slide without having arrived (no Loss emitted).
    skipped: int = 0
    #: Times playout ran dry and went back to buffering.
    underruns: int = 0


class JitterBuffer:
    """Reorders one RTP stream's packets for playout; see the module docstring for policies."""

    def __init__(self, depth: int = 3, capacity: int = 50) -> None:
        """``depth``: packets (or ticks) of buffering before playout (re)starts; ``capacity``:
        the most consecutive sequence numbers held, counted from the one due next."""
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
            raise CodecError(f"jitter buffer depth must be an integer >= 1, got {depth!r}")
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < depth:
            raise CodecError(
                f"jitter buffer capacity must be an integer >= depth ({depth}), got {capacity!r}"
            )
        self.depth = depth
        self.capacity = capacity
        self._held: dict[int, Packet] = {}
        #: Index due next; None until playout first starts or the window first slides.
        self._next: int | None = None
        #: Highest index accepted so far: the reference for unwrapping sequence numbers.
        self._highest: int | None = None
        self._playing = False
        #: Ticks spent buffering with at least one packet held.
        self._waited = 0
        self._received = 0
        self._played = 0
        self._duplicates = 0
        self._late = 0
        self._lost = 0
        self._overflow = 0
        self._skipped = 0
        self._underruns = 0

    @property
    def stats(self) -> JitterStats:
        """Counters so far."""
        return JitterStats(
            received=self._received,
            played=self._played,
            duplicates=self._duplicates,
            late=self._late,
            lost=self._lost,
            overflow=self._overflow,
            skipped=self._skipped,
            underruns=self._underruns,
        )

    @property
    def held(self) -> int:
        """Packets waiting for playout."""
        return len(self._held)

    @property
    def playing(self) -> bool:
        """False while (re)buffering up to ``depth`` packets."""
        return self._playing

    def push(self, seq: int, timestamp: int, payload: bytes) -> PushResult:
        """Offer one received packet; :class:`CodecError` if the arguments are out of range."""
        if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < _SEQ_MOD:
            raise CodecError(f"RTP sequence number must be 0-65535, got {seq!r}")
        if isinstance(timestamp, bool) or not isinstance(timestamp, int):
            raise CodecError(f"RTP timestamp must be an integer, got {timestamp!r}")
        if not 0 <= timestamp < _TS_MOD:
            raise CodecError(f"RTP timestamp must be 0-4294967295, got {timestamp}")
        if not isinstance(payload, bytes):
            raise CodecError(f"RTP payload must be bytes, got {type(payload).__name__}")
        self._received += 1
        index = self._unwrap(seq)
        if self._next is not None and index < self._next:
            self._late += 1
            return PushResult.LATE
        if self._highest is not None and index <= self._highest - self.capacity:
            self._late += 1
            return PushResult.LATE
        if index in self._held:
            self._duplicates += 1
            return PushResult.DUPLICATE
        self._held[index] = Packet(seq=seq, index=index, timestamp=timestamp, payload=payload)
        if self._highest is None or index > self._highest:
            self._highest = index
            self._slide_window()
        return PushResult.ACCEPTED

    def pop(self) -> Packet | Loss | None:
        """One playout tick: the next packet, a :class:`Loss`, or None (buffering, nothing due)."""
        if not self._playing:
            if not self._held:
                self._waited = 0
                return None
            self._waited += 1
            if len(self._held) < self.depth and self._waited < self.depth:
                return None
            self._playing = True
            self._waited = 0
            if self._next is None:
                self._next = min(self._held)
        if not self._held:
            self._playing = False
            self._underruns += 1
            return None
        assert self._next is not None  # set when playout started
        index = self._next
        self._next += 1
        packet = self._held.pop(index, None)
        if packet is None:
            self._lost += 1
            return Loss(seq=index % _SEQ_MOD, index=index)
        self._played += 1
        return packet

    def flush(self) -> list[Packet | Loss]:
        """End of stream: everything still held, in order, with a :class:`Loss` for each gap.

        Afterwards the buffer is empty and buffering again; packets for numbers already handed
        out stay late.
        """
        out: list[Packet | Loss] = []
        if self._held:
            index = self._next if self._next is not None else min(self._held)
            last = max(self._held)
            while index <= last:
                packet = self._held.pop(index, None)
                if packet is None:
                    self._lost += 1
                    out.append(Loss(seq=index % _SEQ_MOD, index=index))
                else:
                    self._played += 1
                    out.append(packet)
                index += 1
            self._next = index
        self._playing = False
        self._waited = 0
        return out

    def _unwrap(self, seq: int) -> int:
        if self._highest is None:
            return seq
        # The nearest index with these low 16 bits: RTP reordering spans far less than 2**15.
        diff = (seq - self._highest) % _SEQ_MOD
        if diff >= _SEQ_HALF:
            diff -= _SEQ_MOD
        return self._highest + diff

    def _slide_window(self) -> None:
        assert self._highest is not None
        low = self._next if self._next is not None else min(self._held)
        new_low = self._highest - self.capacity + 1
        if new_low <= low:
            return
        dropped = [index for index in self._held if index < new_low]
        for index in dropped:
            del self._held[index]
        # Resume at the oldest packet still held: the window only slides when playout has
        # fallen behind, so concealing the gap in front of it would only add more delay.
        resume = min(self._held)
        self._overflow += len(dropped)
        self._skipped += (resume - low) - len(dropped)
        self._next = resume
