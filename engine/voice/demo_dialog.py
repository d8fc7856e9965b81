"""The test dialog of the voice channel: what an IVR or after-hours number does until the flows
of ``sip_config/ivr/`` exist (issue 15). It exercises every part of the channel once.

Greets (interruptible), then waits for the caller: a key ``0`` or any sentence. A sentence is
read back (synthesised at run time) and the call is handed over to the configured agent with
the sentence as its context (the agent's screen opens pre-filled); silence is asked once more,
then the caller hears goodbye. A failed hand-over is apologised for and the call ends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass

from jiesu.engine.voice.channel import Final, Outcome, VoiceChannel
from jiesu.engine.voice.digits import Collected, DigitRequest

log = logging.getLogger(__name__)

#: How long the caller has to say something after a prompt.
LISTEN_S = 8.0


@dataclass(frozen=True, slots=True)
class DemoDialog:
    """``DemoDialog(agent_uri)(channel)`` runs one call."""

    agent_uri: str
    target: str = "人工服务"

    async def __call__(self, channel: VoiceChannel) -> None:
        for attempt in range(2):
            prompt = "greeting" if attempt == 0 else "not_understood"
            if (await channel.say_prompt(prompt)).outcome is Outcome.HUNG_UP:
                return
            said = await _first_of(
                channel.next_final(LISTEN_S),
                channel.collect_digits(
                    DigitRequest(max_digits=1, first_digit_ms=int(LISTEN_S * 1000))
                ),
            )
            if channel.hung_up.is_set():
                return
            if said:
                await self._hand_over(channel, said)
                return
        await channel.say_prompt("goodbye")
        channel.hangup()

    async def _hand_over(self, channel: VoiceChannel, said: str) -> None:
        if said != "0":
            await channel.say(f"您说的是：{said}。", interruptible=False)
        await channel.say_prompt("transfer")
        result = await channel.hand_over(
            self.agent_uri, target=self.target, said="" if said == "0" else said
        )
        if result.ok or channel.hung_up.is_set():
            return
        log.info("call %s: hand-over failed (%d)", channel.call_id[:8], result.status)
        await channel.say("抱歉，坐席正忙，请您稍后再拨。", interruptible=False)
        channel.hangup()


async def _first_of(final: Awaitable[Final | None], keys: Awaitable[Collected]) -> str:
    """The caller's sentence or key, whichever comes first ("" for neither)."""
    heard = asyncio.ensure_future(final)
    pressed = asyncio.ensure_future(keys)
    await asyncio.wait({heard, pressed}, return_when=asyncio.FIRST_COMPLETED)
    for task in (heard, pressed):
        if not task.done():
            task.cancel()
    await asyncio.gather(heard, pressed, return_exceptions=True)
    sentence = heard.result() if heard.done() and not heard.cancelled() else None
    if sentence is not None and sentence.text:
        return sentence.text
    if pressed.done() and not pressed.cancelled():
        return pressed.result().digits
    return ""
