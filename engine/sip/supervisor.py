"""The supervisor inside ``jiesu serve``: starts N SIP worker processes, turns their frames
(:mod:`.frames`) into the door contract (:mod:`jiesu.engine.calls`: ``call_started`` ->
``audio``* -> ``call_ended``), restarts a worker that dies and reports its calls ended (reason
``worker_lost``).

Per connection the frames are handled in order on the asyncio loop, so a call's ``start``
always reaches the sink before its audio and its ``end`` after the last chunk. Every leg's frames
go through the per-leg policy the websocket ingest uses (:class:`~jiesu.engine.legstream.
LegStream`): a frame missing from a leg's sequence (dropped in a full worker queue) is replaced by
silence so ``seq`` stays gap-free, counted as ``sip_frames_dropped_total{where="gap"}``; a seq
more than 10 s ahead is refused rather than filled (``{where="seq_jump"}``), so a worker that
skips its counter cannot make the main process allocate without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import methodcaller
from pathlib import Path
from typing import Any, Protocol, TypeVar

from jiesu.engine.audio import AudioChunk, Leg
from jiesu.engine.calls import CallStats, IngestCall, IngestSink, LegStats
from jiesu.engine.config import SipConfig
from jiesu.engine.events import CallMode
from jiesu.engine.legstream import (
    DEFAULT_MAX_GAP_MS,
    DropReason,
    LegStream,
    default_decoder,
    default_resampler,
)
from jiesu.engine.metrics import Metrics
from jiesu.engine.sip import frames as fr
from jiesu.engine.sip.recorder import LegRecorder, purge_old_recordings
from jiesu.engine.sip.routing import RoutingRules
from jiesu.engine.sip.settings import FRAME_BYTES, FRAME_MS, RATE, WorkerSettings
from jiesu.engine.wire import to_plain

log = logging.getLogger("jiesu.sip")

_CODEC_RATES = {"PCMU": 8000, "PCMA": 8000, "G722": 16000, "L16": 16000}
#: What a worker's taps deliver: 16 kHz little-endian int16, one frame per 20 ms.
_TAP_CODEC = "s16le"


def _leg_stream(call_id: str, leg: Leg) -> LegStream:
    """The ingest's per-leg policy over tap frames (s16le at 16 kHz: decoding is a view, the
    resampler passes through)."""
    return LegStream(
        call_id,
        leg,
        _TAP_CODEC,
        FRAME_MS,
        default_decoder(_TAP_CODEC, RATE),
        default_resampler(RATE, RATE),
        max_gap_frames=DEFAULT_MAX_GAP_MS // FRAME_MS,
        frame_bytes=FRAME_BYTES,
    )


class AnsweredCallListener(Protocol):
    """What hears the calls Jiesu answers itself (IVR, after hours): the voice channel.

    Called on the event loop, in the order the worker sent things; must not block. Assist
    calls are not passed on (Jiesu never speaks on them).
    """

    def call_started(self, call: IngestCall) -> None: ...

    def caller_audio(self, chunk: AudioChunk) -> AudioChunk:
        """A frame of the caller's leg; returns it as the speech core is to hear it (the
        voice channel silences its own prompt's echo)."""
        ...

    def dtmf(self, digit: fr.Dtmf) -> None: ...

    def play_state(self, state: fr.PlayState) -> None: ...

    def transfer_state(self, state: fr.TransferState) -> None: ...

    def call_ended(self, call_id: str, reason: str) -> None: ...


_R = TypeVar("_R")

#: The most audio one :class:`~.frames.PlayAudio` frame carries (1 s at 16 kHz).
PLAY_PIECE_BYTES = RATE * 2


@dataclass
class _LegTrack:
    stream: LegStream
    #: Media time of the leg's seq 0 in ms from the start of the call (a leg's tap, e.g. the
    #: agent's, may start later than the call); added to every chunk's ``t_media_ms``.
    offset_ms: int = 0
    #: Frames of the wrong size, used as silence (the stream counted them as frames).
    bad: int = 0

    def stats(self) -> LegStats:
        s = self.stream.stats()
        return dataclasses.replace(
            s, frames=s.frames - self.bad, lost=s.lost + self.bad, bad=s.bad + self.bad
        )


