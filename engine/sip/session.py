"""One Jiesu call inside a worker: the caller's leg and, in assist mode, the agent's leg.

:class:`Session` holds the per-call logic the pjsua2 callbacks drive (ringing and early media
passed on, answer, bridging, DTMF, who hung up, the end report). It runs on the worker's main
thread only and never imports pjsua2: it acts through its :class:`~.pjobjects.SipCall`\\ s and
its :class:`~.worker.Worker`. The pure decisions are module functions.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

from jiesu.engine.audio import Leg
from jiesu.engine.events import CallMode
from jiesu.engine.privacy import mask_phone
from jiesu.engine.sip.frames import CallEnd, CallStart, Dtmf, LegEnd, TransferPhase, TransferState
from jiesu.engine.sip.routing import Route, sip_user

if TYPE_CHECKING:
    from jiesu.engine.sip.pjobjects import SipCall, Speaker
    from jiesu.engine.sip.worker import Worker

log = logging.getLogger("jiesu.sip.worker")


def end_reason(leg: Leg, was_confirmed: bool) -> str:
    """Why the call ended when ``leg`` hung up first (``was_confirmed``: it had answered)."""
    if leg is Leg.CALLER:
        return "caller_hangup" if was_confirmed else "cancelled"
    return "agent_hangup" if was_confirmed else "agent_unavailable"


def caller_refusal(agent_status: int) -> int:
    """What a caller not yet answered gets when the agent's leg ended with ``agent_status``:
    the agent's own refusal code, or 480 (Temporarily Unavailable)."""
    return agent_status if 400 <= agent_status < 700 else 480


def from_user(invite: str) -> str:
    """The user part of an INVITE's From header (the caller's number); empty without one."""
    for line in invite.split("\n"):
        if line.lower().startswith(("from:", "f:")):
            return sip_user(line.split(":", 1)[1].strip())
    return ""


