"""Routing on plain data: which screens (here plain strings) get which event."""

from __future__ import annotations

from jiesu.engine.audio import Leg
from jiesu.engine.auth import Role
from jiesu.engine.events import (
    CallContext,
    CallEnded,
    CallMode,
    CallStarted,
    CallState,
    CallStateChanged,
    Event,
    Payload,
    TranscriptFinal,
)
from jiesu.engine.gateway.access import Scope
from jiesu.engine.gateway.fanout import Fanout

HOTLINE = "12345"


def event(call_id: str, seq: int, payload: Payload) -> Event:
    return Event(call_id, seq, t_media=0, t_wall=0, payload=payload)


def started(call_id: str, agent_id: str, hotline: str = HOTLINE, seq: int = 1) -> Event:
    return event(call_id, seq, CallStarted(hotline, agent_id, CallMode.ASSIST, (Leg.CALLER,)))


def talking(call_id: str, seq: int = 2) -> Event:
    return event(call_id, seq, CallStateChanged(CallState.TALKING))


def final(call_id: str, seq: int = 3) -> Event:
    return event(call_id, seq, TranscriptFinal(Leg.CALLER, "u1", "你好", 0, 500))


def agent(sub: str, hotline: str = HOTLINE, calls: tuple[str, ...] = ()) -> Scope:
    return Scope(Role.AGENT, sub, hotline, frozenset(calls))


def supervisor(hotline: str = HOTLINE) -> Scope:
    return Scope(Role.SUPERVISOR, "sup", hotline, frozenset())


def fanout_of(**screens: Scope) -> Fanout[str]:
    fanout: Fanout[str] = Fanout()
    for name, scope in screens.items():
        fanout.add_screen(name, scope)
    return fanout


def test_board_events_go_to_the_agent_and_the_hotlines_supervisors() -> None:
    fanout = fanout_of(a1=agent("a1"), a2=agent("a2"), sup=supervisor(), other=supervisor("0571"))
    assert list(fanout.targets(started("c1", "a1"))) == ["sup", "a1"]
    assert list(fanout.targets(talking("c1"))) == ["sup", "a1"]
    assert list(fanout.targets(started("c2", "a9"))) == ["sup"]


def test_a_handed_over_call_moves_to_the_receiving_agents_board() -> None:
    fanout = fanout_of(a7=agent("agent-7"), sup=supervisor())
    assert list(fanout.targets(started("c1", ""))) == ["sup"]  # the voice dialog has it
    context = CallContext("agent-7", "社保服务组", "consult", "social_insurance", "怎么交社保")
    assert list(fanout.targets(event("c1", 5, context))) == ["sup", "a7"]
    assert list(fanout.targets(talking("c1", seq=6))) == ["sup", "a7"]


def test_other_events_go_to_followers_only() -> None:
    fanout = fanout_of(a1=agent("a1"), sup=supervisor())
    fanout.targets(started("c1", "a1"))
    assert list(fanout.targets(final("c1"))) == []
    fanout.follow("c1", "sup")
    assert list(fanout.targets(final("c1"))) == ["sup"]
    fanout.unfollow("c1", "sup")
    assert list(fanout.targets(final("c1"))) == []


def test_a_follower_is_named_once_and_first() -> None:
    fanout = fanout_of(a1=agent("a1"), sup=supervisor())
    fanout.follow("c1", "a1")
    assert list(fanout.targets(started("c1", "a1"))) == ["a1", "sup"]


def test_lent_calls_reach_an_agent_only_on_their_hotline() -> None:
    fanout = fanout_of(a1=agent("a1", calls=("c-lent", "c-far")))
    assert list(fanout.targets(started("c-lent", "a2"))) == ["a1"]
    assert list(fanout.targets(started("c-far", "a2", hotline="0571"))) == []


def test_a_call_is_forgotten_at_its_end() -> None:
    fanout = fanout_of(sup=supervisor())
    fanout.targets(started("c1", "a1"))
    assert list(fanout.targets(event("c1", 2, CallEnded("hangup")))) == ["sup"]
    # After call.ended routing no longer knows the call: a late board event reaches nobody.
    assert list(fanout.targets(talking("c1", seq=3))) == []


def test_calls_known_from_the_log_route_without_their_start() -> None:
    fanout = fanout_of(sup=supervisor(), a1=agent("a1"))
    assert list(fanout.targets(talking("c1"))) == []
    fanout.add_call("c1", HOTLINE, "a1")
    assert list(fanout.targets(talking("c1"))) == ["sup", "a1"]


def test_removed_screens_get_nothing_and_removal_is_idempotent() -> None:
    fanout = fanout_of(a1=agent("a1", calls=("c2",)), sup=supervisor())
    fanout.follow("c1", "a1")
    fanout.remove_screen("a1", follows=["c1"])
    fanout.remove_screen("a1", follows=["c1"])
    assert list(fanout.targets(started("c1", "a1"))) == ["sup"]
    assert list(fanout.targets(started("c2", "a2"))) == ["sup"]
    assert list(fanout.targets(final("c1"))) == []
    fanout.remove_screen("sup")
    assert list(fanout.targets(started("c3", "a1"))) == []
