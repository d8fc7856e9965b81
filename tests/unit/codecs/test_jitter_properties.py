"""Jitter buffer, randomized: invariants over random loss, duplication, reordering and stalls."""

from __future__ import annotations

import itertools

import pytest

pytest.importorskip(
    "hypothesis",
    reason="property tests need hypothesis (pip install hypothesis; it belongs in the test extra)",
)

from hypothesis import given, settings
from hypothesis import strategies as st

from jiesu.codecs.jitter import JitterBuffer, JitterStats, Loss, Packet, PushResult


def body(n: int) -> bytes:
    return f"frame-{n}".encode()


def accounted(stats: JitterStats, buffer: JitterBuffer) -> bool:
    return stats.received == (
        stats.played + stats.overflow + stats.duplicates + stats.late + buffer.held
    )


# A sender emits packet n (n = 0, 1, 2, ...) at tick n with sequence number (first + n) % 65536
# and payload body(n). The network loses, duplicates and delays packets by up to `jitter` ticks.
# The consumer pops once per tick.

Arrivals = list[tuple[int, int]]  # (arrival tick, packet number), sorted by tick


@st.composite
def network(draw: st.DrawFn) -> tuple[int, Arrivals, int]:
    first = draw(st.one_of(st.integers(0, 65535), st.integers(65400, 65535)))
    count = draw(st.integers(1, 150))
    jitter = draw(st.integers(0, 6))
    loss_pct = draw(st.sampled_from([0, 5, 20]))
    arrivals: Arrivals = []
    for n in range(count):
        if draw(st.integers(0, 99)) < loss_pct:
            continue
        copies = 2 if draw(st.integers(0, 99)) < 5 else 1
        arrivals += [(n + draw(st.integers(0, jitter)), n) for _ in range(copies)]
    arrivals.sort(key=lambda arrival: arrival[0])
    return first, arrivals, jitter


def number_of(item: Packet) -> int:
    return int(item.payload.removeprefix(b"frame-"))


def simulate(
    first: int, arrivals: Arrivals, buffer: JitterBuffer, stall_every: int = 0
) -> tuple[list[Packet | Loss], set[int]]:
    """Run the whole stream; returns every output and the packet numbers accepted."""
    outputs: list[Packet | Loss] = []
    accepted: set[int] = set()
    tick = position = 0
    while position < len(arrivals):
        while position < len(arrivals) and arrivals[position][0] <= tick:
            n = arrivals[position][1]
            position += 1
            if buffer.push((first + n) % 65536, (n * 160) % 2**32, body(n)) is PushResult.ACCEPTED:
                accepted.add(n)
            assert buffer.held <= buffer.capacity
        # A consumer that skips some ticks (a stalled thread) makes the buffer overflow.
        if not stall_every or tick % (stall_every + 1):
            item = buffer.pop()
            if item is not None:
                outputs.append(item)
        tick += 1
    outputs += buffer.flush()
    assert buffer.held == 0  # the end of the stream leaves nothing behind
    return outputs, accepted


def check_order_and_content(first: int, outputs: list[Packet | Loss]) -> int | None:
    """Strictly increasing indices, and packets carry what the sender put under their number.

    Returns the constant offset between a packet's index and its packet number.
    """
    indices = [item.index for item in outputs]
    assert all(b > a for a, b in itertools.pairwise(indices)), indices
    offsets = set()
    for item in outputs:
        assert item.seq == item.index % 65536
        if isinstance(item, Packet):
            n = number_of(item)
            assert item.seq == (first + n) % 65536
            assert item.timestamp == (n * 160) % 2**32
            offsets.add(item.index - n)
    assert len(offsets) <= 1  # the index is one unwrapped counter, across every wrap
    return offsets.pop() if offsets else None


@settings(max_examples=200, deadline=None)
@given(network(), st.integers(1, 8))
def test_every_sequence_number_is_played_or_lost_exactly_once(
    case: tuple[int, Arrivals, int], depth: int
) -> None:
    first, arrivals, _ = case
    buffer = JitterBuffer(depth=depth, capacity=400)  # never overflows in this regime
    outputs, accepted = simulate(first, arrivals, buffer)
    offset = check_order_and_content(first, outputs)
    indices = [item.index for item in outputs]
    # No gaps and no repeats: from the first output to the last, every sequence number comes
    # out exactly once, either as its packet or as a Loss.
    assert indices == list(range(indices[0], indices[0] + len(indices))) if indices else True
    played = {number_of(item) for item in outputs if isinstance(item, Packet)}
    # Every packet accepted was played (none vanished), and nothing else was.
    assert played == accepted
    if offset is not None:
        lost = {item.index - offset for item in outputs if isinstance(item, Loss)}
        sent = {n for _, n in arrivals}
        # A Loss is never declared for a packet that was accepted, and lies inside the stream.
        assert not lost & accepted
        assert all(0 <= n < max(sent) for n in lost)
    stats = buffer.stats
    assert stats.received == len(arrivals)
    assert stats.played == len(played)
    assert stats.lost == sum(isinstance(item, Loss) for item in outputs)
    assert stats.overflow == stats.skipped == 0
    assert accounted(stats, buffer)


@settings(max_examples=200, deadline=None)
@given(network(), st.integers(1, 12), st.integers(1, 8), st.integers(0, 3))
def test_invariants_hold_under_overflow_and_stalls(
    case: tuple[int, Arrivals, int], capacity: int, depth: int, stall_every: int
) -> None:
    first, arrivals, _ = case
    buffer = JitterBuffer(depth=min(depth, capacity), capacity=capacity)
    outputs, accepted = simulate(first, arrivals, buffer, stall_every)
    check_order_and_content(first, outputs)
    played = {number_of(item) for item in outputs if isinstance(item, Packet)}
    assert played <= accepted
    stats = buffer.stats
    assert stats.played == len(played)
    assert len(accepted) == stats.played + stats.overflow
    assert stats.lost == sum(isinstance(item, Loss) for item in outputs)
    assert accounted(stats, buffer)
    # Losses are only declared inside the window, never more than it holds in a row.
    streak = longest = 0
    for item in outputs:
        streak = streak + 1 if isinstance(item, Loss) else 0
        longest = max(longest, streak)
    assert longest < capacity
    # Every jump in the output is explained by a window slide.
    indices = [item.index for item in outputs]
    gaps = sum(b - a - 1 for a, b in itertools.pairwise(indices))
    assert gaps <= stats.overflow + stats.skipped
