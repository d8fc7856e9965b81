"""One SIP worker process: a pjsua2 Endpoint that answers calls and taps every leg.

Run by the supervisor as ``python -m jiesu.engine.sip.worker SETTINGS_JSON``. This module is the
process: the endpoint's set-up, the poll loop, the socket threads and the shutdown; the pjsua2
objects are in :mod:`.pjobjects`, a call's logic in :mod:`.session`. Threads:

* the main thread owns pjsua2: it polls ``libHandleEvents`` (``threadCnt = 0``), so every SIP
  callback runs here, and it executes commands from the main process between polls;
* pjmedia's clock thread calls :meth:`~.pjobjects.Tap.onFrameReceived` for every leg every
  20 ms: it only copies the frame and enqueues it (never blocks; a full queue drops the frame and
  counts it);
* a sender thread encodes queued frames (:mod:`.frames`) onto the Unix socket, and a reader
  thread decodes commands from it. Neither touches pjsua2, and pjsua2 objects are only created
  and released on the main thread (so none is garbage-collected on an unregistered thread).
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import os
import queue
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pjsua2 as pj  # type: ignore[import-untyped]

from jiesu.engine.audio import Leg
from jiesu.engine.logsetup import configure_logging
from jiesu.engine.sip import frames as fr
from jiesu.engine.sip.pjobjects import Account, LogWriter, SipCall, Speaker, Tap, op_param
from jiesu.engine.sip.request_gate import RequestGate
from jiesu.engine.sip.routing import request_uri, route, sip_user
from jiesu.engine.sip.sanity import check_request
from jiesu.engine.sip.session import Session, from_user
from jiesu.engine.sip.settings import RATE, WorkerSettings

log = logging.getLogger("jiesu.sip.worker")


class Worker:
    """The pjsua2 endpoint, its account, the live sessions and the socket to the main process."""

    def __init__(self, settings: WorkerSettings, sock: socket.socket) -> None:
        self.settings = settings
        self.sock = sock
        self.outbox: queue.Queue[fr.WorkerFrame] = queue.Queue(maxsize=settings.frame_queue)
        self.commands: queue.Queue[fr.Command | fr.Ping | fr.PlayAudio] = queue.Queue(maxsize=1000)
        self.sessions: dict[str, Session] = {}
        self.graveyard: list[Session] = []
        #: Idle taps for reuse (at most one per leg that was ever live at the same time).
        self.idle_taps: list[Tap] = []
        self.all_taps: list[Tap] = []
        self.idle_speakers: list[Speaker] = []
        self.all_speakers: list[Speaker] = []
        #: Playback states from the clock thread, sent on by the main thread's poll.
        self.play_events: queue.Queue[fr.PlayState] = queue.Queue(maxsize=1024)
        self.stopping = threading.Event()
        self.ep = pj.Endpoint()
        self.account: Any = None
        #: True while the registrar holds a binding for this worker (``[sip.registration]``).
        self.registered = False
        self.port = 0
        self._log_writer = LogWriter()
        #: Answers 400 to malformed out-of-dialog requests before pjsua's OPTIONS responder.
        self.request_gate = RequestGate(self.count)

    # --- messages to the main process -------------------------------------------------
    def send_control(self, frame: fr.WorkerFrame) -> None:
        """Control frames are never dropped: wait for room (the sender always drains)."""
        try:
            self.outbox.put(frame, timeout=5.0)
        except queue.Full:
            log.error("outbox stuck for 5 s; lost a %s frame", frame.TYPE)

    def count(self, name: str, labels: dict[str, str] | None = None, amount: int = 1) -> None:
        self.send_control(fr.Metric(name, tuple((labels or {}).items()), amount))

    def _sender(self) -> None:
        while True:
            frame = self.outbox.get()
            batch = [fr.encode_frame(frame)]
            while len(batch) < 64:
                try:
                    batch.append(fr.encode_frame(self.outbox.get_nowait()))
                except queue.Empty:
                    break
            try:
                self.sock.sendall(b"".join(batch))
            except OSError:
                self.stopping.set()
                return

    def _reader(self) -> None:
        reader = fr.FrameReader()
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                self.stopping.set()  # the main process went away: stop
                return
            try:
                for frame in reader.feed(data):
                    if isinstance(frame, fr.Stop):
                        self.stopping.set()
                    elif isinstance(frame, fr.Command | fr.Ping | fr.PlayAudio):
                        self.commands.put(frame)
                    else:
                        problem = frame.problem if isinstance(frame, fr.BadFrame) else frame.TYPE
                        log.error("bad frame from the main process: %s", problem)
            except fr.WireError as exc:
                log.error("bad message from the main process: %s", exc)

    # --- pjsua2 ---------------------------------------------------------------------
    def start(self) -> None:
        s = self.settings
        self.ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = False
        # The wheel's compiled limit; the worker's own limit (max_legs) refuses with 503 first.
        cfg.uaConfig.maxCalls = 4
        cfg.uaConfig.userAgent = "Jiesu"
        cfg.medConfig.noVad = True  # frames keep coming in silence
        cfg.medConfig.clockRate = RATE
        cfg.medConfig.sndClockRate = RATE
        cfg.medConfig.ecTailLen = 0  # no echo canceller: taps hear each leg as sent
        cfg.logConfig.level = 2
        cfg.logConfig.consoleLevel = 2
        cfg.logConfig.writer = self._log_writer
        cfg.logConfig.decor = 0
        self.ep.libInit(cfg)
        library = next(Path(pj.__file__).parent.glob("_pjsua2*.so"), None)
        if library is None or not self.request_gate.install(library):
            log.error("no request gate: malformed OPTIONS get pjsua's 200 (see docs/sip.md)")
        tcfg = pj.TransportConfig()
        tcfg.port = s.sip_port
        tcfg.boundAddress = s.bind_address
        if "udp" in s.transports:
            tid = self.ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
            self.port = int(self.ep.transportGetInfo(tid).localName.rsplit(":", 1)[1])
            tcfg.port = self.port
        if "tcp" in s.transports:
            tid = self.ep.transportCreate(pj.PJSIP_TRANSPORT_TCP, tcfg)
            self.port = int(self.ep.transportGetInfo(tid).localName.rsplit(":", 1)[1])
        self.ep.libStart()
        self.ep.audDevManager().setNullDev()
        wanted = {c.upper(): len(s.codecs) - i for i, c in enumerate(s.codecs)}
        for codec in self.ep.codecEnum2():
            name = codec.codecId.rsplit("/", 1)[0].upper()
            self.ep.codecSetPriority(codec.codecId, 128 + wanted[name] if name in wanted else 0)
        acfg = pj.AccountConfig()
        host = f"{s.bind_address}:{self.port}"
        acfg.idUri = f"sip:jiesu@{host}"
        if s.registrar:
            registrar_host = s.registrar.split(":", 1)[1]
            acfg.idUri = f"sip:{s.username}@{registrar_host}"
            acfg.regConfig.registrarUri = s.registrar
            acfg.regConfig.timeoutSec = s.registration_expires_s
            acfg.sipConfig.authCreds.append(
                pj.AuthCredInfo("digest", "*", s.username, 0, s.password)
            )
        else:
            acfg.regConfig.registrarUri = ""
        media = acfg.mediaConfig.transportConfig
        media.boundAddress = s.bind_address  # else RTP binds 0.0.0.0
        media.port = s.rtp_port_start
        media.portRange = s.rtp_port_count
        self.account = Account(self)
        self.account.create(acfg)
        threading.Thread(target=self._sender, name="sip-sender", daemon=True).start()
        threading.Thread(target=self._reader, name="sip-reader", daemon=True).start()
        self.send_control(fr.Ready(s.index, self.port))
        log.info("worker %d: SIP on %s (%s)", s.index, host, ",".join(s.transports))

    def acquire_tap(self, session: Session, leg: Leg) -> Tap:
        tap = self.idle_taps.pop() if self.idle_taps else None
        if tap is None:
            tap = Tap(self, len(self.all_taps))
            self.all_taps.append(tap)
        tap.assign(session, leg)
        return tap

    def release_tap(self, tap: Tap) -> None:
        if tap not in self.idle_taps:
            self.idle_taps.append(tap)

    def acquire_speaker(self, call_id: str) -> Speaker:
        speaker = self.idle_speakers.pop() if self.idle_speakers else None
        if speaker is None:
            speaker = Speaker(self, len(self.all_speakers), self.play_events)
            self.all_speakers.append(speaker)
        speaker.assign(call_id)
        return speaker

    def release_speaker(self, speaker: Speaker) -> None:
        if speaker not in self.idle_speakers:
            self.idle_speakers.append(speaker)

    def used_legs(self) -> int:
        return sum(
            sum(1 for c in session.calls() if not c.disconnected)
            for session in self.sessions.values()
        )

    def incoming(self, prm: Any) -> None:
        message = str(prm.rdata.wholeMsg)
        dialled = sip_user(request_uri(message))
        call_info_from = sip_user(str(prm.rdata.srcAddress))  # fallback only
        problem = check_request(message)
        mode = route(dialled, self.settings.routing, dt.datetime.now().time())
        session = Session(self, mode, dialled, from_user(message) or call_info_from)
        call = SipCall(self, session, Leg.CALLER, prm.callId)
        session.caller = call
        need = 2 if mode == "assist" else 1
        if problem:
            log.warning("refusing a malformed INVITE: %s", problem)
            self.count("sip_calls_refused_total", {"reason": "malformed"})
            self.refuse(session, 400, {}, problem)
            return
        if mode == "reject":
            self.count("sip_calls_refused_total", {"reason": "no_route"})
            self.refuse(session, 404)
            return
        if self.used_legs() + need > self.settings.max_legs:
            self.count("sip_calls_refused_total", {"reason": "full"})
            log.info(
                "worker full (%d legs): 503 to a call from %s",
                self.used_legs(),
                session.caller_masked,
            )
            self.refuse(session, 503, {"Retry-After": str(self.settings.retry_after_s)})
            return
        self.sessions[session.call_id] = session
        log.info(
            "call %s from %s to %s: %s", session.call_id[:8], session.caller_masked, dialled, mode
        )
        if mode == "assist":
            call.answer(op_param(180))
            session.caller_ringing = True
            session.agent = SipCall(self, session, Leg.AGENT)
            session.agent_deadline = time.monotonic() + self.settings.agent_answer_timeout_s
            session.agent.makeCall(self.settings.agent_uri, op_param())
        else:
            session.caller_answered = True
            call.answer(op_param(200))

    def refuse(
        self, session: Session, status: int, headers: dict[str, str] | None = None, reason: str = ""
    ) -> None:
        assert session.caller is not None
        op = op_param(status, headers)
        if reason:
            op.reason = reason[:80]
        session.caller.answer(op)
        self.graveyard.append(session)

    def hangup(self, call: SipCall, status: int = 0) -> None:
        if call.disconnected:
            return
        try:
            call.hangup(op_param(status))
        except pj.Error as exc:
            log.warning("hangup failed: %s", exc.info())

    def retire(self, session: Session) -> None:
        """Forget a finished session; its pjsua2 objects are released on the next poll."""
        self.sessions.pop(session.call_id, None)
        self.graveyard.append(session)

    def run_command(self, frame: fr.Command | fr.Ping | fr.PlayAudio) -> None:
        if isinstance(frame, fr.Ping):
            # A barrier: everything this worker sent before is on the socket ahead of it.
            self.send_control(fr.Pong(frame.n))
            return
        session = self.sessions.get(frame.call_id)
        if isinstance(frame, fr.PlayAudio):
            if session is None or session.speaker is None:
                self.count("sip_play_refused_total", {"reason": "no_speaker"})
                return
            if not session.speaker.enqueue(frame.play_id, frame.pcm, frame.last):
                self.count("sip_play_refused_total", {"reason": "full"})
            return
        op = frame.op
        if session is None or session.caller is None:
            log.warning("command %s for an unknown call", op)
            return
        caller = session.caller
        if op is fr.Op.HANGUP:
            session.reason = session.reason or "hangup_command"
            for call in session.calls():
                self.hangup(call)
        elif op is fr.Op.PLAY and caller.audio is not None:
            player = pj.AudioMediaPlayer()
            player.createPlayer(frame.arg, pj.PJMEDIA_FILE_NO_LOOP)
            player.startTransmit(caller.audio)
            session.player = player
        elif op is fr.Op.STOP_PLAY:
            session.player = None
            if session.speaker is not None:
                session.speaker.stop(int(frame.arg) if frame.arg.isdigit() else 0)
        elif op is fr.Op.TRANSFER:
            try:
                caller.xfer(frame.arg, op_param())
            except pj.Error as exc:
                log.warning("call %s: REFER not sent: %s", session.call_id[:8], exc.info())
                session.transfer_state("refer", fr.TransferPhase.FAILED, 500)
        elif op is fr.Op.BRIDGE and session.agent is None:
            session.begin_hand_over()
            session.agent = SipCall(self, session, Leg.AGENT)
            session.agent.makeCall(frame.arg, op_param())
        else:
            log.warning("command %s not possible now", op)

    def poll(self) -> None:
        self.ep.libHandleEvents(10)
        while True:
            try:
                self.send_control(self.play_events.get_nowait())
            except queue.Empty:
                break
        while True:
            try:
                command = self.commands.get_nowait()
            except queue.Empty:
                break
            try:
                self.run_command(command)
            except Exception:
                log.exception("command %s failed", getattr(command, "op", command.TYPE))
                self.count("sip_command_errors_total")
        now = time.monotonic()
        for session in list(self.sessions.values()):
            agent = session.agent
            waiting = agent is not None and not agent.confirmed and not agent.disconnected
            if waiting and agent is not None and session.agent_deadline < now:
                if not session.handing_over:  # a hand-over that times out is only a failure
                    session.reason = "agent_no_answer"
                self.hangup(agent)
        if self.graveyard:
            # Released here, on the pjsua2 thread, never inside one of their own callbacks.
            self.graveyard.clear()
            gc.collect()

    def unregister(self, timeout_s: float = 2.0) -> None:
        """Remove the registrar binding (REGISTER with Expires: 0) and wait for the answer, so
        the PBX stops sending calls here before the port closes."""
        if self.account is None or not self.registered:
            return
        try:
            self.account.setRegistration(False)
        except pj.Error as exc:
            log.warning("unregistration failed: %s", exc.info())
            return
        deadline = time.monotonic() + timeout_s
        while self.registered and time.monotonic() < deadline:
            self.ep.libHandleEvents(10)
        if self.registered:
            log.warning("registrar did not answer the unregistration within %.0f s", timeout_s)

    def run(self) -> None:
        while not self.stopping.is_set():
            self.poll()
        self.shutdown()

    def shutdown(self) -> None:
        for session in list(self.sessions.values()):
            session.reason = session.reason or "worker_stopped"
            for call in session.calls():
                self.hangup(call)
        deadline = time.monotonic() + 2.0
        while self.sessions and time.monotonic() < deadline:
            self.poll()
        for session in list(self.sessions.values()):
            session.finish()
        self.sessions.clear()
        self.graveyard.clear()
        self.unregister()
        self.account = None
        gc.collect()  # every Call and the Account go before libDestroy (taps stay: see Tap)
        left = sum(1 for o in gc.get_objects() if isinstance(o, SipCall))
        if left:
            log.warning("%d pjsua2 calls still referenced at shutdown", left)
        deadline = time.monotonic() + 2.0
        while not self.outbox.empty() and time.monotonic() < deadline:
            time.sleep(0.01)
        self.ep.libDestroy()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    settings = WorkerSettings.from_json(args[0])
    configure_logging(settings.log_level)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(settings.socket_path)
    worker = Worker(settings, sock)
    signal.signal(signal.SIGTERM, lambda *_: worker.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: worker.stopping.set())
    try:
        worker.start()
    except pj.Error as exc:
        log.error("worker %d cannot start: %s", settings.index, exc.info())
        return 1
    worker.run()
    logging.shutdown()
    # Python's own teardown would destroy leftover SWIG objects after libDestroy (pjsua2
    # asserts then); everything is flushed and destroyed already, so leave without it.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
