"""The screen gateway: a websockets server that streams durable call events to screens.

I/O edge of the screen protocol (``docs/screen-protocol.md``). The gateway subscribes itself to
the :class:`~jiesu.engine.eventlog.EventLog`; producers only append to the log, so a screen
never sees an event that is not on disk, and a screen that reconnects can resume from it.

This module is the shell: HTTP, authentication, admission and the screens' messages. Routing
is :mod:`~jiesu.engine.gateway.fanout` (pure); each screen's outbox, sender, follows and closing
are :mod:`~jiesu.engine.gateway.screen`. The log listener only routes and enqueues.

Plain HTTP on the same port: ``GET /healthz``, ``GET /metrics``, and the screens' web files
(``/``, ``/agent``, ``/supervisor``, ``/assets/NAME``; see :mod:`jiesu.engine.gateway.static`).
"""

from __future__ import annotations

import asyncio
import http
import logging
import time
from collections.abc import Callable

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.http11 import Request, Response
from websockets.typing import Origin

from jiesu.engine.auth import AuthError, Claims, TokenSigner, token_fingerprint
from jiesu.engine.config import GatewayConfig
from jiesu.engine.eventlog import EventLog
from jiesu.engine.events import BOARD_TYPES, Event, event_to_json
from jiesu.engine.gateway.access import Scope, may_open_screen
from jiesu.engine.gateway.fanout import Fanout
from jiesu.engine.gateway.protocol import (
    CLOSE_AUTH_FAILED,
    CLOSE_BAD_MESSAGES,
    CLOSE_TRY_AGAIN_LATER,
    SCREEN_PROTOCOL,
    BoardEntry,
    Error,
    Follow,
    Hello,
    Unfollow,
    Unfollowed,
    Welcome,
    message_to_json,
    parse_client_message,
)
from jiesu.engine.gateway.screen import Outgoing, Screen, close_ws
from jiesu.engine.gateway.static import StaticReply, StaticSite
from jiesu.engine.metrics import Metrics
from jiesu.engine.screen_commands import EditRefused, TicketEditor, TicketRequest
from jiesu.engine.wire import ProtocolError

log = logging.getLogger(__name__)

#: A screen is closed (4400) after this many malformed messages.
MAX_BAD_MESSAGES = 20
#: Calls one screen may follow at once.
MAX_FOLLOWS = 256

