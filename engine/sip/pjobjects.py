"""The worker's pjsua2 objects: the leg tap, the call, the account and the log writer.

pjsua2 hazards every class here respects (see ``docs/sip.md``):

* pjsua2 objects are created and released on the worker's main thread only (the one polling
  ``libHandleEvents``); none may be garbage-collected on another thread;
* every callback body is wrapped by :func:`guarded`: an exception is logged and counted
  (``sip_callback_errors_total{callback=...}``) and the call goes on;
* :class:`Tap`\\ s and :class:`Speaker`\\ s are pooled, never collected while pjsua2 runs (see
  :class:`Tap`);
* state a port shares between the clock thread (``onFrame*``) and the main thread is guarded by
  the port's own lock, held for a few list operations only;
* ``getInfo()`` is kept in a variable before iterating its ``media``.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import pjsua2 as pj  # type: ignore[import-untyped]

from jiesu.engine.audio import Leg
from jiesu.engine.logsetup import redact
from jiesu.engine.sip.frames import AudioFrame, PlayPhase, PlayState, Registration, TransferPhase
from jiesu.engine.sip.settings import FRAME_BYTES, FRAME_MS, RATE

if TYPE_CHECKING:
    from jiesu.engine.sip.session import Session
    from jiesu.engine.sip.worker import Worker

log = logging.getLogger("jiesu.sip.worker")

_F = TypeVar("_F", bound=Callable[..., Any])


def guarded(name: str) -> Callable[[_F], _F]:
    """Wrap a pjsua2 callback: exceptions are logged and counted, never reach pjsua2."""

    def wrap(method: _F) -> _F:
        @functools.wraps(method)
        def body(self: Any, *args: Any) -> Any:
            # pjsua2 can call a port that Python is already tearing down (its attributes are
            # gone): nothing to do for it then.
            worker: Worker | None = getattr(self, "worker", None)
            if worker is None:
                return None
            try:
                if name in worker.settings.faults:
                    raise RuntimeError(f"fault injected into {name}")
                return method(self, *args)
            except Exception:
                log.exception("error in pjsua2 callback %s (call goes on)", name)
                worker.count("sip_callback_errors_total", {"callback": name})
                return None

        return body  # type: ignore[return-value]

    return wrap


#: The most audio a :class:`Speaker` holds queued (60 s): a runaway sender is refused.
MAX_QUEUED_FRAMES = 3000


def _audio_format() -> Any:
    fmt = pj.MediaFormatAudio()
    fmt.type = pj.PJMEDIA_TYPE_AUDIO
    fmt.clockRate = RATE
    fmt.channelCount = 1
    fmt.bitsPerSample = 16
    fmt.frameTimeUsec = FRAME_MS * 1000
    return fmt


class Tap(pj.AudioMediaPort):  # type: ignore[misc]
    """Receives one leg's 16 kHz frames from the conference bridge (clock thread).

    Taps are pooled and reused, never garbage-collected while pjsua2 runs: the bridge calls a
    registered port every 20 ms even with nothing connected, and a port destroyed by Python's
    GC could be called while half torn down (seen as AttributeErrors under load).
    """

    def __init__(self, worker: Worker, number: int) -> None:
        super().__init__()
        self.worker = worker
        self.call_id = ""
        self.leg = Leg.CALLER
        self.offset_ms = 0
        self.seq = 0
        self.dropped = 0
        #: True while the tap belongs to no call: frames are ignored.
        self.closed = True
        self.createPort(f"jiesu-tap-{number}", _audio_format())

    def assign(self, session: Session, leg: Leg) -> None:
        """Give the (closed) tap to a call's leg; ``closed`` is cleared last."""
        self.call_id = session.call_id
        self.leg = leg
        self.offset_ms = int((time.monotonic() - session.began) * 1000)
        self.seq = 0
        self.dropped = 0
        self.closed = False

    @guarded("onFrameReceived")
    def onFrameReceived(self, frame: Any) -> None:
        if self.closed:
            return
        # The copy is the costly part (~0.4 ms); everything else waits for the main process.
        data = bytes(frame.buf)
        seq = self.seq
        self.seq += 1
        frame = AudioFrame(self.call_id, self.leg, seq, self.offset_ms + FRAME_MS * seq, data)
        try:
            self.worker.outbox.put_nowait(frame)
        except queue.Full:
            self.dropped += 1


