"""One answered call's voice channel: what a dialog uses to speak, listen and read keys.

A dialog (``async def dialog(channel)``) calls :meth:`VoiceChannel.say` (a cached prompt, or
text synthesised clause by clause and streamed to the caller as each clause is ready),
:meth:`VoiceChannel.collect_digits` and :meth:`VoiceChannel.next_final` (the caller's next
final transcript line). The channel is fed by the door (:meth:`caller_audio`,
:meth:`dtmf`, :meth:`play_state`, :meth:`ended`) on the event loop, and acts through a
:class:`Mouth` (the SIP supervisor in production).

Barge-in: while an interruptible playback runs, every 20 ms frame of the caller's leg goes
through WebRTC VAD and the :class:`~.bargein.BargeInDetector` with the frame played at the same
media time (the worker stamps each playback's start with the caller leg's frame count, so frame
``n`` of the leg lines up with frame ``n - start`` of the playback); a detection stops the
playback at the worker's next frame.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from jiesu.codecs.resample import resample
from jiesu.engine.audio import AudioChunk
from jiesu.engine.events import CallContext, SummaryField
from jiesu.engine.sip.routing import sip_user
from jiesu.engine.voice import digits as keypad
from jiesu.engine.voice.bargein import FRAME, RATE, BargeInDetector, BargeInSettings
from jiesu.engine.voice.prompts import Prompt
from jiesu.engine.voice.synthesizer import Synthesizer
from jiesu.models.vad import WebRtcVadGate

log = logging.getLogger(__name__)

Pcm = npt.NDArray[np.int16]
_T = TypeVar("_T")
#: The worker's bridge rate: playback is sent at it.
PLAY_RATE = 16_000
FRAME_MS = 20
#: Frames after a prompt's end during which its echo may still come back (300 ms).
ECHO_TAIL_FRAMES = 15
#: Keys and finals waiting for a dialog that is not reading them (oldest dropped past this).
INPUT_QUEUE = 64


class Mouth(Protocol):
    """What the channel acts through (:class:`~jiesu.engine.sip.supervisor.SipSupervisor`)."""

    def play_audio(self, call_id: str, play_id: int, pcm: bytes, last: bool) -> bool: ...

    def stop_playback(self, call_id: str, play_id: int = 0) -> bool: ...

    def hangup(self, call_id: str) -> bool: ...

    def bridge(self, call_id: str, uri: str) -> bool: ...

    def transfer(self, call_id: str, uri: str) -> bool: ...


class Outcome(enum.StrEnum):
    FINISHED = "finished"
    #: The caller spoke over it (barge-in).
    BARGED_IN = "barged_in"
    #: Stopped by the dialog or replaced by another playback.
    STOPPED = "stopped"
    #: The call ended while it played.
    HUNG_UP = "hung_up"
    #: It could not be sent (the call is gone on the worker's side).
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Played:
    """How one :meth:`VoiceChannel.say` went."""

    outcome: Outcome
    #: 20 ms frames the caller was sent.
    frames: int
    #: Caller-leg frame at which the playback started (-1: it never started).
    start_frame: int
    #: Caller-leg frame at which barge-in was detected (-1: none).
    barge_in_frame: int = -1
    #: Wall clock (``time.monotonic``) of the request and of the first audio handed to the
    #: worker (time to first audio, synthesis included).
    requested_at: float = 0.0
    first_audio_at: float = 0.0
    underruns: int = 0


@dataclass(frozen=True, slots=True)
class Transferred:
    """How a hand-over or a blind transfer ended."""

    ok: bool
    #: The SIP status: 200 when it worked, else the agent's refusal (486 busy, 408 no
    #: answer, ...) or 0 when the call ended first.
    status: int
    kind: str


@dataclass(frozen=True, slots=True)
class Final:
    """One final line of the caller's transcript."""

    text: str
    t_start_ms: int
    t_end_ms: int
    #: When the line reached the channel (``time.monotonic``).
    received_at: float


