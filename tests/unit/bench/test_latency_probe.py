"""The latency bench's probe: latencies from chunk arrivals, and the partial interval (the time
between two published partials of one utterance)."""

from __future__ import annotations

from jiesu.bench.latency import _Probe
from jiesu.engine.audio import Leg
from jiesu.engine.events import Event, TranscriptPartial


def partial(utterance: str, t_end: int) -> Event:
    return Event("c1", 1, t_end, 0, TranscriptPartial(Leg.CALLER, utterance, "好", 0, t_end, 0))


def test_partial_interval_is_measured_within_an_utterance_only() -> None:
    probe = _Probe()
    probe.arrivals[("c1", Leg.CALLER)] = [i * 0.02 for i in range(500)]
    probe.on_event(partial("u1", 1000), 1.10)
    probe.on_event(partial("u1", 1500), 1.75)
    probe.on_event(partial("u2", 5000), 5.20)  # a new utterance: no interval across the gap
    probe.on_event(partial("u2", 6000), 6.40)
    assert [round(x, 3) for x in probe.partial_interval] == [0.65, 1.2]
    assert [round(x, 3) for x in probe.first_partial_latency] == [0.12, 0.22]
