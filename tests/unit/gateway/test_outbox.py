"""The per-screen outbox (bounded, latest-wins partials) and the follow cursor."""

from __future__ import annotations

import pytest

from jiesu.engine.gateway.outbox import FollowCursor, Outbox, Pushed


def drain(box: Outbox[str]) -> list[str]:
    out = []
    while box:
        out.append(box.pop())
    return out


def test_fifo_order() -> None:
    box: Outbox[str] = Outbox(limit=10)
    for item in "abc":
        assert box.push(item) is Pushed.QUEUED
    assert len(box) == 3
    assert drain(box) == ["a", "b", "c"]
    with pytest.raises(IndexError):
        box.pop()


def test_newer_partial_replaces_older_and_moves_to_the_tail() -> None:
    box: Outbox[str] = Outbox(limit=10)
    box.push("p1-caller", key=("c1", "caller"))
    box.push("final", None)
    box.push("p1-agent", key=("c1", "agent"))
    assert box.push("p2-caller", key=("c1", "caller")) is Pushed.COALESCED
    assert box.coalesced == 1
    # The replaced partial is gone; the new one is behind the final, so seq order holds.
    assert drain(box) == ["final", "p1-agent", "p2-caller"]


def test_key_is_free_again_once_its_item_was_sent() -> None:
    box: Outbox[str] = Outbox(limit=10)
    box.push("p1", key="k")
    assert box.pop() == "p1"
    assert box.push("p2", key="k") is Pushed.QUEUED
    assert box.coalesced == 0
    assert drain(box) == ["p2"]


def test_overflow_refuses_and_sticks() -> None:
    box: Outbox[str] = Outbox(limit=3)
    for item in "abc":
        assert box.push(item) is Pushed.QUEUED
    assert box.push("d") is Pushed.OVERFLOW
    assert box.overflowed
    assert drain(box) == ["a", "b", "c"]  # nothing queued was dropped
    assert box.push("e") is Pushed.OVERFLOW  # the screen must resync; no more deliveries


def test_full_queue_still_takes_a_coalescing_partial() -> None:
    box: Outbox[str] = Outbox(limit=3)
    box.push("p1", key="k")
    box.push("f1")
    box.push("f2")
    assert box.push("p2", key="k") is Pushed.COALESCED
    assert not box.overflowed
    assert box.push("p3", key="other") is Pushed.OVERFLOW
    assert drain(box) == ["f1", "f2", "p2"]


def test_finals_are_never_coalesced() -> None:
    box: Outbox[str] = Outbox(limit=100)
    for i in range(50):
        box.push(f"final{i}")
    assert len(box) == 50 and box.coalesced == 0


def test_discard_removes_matching_items_and_their_keys() -> None:
    box: Outbox[tuple[str, int]] = Outbox(limit=10)
    box.push(("c1", 1))
    box.push(("c2", 2), key="c2")
    box.push(("c1", 3), key="c1")
    box.push(("c1", 4))
    assert box.discard(lambda item: item[0] == "c1" and item[1] > 1) == 2
    assert list(box) == [("c1", 1), ("c2", 2)]
    assert box.push(("c1", 5), key="c1") is Pushed.QUEUED  # key was released
    assert box.push(("c2", 6), key="c2") is Pushed.COALESCED


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Outbox(limit=0)


def test_many_pushes_and_pops_stay_bounded() -> None:
    box: Outbox[int] = Outbox(limit=5)
    for i in range(10_000):
        assert box.push(i, key=i % 3) in (Pushed.QUEUED, Pushed.COALESCED)
        if i % 2:
            box.pop()
    assert len(box) <= 3


# --- FollowCursor ---------------------------------------------------------------------------


