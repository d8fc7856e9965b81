"""The screen gateway: a websockets server that streams durable call events to screens.

I/O edge of the screen protocol (``docs/screen-protocol.md``). The gateway subscribes itself to
the :class:`~jiesu.engine.eventlog.EventLog`; producers only append to the log, so a screen
never sees an event that is not on disk, and a screen that reconnects can resume from it.

Per screen there is one bounded :class:`~jiesu.engine.gateway.outbox.Outbox` and one sender
task. The log listener only routes and enqueues (O(targets), never awaits): one screen's
slowness never delays another screen or the producer. A screen whose outbox overflows gets a
``resync`` message written past its queue and is closed with 4408.

Plain HTTP on the same port: ``GET /healthz``, ``GET /metrics``, and the screens' web files
(``/``, ``/agent``, ``/supervisor``, ``/assets/NAME``; see :mod:`jiesu.engine.gateway.static`).
"""

from __future__ import annotations

import asyncio
import http
import logging
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TypeVar

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.http11 import Request, Response
from websockets.typing import Origin

from jiesu.engine.auth import AuthError, Claims, TokenSigner, token_fingerprint
from jiesu.engine.config import GatewayConfig
from jiesu.engine.eventlog import EventLog
from jiesu.engine.events import BOARD_TYPES, CallEnded, CallStarted, Event, event_to_json
from jiesu.engine.gateway.access import Scope, may_open_screen
from jiesu.engine.gateway.outbox import FollowCursor, Outbox, Pushed
from jiesu.engine.gateway.protocol import (
    CLOSE_AUTH_FAILED,
    CLOSE_BAD_MESSAGES,
    CLOSE_RESYNC,
    CLOSE_TRY_AGAIN_LATER,
    SCREEN_PROTOCOL,
    BoardEntry,
    Error,
    Follow,
    Following,
    Hello,
    Resync,
    ServerMessage,
    Unfollow,
    Unfollowed,
    Welcome,
    message_to_json,
    parse_client_message,
)
from jiesu.engine.gateway.static import StaticReply, StaticSite
from jiesu.engine.metrics import Metrics
from jiesu.engine.screen_commands import (
    DispatchTicket,
    EditField,
    EditRefused,
    SubmitTicket,
    TicketEditor,
    TicketRequest,
)
from jiesu.engine.wire import ProtocolError

log = logging.getLogger(__name__)

_K = TypeVar("_K", bound=Hashable)


#: A screen is closed (4400) after this many malformed messages.
MAX_BAD_MESSAGES = 20
#: Calls one screen may follow at once.
MAX_FOLLOWS = 256
#: Events read from the log per history page while a follow catches up.
HISTORY_PAGE = 256
#: The sender yields to the loop after this many messages written without waiting.
SEND_BURST = 64

M_SCREENS = "gateway_screens"
M_AUTH_REFUSED = "gateway_auth_refused_total"
M_CAPACITY_REFUSED = "gateway_capacity_refused_total"
M_BAD_MESSAGES = "gateway_bad_messages_total"
M_FOLLOWS_REFUSED = "gateway_follows_refused_total"
M_RESYNCS = "gateway_resyncs_total"
M_EVENTS_SENT = "gateway_events_sent_total"
M_COALESCED = "gateway_partials_coalesced_total"
M_EXPIRED = "gateway_sessions_expired_total"


@dataclass(slots=True)
class _Outgoing:
    """One queued frame; ``call_id``/``seq`` are set for call events."""

    text: str
    call_id: str | None = None
    seq: int = 0


#: A queued frame with its coalesce key, as a follow cursor buffers it.
_Keyed = tuple[_Outgoing, Hashable | None]


@dataclass(frozen=True, slots=True)
class _CallInfo:
    hotline: str
    agent_id: str


