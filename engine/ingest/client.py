"""A client for the websocket audio ingest: streams a WAV file or PCM as a call.

Used by the tests, the demo and the benchmarks, and a reference for other clients::

    async with IngestClient("ws://127.0.0.1:8766/", token) as client:
        stats = await client.stream_wav(Path("call.wav"), "call-1", codec="pcmu")

A background task reads the server's frames: ``started`` / ``stopped`` / ``welcome`` answer the
request that is waiting for them; ``error`` frames that answer a request (no ``seq``) fail it
with :class:`IngestRefused`; the others (about audio frames or garbage) are queued for
:meth:`IngestClient.next_error` in a bounded queue that drops its oldest entry when full.

Run as a program: ``python -m jiesu.engine.ingest.client URL FILE.wav --codec pcmu`` with the
token in the environment variable ``JIESU_INGEST_TOKEN`` (never on the command line).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import sys
import uuid
import wave
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

import numpy as np
import numpy.typing as npt
import websockets
from websockets.asyncio.client import ClientConnection, connect

from jiesu.engine.audio import Leg
from jiesu.engine.calls import CallStats
from jiesu.engine.events import CallMode
from jiesu.engine.ingest.protocol import (
    Audio,
    ClientFrame,
    Error,
    Hello,
    ServerFrame,
    Start,
    Started,
    Stop,
    Stopped,
    Welcome,
    decode_server_frame,
    encode_frame,
)
from jiesu.engine.wire import ProtocolError

Pcm = npt.NDArray[np.int16]

#: PCM rate each codec carries when the caller does not say.
DEFAULT_RATES = {"pcmu": 8000, "pcma": 8000, "g722": 16000, "opus": 48000}
TOKEN_ENV = "JIESU_INGEST_TOKEN"


class IngestRefused(Exception):
    """The server answered a request with an error frame (or closed the connection)."""

    def __init__(self, error: Error) -> None:
        super().__init__(f"{error.code}: {error.message}")
        self.error = error
        self.code = error.code


def read_wav(path: Path) -> tuple[Pcm, int]:
    """A 16-bit WAV file as mono int16 PCM (channels averaged) and its sample rate."""
    with wave.open(str(path), "rb") as handle:
        if handle.getsampwidth() != 2:
            raise ValueError(f"{path}: only 16-bit PCM WAV files are supported")
        rate = handle.getframerate()
        channels = handle.getnchannels()
        data = np.frombuffer(handle.readframes(handle.getnframes()), dtype="<i2")
    if channels > 1:
        data = data.reshape(-1, channels).mean(axis=1).round()
    return data.astype(np.int16), rate


def encode_pcm(
    pcm: Pcm, source_rate: int, codec: str, rate: int | None = None, ptime_ms: int = 20
) -> list[bytes]:
    """Resample ``pcm`` to the codec's rate, cut it into ``ptime_ms`` frames (the last one
    padded with silence) and encode each: the payloads of seq 0, 1, 2, …"""
    from jiesu.codecs.payload import open_encoder
    from jiesu.codecs.resample import resample

    rate = rate or DEFAULT_RATES.get(codec, source_rate)
    encoder = open_encoder(codec, rate)
    pcm = resample(np.ascontiguousarray(pcm, dtype=np.int16), source_rate, encoder.rate)
    n = encoder.rate * ptime_ms // 1000
    if n <= 0 or encoder.rate * ptime_ms % 1000:
        raise ValueError(f"{ptime_ms} ms at {encoder.rate} Hz is not a whole number of samples")
    frames = -(-len(pcm) // n)
    padded = np.zeros(frames * n, np.int16)
    padded[: len(pcm)] = pcm
    return [bytes(encoder.encode(padded[i * n : (i + 1) * n])) for i in range(frames)]


class IngestClient:
    """One websocket connection to the ingest; may carry several calls at once."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        client_name: str = "jiesu-ingest-client",
        error_backlog: int = 1000,
        open_timeout_s: float = 10.0,
        max_size: int = 1 << 20,
    ) -> None:
        self.url = url
        self._token = token
        self._client_name = client_name
        self._open_timeout = open_timeout_s
        self._max_size = max_size
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._welcome: asyncio.Future[Welcome] | None = None
        self._starts: dict[str, asyncio.Future[None]] = {}
        self._stops: dict[str, asyncio.Future[Stopped]] = {}
        self._errors: asyncio.Queue[Error] = asyncio.Queue(maxsize=error_backlog)
        #: Error frames dropped from the full backlog (oldest first).
        self.errors_dropped = 0
        #: Every error frame received, by code (requests' refusals included).
        self.error_counts: collections.Counter[str] = collections.Counter()
        #: Calls the server ended on its own (shutdown), by call id.
        self.ended_by_server: dict[str, Stopped] = {}
        self.welcome: Welcome | None = None
        #: Close code of the connection once it has closed (e.g. 4401 after a refused token).
        self.close_code: int | None = None

    # --- connection ---------------------------------------------------------------------------

    async def connect(self) -> Welcome:
        """Open the connection and authenticate; IngestRefused if the token is refused."""
        self._ws = await connect(
            self.url,
            open_timeout=self._open_timeout,
            max_size=self._max_size,
            compression=None,
            proxy=None,
        )
        loop = asyncio.get_running_loop()
        self._welcome = loop.create_future()
        self._reader = asyncio.create_task(self._read(self._ws), name="ingest-client-reader")
        await self.send_frame(Hello(self._token, self._client_name))
        self.welcome = await asyncio.wait_for(asyncio.shield(self._welcome), self._open_timeout)
        return self.welcome

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            await self._reader

    async def __aenter__(self) -> IngestClient:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def connection(self) -> ClientConnection:
        if self._ws is None:
            raise RuntimeError("IngestClient is not connected")
        return self._ws

    async def wait_closed(self, timeout_s: float = 10.0) -> int | None:
        """Wait until the server closes the connection; returns the close code."""
        if self._reader is not None:
            await asyncio.wait_for(asyncio.shield(self._reader), timeout_s)
        return self.close_code

    # --- sending ------------------------------------------------------------------------------

    async def send_frame(self, frame: ClientFrame) -> None:
        await self.connection.send(encode_frame(frame))

    async def send_raw(self, data: bytes | str) -> None:
        """Send any message as it is (tests of the server's handling of garbage)."""
        await self.connection.send(data)

    async def start_call(
        self,
        call_id: str,
        *,
        codec: str,
        rate: int | None = None,
        legs: Sequence[Leg] = (Leg.CALLER,),
        hotline: str = "12345",
        agent_id: str = "",
        mode: CallMode = CallMode.ASSIST,
        ptime_ms: int = 20,
        caller_number: str = "",
        timeout_s: float = 10.0,
    ) -> None:
        """Open a call and wait for ``started``; IngestRefused with the server's error code."""
        start = Start(
            call_id=call_id,
            hotline=hotline,
            agent_id=agent_id,
            codec=codec,
            rate=rate or DEFAULT_RATES.get(codec, 16000),
            legs=tuple(legs),
            mode=mode,
            ptime_ms=ptime_ms,
            caller_number=caller_number,
        )
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._starts[call_id] = future
        try:
            await self.send_frame(start)
            await asyncio.wait_for(future, timeout_s)
        finally:
            self._starts.pop(call_id, None)

    async def send_audio(
        self, call_id: str, leg: Leg, seq: int, payload: bytes, codec: str
    ) -> None:
        await self.send_frame(Audio(call_id, leg, seq, codec, payload))

    async def stop_call(
        self, call_id: str, reason: str = "hangup", timeout_s: float = 10.0
    ) -> CallStats:
        """End a call and return its statistics. Every error frame about the call's audio has
        been received (and queued) when this returns: the server answers in order."""
        future: asyncio.Future[Stopped] = asyncio.get_running_loop().create_future()
        self._stops[call_id] = future
        try:
            await self.send_frame(Stop(call_id, reason))
            stopped = await asyncio.wait_for(future, timeout_s)
        finally:
            self._stops.pop(call_id, None)
        return stopped.stats

    async def stream_call(
        self,
        call_id: str,
        legs: Mapping[Leg, Pcm],
        source_rate: int,
        *,
        codec: str,
        rate: int | None = None,
        ptime_ms: int = 20,
        realtime: bool = False,
        stop: bool = True,
        hotline: str = "12345",
        agent_id: str = "",
        mode: CallMode = CallMode.ASSIST,
        caller_number: str = "",
    ) -> CallStats | None:
        """Open a call, stream every leg's PCM (frames of one seq sent together) and, with
        ``stop``, end it and return its statistics.

        ``realtime`` paces frames at ``ptime_ms`` intervals (from the loop clock, without drift);
        otherwise they go as fast as the connection takes them.
        """
        rate = rate or DEFAULT_RATES.get(codec, source_rate)
        payloads = {
            leg: encode_pcm(pcm, source_rate, codec, rate, ptime_ms) for leg, pcm in legs.items()
        }
        await self.start_call(
            call_id,
            codec=codec,
            rate=rate,
            legs=tuple(legs),
            hotline=hotline,
            agent_id=agent_id,
            mode=mode,
            ptime_ms=ptime_ms,
            caller_number=caller_number,
        )
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        frames = max((len(p) for p in payloads.values()), default=0)
        for seq in range(frames):
            if realtime:
                delay = t0 + seq * ptime_ms / 1000 - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)  # pacing, not synchronisation
            for leg, leg_payloads in payloads.items():
                if seq < len(leg_payloads):
                    await self.send_audio(call_id, leg, seq, leg_payloads[seq], codec)
        if not stop:
            return None
        return await self.stop_call(call_id)

    async def stream_wav(
        self,
        path: Path,
        call_id: str | None = None,
        *,
        codec: str,
        rate: int | None = None,
        leg: Leg = Leg.CALLER,
        ptime_ms: int = 20,
        realtime: bool = False,
        hotline: str = "12345",
        agent_id: str = "",
        mode: CallMode = CallMode.ASSIST,
        caller_number: str = "",
    ) -> CallStats:
        """Stream a WAV file as one leg of a new call and end the call; returns its stats."""
        pcm, source_rate = read_wav(path)
        stats = await self.stream_call(
            call_id or f"wav-{uuid.uuid4().hex[:12]}",
            {leg: pcm},
            source_rate,
            codec=codec,
            rate=rate,
            ptime_ms=ptime_ms,
            realtime=realtime,
            hotline=hotline,
            agent_id=agent_id,
            mode=mode,
            caller_number=caller_number,
        )
        assert stats is not None
        return stats

    # --- receiving ----------------------------------------------------------------------------

    async def next_error(self, timeout_s: float = 10.0) -> Error:
        """The next error frame not answering a request (oldest first)."""
        return await asyncio.wait_for(self._errors.get(), timeout_s)

    def pending_errors(self) -> list[Error]:
        """Take every queued error frame without waiting."""
        errors = []
        while not self._errors.empty():
            errors.append(self._errors.get_nowait())
        return errors

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for message in ws:
                if isinstance(message, bytes):
                    self._dispatch(message)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_code = ws.close_code
            self._fail_pending(ws)

    def _dispatch(self, message: bytes) -> None:
        try:
            frame: ServerFrame = decode_server_frame(message)
        except ProtocolError as exc:
            frame = Error("client_bad_frame", f"server sent an unreadable frame: {exc}")
        if isinstance(frame, Welcome):
            if self._welcome is not None and not self._welcome.done():
                self._welcome.set_result(frame)
        elif isinstance(frame, Started):
            start = self._starts.get(frame.call_id)
            if start is not None and not start.done():
                start.set_result(None)
        elif isinstance(frame, Stopped):
            stop = self._stops.get(frame.call_id)
            if stop is not None and not stop.done():
                stop.set_result(frame)
            else:
                self.ended_by_server[frame.call_id] = frame
                start = self._starts.get(frame.call_id)
                if start is not None and not start.done():
                    start.set_exception(
                        IngestRefused(Error(frame.reason, "call ended by the server"))
                    )
        else:
            self._on_error(frame)

    def _on_error(self, error: Error) -> None:
        self.error_counts[error.code] += 1
        if self._welcome is not None and not self._welcome.done():
            self._welcome.set_exception(IngestRefused(error))
            return
        if error.call_id is not None and error.seq is None:
            for pending in (self._starts, self._stops):
                future = pending.get(error.call_id)
                if future is not None and not future.done():
                    future.set_exception(IngestRefused(error))
                    return
        if self._errors.full():
            self._errors.get_nowait()
            self.errors_dropped += 1
        self._errors.put_nowait(error)

    def _fail_pending(self, ws: ClientConnection) -> None:
        closed = Error(
            "connection_closed",
            f"connection closed (code {ws.close_code}, reason {ws.close_reason!r})",
        )
        futures: list[asyncio.Future[object]] = []
        if self._welcome is not None:
            futures.append(self._welcome)  # type: ignore[arg-type]
        futures.extend(self._starts.values())  # type: ignore[arg-type]
        futures.extend(self._stops.values())  # type: ignore[arg-type]
        for future in futures:
            if not future.done():
                future.set_exception(IngestRefused(closed))
        # Retrieve a welcome failure nobody waits for any more, so asyncio does not warn.
        if self._welcome is not None and self._welcome.done() and not self._welcome.cancelled():
            self._welcome.exception()


