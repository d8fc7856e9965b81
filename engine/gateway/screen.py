"""One authenticated screen: its bounded outbox, its sender task, its follows, its closing.

The log listener only enqueues (:meth:`Screen.deliver`, never awaits); the screen's one sender
task writes the outbox to the websocket, so one screen's slowness never delays another screen
or the producer. A screen whose outbox overflows gets a ``resync`` written past its queue and
is closed with 4408 (:meth:`Screen.terminate`). A follow reads the call's history page by page
while live events are buffered by its :class:`~jiesu.engine.gateway.outbox.FollowCursor`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

from jiesu.engine.auth import Claims
from jiesu.engine.events import Event, event_to_json
from jiesu.engine.gateway.access import Scope
from jiesu.engine.gateway.outbox import FollowCursor, Outbox, Pushed
from jiesu.engine.gateway.protocol import (
    CLOSE_AUTH_FAILED,
    CLOSE_RESYNC,
    Error,
    Following,
    Resync,
    ServerMessage,
    message_to_json,
)
from jiesu.engine.metrics import Metrics

log = logging.getLogger(__name__)

#: Events read from the log per history page while a follow catches up.
HISTORY_PAGE = 256
#: The sender yields to the loop after this many messages written without waiting.
SEND_BURST = 64

M_RESYNCS = "gateway_resyncs_total"
M_EVENTS_SENT = "gateway_events_sent_total"
M_COALESCED = "gateway_partials_coalesced_total"
M_EXPIRED = "gateway_sessions_expired_total"

#: Reads a call's events after a seq, at most a page (:meth:`EventLog.read`).
HistoryReader = Callable[[str, int, int], Awaitable[list[Event]]]


@dataclass(slots=True)
class Outgoing:
    """One queued frame; ``call_id``/``seq`` are set for call events."""

    text: str
    call_id: str | None = None
    seq: int = 0


#: A queued frame with its coalesce key, as a follow cursor buffers it.
Keyed = tuple[Outgoing, Hashable | None]


class Screen:
    """Delivery state of one authenticated screen (lives on the loop only).

    ``closers`` collects the closing-handshake tasks so that the server can await them.
    """

    def __init__(
        self,
        ws: ServerConnection,
        claims: Claims,
        fingerprint: str,
        *,
        limit: int,
        metrics: Metrics,
        closers: set[asyncio.Task[None]],
        close_timeout: float,
    ) -> None:
        self.ws = ws
        self.claims = claims
        self.scope = Scope.of(claims)
        self.fingerprint = fingerprint
        self.outbox: Outbox[Outgoing] = Outbox(limit)
        self.low_water = max(1, limit // 2)
        self.wakeup = asyncio.Event()
        self.room = asyncio.Event()
        self.room.set()
        self.follows: dict[str, FollowCursor[Keyed]] = {}
        self.catch_ups: dict[str, asyncio.Task[None]] = {}
        self.sender: asyncio.Task[None] | None = None
        self.expiry: asyncio.TimerHandle | None = None
        self.closing = False
        self.bad_messages = 0
        self._metrics = metrics
        self._closers = closers
        self._close_timeout = close_timeout

    def active(self) -> bool:
        """False once the screen is being closed (a call, so that type narrowing cannot stick)."""
        return not self.closing

    def __repr__(self) -> str:
        return f"<screen {self.claims.role.value}:{self.claims.sub} token={self.fingerprint}>"

    def push(self, item: Outgoing, key: Hashable | None = None) -> bool:
        """Enqueue; False when the screen overflowed (and is being dropped)."""
        result = self.outbox.push(item, key)
        if result is Pushed.OVERFLOW:
            self.resync()
            return False
        if result is Pushed.COALESCED:
            self._metrics.inc(M_COALESCED)
        self.wakeup.set()
        return True

    def control(self, message: ServerMessage) -> bool:
        """Queue a control message behind the events already queued."""
        if self.closing:
            return False
        return self.push(Outgoing(message_to_json(message)))

    def deliver(self, event: Event, item: Outgoing, key: Hashable | None, board: bool) -> None:
        """A live event routed here: followed calls go through their cursor, others only if
        ``board`` (a board event)."""
        if self.closing:
            return
        cursor = self.follows.get(event.call_id)
        if cursor is not None:
            if not cursor.on_live(event.seq, (item, key)):
                return
        elif not board:
            return
        self.push(item, key)

    def start_sender(self) -> None:
        self.sender = asyncio.create_task(self._send_loop(), name=f"send {self!r}")

    async def _send_loop(self) -> None:
        ws, outbox = self.ws, self.outbox
        burst = 0
        try:
            while True:
                if not outbox:
                    self.room.set()
                    self.wakeup.clear()
                    burst = 0
                    await self.wakeup.wait()
                    continue
                item = outbox.pop()
                if len(outbox) < self.low_water:
                    self.room.set()
                await ws.send(item.text)
                if item.call_id is not None:
                    self._metrics.inc(M_EVENTS_SENT)
                burst += 1
                if burst >= SEND_BURST:
                    burst = 0
                    await asyncio.sleep(0)  # let other screens' senders and the log run
        except ConnectionClosed:
            return
        except Exception:
            log.exception("screen %r: sender failed", self)
            self.terminate(None, CloseCode.INTERNAL_ERROR, "internal error")

    def follow(self, call_id: str, after_seq: int, read: HistoryReader) -> None:
        """Stream the call from ``after_seq`` on: history read with ``read``, then live."""
        cursor: FollowCursor[Keyed] = FollowCursor(after_seq, HISTORY_PAGE)
        self.follows[call_id] = cursor
        # Board events of this call still queued would come again, in order, from the follow.
        self.outbox.discard(lambda item: item.call_id == call_id and item.seq > after_seq)
        if not self.control(Following(call_id, after_seq)):
            return
        task = asyncio.create_task(self._catch_up(call_id, cursor, read), name=f"follow {call_id}")
        self.catch_ups[call_id] = task
        task.add_done_callback(lambda t: self._catch_up_done(call_id, t))

    def drop_follow(self, call_id: str) -> None:
        self.follows.pop(call_id, None)
        task = self.catch_ups.pop(call_id, None)
        if task is not None:
            task.cancel()

    async def _catch_up(
        self, call_id: str, cursor: FollowCursor[Keyed], read: HistoryReader
    ) -> None:
        """Send the call's history after the cursor, then hand over to live delivery."""
        while True:
            events = await read(call_id, cursor.position, HISTORY_PAGE)
            for event in events:
                while len(self.outbox) >= self.low_water and not self.closing:
                    self.room.clear()
                    await self.room.wait()
                if self.closing or self.follows.get(call_id) is not cursor:
                    return
                if cursor.on_history(event.seq):
                    item = Outgoing(event_to_json(event), call_id, event.seq)
                    if not self.push(item, event.coalesce_key()):
                        return
            if self.closing or self.follows.get(call_id) is not cursor:
                return
            # No await between the last enqueue and this check: see FollowCursor.
            ready = cursor.finish_page(exhausted=len(events) < HISTORY_PAGE)
            if ready is not None:
                for item, key in ready:
                    if not self.push(item, key):
                        return
                return

    def _catch_up_done(self, call_id: str, task: asyncio.Task[None]) -> None:
        if self.catch_ups.get(call_id) is task:
            del self.catch_ups[call_id]
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("screen %r: catch-up of a call failed", self, exc_info=exc)
            error = Error("internal", "history_read_failed", call_id=call_id)
            self.terminate(message_to_json(error), CloseCode.INTERNAL_ERROR, "internal")

    def resync(self) -> None:
        if self.closing:
            return
        self._metrics.inc(M_RESYNCS)
        log.warning(
            "screen %r too slow (%d messages queued): told to resync", self, len(self.outbox)
        )
        self.terminate(message_to_json(Resync("slow_consumer")), CLOSE_RESYNC, "slow consumer")

    def expire(self) -> None:
        if self.closing:
            return
        self._metrics.inc(M_EXPIRED)
        log.info("screen %r: token expired, closing", self)
        message = message_to_json(Error("auth_failed", "expired"))
        self.terminate(message, CLOSE_AUTH_FAILED, "token expired")

    def terminate(self, message: str | None, code: int, reason: str) -> None:
        """Stop delivering, write ``message`` past the queue, close with ``code``.

        Synchronous (the log listener may call it); the closing handshake runs in a task.
        """
        if self.closing:
            return
        self.stop()
        task = asyncio.create_task(close_ws(self.ws, message, code, reason, self._close_timeout))
        self._closers.add(task)
        task.add_done_callback(self._closers.discard)

    def stop(self) -> None:
        """Stop delivering: cancel the tasks, drop the queue (idempotent).

        The follows stay listed, for the gateway to unroute when the connection ends; until
        then a closing screen ignores what it is given."""
        self.closing = True
        for task in self.catch_ups.values():
            task.cancel()
        if self.sender is not None:
            self.sender.cancel()
        if self.expiry is not None:
            self.expiry.cancel()
        self.outbox.clear()


async def close_ws(
    ws: ServerConnection, message: str | None, code: int, reason: str, close_timeout: float
) -> None:
    """Write ``message`` and a close frame now, even if the peer stopped reading.

    ``send`` and ``close`` write their frame before they wait for the transport to drain, so
    starting both as tasks puts both frames on the wire in order; a peer that does not answer
    the close within ``close_timeout`` is aborted.
    """
    tasks: list[asyncio.Task[None]] = []
    if message is not None:
        tasks.append(asyncio.create_task(ws.send(message)))
    closer = asyncio.create_task(ws.close(code, reason))
    tasks.append(closer)
    _, pending = await asyncio.wait({closer}, timeout=close_timeout)
    if pending:
        ws.transport.abort()
    await asyncio.wait(tasks, timeout=close_timeout)
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: ConnectionClosed here is expected
        else:
            task.cancel()