def test_cursor_buffers_live_events_while_catching_up() -> None:
    cursor: FollowCursor[str] = FollowCursor(after_seq=10)
    assert not cursor.on_live(14, "e14")
    assert not cursor.on_live(15, "e15")
    assert cursor.live_high == 15
    # History 11..13 read and exhausted: the buffer joins it, so it goes live with 14, 15.
    assert [s for s in (11, 12, 13) if cursor.on_history(s)] == [11, 12, 13]
    assert cursor.finish_page(exhausted=True) == ["e14", "e15"]
    assert cursor.live and cursor.position == 15
    assert not cursor.on_live(15, "e15")  # a repeat
    assert cursor.on_live(16, "e16")
    assert cursor.position == 16


def test_cursor_reads_again_when_the_buffer_leaves_a_hole() -> None:
    cursor: FollowCursor[str] = FollowCursor(after_seq=0, max_pending=2)
    for seq in (5, 6, 7):  # the buffer overflows on 7 and starts again: it holds 7 alone
        cursor.on_live(seq, f"e{seq}")
    assert [s for s in (1, 2, 3) if cursor.on_history(s)] == [1, 2, 3]
    assert cursor.finish_page(exhausted=True) is None  # 4..6 neither read nor buffered
    assert not cursor.live
    assert [s for s in (4, 5, 6) if cursor.on_history(s)] == [4, 5, 6]
    assert cursor.finish_page(exhausted=False) == ["e7"]
    assert cursor.live and cursor.position == 7


def test_cursor_drops_buffered_events_that_history_covered() -> None:
    cursor: FollowCursor[str] = FollowCursor(after_seq=0)
    cursor.on_live(3, "e3")
    cursor.on_live(4, "e4")
    assert [s for s in (1, 2, 3) if cursor.on_history(s)] == [1, 2, 3]
    assert cursor.finish_page(exhausted=True) == ["e4"]


def test_cursor_does_not_go_live_on_a_full_page_without_live_events() -> None:
    cursor: FollowCursor[str] = FollowCursor(after_seq=0)
    for s in range(1, 257):
        cursor.on_history(s)
    assert cursor.finish_page(exhausted=False) is None
    assert not cursor.live


def test_cursor_goes_live_on_a_full_page_when_the_buffer_joins() -> None:
    cursor: FollowCursor[str] = FollowCursor(after_seq=0)
    cursor.on_live(5, "e5")
    cursor.on_live(6, "e6")
    for s in range(1, 5):
        cursor.on_history(s)
    assert cursor.finish_page(exhausted=False) == ["e5", "e6"]


def test_cursor_refuses_duplicates_and_old_events() -> None:
    cursor: FollowCursor[str] = FollowCursor(after_seq=5)
    assert not cursor.on_history(5)
    assert not cursor.on_history(3)
    assert cursor.on_history(6)
    assert cursor.finish_page(exhausted=True) == []
    assert not cursor.on_live(6, "e6")
    assert cursor.on_live(7, "e7")
    assert not cursor.on_live(7, "e7")


@pytest.mark.parametrize("max_pending", [64, 256])
@pytest.mark.parametrize("published_per_read", [0, 1, 4, 9])
def test_cursor_simulated_race_has_no_gap_and_no_duplicate(
    max_pending: int, published_per_read: int
) -> None:
    """Events keep being committed (and published) while every page is read."""
    page = 5
    log: list[int] = list(range(1, 21))  # committed before the follow
    cursor: FollowCursor[int] = FollowCursor(after_seq=4, max_pending=max_pending)
    sent: list[int] = []
    next_seq = 21

    def publish(n: int) -> None:
        nonlocal next_seq
        for _ in range(n):
            log.append(next_seq)
            if cursor.on_live(next_seq, next_seq):
                sent.append(next_seq)
            next_seq += 1

    for _reads in range(1000):
        snapshot = [s for s in log if s > cursor.position][:page]
        publish(published_per_read)  # committed after the read, published before its result
        for s in snapshot:
            if cursor.on_history(s):
                sent.append(s)
        ready = cursor.finish_page(exhausted=len(snapshot) < page)
        if ready is not None:
            sent.extend(ready)
            break
    assert cursor.live, "the catch-up never caught up"
    publish(5)
    assert sent == list(range(5, next_seq))
