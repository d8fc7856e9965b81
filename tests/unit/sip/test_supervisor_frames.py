"""The supervisor's frame handling, driven with typed frames and no worker: every leg goes
through the ingest's per-leg policy (LegStream), so gaps are filled only up to the cap."""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncIterator

import numpy as np
import pytest

from jiesu.engine.audio import Leg
from jiesu.engine.config import SipConfig
from jiesu.engine.events import CallMode
from jiesu.engine.ingest.recording import RecordingSink
from jiesu.engine.legstream import DEFAULT_MAX_GAP_MS
from jiesu.engine.metrics import Metrics
from jiesu.engine.sip.frames import AudioFrame, BadFrame, CallEnd, CallStart, LegEnd
from jiesu.engine.sip.settings import FRAME_BYTES, FRAME_MS
from jiesu.engine.sip.supervisor import SipSupervisor

CAP = DEFAULT_MAX_GAP_MS // FRAME_MS
TWO_LEGS = (Leg.CALLER, Leg.AGENT)


def pcm(value: int) -> bytes:
    return np.full(FRAME_BYTES // 2, value, "<i2").tobytes()


def audio(
    seq: int, leg: Leg = Leg.CALLER, *, offset_ms: int = 0, size: int = FRAME_BYTES
) -> AudioFrame:
    return AudioFrame("c1", leg, seq, offset_ms + FRAME_MS * seq, pcm((seq + 1) % 1000)[:size])


@pytest.fixture
async def door() -> AsyncIterator[tuple[SipSupervisor, RecordingSink]]:
    sink = RecordingSink()
    supervisor = SipSupervisor(SipConfig(), sink, Metrics())
    start = CallStart("c1", CallMode.ASSIST, "12345", "138****5678", "", "a1", TWO_LEGS, "PCMA")
    await supervisor.handle_frame(supervisor.workers[0], start)
    yield supervisor, sink
    await supervisor.close()
    assert sink.violations == []


def dropped(supervisor: SipSupervisor, where: str) -> float:
    return supervisor.metrics.value("sip_frames_dropped_total", {"where": where})


async def test_a_seq_jump_past_the_cap_is_refused_without_allocating(
    door: tuple[SipSupervisor, RecordingSink],
) -> None:
    supervisor, sink = door
    handle = supervisor.workers[0]
    await supervisor.handle_frame(handle, audio(0))
    tracemalloc.start()
    try:
        await supervisor.handle_frame(handle, audio(10**9))  # 5.5 years of 20 ms slots
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 256 * 1024  # the old gap filling made one silent chunk per slot
    assert len(sink.chunks) == 1
    assert dropped(supervisor, "seq_jump") == 1 and dropped(supervisor, "gap") == 0
    await supervisor.handle_frame(handle, audio(1 + CAP))  # exactly the cap: filled
    assert len(sink.chunks) == 2 + CAP and dropped(supervisor, "gap") == CAP
    await supervisor.handle_frame(handle, CallEnd("c1", "caller_hangup", ()))
    stats = (await sink.wait_ended("c1")).stats
    assert (stats.received, stats.frames, stats.lost, stats.bad) == (3, 2, CAP, 1)
    assert stats.chunks == 2 + CAP and stats.duration_ms == (2 + CAP) * FRAME_MS


async def test_gaps_late_and_bad_frames_keep_seq_and_media_time(
    door: tuple[SipSupervisor, RecordingSink],
) -> None:
    supervisor, sink = door
    handle = supervisor.workers[0]
    for frame in (
        audio(0, Leg.AGENT, offset_ms=1000),
        audio(3, Leg.AGENT, offset_ms=1000),  # seq 1 and 2 were dropped in the worker
        audio(2, Leg.AGENT, offset_ms=1000),  # too late
        audio(4, Leg.AGENT, offset_ms=1000, size=10),  # wrong size: silence in its slot
        audio(5, Leg.AGENT, offset_ms=1000),
        audio(6, Leg.AGENT, offset_ms=1000, size=0),  # an empty last frame keeps its slot too
        audio(0, Leg.MIXED),  # a leg the call does not have
        AudioFrame("other", Leg.CALLER, 0, 0, pcm(0)),  # a call that is not open
        BadFrame("broken"),
    ):
        await supervisor.handle_frame(handle, frame)
    chunks = sink.leg_chunks("c1", Leg.AGENT)
    assert [c.seq for c in chunks] == list(range(7))
    assert [c.t_media_ms for c in chunks] == [1000 + FRAME_MS * i for i in range(7)]
    assert [int(c.pcm[0]) for c in chunks] == [1, 0, 0, 4, 0, 6, 0]
    assert dropped(supervisor, "gap") == 2 and dropped(supervisor, "no_call") == 1
    assert supervisor.metrics.value("sip_bad_frames_total") == 5
    legs = (LegEnd(Leg.AGENT, 6, 0, 300, 2),)
    await supervisor.handle_frame(handle, CallEnd("c1", "agent_hangup", legs))
    assert supervisor.metrics.value("sip_rtp_lost_total") == 2
    assert supervisor.last_leg_info["c1"]["agent"]["rtp_packets"] == 300
    ended = await sink.wait_ended("c1")
    assert ended.reason == "agent_hangup"
    agent = ended.stats.legs[1]
    assert (agent.received, agent.frames, agent.lost, agent.bad, agent.out_of_order) == (
        6,
        3,
        4,
        2,
        1,
    )