class Speaker(pj.AudioMediaPort):  # type: ignore[misc]
    """Plays audio the main process streams in (:class:`~.frames.PlayAudio`) to a caller, one
    20 ms frame per request of the conference bridge (clock thread).

    Pieces are queued as whole frames; the bridge takes one per tick, so playback starts with
    the first piece and a stop takes effect at the next tick. Running dry before the last piece
    sends silence and counts an underrun. Each playback reports :class:`~.frames.PlayState`
    started, then finished or stopped, through ``events`` (forwarded by the worker's main
    thread). Pooled like :class:`Tap`.
    """

    def __init__(self, worker: Worker, number: int, events: queue.Queue[PlayState]) -> None:
        super().__init__()
        self.worker = worker
        self.events = events
        self.lock = threading.Lock()
        self.call_id = ""
        self.caller_tap: Tap | None = None
        self.closed = True
        self.play_id = 0
        self.active = False
        self.started = False
        self.last_queued = False
        self.frames = 0
        self.underruns = 0
        self.pending: deque[bytes] = deque()
        self.partial = b""
        self.createPort(f"jiesu-speaker-{number}", _audio_format())

    def assign(self, call_id: str) -> None:
        with self.lock:
            self.call_id = call_id
            self.caller_tap = None
            self.play_id = 0
            self.active = False
            self.pending.clear()
            self.partial = b""
            self.closed = False

    def release(self) -> None:
        """The call ended: a playback still running is reported stopped."""
        with self.lock:
            if self.active:
                self._emit(PlayPhase.STOPPED)
            self.active = False
            self.pending.clear()
            self.closed = True

    def enqueue(self, play_id: int, pcm: bytes, last: bool) -> bool:
        """Queue a piece of playback ``play_id`` (a new id replaces the one playing). False
        when more than :data:`MAX_QUEUED_FRAMES` would be waiting: the playback is stopped."""
        with self.lock:
            if self.closed:
                return True
            if play_id != self.play_id:
                if self.active:
                    self._emit(PlayPhase.STOPPED)
                self.play_id = play_id
                self.active = True
                self.started = False
                self.last_queued = False
                self.frames = 0
                self.underruns = 0
                self.pending.clear()
                self.partial = b""
            elif not self.active:
                return True  # a piece of a playback already stopped
            if len(self.pending) + len(pcm) // FRAME_BYTES > MAX_QUEUED_FRAMES:
                self.pending.clear()  # the playback ends here, reported stopped
                self._emit(PlayPhase.STOPPED)
                self.active = False
                return False
            data = self.partial + pcm
            whole = len(data) - len(data) % FRAME_BYTES
            self.pending.extend(data[i : i + FRAME_BYTES] for i in range(0, whole, FRAME_BYTES))
            self.partial = data[whole:]
            if last:
                if self.partial:  # the tail, padded to a whole frame
                    self.pending.append(self.partial.ljust(FRAME_BYTES, b"\0"))
                    self.partial = b""
                self.last_queued = True
            return True

    def stop(self, play_id: int = 0) -> bool:
        """Stop playback ``play_id`` (0: whatever plays) at the next frame; False if none."""
        with self.lock:
            if not self.active or (play_id and play_id != self.play_id):
                return False
            self.pending.clear()
            self._emit(PlayPhase.STOPPED)
            self.active = False
            return True

    def _emit(self, phase: PlayPhase) -> None:
        tap = self.caller_tap
        state = PlayState(
            self.call_id,
            self.play_id,
            phase,
            self.frames,
            tap.seq if tap is not None else 0,
            self.underruns,
        )
        try:
            self.events.put_nowait(state)
        except queue.Full:  # the main thread drains it every poll (10 ms): it is stuck
            log.error("call %s: playback state %s lost (worker stuck)", self.call_id[:8], phase)

    def _next_frame(self) -> bytes | None:
        with self.lock:
            if self.closed or not self.active:
                return None
            if self.pending:
                if not self.started:
                    self.started = True
                    self._emit(PlayPhase.STARTED)
                self.frames += 1
                return self.pending.popleft()
            if self.last_queued:
                self._emit(PlayPhase.FINISHED)
                self.active = False
            elif self.started:
                self.underruns += 1
            return None

    @guarded("onFrameRequested")
    def onFrameRequested(self, frame: Any) -> None:
        data = self._next_frame()
        if data is None:
            frame.type = pj.PJMEDIA_FRAME_TYPE_NONE
            frame.size = 0
            return
        frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
        frame.buf = pj.ByteVector(data)
        frame.size = len(data)


