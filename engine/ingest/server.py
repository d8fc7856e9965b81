"""The websocket audio ingest server: the I/O edge around :mod:`.stream`.

One asyncio task per connection reads messages in order, so for each call the sink sees
``call_started`` before any chunk and every chunk before ``call_ended``. Bad input never ends a
connection: it is answered with an ``error`` frame and counted. Only authentication failures
close it (code 4401; 4408 when no hello arrives in time).

Error frames caused by audio frames or unparseable messages are rate-limited per connection
(token bucket) so that a flood of bad frames does not produce a flood of answers; the next error
that is sent carries the number suppressed meanwhile. Replies to ``hello``, ``start`` and
``stop`` are never suppressed.

Metrics (all in the :class:`~jiesu.engine.metrics.Metrics` passed in):

* ``ingest_connections_total``, gauge ``ingest_connections_active``
* ``ingest_auth_failures_total{reason}``
* ``ingest_bad_messages_total{reason}``: too_large, text_frame, bad_msgpack, not_a_map,
  unknown_type, bad_message, unexpected_hello
* ``ingest_calls_started_total``, ``ingest_calls_refused_total{reason}``,
  ``ingest_calls_ended_total{reason}``, gauge ``ingest_calls_active``
* ``ingest_frames_total`` (used), ``ingest_frames_lost_total`` (filled with silence),
  ``ingest_frames_dropped_total{reason}`` (unknown_call and the :class:`~jiesu.engine.legstream.DropReason`\\ s)
* ``ingest_chunks_total``, ``ingest_sink_errors_total{stage}``,
  ``ingest_notices_suppressed_total``, ``ingest_internal_errors_total``
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus

import websockets
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from jiesu.engine.audio import AudioChunk
from jiesu.engine.auth import AuthError, Claims, Role, TokenSigner, token_fingerprint
from jiesu.engine.calls import CallStats, IngestCall, IngestSink
from jiesu.engine.config import IngestConfig
from jiesu.engine.ingest.protocol import (
    Audio,
    Error,
    Hello,
    ServerFrame,
    Start,
    Started,
    Stop,
    Stopped,
    Welcome,
    decode_client_frame,
    encode_frame,
)
from jiesu.engine.ingest.stream import CallStream
from jiesu.engine.legstream import (
    DEFAULT_MAX_GAP_MS,
    DecoderFactory,
    ResamplerFactory,
    StartRefused,
    default_decoder,
    default_resampler,
)
from jiesu.engine.logsetup import redact
from jiesu.engine.metrics import Metrics
from jiesu.engine.privacy import mask_phone
from jiesu.engine.wire import ProtocolError

log = logging.getLogger(__name__)

#: websockets' own limit is this many times ``max_frame_bytes``: a message between the two gets
#: an error frame and the connection lives on; one past the hard cap closes it (code 1009).
HARD_CAP_FACTOR = 4
CLOSE_UNAUTHORIZED = 4401
CLOSE_HELLO_TIMEOUT = 4408
HEALTH_PATH = "/healthz"
SHUTDOWN_NOTICE_TIMEOUT_S = 1.0
#: Tracebacks logged per connection for unexpected exceptions; the rest are only counted.
_LOGGED_INTERNAL_ERRORS = 3
_MAX_MESSAGE_CHARS = 300
#: End reasons that get their own metric label; any other (client-chosen) one counts as "other",
#: so that clients cannot grow the metric's label set without bound.
KNOWN_END_REASONS = frozenset(
    {"hangup", "transfer", "abandoned", "timeout", "error", "shutdown", "ingest_disconnected"}
)


def _reason_label(reason: str) -> str:
    return reason if reason in KNOWN_END_REASONS else "other"


def _frame_error(frame: Audio, code: str, message: str) -> Error:
    return Error(code, message, call_id=frame.call_id, leg=frame.leg.value, seq=frame.seq)


def _available_codecs() -> tuple[str, ...]:
    from jiesu.codecs.payload import available_codecs

    return available_codecs()


class NoticeLimiter:
    """Token bucket for error frames of one connection: ``burst`` at once, ``rate`` per second."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float]) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()
        #: Notices refused since the last one allowed.
        self.suppressed = 0

    def allow(self) -> bool:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        self.suppressed += 1
        return False


