"""The voice channel's logic around the door, with a recording stand-in for the SIP supervisor
(the real SIP path is tested in tests/integration/sip/test_voice_channel.py): playback pieces
and outcomes, barge-in and echo silencing on the caller's frames, keys, hang-up, transfers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from jiesu.engine.audio import AudioChunk, Leg
from jiesu.engine.voice.channel import Outcome, Transferred, VoiceChannel
from jiesu.engine.voice.digits import Collected, DigitRequest, Ended

Pcm = npt.NDArray[np.int16]


@dataclass
class Mouth:
    played: list[tuple[int, int, bool]] = field(default_factory=list)
    stopped: list[int] = field(default_factory=list)
    bridged: list[str] = field(default_factory=list)
    hung_up: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def until(self, done: Callable[[], bool]) -> None:
        """Until ``done()`` holds after something was sent (bounded: a hang fails the test)."""
        async with asyncio.timeout(5):
            while not done():
                self.changed.clear()
                await self.changed.wait()

    def play_audio(self, call_id: str, play_id: int, pcm: bytes, last: bool) -> bool:
        self.played.append((play_id, len(pcm), last))
        self.changed.set()
        return True

    def stop_playback(self, call_id: str, play_id: int = 0) -> bool:
        self.stopped.append(play_id)
        return True

    def hangup(self, call_id: str) -> bool:
        self.hung_up += 1
        return True

    def bridge(self, call_id: str, uri: str) -> bool:
        self.bridged.append(uri)
        self.changed.set()
        return True

    def transfer(self, call_id: str, uri: str) -> bool:
        return True


@dataclass
class Voice:
    """Two clauses of a harmonic 'voice' at 8 kHz (no model needed)."""

    name: str = "test"
    rate: int = 8000

    def stream(self, text: str) -> Iterator[Pcm]:
        for _ in range(2):
            yield voiced(0.5, 180.0)


def voiced(seconds: float, pitch_hz: float, level: float = 6000.0) -> Pcm:
    t = np.arange(int(seconds * 8000)) / 8000
    wave = sum(np.sin(2 * np.pi * pitch_hz * k * t) / k for k in range(1, 12))
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)  # syllable-like
    return (wave * envelope * level / 3).astype(np.int16)


def chunk(seq: int, pcm8k: Pcm) -> AudioChunk:
    wide = np.repeat(pcm8k, 2).astype(np.int16)  # 16 kHz, as the door delivers
    return AudioChunk("c1", Leg.CALLER, seq, seq * 20, wide)


async def started(channel: VoiceChannel, mouth: Mouth, text: str = "您好") -> asyncio.Task[object]:
    task: asyncio.Task[object] = asyncio.create_task(channel.say(text))
    await mouth.until(lambda: bool(mouth.played))
    return task


async def test_cached_prompt_is_sent_whole_and_finishes_when_the_worker_says_so() -> None:
    mouth = Mouth()
    prompt = voiced(1.0, 200.0)
    channel = VoiceChannel("c1", mouth, Voice(), cached={"您好": prompt})
    task = await started(channel, mouth)
    assert mouth.played == [(1, len(prompt) * 2 * 2, True)]  # 16 kHz int16, one last piece
    channel.play_state(1, "started", 0, 0, 0)
    channel.play_state(1, "finished", 50, 0, 0)
    played = await task
    assert (played.outcome, played.frames) == (Outcome.FINISHED, 50)


async def test_synthesised_text_is_sent_clause_by_clause_the_last_marked() -> None:
    mouth = Mouth()
    channel = VoiceChannel("c1", mouth, Voice())
    task = await started(channel, mouth, "动态文本")
    await mouth.until(lambda: len(mouth.played) >= 2)
    assert [last for _, _, last in mouth.played] == [False, True]
    channel.play_state(1, "stopped", 10, 0, 0)
    assert (await task).outcome is Outcome.STOPPED


async def test_the_callers_voice_stops_the_prompt_and_its_echo_is_silenced() -> None:
    mouth = Mouth()
    prompt = voiced(3.0, 200.0)
    channel = VoiceChannel("c1", mouth, Voice(), cached={"您好": prompt})
    task = await started(channel, mouth)
    channel.play_state(1, "started", 0, 0, 0)
    silenced = 0
    # 1 s of pure echo (the prompt 12 dB down, 60 ms late): never a barge-in, silenced.
    echo = np.concatenate([np.zeros(480, np.int16), (prompt * 0.25).astype(np.int16)])
    for seq in range(50):
        heard = channel.caller_audio(chunk(seq, echo[seq * 160 : (seq + 1) * 160]))
        silenced += int(not heard.pcm.any())
    assert mouth.stopped == [] and silenced >= 40
    # Then the caller speaks over it (another voice, louder than the echo).
    caller = voiced(1.0, 120.0, level=8000.0)
    passed = 0
    for i, seq in enumerate(range(50, 100)):
        mixed = echo[seq * 160 : (seq + 1) * 160].astype(np.int32) + caller[i * 160 : (i + 1) * 160]
        heard = channel.caller_audio(chunk(seq, np.clip(mixed, -32768, 32767).astype(np.int16)))
        passed += int(heard.pcm.any())
        if mouth.stopped:
            break
    assert mouth.stopped == [1]
    assert passed >= 6  # the caller's own frames reach the speech core
    channel.play_state(1, "stopped", seq, 0, 0)
    played = await task
    assert played.outcome is Outcome.BARGED_IN and 50 <= played.barge_in_frame <= 60


async def test_keys_typed_ahead_are_collected_and_hang_up_ends_everything() -> None:
    mouth = Mouth()
    channel = VoiceChannel("c1", mouth, Voice())
    for key in "12#":
        channel.dtmf(key)
    got = await channel.collect_digits(DigitRequest(max_digits=4))
    assert got == Collected("12", Ended.TERMINATOR, 0)
    task = await started(channel, mouth)
    channel.ended("caller_hangup")
    assert (await task).outcome is Outcome.HUNG_UP
    assert await channel.next_final(5.0) is None
    assert (await channel.say("还在吗")).outcome is Outcome.HUNG_UP


async def test_a_refused_hand_over_reports_the_agents_status() -> None:
    mouth = Mouth()
    published: list[object] = []

    async def publish(context: object) -> None:
        published.append(context)

    channel = VoiceChannel("c1", mouth, Voice(), publish=publish)
    task = asyncio.create_task(channel.hand_over("sip:busy@pbx", target="A组"))
    await mouth.until(lambda: bool(mouth.bridged))
    channel.transfer_state("bridge", "ringing", 180)
    channel.transfer_state("bridge", "failed", 486)
    assert await task == Transferred(False, 486, "bridge")
    assert published == []  # the call stays with the dialog: no agent's screen opens it
    task = asyncio.create_task(channel.hand_over("sip:agent-3@pbx", target="B组", said="噪音"))
    await mouth.until(lambda: len(mouth.bridged) >= 2)
    channel.transfer_state("bridge", "answered", 200)
    assert (await task).ok
    assert [getattr(c, "agent_id", None) for c in published] == ["agent-3"]