class _Screen:
    """Per-connection state of an authenticated screen (lives on the loop only)."""

    def __init__(self, ws: ServerConnection, claims: Claims, fingerprint: str, limit: int) -> None:
        self.ws = ws
        self.claims = claims
        self.scope = Scope.of(claims)
        self.fingerprint = fingerprint
        self.outbox: Outbox[_Outgoing] = Outbox(limit)
        self.low_water = max(1, limit // 2)
        self.wakeup = asyncio.Event()
        self.room = asyncio.Event()
        self.room.set()
        self.follows: dict[str, FollowCursor[_Keyed]] = {}
        self.catch_ups: dict[str, asyncio.Task[None]] = {}
        self.sender: asyncio.Task[None] | None = None
        self.expiry: asyncio.TimerHandle | None = None
        self.closing = False
        self.bad_messages = 0

    def active(self) -> bool:
        """False once the screen is being closed (a call, so that type narrowing cannot stick)."""
        return not self.closing

    def __repr__(self) -> str:
        return f"<screen {self.claims.role.value}:{self.claims.sub} token={self.fingerprint}>"


def _peer(ws: ServerConnection) -> str:
    try:
        address = ws.remote_address
    except Exception:  # transport already gone
        return "?"
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return str(address)


class Gateway:
    """Websocket server for agent and supervisor screens, fed by the event log.

    ``write_limit`` (bytes buffered in a connection's transport before its sender waits) and
    ``close_timeout_s`` (how long a closing handshake may take before the TCP connection is
    aborted) are tuning knobs for tests and benchmarks; the defaults suit production.
    """

    def __init__(
        self,
        config: GatewayConfig,
        signer: TokenSigner,
        log: EventLog,
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
        *,
        write_limit: int = 64 * 1024,
        close_timeout_s: float = 5.0,
        site: StaticSite | None = None,
    ) -> None:
        self._config = config
        self._site = StaticSite.from_package() if site is None else site
        self._signer = signer
        self._log = log
        self._metrics = metrics
        self._clock = clock
        self._write_limit = write_limit
        self._close_timeout = close_timeout_s
        self._server: Server | None = None
        self._unsubscribe: Callable[[], None] | None = None
        # Every open connection, authenticated or not (bounded by max_screens).
        self._connections: set[ServerConnection] = set()
        self._screens: set[_Screen] = set()
        # Routing indexes for the log listener.
        self._calls: dict[str, _CallInfo] = {}
        self._followers: dict[str, set[_Screen]] = {}
        self._board_hotline: dict[str, set[_Screen]] = {}
        self._board_agent: dict[tuple[str, str], set[_Screen]] = {}
        self._board_call: dict[str, set[_Screen]] = {}
        self._closers: set[asyncio.Task[None]] = set()
        #: Where ``ticket.edit``/``.submit``/``.dispatch`` go; None: refused as unavailable.
        self.ticket_editor: TicketEditor | None = None
        metrics.set_gauge(M_SCREENS, 0)

    # --- life cycle ------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port actually bound (the configured one may be 0)."""
        if self._server is None:
            raise RuntimeError("Gateway.start() was not awaited")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("Gateway already started")
        config = self._config
        # Subscribe before loading the live calls: a call started in between is seen by both,
        # one that starts later by the listener.
        self._unsubscribe = self._log.subscribe(self._on_event)
        try:
            for record in await self._log.live_calls():
                self._calls.setdefault(record.call_id, _CallInfo(record.hotline, record.agent_id))
            origins: list[Origin | None] = [Origin(o) for o in config.allowed_origins]
            if config.allow_missing_origin:
                origins.append(None)
            self._server = await serve(
                self._handle,
                config.host,
                config.port,
                origins=origins,
                process_request=self._process_request,
                process_response=self._process_response,
                compression=None,
                max_size=config.max_message_bytes,
                write_limit=self._write_limit,
                close_timeout=self._close_timeout,
                open_timeout=max(config.hello_timeout_s, 1.0),
                server_header=None,
            )
        except BaseException:
            self._unsubscribe()
            self._unsubscribe = None
            raise
        log.info("screen gateway listening on %s:%d", config.host, self.port)

    async def close(self) -> None:
        """Close every screen with 1001 (going away), stop listening, leave the event log."""
        server = self._server
        if server is None:
            return
        for screen in list(self._screens):
            self._terminate(screen, None, CloseCode.GOING_AWAY, "server shutting down")
        # Stops accepting and closes connections still in hello with 1001 as well.
        server.close()
        if self._closers:
            await asyncio.gather(*self._closers, return_exceptions=True)
        await server.wait_closed()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._server = None
        log.info("screen gateway closed")

    # --- HTTP ------------------------------------------------------------------------------

    def _process_request(self, ws: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path == "/healthz":
            return ws.respond(http.HTTPStatus.OK, "ok\n")
        if path == "/metrics":
            return ws.respond(http.HTTPStatus.OK, self._metrics.render())
        if "Upgrade" not in request.headers:
            page = self._site.reply(path, request.headers.get("If-None-Match"))
            if page is not None:
                return _http_response(page)
            return ws.respond(http.HTTPStatus.NOT_FOUND, "not found\n")
        if len(self._connections) >= self._config.max_screens:
            self._metrics.inc(M_CAPACITY_REFUSED)
            log.warning(
                "screen refused from %s: %d screens open", _peer(ws), len(self._connections)
            )
            return ws.respond(http.HTTPStatus.SERVICE_UNAVAILABLE, "too many screens\n")
        return None

    def _process_response(
        self, ws: ServerConnection, request: Request, response: Response
    ) -> Response | None:
        if response.status_code == http.HTTPStatus.FORBIDDEN:
            # websockets refuses an Origin outside the allow-list with 403.
            self._metrics.inc(M_AUTH_REFUSED, labels={"reason": "origin"})
            log.info("screen refused from %s: origin not allowed", _peer(ws))
        return None

    # --- connection handler ----------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        if len(self._connections) >= self._config.max_screens:
            self._metrics.inc(M_CAPACITY_REFUSED)
            await ws.close(CLOSE_TRY_AGAIN_LATER, "too many screens")
            return
        self._connections.add(ws)
        screen: _Screen | None = None
        try:
            claims, fingerprint = await self._authenticate(ws)
            if claims is None:
                return
            screen = self._admit(ws, claims, fingerprint)
            calls = await self._board_snapshot(screen.scope)
            if screen.closing:
                return
            welcome = Welcome(
                protocol=SCREEN_PROTOCOL,
                sub=claims.sub,
                role=claims.role.value,
                hotline=claims.hotline,
                calls=calls,
            )
            # Board events that arrived since _admit wait in the outbox, after the welcome.
            await ws.send(message_to_json(welcome))
            if not screen.active():
                return
            screen.sender = asyncio.create_task(self._send_loop(screen), name=f"send {screen!r}")
            await self._receive_loop(screen)
        except ConnectionClosed as exc:
            if exc.sent is not None and exc.sent.code == CloseCode.MESSAGE_TOO_BIG:
                self._metrics.inc(M_BAD_MESSAGES, labels={"reason": "oversize"})
                log.info(
                    "screen %s closed: message over %d bytes",
                    screen or _peer(ws),
                    self._config.max_message_bytes,
                )
        finally:
            self._connections.discard(ws)
            if screen is not None:
                self._release(screen)

    async def _authenticate(self, ws: ServerConnection) -> tuple[Claims | None, str]:
        """Wait for the hello and check its token; on refusal reply, close, return None."""
        try:
            async with asyncio.timeout(self._config.hello_timeout_s):
                frame = await ws.recv()
        except TimeoutError:
            await self._refuse(ws, "timeout", "-")
            return None, "-"
        try:
            message = parse_client_message(frame)
        except ProtocolError as exc:
            self._metrics.inc(M_BAD_MESSAGES, labels={"reason": exc.code})
            log.info("screen refused from %s: bad first message (%s)", _peer(ws), exc.code)
            error = Error("bad_message", exc.code, detail=str(exc)[:200])
            await self._close_ws(ws, message_to_json(error), CLOSE_BAD_MESSAGES, "bad hello")
            return None, "-"
        if not isinstance(message, Hello):
            await self._refuse(ws, "missing", "-")
            return None, "-"
        fingerprint = token_fingerprint(message.token) if message.token else "-"
        if message.protocol != SCREEN_PROTOCOL:
            self._metrics.inc(M_BAD_MESSAGES, labels={"reason": "unsupported_protocol"})
            error = Error(
                "unsupported_protocol",
                str(message.protocol),
                detail=f"this gateway speaks protocol {SCREEN_PROTOCOL}",
            )
            await self._close_ws(ws, message_to_json(error), CLOSE_BAD_MESSAGES, "protocol")
            return None, fingerprint
        try:
            claims = self._signer.verify(message.token, self._clock())
        except AuthError as exc:
            await self._refuse(ws, exc.reason, fingerprint)
            return None, fingerprint
        if not may_open_screen(claims):
            await self._refuse(ws, "wrong_role", fingerprint)
            return None, fingerprint
        return claims, fingerprint

    async def _refuse(self, ws: ServerConnection, reason: str, fingerprint: str) -> None:
        self._metrics.inc(M_AUTH_REFUSED, labels={"reason": reason})
        log.info("screen refused from %s: %s (token %s)", _peer(ws), reason, fingerprint)
        error = Error("auth_failed", reason)
        await self._close_ws(ws, message_to_json(error), CLOSE_AUTH_FAILED, "auth failed")

    def _admit(self, ws: ServerConnection, claims: Claims, fingerprint: str) -> _Screen:
        """Register an authenticated screen for board events (before reading the board)."""
        screen = _Screen(ws, claims, fingerprint, self._config.screen_queue_limit)
        self._screens.add(screen)
        scope = screen.scope
        if scope.whole_hotline:
            self._board_hotline.setdefault(scope.hotline, set()).add(screen)
        else:
            self._board_agent.setdefault((scope.hotline, scope.sub), set()).add(screen)
            for call_id in scope.extra_calls:
                self._board_call.setdefault(call_id, set()).add(screen)
        delay = claims.exp - self._clock()
        screen.expiry = asyncio.get_running_loop().call_later(max(delay, 0.0), self._expire, screen)
        self._metrics.set_gauge(M_SCREENS, len(self._screens))
        log.info(
            "screen open: %s %s hotline %s from %s (token %s)",
            claims.role.value,
            claims.sub,
            claims.hotline,
            _peer(ws),
            fingerprint,
        )
        return screen

    async def _board_snapshot(self, scope: Scope) -> tuple[BoardEntry, ...]:
        records = await self._log.live_calls(scope.hotline)
        return tuple(
            BoardEntry(r.call_id, r.hotline, r.agent_id, r.mode, r.state, r.started_at)
            for r in records
            if scope.covers(r.call_id, r.hotline, r.agent_id)
        )

    async def _receive_loop(self, screen: _Screen) -> None:
        ws = screen.ws
        while True:
            frame = await ws.recv()
            if screen.closing:
                continue  # waiting for the close handshake to finish
            try:
                message = parse_client_message(frame)
            except ProtocolError as exc:
                self._bad_message(screen, exc.code, str(exc))
                continue
            if isinstance(message, Follow):
                await self._follow(screen, message)
            elif isinstance(message, Unfollow):
                self._unfollow(screen, message.call_id)
            elif isinstance(message, EditField | SubmitTicket | DispatchTicket):
                await self._edit(screen, message)
            else:
                self._bad_message(screen, "unexpected_hello", "hello is only valid first")

    def _bad_message(self, screen: _Screen, reason: str, detail: str) -> None:
        self._metrics.inc(M_BAD_MESSAGES, labels={"reason": reason})
        screen.bad_messages += 1
        log.debug("screen %r: bad message (%s)", screen, reason)
        if screen.bad_messages >= MAX_BAD_MESSAGES:
            log.info("screen %r closed after %d bad messages", screen, screen.bad_messages)
            error = Error("bad_message", "too_many", detail=f"{screen.bad_messages} bad messages")
            self._terminate(screen, message_to_json(error), CLOSE_BAD_MESSAGES, "bad messages")
            return
        self._control(screen, Error("bad_message", reason, detail=detail[:200]))

    # --- follow ----------------------------------------------------------------------------

    async def _follow(self, screen: _Screen, request: Follow) -> None:
        call_id = request.call_id
        if call_id in screen.follows:
            self._refuse_follow(screen, call_id, "already_following", "unfollow first")
            return
        if len(screen.follows) >= MAX_FOLLOWS:
            self._refuse_follow(screen, call_id, "too_many_follows", f"at most {MAX_FOLLOWS}")
            return
        record = await self._log.call(call_id)
        if screen.closing:
            return
        if record is None:
            self._refuse_follow(screen, call_id, "not_found", "no such call")
            return
        if not screen.scope.covers(record.call_id, record.hotline, record.agent_id):
            log.info("screen %r: follow of a call outside its scope refused", screen)
            self._refuse_follow(screen, call_id, "forbidden", "call outside your scope")
            return
        cursor: FollowCursor[_Keyed] = FollowCursor(request.after_seq, HISTORY_PAGE)
        screen.follows[call_id] = cursor
        self._followers.setdefault(call_id, set()).add(screen)
        # Board events of this call still queued would come again, in order, from the follow.
        after = request.after_seq
        screen.outbox.discard(lambda item: item.call_id == call_id and item.seq > after)
        if not self._control(screen, Following(call_id, after)):
            return
        task = asyncio.create_task(
            self._catch_up(screen, call_id, cursor), name=f"follow {call_id}"
        )
        screen.catch_ups[call_id] = task
        task.add_done_callback(lambda t: self._catch_up_done(screen, call_id, t))

    async def _edit(self, screen: _Screen, request: TicketRequest) -> None:
        """An agent's work-order action (edit, submit, dispatch): allowed on calls in the
        screen's scope, applied by the editor."""
        call_id = request.call_id
        record = await self._log.call(call_id)
        if screen.closing:
            return
        if record is None:
            self._refuse_edit(screen, call_id, "not_found", "no such call")
            return
        if not screen.scope.covers(record.call_id, record.hotline, record.agent_id):
            log.info("screen %r: edit of a call outside its scope refused", screen)
            self._refuse_edit(screen, call_id, "forbidden", "call outside your scope")
            return
        if self.ticket_editor is None:
            self._refuse_edit(screen, call_id, "unavailable", "the work order is not enabled")
            return
        try:
            await self.ticket_editor(screen.claims.sub, request)
        except EditRefused as exc:
            self._refuse_edit(screen, call_id, exc.code, exc.detail)

    def _refuse_edit(self, screen: _Screen, call_id: str, code: str, detail: str) -> None:
        self._metrics.inc("gateway_edits_refused_total", labels={"reason": code})
        self._control(screen, Error(code, code, call_id=call_id, detail=detail[:200]))

    def _refuse_follow(self, screen: _Screen, call_id: str, code: str, detail: str) -> None:
        self._metrics.inc(M_FOLLOWS_REFUSED, labels={"reason": code})
        self._control(screen, Error(code, code, call_id=call_id, detail=detail))

    def _unfollow(self, screen: _Screen, call_id: str) -> None:
        self._drop_follow(screen, call_id)
        self._control(screen, Unfollowed(call_id))

    def _drop_follow(self, screen: _Screen, call_id: str) -> None:
        screen.follows.pop(call_id, None)
        task = screen.catch_ups.pop(call_id, None)
        if task is not None:
            task.cancel()
        followers = self._followers.get(call_id)
        if followers is not None:
            followers.discard(screen)
            if not followers:
                del self._followers[call_id]

    async def _catch_up(self, screen: _Screen, call_id: str, cursor: FollowCursor[_Keyed]) -> None:
        """Send the call's history after the cursor, then hand over to live delivery."""
        while True:
            events = await self._log.read(call_id, cursor.position, HISTORY_PAGE)
            for event in events:
                while len(screen.outbox) >= screen.low_water and not screen.closing:
                    screen.room.clear()
                    await screen.room.wait()
                if screen.closing or screen.follows.get(call_id) is not cursor:
                    return
                if cursor.on_history(event.seq):
                    item = _Outgoing(event_to_json(event), call_id, event.seq)
                    if not self._push(screen, item, event.coalesce_key()):
                        return
            if screen.closing or screen.follows.get(call_id) is not cursor:
                return
            # No await between the last enqueue and this check: see FollowCursor.
            ready = cursor.finish_page(exhausted=len(events) < HISTORY_PAGE)
            if ready is not None:
                for item, key in ready:
                    if not self._push(screen, item, key):
                        return
                return

    def _catch_up_done(self, screen: _Screen, call_id: str, task: asyncio.Task[None]) -> None:
        if screen.catch_ups.get(call_id) is task:
            del screen.catch_ups[call_id]
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("screen %r: catch-up of a call failed", screen, exc_info=exc)
            error = Error("internal", "history_read_failed", call_id=call_id)
            self._terminate(screen, message_to_json(error), CloseCode.INTERNAL_ERROR, "internal")

    # --- delivery --------------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        """Event-log listener: route one durable event to the screens that want it."""
        call_id = event.call_id
        payload = event.payload
        info = self._calls.get(call_id)
        if info is None and isinstance(payload, CallStarted):
            info = self._calls[call_id] = _CallInfo(payload.hotline, payload.agent_id)
        targets: dict[_Screen, None] = {}
        followers = self._followers.get(call_id)
        if followers:
            targets.update(dict.fromkeys(followers))
        if info is not None and event.type in BOARD_TYPES:
            hotline = info.hotline
            targets.update(dict.fromkeys(self._board_hotline.get(hotline, ())))
            targets.update(dict.fromkeys(self._board_agent.get((hotline, info.agent_id), ())))
            for screen in self._board_call.get(call_id, ()):
                if screen.scope.covers(call_id, hotline, info.agent_id):
                    targets[screen] = None
            if isinstance(payload, CallEnded):
                del self._calls[call_id]
        if not targets:
            return
        item = _Outgoing(event_to_json(event), call_id, event.seq)
        key = event.coalesce_key()
        for screen in targets:
            if screen.closing:
                continue
            cursor = screen.follows.get(call_id)
            if cursor is not None:
                if not cursor.on_live(event.seq, (item, key)):
                    continue
            elif event.type not in BOARD_TYPES:
                continue
            self._push(screen, item, key)

    def _push(self, screen: _Screen, item: _Outgoing, key: Hashable | None = None) -> bool:
        """Enqueue for one screen; False when the screen overflowed (and is being dropped)."""
        result = screen.outbox.push(item, key)
        if result is Pushed.OVERFLOW:
            self._resync(screen)
            return False
        if result is Pushed.COALESCED:
            self._metrics.inc(M_COALESCED)
        screen.wakeup.set()
        return True

    def _control(self, screen: _Screen, message: ServerMessage) -> bool:
        """Queue a control message behind the events already queued."""
        if screen.closing:
            return False
        return self._push(screen, _Outgoing(message_to_json(message)))

    async def _send_loop(self, screen: _Screen) -> None:
        ws, outbox = screen.ws, screen.outbox
        burst = 0
        try:
            while True:
                if not outbox:
                    screen.room.set()
                    screen.wakeup.clear()
                    burst = 0
                    await screen.wakeup.wait()
                    continue
                item = outbox.pop()
                if len(outbox) < screen.low_water:
                    screen.room.set()
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
            log.exception("screen %r: sender failed", screen)
            self._terminate(screen, None, CloseCode.INTERNAL_ERROR, "internal error")

    # --- ending screens --------------------------------------------------------------------

    def _resync(self, screen: _Screen) -> None:
        if screen.closing:
            return
        self._metrics.inc(M_RESYNCS)
        log.warning(
            "screen %r too slow (%d messages queued): told to resync", screen, len(screen.outbox)
        )
        message = message_to_json(Resync("slow_consumer"))
        self._terminate(screen, message, CLOSE_RESYNC, "slow consumer")

    def _expire(self, screen: _Screen) -> None:
        if screen.closing:
            return
        self._metrics.inc(M_EXPIRED)
        log.info("screen %r: token expired, closing", screen)
        message = message_to_json(Error("auth_failed", "expired"))
        self._terminate(screen, message, CLOSE_AUTH_FAILED, "token expired")

    def _terminate(self, screen: _Screen, message: str | None, code: int, reason: str) -> None:
        """Stop delivering to a screen, write ``message`` past its queue, close with ``code``.

        Synchronous (the log listener may call it); the closing handshake runs in a task.
        """
        if screen.closing:
            return
        screen.closing = True
        self._detach(screen)
        screen.outbox.clear()
        task = asyncio.create_task(self._close_ws(screen.ws, message, code, reason))
        self._closers.add(task)
        task.add_done_callback(self._closers.discard)

    async def _close_ws(
        self, ws: ServerConnection, message: str | None, code: int, reason: str
    ) -> None:
        """Write ``message`` and a close frame now, even if the peer stopped reading.

        ``send`` and ``close`` write their frame before they wait for the transport to drain, so
        starting both as tasks puts both frames on the wire in order; a peer that does not
        answer the close within the close timeout is aborted.
        """
        tasks: list[asyncio.Task[None]] = []
        if message is not None:
            tasks.append(asyncio.create_task(ws.send(message)))
        closer = asyncio.create_task(ws.close(code, reason))
        tasks.append(closer)
        _, pending = await asyncio.wait({closer}, timeout=self._close_timeout)
        if pending:
            ws.transport.abort()
        await asyncio.wait(tasks, timeout=self._close_timeout)
        for task in tasks:
            if task.done() and not task.cancelled():
                task.exception()  # retrieved: ConnectionClosed here is expected
            else:
                task.cancel()

    def _detach(self, screen: _Screen) -> None:
        """Remove a screen from every routing index and stop its tasks (idempotent)."""
        for call_id in list(screen.follows):
            self._drop_follow(screen, call_id)
        scope = screen.scope
        if scope.whole_hotline:
            _discard(self._board_hotline, scope.hotline, screen)
        else:
            _discard(self._board_agent, (scope.hotline, scope.sub), screen)
            for call_id in scope.extra_calls:
                _discard(self._board_call, call_id, screen)
        if screen.sender is not None:
            screen.sender.cancel()
        if screen.expiry is not None:
            screen.expiry.cancel()

    def _release(self, screen: _Screen) -> None:
        """The connection handler ended: forget the screen."""
        screen.closing = True
        self._detach(screen)
        screen.outbox.clear()
        if screen in self._screens:
            self._screens.remove(screen)
            self._metrics.set_gauge(M_SCREENS, len(self._screens))
            log.info("screen closed: %r code %s", screen, screen.ws.close_code)


def _http_response(reply: StaticReply) -> Response:
    status = http.HTTPStatus(reply.status)
    return Response(reply.status, status.phrase, Headers(reply.headers), reply.body)


def _discard(index: dict[_K, set[_Screen]], key: _K, screen: _Screen) -> None:
    members = index.get(key)
    if members is not None:
        members.discard(screen)
        if not members:
            del index[key]