class SipCall(pj.Call):  # type: ignore[misc]
    """One pjsua2 call: the caller's (incoming) or the agent's (outgoing) leg of a session."""

    def __init__(
        self, worker: Worker, session: Session, leg: Leg, call_id: int = pj.PJSUA_INVALID_ID
    ) -> None:
        super().__init__(worker.account, call_id)
        self.worker = worker
        self.session = session
        self.leg = leg
        self.tap: Tap | None = None
        self.audio: Any = None
        self.confirmed = False
        self.disconnected = False
        self.rx_packets = 0
        self.rx_lost = 0
        self.codec = ""

    def respond(self, status: int) -> None:
        """Answer the (incoming) call with ``status``: 180/183 while ringing, 200 to connect."""
        self.answer(op_param(status))

    @guarded("onCallState")
    def onCallState(self, prm: Any) -> None:
        ci = self.getInfo()
        if ci.state == pj.PJSIP_INV_STATE_CONFIRMED:
            self.confirmed = True
            self.session.on_confirmed(self)
        elif ci.state == pj.PJSIP_INV_STATE_EARLY and self.leg is Leg.AGENT:
            self.session.on_agent_early(ci.lastStatusCode)
        elif ci.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.disconnected = True
            self.session.on_disconnected(self, ci.lastStatusCode, self.confirmed)

    @guarded("onCallMediaState")
    def onCallMediaState(self, prm: Any) -> None:
        ci = self.getInfo()  # kept: iterating getInfo().media directly reads freed memory
        media = ci.media
        for index in range(len(media)):
            info = media[index]
            if info.type != pj.PJMEDIA_TYPE_AUDIO:
                continue
            if info.status in (
                pj.PJSUA_CALL_MEDIA_ACTIVE,
                pj.PJSUA_CALL_MEDIA_LOCAL_HOLD,
                pj.PJSUA_CALL_MEDIA_REMOTE_HOLD,
            ):
                self.audio = self.getAudioMedia(index)
                try:
                    self.codec = str(self.getStreamInfo(index).codecName)
                except pj.Error:
                    self.codec = ""
                self.session.on_media(self)
            elif info.status == pj.PJSUA_CALL_MEDIA_NONE:
                self.audio = None

    @guarded("onStreamDestroyed")
    def onStreamDestroyed(self, prm: Any) -> None:
        stat = self.getStreamStat(prm.streamIdx)
        self.rx_packets += int(stat.rtcp.rxStat.pkt)
        self.rx_lost += int(stat.rtcp.rxStat.loss)

    @guarded("onDtmfDigit")
    def onDtmfDigit(self, prm: Any) -> None:
        method = "info" if prm.method == pj.PJSUA_DTMF_METHOD_SIP_INFO else "rfc4733"
        self.session.on_dtmf(self, str(prm.digit), method)

    @guarded("onCallTransferStatus")
    def onCallTransferStatus(self, prm: Any) -> None:
        status = int(prm.statusCode)
        log.info("call %s: transfer status %d", self.session.call_id[:8], status)
        if not prm.finalNotify:
            self.session.transfer_state("refer", TransferPhase.RINGING, status)
        elif 200 <= status < 300:
            self.session.transfer_state("refer", TransferPhase.ANSWERED, status)
            self.session.reason = self.session.reason or "transferred"
            self.worker.hangup(self, 200)
        else:
            self.session.transfer_state("refer", TransferPhase.FAILED, status)


def op_param(status: int = 0, headers: dict[str, str] | None = None) -> Any:
    """A ``CallOpParam`` with a status code and extra headers."""
    op = pj.CallOpParam(True)
    if status:
        op.statusCode = status
    for name, value in (headers or {}).items():
        header = pj.SipHeader()
        header.hName = name
        header.hValue = value
        op.txOption.headers.append(header)
    return op


class Account(pj.Account):  # type: ignore[misc]
    """The worker's one account: takes incoming INVITEs."""

    def __init__(self, worker: Worker) -> None:
        super().__init__()
        self.worker = worker

    @guarded("onIncomingCall")
    def onIncomingCall(self, prm: Any) -> None:
        self.worker.incoming(prm)

    @guarded("onRegState")
    def onRegState(self, prm: Any) -> None:
        info = self.getInfo()
        active = bool(info.regIsActive)
        self.worker.registered = active
        log.info("registration: %d %s (active %s)", prm.code, prm.reason, active)
        self.worker.send_control(
            Registration(int(prm.code), str(prm.reason), active, int(prm.expiration))
        )


class LogWriter(pj.LogWriter):  # type: ignore[misc]
    """pjsip's log lines into Python logging (so the redacting filter masks numbers)."""

    def __init__(self) -> None:
        super().__init__()
        self.logger = logging.getLogger("jiesu.sip.pjsip")

    def write(self, entry: Any) -> None:
        try:
            level = logging.ERROR if entry.level <= 1 else logging.WARNING
            self.logger.log(level, "%s", redact(str(entry.msg).rstrip()))
        except Exception:  # a log writer that raises would lose pjsip's message and ours
            return
