"""Sans-I/O delivery state of one screen: the bounded outbox and the per-call follow cursor.

:class:`Outbox` is the screen's queue of messages waiting to be written. Its policy when full:

* an item with a coalesce key (a transcript partial: same call and leg) replaces the older
  item with that key still queued; the newer one goes to the tail, so the queue stays in
  ``seq`` order and never grows;
* any other item that would take the queue past ``limit`` is refused and the outbox is marked
  overflowed for good: the screen must be told to resync and closed. Finals, alerts and every
  other event are therefore never dropped silently.

:class:`FollowCursor` decides, for one followed call, which events to enqueue while the history
is read from the log and live events keep arriving, so that the screen gets every ``seq`` once,
in order (see :meth:`FollowCursor.finish_page`).

Nothing here does I/O or knows about asyncio; every operation is O(1) except
:meth:`Outbox.discard`.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Pushed(enum.Enum):
    QUEUED = "queued"
    #: Queued in place of an older item with the same key, which was removed.
    COALESCED = "coalesced"
    #: Refused: the outbox is full (now or earlier). The screen must resync.
    OVERFLOW = "overflow"


class Outbox(Generic[T]):
    """A bounded FIFO with latest-wins coalescing by key."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self._items: OrderedDict[int, tuple[Hashable | None, T]] = OrderedDict()
        self._by_key: dict[Hashable, int] = {}
        self._next_id = 0
        self.overflowed = False
        #: Items removed because a newer one with the same key was queued.
        self.coalesced = 0

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    def __iter__(self) -> Iterator[T]:
        """The queued items, oldest first (for inspection)."""
        return (item for _, item in self._items.values())

    def push(self, item: T, key: Hashable | None = None) -> Pushed:
        if self.overflowed:
            return Pushed.OVERFLOW
        result = Pushed.QUEUED
        if key is not None:
            old = self._by_key.pop(key, None)
            if old is not None:
                del self._items[old]
                self.coalesced += 1
                result = Pushed.COALESCED
        if result is Pushed.QUEUED and len(self._items) >= self.limit:
            self.overflowed = True
            return Pushed.OVERFLOW
        entry = self._next_id
        self._next_id += 1
        self._items[entry] = (key, item)
        if key is not None:
            self._by_key[key] = entry
        return result

    def pop(self) -> T:
        """Remove and return the oldest item; IndexError when empty."""
        try:
            entry, (key, item) = self._items.popitem(last=False)
        except KeyError:
            raise IndexError("pop from an empty outbox") from None
        if key is not None and self._by_key.get(key) == entry:
            del self._by_key[key]
        return item

    def discard(self, predicate: Callable[[T], bool]) -> int:
        """Remove every queued item for which ``predicate`` is true; returns how many. O(n)."""
        doomed = [entry for entry, (_, item) in self._items.items() if predicate(item)]
        for entry in doomed:
            key, _ = self._items.pop(entry)
            if key is not None and self._by_key.get(key) == entry:
                del self._by_key[key]
        return len(doomed)

    def clear(self) -> None:
        self._items.clear()
        self._by_key.clear()


class FollowCursor(Generic[T]):
    """Where one screen stands in one call's stream: history catch-up, then live.

    The event log publishes an event only after it is committed. While the history is read
    page by page from the log, live events of the call are kept in a small buffer (at most
    ``max_pending``; when it overflows it is emptied and refilled, which only costs another
    page read). After each page the cursor goes live — with no await between the check and
    the switch — if the buffer joins the history without a hole (the buffered events newer
    than the history are handed back to be queued), or if the buffer is empty and the read
    came back short (everything committed at that moment was read). Every later event reaches
    the listener after the switch. Otherwise another page is read. Duplicates are refused by
    ``seq`` throughout.
    """

    __slots__ = ("_pending", "live", "live_high", "max_pending", "position")

    def __init__(self, after_seq: int, max_pending: int = 256) -> None:
        #: Highest seq handed to the screen (or that the screen said it already has).
        self.position = after_seq
        self.live = False
        #: Highest seq seen live while catching up.
        self.live_high = after_seq
        self.max_pending = max_pending
        self._pending: list[tuple[int, T]] = []

    def on_live(self, seq: int, item: T) -> bool:
        """A live event arrived; True: enqueue ``item`` now (else it is buffered or a repeat)."""
        if self.live:
            if seq <= self.position:
                return False
            self.position = seq
            return True
        if seq > self.live_high:
            self.live_high = seq
        if seq > self.position:
            if len(self._pending) >= self.max_pending:
                self._pending.clear()
            self._pending.append((seq, item))
        return False

    def on_history(self, seq: int) -> bool:
        """An event read from the log; True: enqueue it now."""
        if seq <= self.position:
            return False
        self.position = seq
        return True

    def finish_page(self, exhausted: bool) -> list[T] | None:
        """After enqueuing one page of history: the buffered items to enqueue now, in order,
        as the cursor goes live; None while another page must be read.

        ``exhausted``: the read returned fewer events than asked for. The buffer is a run of
        consecutive seqs ending at :attr:`live_high` (live events arrive in seq order); if it
        starts right after :attr:`position` nothing is missing in between. With an empty
        buffer, only an exhausted read proves that nothing committed is left unread.
        """
        pending = [(seq, item) for seq, item in self._pending if seq > self.position]
        if pending and pending[0][0] == self.position + 1:
            ready = [item for _, item in pending]
            self.position = pending[-1][0]
        elif not pending and exhausted and self.position >= self.live_high:
            ready = []
        else:
            self._pending = pending
            return None
        self._pending = []
        self.live = True
        return ready
