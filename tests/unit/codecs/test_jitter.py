"""Jitter buffer scenarios: order, duplicates, late packets, losses, wraparound, capacity."""

from __future__ import annotations

import pytest

from jiesu.codecs.errors import CodecError
from jiesu.codecs.jitter import JitterBuffer, JitterStats, Loss, Packet, PushResult


def body(seq: int) -> bytes:
    return f"frame-{seq}".encode()


def push(buffer: JitterBuffer, *seqs: int) -> list[PushResult]:
    return [buffer.push(seq, (seq * 160) % 2**32, body(seq)) for seq in seqs]


def drain(buffer: JitterBuffer, ticks: int = 1000) -> list[Packet | Loss]:
    """Pop until the buffer has nothing more to give."""
    out: list[Packet | Loss] = []
    for _ in range(ticks):
        item = buffer.pop()
        if item is None:
            break
        out.append(item)
    return out


def describe(items: list[Packet | Loss]) -> list[str]:
    return [f"{x.seq}" if isinstance(x, Packet) else f"lost {x.seq}" for x in items]


def accounted(stats: JitterStats, buffer: JitterBuffer) -> bool:
    return stats.received == (
        stats.played + stats.overflow + stats.duplicates + stats.late + buffer.held
    )


def test_nothing_plays_until_depth_packets_are_held() -> None:
    buffer = JitterBuffer(depth=3)
    push(buffer, 10, 11)
    assert buffer.pop() is None
    push(buffer, 12)
    item = buffer.pop()
    assert isinstance(item, Packet)
    assert (item.seq, item.index, item.timestamp, item.payload) == (10, 10, 1600, body(10))


def test_reordered_packets_come_out_in_order() -> None:
    buffer = JitterBuffer(depth=4)
    assert push(buffer, 102, 100, 103, 101) == [PushResult.ACCEPTED] * 4
    assert describe(drain(buffer)) == ["100", "101", "102", "103"]
    assert buffer.stats.lost == 0


def test_duplicates_are_dropped_and_counted() -> None:
    buffer = JitterBuffer(depth=2)
    assert push(buffer, 5, 5, 6, 6) == [
        PushResult.ACCEPTED,
        PushResult.DUPLICATE,
        PushResult.ACCEPTED,
        PushResult.DUPLICATE,
    ]
    assert describe(drain(buffer)) == ["5", "6"]
    assert buffer.stats.duplicates == 2


def test_late_packet_after_its_turn_is_dropped() -> None:
    buffer = JitterBuffer(depth=2)
    push(buffer, 1, 3)
    assert describe([buffer.pop(), buffer.pop()]) == ["1", "lost 2"]  # type: ignore[list-item]
    assert push(buffer, 2) == [PushResult.LATE]  # already declared lost
    assert push(buffer, 1) == [PushResult.LATE]  # already played
    assert describe(drain(buffer)) == ["3"]
    assert buffer.stats.late == 2


def test_single_loss_yields_one_loss_entry() -> None:
    buffer = JitterBuffer(depth=3)
    push(buffer, 1, 2, 4, 5)
    items = drain(buffer)
    assert describe(items) == ["1", "2", "lost 3", "4", "5"]
    assert isinstance(items[2], Loss) and items[2].index == 3
    assert buffer.stats.lost == 1 and buffer.stats.played == 4


def test_burst_loss() -> None:
    buffer = JitterBuffer(depth=2)
    push(buffer, 1, 2, 8, 9)
    assert describe(drain(buffer)) == ["1", "2", *[f"lost {s}" for s in range(3, 8)], "8", "9"]
    assert buffer.stats.lost == 5


def test_sequence_wraparound() -> None:
    buffer = JitterBuffer(depth=3)
    push(buffer, 65534, 0, 65535, 1, 3)  # reordered across the wrap, 2 lost
    items = drain(buffer)
    assert describe(items) == ["65534", "65535", "0", "1", "lost 2", "3"]
    assert [x.index for x in items] == list(range(65534, 65540))


def test_reordered_before_the_first_packet_at_wrap() -> None:
    buffer = JitterBuffer(depth=2)
    push(buffer, 0, 65535)  # the earlier packet arrives second
    assert describe(drain(buffer)) == ["65535", "0"]