M_SCREENS = "gateway_screens"
M_AUTH_REFUSED = "gateway_auth_refused_total"
M_CAPACITY_REFUSED = "gateway_capacity_refused_total"
M_BAD_MESSAGES = "gateway_bad_messages_total"
M_FOLLOWS_REFUSED = "gateway_follows_refused_total"
M_EDITS_REFUSED = "gateway_edits_refused_total"


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
        self._screens: set[Screen] = set()
        self._fanout: Fanout[Screen] = Fanout()
        self._closers: set[asyncio.Task[None]] = set()
        #: Where ``ticket.edit``/``.submit``/``.dispatch`` go; None: refused as unavailable.
        self.ticket_editor: TicketEditor | None = None
        metrics.set_gauge(M_SCREENS, 0)

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
                self._fanout.add_call(record.call_id, record.hotline, record.agent_id)
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
            screen.terminate(None, CloseCode.GOING_AWAY, "server shutting down")
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

    async def _handle(self, ws: ServerConnection) -> None:
        if len(self._connections) >= self._config.max_screens:
            self._metrics.inc(M_CAPACITY_REFUSED)
            await ws.close(CLOSE_TRY_AGAIN_LATER, "too many screens")
            return
        self._connections.add(ws)
        screen: Screen | None = None
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
            screen.start_sender()
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

    def _admit(self, ws: ServerConnection, claims: Claims, fingerprint: str) -> Screen:
        """Register an authenticated screen for board events (before reading the board)."""
        screen = Screen(
            ws,
            claims,
            fingerprint,
            limit=self._config.screen_queue_limit,
            metrics=self._metrics,
            closers=self._closers,
            close_timeout=self._close_timeout,
        )
        self._screens.add(screen)
        self._fanout.add_screen(screen, screen.scope)
        delay = claims.exp - self._clock()
        screen.expiry = asyncio.get_running_loop().call_later(max(delay, 0.0), screen.expire)
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

    async def _receive_loop(self, screen: Screen) -> None:
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
                screen.drop_follow(message.call_id)
                self._fanout.unfollow(message.call_id, screen)
                screen.control(Unfollowed(message.call_id))
            elif isinstance(message, Hello):
                self._bad_message(screen, "unexpected_hello", "hello is only valid first")
            else:
                await self._edit(screen, message)

    def _bad_message(self, screen: Screen, reason: str, detail: str) -> None:
        self._metrics.inc(M_BAD_MESSAGES, labels={"reason": reason})
        screen.bad_messages += 1
        log.debug("screen %r: bad message (%s)", screen, reason)
        if screen.bad_messages >= MAX_BAD_MESSAGES:
            log.info("screen %r closed after %d bad messages", screen, screen.bad_messages)
            error = Error("bad_message", "too_many", detail=f"{screen.bad_messages} bad messages")
            screen.terminate(message_to_json(error), CLOSE_BAD_MESSAGES, "bad messages")
            return
        screen.control(Error("bad_message", reason, detail=detail[:200]))

    async def _follow(self, screen: Screen, request: Follow) -> None:
        call_id = request.call_id
        if call_id in screen.follows:
            self._refuse_call(
                screen, M_FOLLOWS_REFUSED, call_id, "already_following", "unfollow first"
            )
        elif len(screen.follows) >= MAX_FOLLOWS:
            detail = f"at most {MAX_FOLLOWS}"
            self._refuse_call(screen, M_FOLLOWS_REFUSED, call_id, "too_many_follows", detail)
        elif await self._in_scope(screen, call_id, "follow", M_FOLLOWS_REFUSED):
            self._fanout.follow(call_id, screen)
            screen.follow(call_id, request.after_seq, self._log.read)

    async def _edit(self, screen: Screen, request: TicketRequest) -> None:
        """An agent's work-order action (edit, submit, dispatch): allowed on calls in the
        screen's scope, applied by the editor."""
        call_id = request.call_id
        if not await self._in_scope(screen, call_id, "edit", M_EDITS_REFUSED):
            return
        if self.ticket_editor is None:
            detail = "the work order is not enabled"
            self._refuse_call(screen, M_EDITS_REFUSED, call_id, "unavailable", detail)
            return
        try:
            await self.ticket_editor(screen.claims.sub, request)
        except EditRefused as exc:
            self._refuse_call(screen, M_EDITS_REFUSED, call_id, exc.code, exc.detail)

    async def _in_scope(self, screen: Screen, call_id: str, action: str, metric: str) -> bool:
        """Is the call known and in the screen's scope? If not (and the screen is still open)
        the screen is told so."""
        record = await self._log.call(call_id)
        if screen.closing:
            return False
        if record is None:
            self._refuse_call(screen, metric, call_id, "not_found", "no such call")
            return False
        if not screen.scope.covers(record.call_id, record.hotline, record.agent_id):
            log.info("screen %r: %s of a call outside its scope refused", screen, action)
            self._refuse_call(screen, metric, call_id, "forbidden", "call outside your scope")
            return False
        return True

    def _refuse_call(
        self, screen: Screen, metric: str, call_id: str, code: str, detail: str
    ) -> None:
        self._metrics.inc(metric, labels={"reason": code})
        screen.control(Error(code, code, call_id=call_id, detail=detail[:200]))

    def _on_event(self, event: Event) -> None:
        """Event-log listener: route one durable event to the screens that want it."""
        targets = self._fanout.targets(event)
        if not targets:
            return
        item = Outgoing(event_to_json(event), event.call_id, event.seq)
        key = event.coalesce_key()
        board = event.type in BOARD_TYPES
        for screen in targets:
            screen.deliver(event, item, key, board)

    async def _close_ws(
        self, ws: ServerConnection, message: str | None, code: int, reason: str
    ) -> None:
        await close_ws(ws, message, code, reason, self._close_timeout)

    def _release(self, screen: Screen) -> None:
        """The connection handler ended: forget the screen."""
        self._fanout.remove_screen(screen, screen.follows)
        screen.stop()
        if screen in self._screens:
            self._screens.remove(screen)
            self._metrics.set_gauge(M_SCREENS, len(self._screens))
            log.info("screen closed: %r code %s", screen, screen.ws.close_code)


def _http_response(reply: StaticReply) -> Response:
    status = http.HTTPStatus(reply.status)
    return Response(reply.status, status.phrase, Headers(reply.headers), reply.body)