async def _main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m jiesu.engine.ingest.client",
        description=f"Stream a WAV file to the audio ingest as one call (token from ${TOKEN_ENV}).",
    )
    parser.add_argument("url", help="ingest websocket URL, e.g. ws://127.0.0.1:8766/")
    parser.add_argument("wav", type=Path)
    parser.add_argument("--codec", default="pcmu")
    parser.add_argument("--rate", type=int, default=None)
    parser.add_argument("--ptime-ms", type=int, default=20)
    parser.add_argument("--leg", choices=[leg.value for leg in Leg], default=Leg.CALLER.value)
    parser.add_argument("--call-id", default=None)
    parser.add_argument("--hotline", default="12345")
    parser.add_argument("--fast", action="store_true", help="do not pace in real time")
    args = parser.parse_args(argv)
    token = os.environ.get(TOKEN_ENV)
    if not token:
        print(f"set ${TOKEN_ENV} to an ingest token (jiesu token --role ingest)", file=sys.stderr)
        return 2
    async with IngestClient(args.url, token) as client:
        stats = await client.stream_wav(
            args.wav,
            args.call_id,
            codec=args.codec,
            rate=args.rate,
            leg=Leg(args.leg),
            ptime_ms=args.ptime_ms,
            realtime=not args.fast,
            hotline=args.hotline,
        )
    from jiesu.engine.wire import to_plain

    print(json.dumps(to_plain(stats)))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(_main()))