class Session:
    """One Jiesu call: the caller's leg and, in assist mode, the agent's leg bridged to it."""

    def __init__(self, worker: Worker, mode: Route, dialled: str, caller_number: str) -> None:
        self.worker = worker
        self.call_id = uuid.uuid4().hex
        self.mode = mode
        self.dialled = dialled
        #: In clear only to be sent (never logged) to the main process, which keys and masks it.
        self.caller_number = caller_number
        self.caller_masked = mask_phone(caller_number)
        self.began = time.monotonic()
        self.caller: SipCall | None = None
        self.agent: SipCall | None = None
        self.started = False
        self.ended = False
        self.bridged = False
        self.caller_answered = False
        self.caller_ringing = False
        self.reason = ""
        self.agent_deadline = 0.0
        self.player: Any = None
        #: Streams Jiesu's voice to the caller (calls it answers itself: not in assist mode).
        self.speaker: Speaker | None = None
        #: A hand-over of an answered call to an agent is ringing (a failure leaves the caller
        #: with the dialog instead of ending the call).
        self.handing_over = False
        #: Agent legs of failed hand-overs, kept until the call ends (released on this thread).
        self.failed_agents: list[SipCall] = []

    @property
    def legs(self) -> tuple[Leg, ...]:
        return (Leg.CALLER, Leg.AGENT) if self.mode == "assist" else (Leg.CALLER,)

    def calls(self) -> list[SipCall]:
        return [c for c in (self.caller, self.agent) if c is not None]

    def begin_hand_over(self) -> None:
        """An agent's leg is about to ring for this answered call: the prompt stops, and the
        caller's call goes on whether the agent answers or not (see :meth:`on_disconnected`)."""
        if self.speaker is not None:
            self.speaker.stop()
        self.handing_over = True
        self.agent_deadline = time.monotonic() + self.worker.settings.agent_answer_timeout_s

    def transfer_state(self, kind: str, phase: TransferPhase, status: int) -> None:
        self.worker.send_control(TransferState(self.call_id, kind, phase, status))

    def on_agent_early(self, status: int) -> None:
        if self.handing_over:
            self.transfer_state("bridge", TransferPhase.RINGING, status)
            return
        if self.caller is None or self.caller_answered or status not in (180, 183):
            return
        if status == 180 and self.caller_ringing:
            return  # the caller already hears ringing (sent when the agent leg was placed)
        # Early media from the agent's side (183) is passed on as early media to the caller.
        self.caller_ringing = True
        self.caller.respond(status)

    def on_confirmed(self, call: SipCall) -> None:
        if call.leg is Leg.AGENT and self.handing_over:
            self.handing_over = False
            self.transfer_state("bridge", TransferPhase.ANSWERED, 200)
            return
        if call.leg is Leg.AGENT and self.caller is not None and not self.caller_answered:
            self.caller_answered = True
            self.caller.respond(200)

    def on_media(self, call: SipCall) -> None:
        if not self.started:
            self.started = True
            self.worker.send_control(
                CallStart(
                    call_id=self.call_id,
                    mode=CallMode(self.mode),
                    dialled=self.dialled,
                    caller_masked=self.caller_masked,
                    number=self.caller_number,
                    agent=sip_user(self.worker.settings.agent_uri) if self.agent else "",
                    legs=self.legs,
                    codec=call.codec,
                )
            )
        if call.tap is None:
            call.tap = self.worker.acquire_tap(self, call.leg)
        call.audio.startTransmit(call.tap)
        if call.leg is Leg.CALLER and self.mode != "assist":
            if self.speaker is None:
                self.speaker = self.worker.acquire_speaker(self.call_id)
            self.speaker.caller_tap = call.tap
            self.speaker.startTransmit(call.audio)
        self.bridge()

    def bridge(self) -> None:
        """Both legs hear each other through the conference bridge; taps stay per leg."""
        caller, agent = self.caller, self.agent
        if caller is None or agent is None or caller.audio is None or agent.audio is None:
            return
        caller.audio.startTransmit(agent.audio)
        agent.audio.startTransmit(caller.audio)
        if not self.bridged:
            self.bridged = True
            log.info("call %s: caller and agent bridged", self.call_id[:8])

    def on_dtmf(self, call: SipCall, digit: str, method: str) -> None:
        self.worker.send_control(Dtmf(self.call_id, call.leg, digit, method))
        other = self.agent if call is self.caller else self.caller
        if other is not None and other.audio is not None and not other.disconnected:
            other.dialDtmf(digit)

    def on_disconnected(self, call: SipCall, status: int, was_confirmed: bool) -> None:
        if call is self.agent and self.handing_over and not was_confirmed:
            # The agent did not take it (busy, no answer, refused): the dialog goes on.
            self.handing_over = False
            self.failed_agents.append(call)
            self.agent = None
            self.transfer_state("bridge", TransferPhase.FAILED, status or 408)
            return
        self.reason = self.reason or end_reason(call.leg, was_confirmed)
        for other in self.calls():
            if other is not call and not other.disconnected:
                code = 0
                if other is self.caller and not self.caller_answered:
                    code = caller_refusal(status)
                self.worker.hangup(other, code)
        if all(c.disconnected for c in self.calls()):
            self.finish()

    def finish(self) -> None:
        if self.ended:
            return
        self.ended = True
        if self.speaker is not None:
            self.speaker.release()
            self.worker.release_speaker(self.speaker)
            self.speaker = None
        legs = []
        for call in self.calls():
            tap = call.tap
            if tap is not None:
                tap.closed = True
                self.worker.release_tap(tap)
            legs.append(
                LegEnd(
                    leg=call.leg,
                    frames=tap.seq if tap else 0,
                    dropped=tap.dropped if tap else 0,
                    rtp_packets=call.rx_packets,
                    rtp_lost=call.rx_lost,
                )
            )
            if tap is not None and tap.dropped:
                self.worker.count("sip_frames_dropped_total", {"where": "worker"}, tap.dropped)
        if self.started:
            self.worker.send_control(CallEnd(self.call_id, self.reason or "ended", tuple(legs)))
        self.worker.retire(self)