@dataclass(eq=False, slots=True)
class _Connection:
    ws: ServerConnection
    peer: str
    limiter: NoticeLimiter
    claims: Claims | None = None
    calls: set[str] = field(default_factory=set)
    internal_errors: int = 0


@dataclass(eq=False, slots=True)
class _Call:
    info: IngestCall
    stream: CallStream
    conn: _Connection
    sink_failed: bool = False


class IngestServer:
    """Websocket server that turns clients' audio frames into :class:`AudioChunk`\\ s for a sink."""

    def __init__(
        self,
        config: IngestConfig,
        signer: TokenSigner,
        sink: IngestSink,
        metrics: Metrics,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        decoder_factory: DecoderFactory = default_decoder,
        resampler_factory: ResamplerFactory = default_resampler,
        max_gap_ms: int = DEFAULT_MAX_GAP_MS,
        notice_rate: float = 10.0,
        notice_burst: int = 20,
        caller_keyer: Callable[[str], str] | None = None,
    ) -> None:
        self.config = config
        #: Caller number -> pseudonymous key for the caller's history (assist); None: no key.
        self._caller_keyer = caller_keyer
        self._signer = signer
        self._sink = sink
        self._metrics = metrics
        self._clock = clock
        self._monotonic = monotonic
        self._decoder_factory = decoder_factory
        self._resampler_factory = resampler_factory
        self._max_gap_ms = max_gap_ms
        self._notice_rate = notice_rate
        self._notice_burst = notice_burst
        self._server: Server | None = None
        self._calls: dict[str, _Call] = {}
        #: Call ids whose ``call_started`` is being awaited (they hold a capacity slot).
        self._starting: set[str] = set()
        self._connections = 0
        self._closing = False

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("IngestServer already started")
        self._server = await serve(
            self._handle,
            self.config.host,
            self.config.port,
            process_request=self._process_request,
            max_size=self.config.max_frame_bytes * HARD_CAP_FACTOR,
            compression=None,
        )
        log.info("ingest listening on %s:%d", self.config.host, self.port)

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("IngestServer not started")
        for sock in self._server.sockets:
            port: int = sock.getsockname()[1]
            return port
        raise RuntimeError("IngestServer has no socket")

    @property
    def active_calls(self) -> int:
        return len(self._calls)

    async def close(self) -> None:
        """Refuse new calls, end open ones with reason ``shutdown``, close every connection."""
        if self._closing:
            return
        self._closing = True
        ended: list[tuple[_Call, CallStats]] = []
        for call in list(self._calls.values()):
            if call.info.call_id in self._calls:  # not ended meanwhile by its connection
                ended.append((call, await self._end_call(call, "shutdown")))

        async def tell(call: _Call, stats: CallStats) -> None:
            # A client that does not read must not hold up the shutdown.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SHUTDOWN_NOTICE_TIMEOUT_S):
                    await self._send(call.conn, Stopped(call.info.call_id, "shutdown", stats))

        await asyncio.gather(*(tell(call, stats) for call, stats in ended))
        if self._server is not None:
            self._server.close(code=1001, reason="shutdown")
            await self._server.wait_closed()
        log.info("ingest closed")

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.path == HEALTH_PATH:
            if self._closing:
                return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "shutting down\n")
            return connection.respond(HTTPStatus.OK, "ok\n")
        return None

    # --- one connection -----------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        peer = f"{ws.remote_address[0]}:{ws.remote_address[1]}" if ws.remote_address else "?"
        conn = _Connection(
            ws, peer, NoticeLimiter(self._notice_rate, self._notice_burst, self._monotonic)
        )
        self._connections += 1
        self._metrics.inc("ingest_connections_total")
        self._metrics.set_gauge("ingest_connections_active", self._connections)
        try:
            if not await self._hello(conn):
                return
            async for message in ws:
                try:
                    await self._on_message(conn, message)
                except Exception:
                    self._metrics.inc("ingest_internal_errors_total")
                    conn.internal_errors += 1
                    if conn.internal_errors <= _LOGGED_INTERNAL_ERRORS:  # a bug may hit every frame
                        log.exception("ingest: internal error on a message from %s", conn.peer)
                    await self._notice(conn, Error("internal", "internal error; message dropped"))
        except websockets.ConnectionClosed:
            pass
        finally:
            for call_id in list(conn.calls):
                call = self._calls.get(call_id)
                if call is not None:
                    await self._end_call(call, "ingest_disconnected")
            self._connections -= 1
            self._metrics.set_gauge("ingest_connections_active", self._connections)

    async def _hello(self, conn: _Connection) -> bool:
        try:
            async with asyncio.timeout(self.config.hello_timeout_s):
                message = await conn.ws.recv()
        except TimeoutError:
            self._metrics.inc("ingest_auth_failures_total", labels={"reason": "hello_timeout"})
            log.warning(
                "ingest: no hello from %s within %ss", conn.peer, self.config.hello_timeout_s
            )
            await self._send(conn, Error("hello_timeout", "no hello in time"))
            await conn.ws.close(CLOSE_HELLO_TIMEOUT, "hello timeout")
            return False
        hello: object = None
        if isinstance(message, bytes) and len(message) <= self.config.max_frame_bytes:
            try:
                hello = decode_client_frame(message)
            except ProtocolError as exc:
                return await self._refuse(conn, "hello_required", f"expected hello: {exc}")
        if not isinstance(hello, Hello):
            return await self._refuse(conn, "hello_required", "the first message must be hello")
        if self._closing:
            await self._send(conn, Error("shutting_down", "the ingest is shutting down"))
            await conn.ws.close(1001, "shutdown")
            return False
        fingerprint = token_fingerprint(hello.token)
        try:
            claims = self._signer.verify(hello.token, self._clock())
        except AuthError as exc:
            log.warning("ingest: token %s from %s refused: %s", fingerprint, conn.peer, exc.reason)
            return await self._refuse(conn, exc.reason, f"token refused: {exc.reason}")
        if claims.role is not Role.INGEST:
            log.warning(
                "ingest: token %s (sub %s, role %s) from %s may not ingest",
                fingerprint,
                claims.sub,
                claims.role.value,
                conn.peer,
            )
            return await self._refuse(
                conn, "wrong_role", f"role {claims.role.value!r} may not ingest"
            )
        conn.claims = claims
        log.info(
            "ingest: %s authenticated as %s (token %s, client %r)",
            conn.peer,
            claims.sub,
            fingerprint,
            redact(hello.client),
        )
        await self._send(
            conn, Welcome(max_frame_bytes=self.config.max_frame_bytes, codecs=_available_codecs())
        )
        return True

    async def _refuse(self, conn: _Connection, reason: str, message: str) -> bool:
        self._metrics.inc("ingest_auth_failures_total", labels={"reason": reason})
        await self._send(conn, Error("unauthorized", message))
        await conn.ws.close(CLOSE_UNAUTHORIZED, "unauthorized")
        return False

    async def _on_message(self, conn: _Connection, message: str | bytes) -> None:
        if isinstance(message, str):
            await self._bad(conn, "text_frame", "messages must be binary msgpack, not text")
            return
        if len(message) > self.config.max_frame_bytes:
            await self._bad(
                conn,
                "too_large",
                f"message of {len(message)} bytes exceeds max_frame_bytes "
                f"{self.config.max_frame_bytes}",
            )
            return
        try:
            frame = decode_client_frame(message)
        except ProtocolError as exc:
            await self._bad(conn, exc.code, str(exc))
            return
        if isinstance(frame, Audio):
            await self._on_audio(conn, frame)
        elif isinstance(frame, Start):
            await self._on_start(conn, frame)
        elif isinstance(frame, Stop):
            await self._on_stop(conn, frame)
        else:
            await self._bad(conn, "unexpected_hello", "already authenticated")

    # --- calls --------------------------------------------------------------------------------

    async def _on_start(self, conn: _Connection, start: Start) -> None:
        claims = conn.claims
        assert claims is not None
        call_id = start.call_id

        async def refuse(code: str, message: str) -> None:
            self._metrics.inc("ingest_calls_refused_total", labels={"reason": code})
            log.info("ingest: call %s refused (%s): %s", call_id, code, message)
            await self._send(conn, Error(code, message, call_id=call_id))

        if self._closing:
            return await refuse("shutting_down", "the ingest is shutting down")
        if start.hotline != claims.hotline:
            return await refuse(
                "forbidden", f"token is for hotline {claims.hotline!r}, not {start.hotline!r}"
            )
        if call_id in self._calls or call_id in self._starting:
            return await refuse("duplicate_call", f"call {call_id!r} is already open")
        if len(self._calls) + len(self._starting) >= self.config.max_calls:
            return await refuse(
                "capacity", f"the ingest carries its maximum of {self.config.max_calls} calls"
            )
        try:
            stream = CallStream(
                start,
                decoder_factory=self._decoder_factory,
                resampler_factory=self._resampler_factory,
                max_gap_ms=self._max_gap_ms,
            )
        except StartRefused as exc:
            return await refuse(exc.code, exc.message)
        info = IngestCall(
            call_id=call_id,
            hotline=start.hotline,
            agent_id=start.agent_id,
            mode=start.mode,
            legs=start.legs,
            codec=start.codec,
            rate=start.rate,
            caller_masked=mask_phone(start.caller_number),
            ptime_ms=start.ptime_ms,
            source=claims.sub,
            caller_key=(
                self._caller_keyer(start.caller_number)
                if self._caller_keyer is not None and start.caller_number
                else ""
            ),
        )
        self._starting.add(call_id)
        try:
            await self._sink.call_started(info)
        except Exception:
            self._metrics.inc("ingest_sink_errors_total", labels={"stage": "call_started"})
            log.exception("ingest: sink refused call %s", call_id)
            return await refuse("sink_error", "the engine could not open the call")
        finally:
            self._starting.discard(call_id)
        call = _Call(info, stream, conn)
        self._calls[call_id] = call
        conn.calls.add(call_id)
        self._metrics.inc("ingest_calls_started_total")
        self._metrics.set_gauge("ingest_calls_active", len(self._calls))
        log.info(
            "ingest: call %s started (hotline %s, agent %s, mode %s, %s %d Hz %d ms, legs %s, "
            "caller %s, source %s)",
            call_id,
            info.hotline,
            info.agent_id,
            info.mode.value,
            info.codec,
            info.rate,
            info.ptime_ms,
            ",".join(leg.value for leg in info.legs),
            info.caller_masked or "-",
            info.source,
        )
        if self._closing or conn.ws.state is not websockets.State.OPEN:
            # Shutdown or hang-up while the sink was opening the call: end it at once.
            reason = "shutdown" if self._closing else "ingest_disconnected"
            stats = await self._end_call(call, reason)
            await self._send(conn, Stopped(call_id, reason, stats))
            return None
        await self._send(conn, Started(call_id))
        return None

    async def _on_audio(self, conn: _Connection, frame: Audio) -> None:
        call = self._calls.get(frame.call_id)
        if call is None or call.conn is not conn:
            self._metrics.inc("ingest_frames_dropped_total", labels={"reason": "unknown_call"})
            message = f"no open call {frame.call_id!r} on this connection"
            await self._notice(conn, _frame_error(frame, "unknown_call", message))
            return
        result = call.stream.push(frame)
        if result.lost:
            self._metrics.inc("ingest_frames_lost_total", result.lost)
        if result.drop is not None:
            reason = result.drop.reason.value
            self._metrics.inc("ingest_frames_dropped_total", labels={"reason": reason})
            log.debug(
                "ingest: call %s %s seq %d dropped: %s",
                frame.call_id,
                frame.leg.value,
                frame.seq,
                result.drop.message,
            )
            await self._notice(conn, _frame_error(frame, reason, result.drop.message))
            return
        self._metrics.inc("ingest_frames_total")
        self._deliver(call, result.chunks)

    async def _on_stop(self, conn: _Connection, stop: Stop) -> None:
        call = self._calls.get(stop.call_id)
        if call is None or call.conn is not conn:
            await self._send(
                conn,
                Error(
                    "unknown_call",
                    f"no open call {stop.call_id!r} on this connection",
                    call_id=stop.call_id,
                ),
            )
            return
        stats = await self._end_call(call, stop.reason)
        await self._send(conn, Stopped(stop.call_id, stop.reason, stats))

    async def _end_call(self, call: _Call, reason: str) -> CallStats:
        """End a call exactly once: flush its legs, tell the sink, update the gauges."""
        call_id = call.info.call_id
        # Forget the call before the first await, so that no other path ends it again.
        del self._calls[call_id]
        call.conn.calls.discard(call_id)
        self._metrics.set_gauge("ingest_calls_active", len(self._calls))
        self._deliver(call, call.stream.finish())
        stats = call.stream.stats()
        try:
            await self._sink.call_ended(call_id, reason, stats)
        except Exception:
            self._metrics.inc("ingest_sink_errors_total", labels={"stage": "call_ended"})
            log.exception("ingest: sink failed to end call %s", call_id)
        self._metrics.inc("ingest_calls_ended_total", labels={"reason": _reason_label(reason)})
        log.info(
            "ingest: call %s ended (%s): %d frames, %d lost, %d duplicates, %d out of order, "
            "%d bad, %d chunks, %d ms",
            call_id,
            redact(reason),
            stats.frames,
            stats.lost,
            stats.duplicates,
            stats.out_of_order,
            stats.bad,
            stats.chunks,
            stats.duration_ms,
        )
        return stats

    def _deliver(self, call: _Call, chunks: Iterable[AudioChunk]) -> None:
        delivered = 0
        for chunk in chunks:
            delivered += 1
            try:
                self._sink.audio(chunk)
            except Exception:
                self._metrics.inc("ingest_sink_errors_total", labels={"stage": "audio"})
                if not call.sink_failed:  # log once per call: the sink may fail for every chunk
                    call.sink_failed = True
                    log.exception("ingest: sink failed on audio of call %s", call.info.call_id)
        if delivered:
            self._metrics.inc("ingest_chunks_total", delivered)

    # --- sending ------------------------------------------------------------------------------

    async def _bad(self, conn: _Connection, reason: str, message: str) -> None:
        self._metrics.inc("ingest_bad_messages_total", labels={"reason": reason})
        log.debug("ingest: bad message from %s (%s): %s", conn.peer, reason, message)
        await self._notice(conn, Error(reason, message))

    async def _notice(self, conn: _Connection, error: Error) -> None:
        """Send an error about a frame, unless the connection's notice budget is spent."""
        limiter = conn.limiter
        if not limiter.allow():
            self._metrics.inc("ingest_notices_suppressed_total")
            return
        if limiter.suppressed:
            error = dataclasses.replace(error, suppressed=limiter.suppressed)
            limiter.suppressed = 0
        await self._send(conn, error)

    async def _send(self, conn: _Connection, frame: ServerFrame) -> None:
        if isinstance(frame, Error) and len(frame.message) > _MAX_MESSAGE_CHARS:
            frame = dataclasses.replace(
                frame, message=frame.message[: _MAX_MESSAGE_CHARS - 1] + "…"
            )
        # A closed connection is noticed by the read loop, which then ends the connection's calls.
        with contextlib.suppress(websockets.ConnectionClosed):
            await conn.ws.send(encode_frame(frame))