@dataclass
class _CallTrack:
    call: IngestCall
    worker: int
    legs: dict[Leg, _LegTrack] = field(default_factory=dict)
    recorders: dict[Leg, LegRecorder] = field(default_factory=dict)

    @property
    def answered(self) -> bool:
        """A call Jiesu answers itself (its voice channel hears it)."""
        return self.call.mode is not CallMode.ASSIST


@dataclass
class WorkerHandle:
    """One worker process and its socket connection (both replaced on a restart)."""

    index: int
    process: asyncio.subprocess.Process | None = None
    writer: asyncio.StreamWriter | None = None
    port: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    restarts: int = 0
    calls: set[str] = field(default_factory=set)
    pongs: dict[int, asyncio.Future[None]] = field(default_factory=dict)


class SipSupervisor:
    """Owns the worker processes; feeds every call they carry into ``sink``."""

    def __init__(
        self,
        config: SipConfig,
        sink: IngestSink,
        metrics: Metrics,
        hotline: str = "12345",
        *,
        faults: tuple[str, ...] = (),
        log_level: str = "INFO",
        ready_timeout_s: float = 30.0,
        caller_keyer: Callable[[str], str] | None = None,
    ) -> None:
        self.config = config
        self.sink = sink
        self.metrics = metrics
        self.hotline = hotline
        self.faults = faults
        self.log_level = log_level
        self.ready_timeout_s = ready_timeout_s
        #: Keyed hash of the caller's number (the clear number crosses only the Unix socket).
        self._caller_keyer = caller_keyer
        self.workers = [WorkerHandle(i) for i in range(config.workers)]
        self._calls: dict[str, _CallTrack] = {}
        self._dir = Path(tempfile.mkdtemp(prefix="jiesu-sip-"))
        self.socket_path = self._dir / "workers.sock"
        self._server: asyncio.Server | None = None
        self._watchers: list[asyncio.Task[None]] = []
        self._stopping = False
        self._password = ""
        self._pings = 0
        self._changed = asyncio.Condition()
        #: Worker-side counters (frames, RTP packets received/lost) of recently ended calls, by
        #: call id and leg; the latest 200 calls are kept.
        self.last_leg_info: dict[str, dict[str, dict[str, Any]]] = {}
        #: Calls reported ended to the sink since start.
        self.calls_ended = 0
        #: The latest DTMF keys, in the order the workers reported them (oldest dropped past
        #: 1000); the keys of answered calls also go to ``answered_listener``.
        self.dtmf: deque[fr.Dtmf] = deque(maxlen=1000)
        #: The voice channel of calls Jiesu answers itself (see :class:`AnsweredCallListener`).
        self.answered_listener: AnsweredCallListener | None = None
        #: Registration state per worker index (True: registered), when registration is on.
        self.registered: dict[int, bool] = {}

    # --- life cycle ------------------------------------------------------------------
    def settings_for(self, index: int) -> WorkerSettings:
        c = self.config
        r = c.routing
        return WorkerSettings(
            index=index,
            socket_path=str(self.socket_path),
            bind_address=c.bind_address,
            sip_port=c.sip_port + index if c.sip_port else 0,
            transports=c.transports,
            rtp_port_start=c.rtp_port_start + index * c.rtp_ports_per_worker,
            rtp_port_count=c.rtp_ports_per_worker,
            max_legs=c.calls_per_worker,
            codecs=c.codecs,
            retry_after_s=c.retry_after_s,
            frame_queue=c.frame_queue,
            routing=RoutingRules(
                r.assist_numbers, r.ivr_numbers, r.after_hours_numbers, r.unmatched, r.office_hours
            ),
            agent_uri=r.agent_uri,
            agent_answer_timeout_s=r.agent_answer_timeout_s,
            registrar=c.registration.registrar if c.registration.enabled else "",
            username=c.registration.username,
            password=self._password,
            registration_expires_s=c.registration.expires_s,
            faults=self.faults,
            log_level=self.log_level,
        )

    async def start(self) -> None:
        """Start every worker; returns when all have bound their SIP port."""
        if self.config.registration.enabled:
            path = self.config.registration.password_file
            self._password = (await asyncio.to_thread(path.read_text, "utf-8")).strip()
        if self.config.recording.enabled:
            removed = await asyncio.to_thread(
                purge_old_recordings,
                self.config.recording.directory,
                self.config.recording.retention_days,
                time.time(),
            )
            if removed:
                log.info("recordings: %d past retention removed", removed)
        self._server = await asyncio.start_unix_server(self._serve, path=str(self.socket_path))
        os.chmod(self.socket_path, 0o600)
        for handle in self.workers:
            await self._spawn(handle)
            self._watchers.append(asyncio.create_task(self._watch(handle)))
        await asyncio.wait_for(
            asyncio.gather(*(h.ready.wait() for h in self.workers)), self.ready_timeout_s
        )
        for handle in self.workers:
            log.info("sip worker %d: %s:%d", handle.index, self.config.bind_address, handle.port)

    @property
    def stopping(self) -> bool:
        """True once :meth:`close` began (a property, so a check after an await is re-read)."""
        return self._stopping

    @property
    def ports(self) -> list[int]:
        return [h.port for h in self.workers]

    async def _spawn(self, handle: WorkerHandle) -> None:
        handle.ready.clear()
        handle.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "jiesu.engine.sip.worker",
            self.settings_for(handle.index).to_json(),
            stdin=asyncio.subprocess.DEVNULL,
            # pjlib prints a few lines before the worker's log writer is installed: to stderr,
            # never into the stdout of a ``--json`` command.
            stdout=2,
        )

    async def _watch(self, handle: WorkerHandle) -> None:
        while True:
            assert handle.process is not None
            code = await handle.process.wait()
            if self._stopping:
                return
            log.error(
                "sip worker %d (pid %d) exited with %s", handle.index, handle.process.pid, code
            )
            handle.ready.clear()
            if self.registered.get(handle.index):
                # Its binding is stale (the restarted worker registers again).
                self.registered[handle.index] = False
                self.metrics.set_gauge("sip_registration_state", 0.0, {"worker": str(handle.index)})
            self.metrics.inc("sip_worker_restarts_total", labels={"worker": str(handle.index)})
            await self._end_worker_calls(handle, "worker_lost")
            handle.restarts += 1
            await asyncio.sleep(self.config.restart_backoff_s)
            if self.stopping:
                return
            await self._spawn(handle)

    async def close(self) -> None:
        """Ask every worker to hang up and stop; kill one that does not within 5 s."""
        self._stopping = True
        for handle in self.workers:
            self._send(handle, fr.Stop())
        for handle in self.workers:
            process = handle.process
            if process is None:
                continue
            try:
                await asyncio.wait_for(process.wait(), 5.0)
            except TimeoutError:
                log.error("sip worker %d did not stop; killing it", handle.index)
                process.kill()
                await process.wait()
        for task in self._watchers:
            task.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)
        for handle in self.workers:
            await self._end_worker_calls(handle, "worker_stopped")
            if handle.writer is not None:
                handle.writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        with contextlib.suppress(OSError):
            self.socket_path.unlink(missing_ok=True)
            self._dir.rmdir()

    # --- commands to calls (the answer-mode primitives for IVR flows) ---------------------
    def _send(self, handle: WorkerHandle, frame: fr.MainFrame) -> bool:
        if handle.writer is None or handle.writer.is_closing():
            return False
        handle.writer.write(fr.encode_frame(frame))
        return True

    def command(self, call_id: str, op: fr.Op, arg: str = "") -> bool:
        """Send ``op`` (with its WAV path or URI) to the worker of a call."""
        track = self._calls.get(call_id)
        if track is None:
            return False
        return self._send(self.workers[track.worker], fr.Command(call_id, op, arg))

    def hangup(self, call_id: str) -> bool:
        return self.command(call_id, fr.Op.HANGUP)

    def play(self, call_id: str, wav: Path) -> bool:
        return self.command(call_id, fr.Op.PLAY, str(wav))

    def play_audio(self, call_id: str, play_id: int, pcm: bytes, last: bool) -> bool:
        """Stream a piece of playback ``play_id`` (16 kHz int16) to the caller of ``call_id``;
        pieces over 1 s are split. The worker reports :class:`~.frames.PlayState` back."""
        track = self._calls.get(call_id)
        if track is None:
            return False
        handle = self.workers[track.worker]
        pieces = [pcm[i : i + PLAY_PIECE_BYTES] for i in range(0, len(pcm), PLAY_PIECE_BYTES)]
        pieces = pieces or [b""]
        for n, piece in enumerate(pieces):
            frame = fr.PlayAudio(call_id, play_id, piece, last and n == len(pieces) - 1)
            if not self._send(handle, frame):
                return False
        return True

    def stop_playback(self, call_id: str, play_id: int = 0) -> bool:
        """Stop playback ``play_id`` (0: any) of ``call_id`` at the worker's next frame."""
        return self.command(call_id, fr.Op.STOP_PLAY, str(play_id) if play_id else "")

    def transfer(self, call_id: str, uri: str) -> bool:
        """Blind transfer with REFER; the call ends when the transfer succeeded."""
        return self.command(call_id, fr.Op.TRANSFER, uri)

    def bridge(self, call_id: str, uri: str) -> bool:
        """Ring ``uri`` and bridge it to the caller (the call becomes a two-leg assist call)."""
        return self.command(call_id, fr.Op.BRIDGE, uri)

    async def sync(self, index: int = 0, timeout_s: float = 10.0) -> None:
        """Wait until worker ``index`` has delivered everything it sent before this call."""
        handle = self.workers[index]
        self._pings += 1
        token = self._pings
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        handle.pongs[token] = future
        if not self._send(handle, fr.Ping(token)):
            handle.pongs.pop(token, None)
            raise ConnectionError(f"sip worker {index} is not connected")
        try:
            await asyncio.wait_for(future, timeout_s)
        finally:
            handle.pongs.pop(token, None)

    async def wait_ended(self, calls: int, timeout_s: float = 30.0) -> None:
        """Wait until ``calls`` calls have ended in total and none is live."""
        await self._wait(lambda: self.calls_ended >= calls and not self._calls, timeout_s)

    async def _wait(self, predicate: Callable[[], bool], timeout_s: float) -> None:
        async with asyncio.timeout(timeout_s), self._changed:
            await self._changed.wait_for(predicate)

    @property
    def live_calls(self) -> int:
        return len(self._calls)

    # --- frames from workers ----------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        frames = fr.FrameReader()
        handle: WorkerHandle | None = None
        try:
            while data := await reader.read(1 << 16):
                for frame in frames.feed(data):
                    if isinstance(frame, fr.Ready):
                        handle = self.workers[frame.index]
                        handle.writer = writer
                        handle.port = frame.port
                        handle.ready.set()
                    elif handle is not None:
                        await self.handle_frame(handle, frame)
        except fr.WireError as exc:
            log.error("bad frame from a sip worker: %s", exc)
            self.metrics.inc("sip_bad_frames_total")
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def handle_frame(self, handle: WorkerHandle, frame: fr.Frame | fr.BadFrame) -> None:
        """One frame from the worker ``handle`` (in the order it sent them)."""
        match frame:
            case fr.AudioFrame():
                self._audio(frame)
            case fr.CallStart():
                await self._start_call(handle, frame)
            case fr.CallEnd():
                per_leg = {leg.leg.value: leg for leg in frame.legs}
                await self._finish(handle, frame.call_id, frame.reason or "ended", per_leg)
            case fr.Metric():
                self.metrics.inc(frame.name, float(frame.n), dict(frame.labels))
            case fr.Pong():
                future = handle.pongs.pop(frame.n, None)
                if future is not None and not future.done():
                    future.set_result(None)
            case fr.Dtmf():
                self._dtmf(frame)
            case fr.PlayState():
                self._tell("play_state", lambda listener: listener.play_state(frame), None)
            case fr.TransferState():
                self.metrics.inc(
                    "sip_transfers_total", labels={"kind": frame.kind, "phase": frame.phase.value}
                )
                self._tell("transfer_state", lambda listener: listener.transfer_state(frame), None)
            case fr.Registration():
                await self._registration(handle, frame)
            case fr.BadFrame():
                log.error("bad frame from sip worker %d: %s", handle.index, frame.problem)
                self.metrics.inc("sip_bad_frames_total")
            case _:  # a second ready, or a main -> worker frame sent the wrong way
                log.error("sip worker %d sent a %s frame", handle.index, frame.TYPE)
                self.metrics.inc("sip_bad_frames_total")

    def _tell(self, what: str, act: Callable[[AnsweredCallListener], _R], otherwise: _R) -> _R:
        """``act`` on the answered-call listener; ``otherwise`` without one or when it fails
        (logged and counted as ``sip_listener_errors_total{what}``, never raised)."""
        listener = self.answered_listener
        if listener is None:
            return otherwise
        try:
            return act(listener)
        except Exception:
            log.exception("answered-call listener failed in %s", what)
            self.metrics.inc("sip_listener_errors_total", labels={"what": what})
            return otherwise

    def _dtmf(self, digit: fr.Dtmf) -> None:
        self.metrics.inc("sip_dtmf_total", labels={"method": digit.method})
        # A key is not personal data by itself, but keys typed in a row can be an ID number:
        # the log names the method only.
        log.info("call %s: DTMF (%s) from the %s", digit.call_id[:8], digit.method, digit.leg)
        self.dtmf.append(digit)
        track = self._calls.get(digit.call_id)
        if track is not None and track.answered:
            self._tell("dtmf", lambda listener: listener.dtmf(digit), None)

    async def _registration(self, handle: WorkerHandle, frame: fr.Registration) -> None:
        """A worker's registration changed: ``sip_registration_state{worker}`` 1 or 0."""
        active, code = frame.active, frame.code
        worker = str(handle.index)
        self.registered[handle.index] = active
        self.metrics.set_gauge("sip_registration_state", 1.0 if active else 0.0, {"worker": worker})
        self.metrics.inc(
            "sip_registration_responses_total", labels={"worker": worker, "code": str(code)}
        )
        log.log(
            logging.INFO if active or code in (0, 200) else logging.WARNING,
            "sip worker %d: %s (%d %s, expires %s s)",
            handle.index,
            "registered" if active else "not registered",
            code,
            frame.reason,
            frame.expires,
        )
        async with self._changed:
            self._changed.notify_all()

    async def wait_registered(
        self, index: int = 0, state: bool = True, timeout_s: float = 10.0
    ) -> None:
        """Wait until worker ``index`` reports its registration ``state``."""
        await self._wait(lambda: self.registered.get(index) is state, timeout_s)

    async def _start_call(self, handle: WorkerHandle, frame: fr.CallStart) -> None:
        codec = frame.codec or "PCMA"
        call = IngestCall(
            call_id=frame.call_id,
            hotline=self.hotline,
            agent_id=frame.agent,
            mode=frame.mode,
            legs=frame.legs,
            codec=codec.lower(),
            rate=_CODEC_RATES.get(codec.upper(), 8000),
            caller_masked=frame.caller_masked,
            source=f"sip-worker-{handle.index}",
            caller_key=(
                self._caller_keyer(frame.number)
                if self._caller_keyer is not None and frame.number
                else ""
            ),
        )
        try:
            await self.sink.call_started(call)
        except Exception as exc:
            log.warning("sink refused call %s: %r; hanging up", call.call_id[:8], exc)
            self.metrics.inc("sip_calls_refused_total", labels={"reason": "sink"})
            self._send(handle, fr.Command(call.call_id, fr.Op.HANGUP))
            return
        legs = {leg: _LegTrack(_leg_stream(call.call_id, leg)) for leg in frame.legs}
        track = _CallTrack(call, handle.index, legs)
        if self.config.recording.enabled:
            for leg in frame.legs:
                track.recorders[leg] = LegRecorder(
                    self.config.recording.directory, call.call_id, leg
                )
        self._calls[call.call_id] = track
        handle.calls.add(call.call_id)
        if track.answered:
            self._tell("call_started", lambda listener: listener.call_started(call), None)
        self.metrics.inc("sip_calls_total", labels={"mode": frame.mode.value})

    def _audio(self, frame: fr.AudioFrame) -> None:
        """One tap frame through its leg's :class:`LegStream`; the chunks it completes go to the
        sink. Synchronous and pure but for the sink, the recorder and the counters."""
        track = self._calls.get(frame.call_id)
        if track is None:
            self.metrics.inc("sip_frames_dropped_total", labels={"where": "no_call"})
            return
        state = track.legs.get(frame.leg)
        if state is None and frame.leg is Leg.AGENT and track.answered:
            # An answered call handed over to an agent: their leg joins the call here.
            state = track.legs[Leg.AGENT] = _LegTrack(_leg_stream(frame.call_id, Leg.AGENT))
            if self.config.recording.enabled:
                track.recorders[Leg.AGENT] = LegRecorder(
                    self.config.recording.directory, frame.call_id, Leg.AGENT
                )
        if state is None:
            self.metrics.inc("sip_bad_frames_total")
            return
        # A tap frame of the wrong size (an empty one from the bridge) keeps its slot as silence,
        # unlike on the ingest: dropped, a trailing one would shorten the leg.
        wrong_size = len(frame.pcm) != FRAME_BYTES
        pcm = bytes(FRAME_BYTES) if wrong_size else frame.pcm
        result = state.stream.push(frame.seq, _TAP_CODEC, pcm)
        if result.drop is not None:
            if result.drop.reason is DropReason.SEQ_JUMP:
                self.metrics.inc("sip_frames_dropped_total", labels={"where": "seq_jump"})
            else:  # late or duplicate
                self.metrics.inc("sip_bad_frames_total")
            return
        if wrong_size:
            state.bad += 1
            self.metrics.inc("sip_bad_frames_total")
        if result.lost:  # frames the worker dropped: silence in their slots
            self.metrics.inc("sip_frames_dropped_total", float(result.lost), {"where": "gap"})
        state.offset_ms = frame.media_ms - FRAME_MS * frame.seq
        self._deliver(track, state, result.chunks)

    def _deliver(self, track: _CallTrack, state: _LegTrack, chunks: tuple[AudioChunk, ...]) -> None:
        for chunk in chunks:
            if state.offset_ms:
                chunk = dataclasses.replace(chunk, t_media_ms=chunk.t_media_ms + state.offset_ms)
            recorder = track.recorders.get(chunk.leg)
            if recorder is not None:
                recorder.write(chunk.pcm)
            if chunk.leg is Leg.CALLER and track.answered:
                chunk = self._tell("caller_audio", methodcaller("caller_audio", chunk), chunk)
            try:
                self.sink.audio(chunk)
            except Exception:
                log.exception("sink.audio failed")
                self.metrics.inc("sip_sink_errors_total")

    async def _finish(
        self, handle: WorkerHandle, call_id: str, reason: str, per_leg: dict[str, fr.LegEnd]
    ) -> None:
        track = self._calls.pop(call_id, None)
        handle.calls.discard(call_id)
        if track is None:
            return
        for state in track.legs.values():
            self._deliver(track, state, state.stream.finish())
        for info in per_leg.values():
            if info.rtp_lost:
                self.metrics.inc("sip_rtp_lost_total", float(info.rtp_lost))
        for recorder in track.recorders.values():
            recorder.close()
        stats = CallStats.of_legs([state.stats() for state in track.legs.values()])
        self.last_leg_info[call_id] = {leg: to_plain(info) for leg, info in per_leg.items()}
        while len(self.last_leg_info) > 200:
            self.last_leg_info.pop(next(iter(self.last_leg_info)))
        if track.answered:
            self._tell("call_ended", lambda listener: listener.call_ended(call_id, reason), None)
        try:
            await self.sink.call_ended(call_id, reason, stats)
        except Exception:
            log.exception("sink.call_ended failed for %s", call_id[:8])
            self.metrics.inc("sip_sink_errors_total")
        self.calls_ended += 1
        async with self._changed:
            self._changed.notify_all()

    async def _end_worker_calls(self, handle: WorkerHandle, reason: str) -> None:
        for call_id in sorted(handle.calls):
            await self._finish(handle, call_id, reason, {})