@dataclass(slots=True)
class _Playback:
    play_id: int
    interruptible: bool
    done: asyncio.Future[Played]
    requested_at: float
    detector: BargeInDetector
    #: What was played, at 8 kHz (the detector's reference), grown as clauses are sent.
    reference: Pcm = dataclasses.field(default_factory=lambda: np.zeros(0, np.int16))
    start_frame: int = -1
    first_audio_at: float = 0.0
    barge_in_frame: int = -1
    #: Caller-leg frame at which it ended (-1: still playing).
    end_frame: int = -1

    def played_frame(self, index: int) -> Pcm:
        """The 20 ms (8 kHz) frame ``index`` of what was played; silence outside it."""
        if index < 0 or (index + 1) * FRAME > len(self.reference):
            return np.zeros(FRAME, np.int16)
        return self.reference[index * FRAME : (index + 1) * FRAME]


class VoiceChannel:
    """The voice of one answered call; see the module doc. Lives on the event loop."""

    def __init__(
        self,
        call_id: str,
        mouth: Mouth,
        synthesizer: Synthesizer,
        *,
        cached: dict[str, Pcm] | None = None,
        prompts: dict[str, Prompt] | None = None,
        bargein: BargeInSettings | None = None,
        vad_aggressiveness: int = 2,
        publish: Callable[[CallContext], Awaitable[None]] | None = None,
    ) -> None:
        if synthesizer.rate != RATE:
            raise ValueError(f"the voice must speak at {RATE} Hz, not {synthesizer.rate}")
        self.call_id = call_id
        self._mouth = mouth
        self._synthesizer = synthesizer
        #: Prompt text -> its cached 8 kHz audio.
        self._cached = cached or {}
        self._prompts = prompts or {}
        self._bargein = bargein or BargeInSettings()
        self._vad = WebRtcVadGate(aggressiveness=vad_aggressiveness, rate=RATE, frame_ms=20)
        self._plays = 0
        self._playback: _Playback | None = None
        self._keys: asyncio.Queue[tuple[str, int]] = asyncio.Queue(INPUT_QUEUE)
        self._finals: asyncio.Queue[Final] = asyncio.Queue(INPUT_QUEUE)
        self._synthesis_lock = asyncio.Lock()
        self._transfer: asyncio.Future[Transferred] | None = None
        self._publish = publish
        #: Caller-leg frames heard so far (the media clock, 20 ms a frame).
        self.caller_frames = 0
        self.hung_up = asyncio.Event()
        self.end_reason = ""

    # --- what a dialog calls ----------------------------------------------------------------
    @property
    def now_ms(self) -> int:
        """The call's media time, by the caller leg's frames."""
        return self.caller_frames * FRAME_MS

    async def say(self, text: str, *, interruptible: bool = True) -> Played:
        """Speak ``text`` (its cached audio when it is a built prompt); returns once it finished,
        was interrupted or the call ended."""
        loop = asyncio.get_running_loop()
        self._plays += 1
        playback = _Playback(
            self._plays,
            interruptible,
            loop.create_future(),
            time.monotonic(),
            BargeInDetector(self._bargein),
        )
        previous = self._playback
        self._playback = playback
        if previous is not None and not previous.done.done():
            self._mouth.stop_playback(self.call_id, previous.play_id)
        if self.hung_up.is_set():
            return self._settle(playback, Outcome.HUNG_UP, 0, 0)
        feeder = asyncio.create_task(self._feed(playback, text))
        try:
            return await playback.done
        finally:
            if not feeder.done():
                feeder.cancel()
            await asyncio.gather(feeder, return_exceptions=True)

    async def say_prompt(self, prompt_id: str) -> Played:
        """Speak the fixed prompt ``prompt_id`` (``sip_config/prompts.toml``), interruptible as
        the prompt says."""
        prompt = self._prompts.get(prompt_id)
        if prompt is None:
            raise KeyError(f"no prompt {prompt_id!r} in the prompts file")
        return await self.say(prompt.text, interruptible=prompt.interruptible)

    async def stop(self) -> None:
        """Stop what is playing (a dialog's own decision, e.g. a timeout)."""
        if self._playback is not None and not self._playback.done.done():
            self._mouth.stop_playback(self.call_id, self._playback.play_id)

    async def collect_digits(self, request: keypad.DigitRequest) -> keypad.Collected:
        """Keys by the caller until ``request`` is satisfied (keys pressed before the call are
        used first: callers type ahead)."""
        state = keypad.start(request, self.now_ms)
        while True:
            wait_s = max(0.0, (state.deadline_ms - self.now_ms) / 1000)
            try:
                async with asyncio.timeout(wait_s + 0.02):
                    key, at_ms = await self._keys.get()
                state, done = keypad.press(state, key, max(at_ms, state.started_ms))
            except TimeoutError:
                state, done = keypad.tick(state, self.now_ms)
            if done is not None:
                return done
            if self.hung_up.is_set() and self._keys.empty():
                return keypad.Collected(state.digits, keypad.Ended.NO_INPUT, self.now_ms)

    async def next_final(self, timeout_s: float) -> Final | None:
        """The caller's next final transcript line; None after ``timeout_s`` or a hang-up."""
        if self.hung_up.is_set() and self._finals.empty():
            return None
        get = asyncio.ensure_future(self._finals.get())
        gone = asyncio.ensure_future(self.hung_up.wait())
        done, pending = await asyncio.wait(
            {get, gone}, timeout=timeout_s, return_when="FIRST_COMPLETED"
        )
        for task in pending:
            task.cancel()
        if get in done:
            return get.result()
        return None

    def hangup(self) -> None:
        self._mouth.hangup(self.call_id)

    async def hand_over(
        self,
        uri: str,
        *,
        target: str,
        intent: str = "",
        topic: str = "",
        said: str = "",
        fields: tuple[SummaryField, ...] = (),
        timeout_s: float = 60.0,
    ) -> Transferred:
        """Attended hand-over: ring ``uri`` and bridge it to the caller when it answers (Jiesu
        keeps hearing both legs). On answer the call's context (a ``call.context`` event) makes
        the agent's screen open the call pre-filled. On failure the caller is still here."""
        await self.stop()
        result = await self._await_transfer(
            "bridge", lambda: self._mouth.bridge(self.call_id, uri), timeout_s
        )
        if result.ok and self._publish is not None:
            context = CallContext(sip_user(uri), target, intent, topic, said, fields)
            await self._publish(context)
        return result

    async def transfer(self, uri: str, timeout_s: float = 30.0) -> Transferred:
        """Blind transfer (REFER): the call leaves Jiesu when the caller's side accepts."""
        await self.stop()
        return await self._await_transfer(
            "refer", lambda: self._mouth.transfer(self.call_id, uri), timeout_s
        )

    # --- what the door calls (event loop, never blocks) ---------------------------------------
    def caller_audio(self, chunk: AudioChunk) -> AudioChunk:
        """One frame of the caller's leg; returns it as the speech core should hear it.

        While a prompt plays (and for the echo's tail after it) a frame that is not the
        caller's own voice is silenced for the speech core: the prompt's echo would otherwise
        be transcribed as the caller's words. An interruptible prompt stops on barge-in.
        """
        frame_index = chunk.seq
        self.caller_frames = frame_index + 1
        playback = self._playback
        if playback is None or playback.start_frame < 0:
            return chunk
        if playback.end_frame >= 0 and playback.end_frame + ECHO_TAIL_FRAMES < frame_index:
            return chunk
        caller = resample(chunk.pcm, chunk.rate, RATE)[:FRAME]
        if len(caller) < FRAME:
            return chunk
        speech = self._vad.is_speech(caller)
        played = playback.played_frame(frame_index - playback.start_frame)
        triggered = playback.detector.push(caller, 1.0 if speech else 0.0, played)
        if (
            triggered
            and playback.interruptible
            and playback.barge_in_frame < 0
            and not playback.done.done()
        ):
            playback.barge_in_frame = frame_index
            self._mouth.stop_playback(self.call_id, playback.play_id)
        if playback.detector.last_was_voice:
            return chunk
        return dataclasses.replace(chunk, pcm=np.zeros_like(chunk.pcm))

    def dtmf(self, digit: str) -> None:
        _put_dropping_oldest(self._keys, (digit, self.now_ms))

    def final(self, text: str, t_start_ms: int, t_end_ms: int) -> None:
        _put_dropping_oldest(self._finals, Final(text, t_start_ms, t_end_ms, time.monotonic()))

    def play_state(
        self, play_id: int, phase: str, frames: int, caller_seq: int, underruns: int
    ) -> None:
        playback = self._playback
        if playback is None or playback.play_id != play_id or playback.done.done():
            return
        if phase == "started":
            playback.start_frame = caller_seq
        elif phase == "finished":
            self._settle(playback, Outcome.FINISHED, frames, underruns)
        elif phase == "stopped":
            outcome = Outcome.BARGED_IN if playback.barge_in_frame >= 0 else Outcome.STOPPED
            self._settle(playback, outcome, frames, underruns)

    def transfer_state(self, kind: str, phase: str, status: int) -> None:
        future = self._transfer
        if future is None or future.done() or phase == "ringing":
            return
        future.set_result(Transferred(phase == "answered", status, kind))

    def ended(self, reason: str) -> None:
        self.end_reason = reason
        self.hung_up.set()
        if self._transfer is not None and not self._transfer.done():
            self._transfer.set_result(Transferred(False, 0, "ended"))
        playback = self._playback
        if playback is not None and not playback.done.done():
            self._settle(playback, Outcome.HUNG_UP, 0, 0)

    # --- inside -----------------------------------------------------------------------------
    async def _await_transfer(
        self, kind: str, send: Callable[[], bool], timeout_s: float
    ) -> Transferred:
        if self.hung_up.is_set():
            return Transferred(False, 0, kind)
        self._transfer = asyncio.get_running_loop().create_future()
        if not send():
            return Transferred(False, 0, kind)
        try:
            async with asyncio.timeout(timeout_s):
                return await self._transfer
        except TimeoutError:
            return Transferred(False, 408, kind)

    def _settle(self, playback: _Playback, outcome: Outcome, frames: int, underruns: int) -> Played:
        if playback.end_frame < 0:
            playback.end_frame = self.caller_frames
        played = Played(
            outcome,
            frames,
            playback.start_frame,
            playback.barge_in_frame,
            playback.requested_at,
            playback.first_audio_at,
            underruns,
        )
        if not playback.done.done():
            playback.done.set_result(played)
        return played

    async def _feed(self, playback: _Playback, text: str) -> None:
        """Send the audio of ``text`` piece by piece (cached: at once; else clause by clause)."""
        cached = self._cached.get(text)
        if cached is not None:
            self._send(playback, cached, last=True)
            return
        async with self._synthesis_lock:  # one synthesis at a time per call
            clauses: Iterator[Pcm] = iter(self._synthesizer.stream(text))
            pending = await asyncio.to_thread(next, clauses, None)
            while pending is not None and not playback.done.done():
                following = await asyncio.to_thread(next, clauses, None)
                self._send(playback, pending, last=following is None)
                pending = following
            if pending is None and not len(playback.reference) and not playback.done.done():
                self._send(playback, np.zeros(FRAME, np.int16), last=True)  # nothing to say

    def _send(self, playback: _Playback, pcm8k: Pcm, *, last: bool) -> None:
        if playback.done.done():
            return
        playback.reference = np.concatenate((playback.reference, pcm8k))  # once a clause
        if not playback.first_audio_at:
            playback.first_audio_at = time.monotonic()
        wide = resample(pcm8k, RATE, PLAY_RATE)
        if not self._mouth.play_audio(self.call_id, playback.play_id, wide.tobytes(), last):
            self._settle(playback, Outcome.FAILED, 0, 0)


def _put_dropping_oldest(queue: asyncio.Queue[_T], item: _T) -> None:
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(item)