def test_underrun_rebuffers_instead_of_inventing_losses() -> None:
    # A sender that pauses (hold, silence suppression) keeps its sequence numbers: the buffer must
    # wait for it rather than declare the next numbers lost and then reject them as late.
    buffer = JitterBuffer(depth=2)
    push(buffer, 1, 2)
    assert describe(drain(buffer)) == ["1", "2"]
    assert [buffer.pop() for _ in range(5)] == [None] * 5
    assert buffer.stats.underruns == 1
    push(buffer, 3)
    assert buffer.pop() is None  # rebuffering: one held, depth 2
    push(buffer, 4)
    assert describe(drain(buffer)) == ["3", "4"]
    assert buffer.stats.lost == 0 and buffer.stats.late == 0


def test_a_lone_packet_plays_after_waiting_depth_ticks() -> None:
    buffer = JitterBuffer(depth=3)
    push(buffer, 7)  # the sender then pauses
    assert [buffer.pop(), buffer.pop()] == [None, None]
    item = buffer.pop()
    assert isinstance(item, Packet) and item.seq == 7


def test_flush_hands_out_the_rest_in_order_with_losses() -> None:
    buffer = JitterBuffer(depth=10)
    push(buffer, 4, 1, 2)
    assert buffer.pop() is None
    assert describe(buffer.flush()) == ["1", "2", "lost 3", "4"]
    assert buffer.held == 0 and buffer.flush() == []
    assert push(buffer, 3) == [PushResult.LATE]
    assert (buffer.stats.played, buffer.stats.lost) == (3, 1)


def test_overflow_drops_the_oldest_and_counts_it() -> None:
    buffer = JitterBuffer(depth=2, capacity=4)
    push(buffer, *range(10, 16))  # consumer stalled: 6 packets for a window of 4
    assert buffer.held == 4
    assert buffer.stats.overflow == 2
    assert describe(drain(buffer)) == ["12", "13", "14", "15"]
    assert accounted(buffer.stats, buffer)


def test_sequence_jump_slides_the_window_without_a_flood_of_losses() -> None:
    buffer = JitterBuffer(depth=2, capacity=8)
    push(buffer, 100, 101)
    drain(buffer)
    push(buffer, 5000, 5001)  # the sender jumped its sequence numbers
    assert describe(drain(buffer)) == ["5000", "5001"]
    assert buffer.stats.skipped == 5000 - 102
    assert buffer.stats.lost == 0 and buffer.stats.overflow == 0


def test_overflow_resumes_at_the_oldest_held_packet() -> None:
    buffer = JitterBuffer(depth=3, capacity=4)
    push(buffer, 10, 12, 13)  # 11 lost
    push(buffer, 14)  # the window [11, 14] no longer holds 10
    assert describe(drain(buffer)) == ["12", "13", "14"]
    assert (buffer.stats.overflow, buffer.stats.skipped) == (1, 1)


def test_packet_older_than_the_window_is_late() -> None:
    buffer = JitterBuffer(depth=5, capacity=5)
    push(buffer, 20, 21, 22)
    assert push(buffer, 16) == [PushResult.LATE]  # 22 - 16 >= capacity
    assert push(buffer, 18) == [PushResult.ACCEPTED]


def test_stats_identity() -> None:
    buffer = JitterBuffer(depth=2, capacity=5)
    push(buffer, 1, 1, 3, 2, 9, 10, 11, 12, 2)
    drain(buffer)
    stats = buffer.stats
    assert stats.received == 9
    assert accounted(stats, buffer)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((-1, 0, b""), "sequence"),
        ((65536, 0, b""), "sequence"),
        ((0, 2**32, b""), "timestamp"),
        ((0, -5, b""), "timestamp"),
        ((0, 0, "x"), "bytes"),
    ],
)
def test_bad_push_arguments(args: tuple[object, object, object], match: str) -> None:
    with pytest.raises(CodecError, match=match):
        JitterBuffer().push(*args)  # type: ignore[arg-type]


@pytest.mark.parametrize(("depth", "capacity"), [(0, 10), (5, 4), (True, 10)])
def test_bad_configuration(depth: int, capacity: int) -> None:
    with pytest.raises(CodecError, match=r"depth|capacity"):
        JitterBuffer(depth=depth, capacity=capacity)
