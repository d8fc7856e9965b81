"""The voice service: one :class:`~.channel.VoiceChannel` and one dialog task per answered call.

It is the SIP supervisor's answered-call listener (audio of the caller's leg, keys, playback
states, the call's end) and follows the event log for the caller's final transcript lines (the
speech core writes them there, as for every call). A dialog is ``async def dialog(channel)``;
when the caller hangs up it gets ``grace_s`` to finish what it was doing (an after-hours dialog
still files the ticket), then it is cancelled, so a call that ended leaves nothing running.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable

import numpy as np
import numpy.typing as npt

from jiesu.engine.audio import AudioChunk, Leg
from jiesu.engine.calls import IngestCall
from jiesu.engine.config import JiesuConfig, SipRoutingConfig
from jiesu.engine.eventlog import EventLog
from jiesu.engine.events import CallContext, CallEnded, Event, TranscriptFinal
from jiesu.engine.follower import Follower
from jiesu.engine.metrics import Metrics
from jiesu.engine.sip import frames as fr
from jiesu.engine.voice.bargein import BargeInSettings
from jiesu.engine.voice.channel import Mouth, VoiceChannel
from jiesu.engine.voice.prompts import Prompt
from jiesu.engine.voice.synthesizer import Synthesizer

log = logging.getLogger(__name__)

Dialog = Callable[[VoiceChannel], Awaitable[None]]


class VoiceService:
    """Voice channels of the calls Jiesu answers itself; see the module doc."""

    def __init__(
        self,
        mouth: Mouth,
        synthesizer: Synthesizer,
        event_log: EventLog,
        metrics: Metrics,
        dialog: Dialog,
        *,
        cached: dict[str, npt.NDArray[np.int16]] | None = None,
        prompts: dict[str, Prompt] | None = None,
        bargein: BargeInSettings | None = None,
        grace_s: float = 10.0,
        max_calls: int = 64,
    ) -> None:
        self._mouth = mouth
        self._synthesizer = synthesizer
        self._event_log = event_log
        self._metrics = metrics
        self._dialog = dialog
        self._cached = cached or {}
        self._prompts = prompts or {}
        self._bargein = bargein
        self._grace_s = grace_s
        self._max_calls = max_calls
        self.channels: dict[str, VoiceChannel] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        #: Calls the follower takes events of (from their start to their ``call.ended``).
        self._followed: OrderedDict[str, None] = OrderedDict()
        self._follower: Follower[None] = Follower(
            event_log,
            self._on_event,
            metrics,
            name="voice",
            new_state=lambda _call_id: None,
            wants=self._wants,
        )

    def start(self) -> None:
        self._follower.start()

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._follower.close(drain_s=2.0)

    # --- the supervisor's answered-call listener -------------------------------------------
    def call_started(self, call: IngestCall) -> None:
        if len(self.channels) >= self._max_calls:
            log.error(
                "voice: %d calls already; call %s gets no dialog",
                len(self.channels),
                call.call_id[:8],
            )
            self._metrics.inc("voice_calls_refused_total")
            self._mouth.hangup(call.call_id)
            return
        call_id = call.call_id

        async def publish(context: CallContext) -> None:
            channel = self.channels.get(call_id)
            await self._event_log.append(call_id, channel.now_ms if channel else 0, context)

        channel = VoiceChannel(
            call_id,
            self._mouth,
            self._synthesizer,
            cached=self._cached,
            prompts=self._prompts,
            bargein=self._bargein,
            publish=publish,
        )
        self.channels[call.call_id] = channel
        self._followed[call.call_id] = None
        while len(self._followed) > 4 * self._max_calls:
            self._followed.popitem(last=False)
        self._tasks[call.call_id] = asyncio.create_task(
            self._run(channel), name=f"dialog-{call.call_id[:8]}"
        )
        self._metrics.inc("voice_calls_total")

    def caller_audio(self, chunk: AudioChunk) -> AudioChunk:
        channel = self.channels.get(chunk.call_id)
        if channel is None:
            return chunk
        heard = channel.caller_audio(chunk)
        if heard is not chunk:
            self._metrics.inc("voice_echo_frames_silenced_total")
        return heard

    def dtmf(self, digit: fr.Dtmf) -> None:
        channel = self.channels.get(digit.call_id)
        if channel is not None and digit.leg is Leg.CALLER:
            channel.dtmf(digit.digit)

    def play_state(self, state: fr.PlayState) -> None:
        channel = self.channels.get(state.call_id)
        if channel is None:
            return
        if state.phase is fr.PlayPhase.STARTED:
            self._metrics.inc("voice_playbacks_total")
        if state.underruns:
            self._metrics.inc("voice_play_underrun_frames_total", float(state.underruns))
        channel.play_state(
            state.play_id, state.phase.value, state.frames, state.caller_seq, state.underruns
        )

    def transfer_state(self, state: fr.TransferState) -> None:
        channel = self.channels.get(state.call_id)
        if channel is not None:
            channel.transfer_state(state.kind, state.phase.value, state.status)

    def call_ended(self, call_id: str, reason: str) -> None:
        channel = self.channels.get(call_id)
        if channel is not None:
            channel.ended(reason)
        task = self._tasks.get(call_id)
        if task is not None and not task.done():
            asyncio.get_running_loop().call_later(self._grace_s, task.cancel)

    # --- inside -------------------------------------------------------------------------
    async def _run(self, channel: VoiceChannel) -> None:
        try:
            await self._dialog(channel)
        except asyncio.CancelledError:
            if not channel.hung_up.is_set():
                raise
            self._metrics.inc("voice_dialogs_cancelled_total")
        except Exception:
            log.exception("dialog of call %s failed; hanging up", channel.call_id[:8])
            self._metrics.inc("voice_dialog_errors_total")
            channel.hangup()
        finally:
            self.channels.pop(channel.call_id, None)
            self._tasks.pop(channel.call_id, None)

    def _wants(self, event: Event) -> bool:
        if event.call_id not in self._followed:
            return False
        payload = event.payload
        if isinstance(payload, TranscriptFinal):
            return payload.leg is Leg.CALLER
        return isinstance(payload, CallEnded)

    async def _on_event(self, _state: None, event: Event) -> None:
        payload = event.payload
        channel = self.channels.get(event.call_id)
        if channel is not None and isinstance(payload, TranscriptFinal):
            channel.final(payload.text, payload.t_start, payload.t_end)
        elif isinstance(payload, CallEnded):
            self._followed.pop(event.call_id, None)


def answers_calls(routing: SipRoutingConfig) -> bool:
    """Whether any dialled number is routed to a dialog (ivr or after hours)."""
    return bool(
        routing.ivr_numbers
        or routing.after_hours_numbers
        or routing.unmatched in ("ivr", "after_hours")
        or routing.office_hours != "00:00-24:00"
    )


def build_voice(
    config: JiesuConfig, mouth: Mouth, event_log: EventLog, metrics: Metrics
) -> VoiceService | None:
    """The voice service for ``jiesu serve`` (blocking: run it in a thread), or None when no
    call is answered by a dialog. Prompts missing from the cache are synthesised first."""
    from jiesu.engine.voice.demo_dialog import DemoDialog
    from jiesu.engine.voice.prompts import RATE, PromptCache, load_prompts
    from jiesu.engine.voice.synthesizer import open_synthesizer

    settings = config.voice
    if not (settings.enabled and config.sip.enabled and answers_calls(config.sip.routing)):
        return None
    voice = open_synthesizer(
        settings.name, RATE, threads=settings.threads, fallback=settings.fallback
    )
    prompts = {p.prompt_id: p for p in load_prompts(settings.prompts_file)}
    cache = PromptCache(settings.prompt_cache)
    try:
        report = cache.build(list(prompts.values()), voice)
        if report.built:
            log.info("voice: %d prompts synthesised into %s", len(report.built), cache.folder)
    except OSError as exc:
        log.warning(
            "voice: prompt cache %s not writable (%s); prompts are synthesised live",
            cache.folder,
            exc,
        )
    cached = {}
    for prompt in prompts.values():
        pcm = cache.get(voice.name, prompt.text)
        if pcm is not None:
            cached[prompt.text] = pcm
    uri = settings.hand_over_uri or config.sip.routing.agent_uri
    log.info(
        "voice: %s, %d of %d prompts cached; test dialog hands over to %s",
        voice.name,
        len(cached),
        len(prompts),
        uri,
    )
    return VoiceService(
        mouth, voice, event_log, metrics, DemoDialog(uri), cached=cached, prompts=prompts
    )
