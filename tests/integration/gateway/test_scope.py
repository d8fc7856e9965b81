"""What each screen sees: the board of its scope, follows inside it, nothing outside it."""

from __future__ import annotations

from jiesu.engine.audio import Leg
from jiesu.engine.auth import Role
from jiesu.engine.events import (
    AlertLevel,
    CallEnded,
    CallState,
    CallStateChanged,
    EmotionAlert,
    RiskAlert,
    TranscriptFinal,
    TranscriptPartial,
)

OTHER_HOTLINE = "0571-12345"


def final(text: str) -> TranscriptFinal:
    return TranscriptFinal(Leg.CALLER, f"u-{text}", text, 0, 100)


def alert(reason: str) -> EmotionAlert:
    return EmotionAlert(Leg.CALLER, AlertLevel.WARNING, "angry", 0.9, reason)


def is_event(call_id: str, seq: int):  # type: ignore[no-untyped-def]
    return lambda m: m.get("call_id") == call_id and m.get("seq") == seq


async def test_agent_board_holds_only_their_calls(gw) -> None:  # type: ignore[no-untyped-def]
    await gw.start_call("c-mine", "a1")
    await gw.start_call("c-theirs", "a2")
    await gw.start_call("c-lent", "a3")
    await gw.start_call("c-elsewhere", "a1", hotline=OTHER_HOTLINE)
    client = await gw.open(gw.token("a1", calls=("c-lent",)))
    assert sorted(c["call_id"] for c in client.welcome["calls"]) == ["c-lent", "c-mine"]
    mine = next(c for c in client.welcome["calls"] if c["call_id"] == "c-mine")
    assert mine == {
        "call_id": "c-mine",
        "hotline": "12345",
        "agent_id": "a1",
        "mode": "assist",
        "state": "ringing",
        "started_at": mine["started_at"],
    }

    # Board events of other agents' calls and other hotlines never arrive; ours do, in order.
    await gw.log.append("c-theirs", 10, alert("theirs"))
    await gw.log.append("c-elsewhere", 10, alert("elsewhere"))
    await gw.log.append("c-mine", 10, final("not a board event"))
    await gw.log.append("c-lent", 10, CallStateChanged(CallState.TALKING))
    last = await gw.log.append("c-mine", 20, alert("mine"))
    got = await client.until(is_event("c-mine", last.seq))
    assert [(m["type"], m["call_id"]) for m in got] == [
        ("call.state", "c-lent"),
        ("alert.emotion", "c-mine"),
    ]

    # A call assigned to the agent after they connected joins their board.
    started = await gw.start_call("c-new", "a1")
    got = await client.until(is_event("c-new", started.seq))
    assert [m["type"] for m in got] == ["call.started"]


async def test_agent_following_someone_elses_call_is_forbidden(gw) -> None:  # type: ignore[no-untyped-def]
    await gw.start_call("c-mine", "a1")
    await gw.start_call("c-theirs", "a2")
    await gw.start_call("c-other-hotline", "a1", hotline=OTHER_HOTLINE)
    client = await gw.open(gw.token("a1"))

    for call_id in ("c-theirs", "c-other-hotline"):
        await client.send({"type": "follow", "call_id": call_id, "after_seq": 0})
        error = await client.recv()
        assert error["type"] == "error"
        assert (error["code"], error["call_id"]) == ("forbidden", call_id)

    await client.send({"type": "follow", "call_id": "c-nonexistent"})
    error = await client.recv()
    assert (error["code"], error["call_id"]) == ("not_found", "c-nonexistent")
    assert gw.metrics.value("gateway_follows_refused_total", {"reason": "forbidden"}) == 2

    # Still connected, and nothing of the forbidden call leaks afterwards.
    await gw.log.append("c-theirs", 5, final("secret"))
    await client.send({"type": "follow", "call_id": "c-mine"})
    got = await client.until(is_event("c-mine", 1))
    assert [m["type"] for m in got] == ["following", "call.started"]
    ev = await gw.log.append("c-mine", 5, final("hello"))
    got = await client.until(is_event("c-mine", ev.seq))
    assert [m["payload"]["text"] for m in got] == ["hello"]


async def test_agent_may_follow_a_call_listed_in_their_token(gw) -> None:  # type: ignore[no-untyped-def]
    await gw.start_call("c-colleague", "a2")
    await gw.log.append("c-colleague", 5, final("first"))
    client = await gw.open(gw.token("a1", calls=("c-colleague",)))
    await client.send({"type": "follow", "call_id": "c-colleague"})
    got = await client.until(is_event("c-colleague", 2))
    assert [m["type"] for m in got] == ["following", "call.started", "transcript.final"]


async def test_supervisor_sees_whole_hotline_board_and_follows_any_call(gw) -> None:  # type: ignore[no-untyped-def]
    await gw.start_call("c1", "a1")
    await gw.start_call("c2", "a2")
    await gw.start_call("x1", "a1", hotline=OTHER_HOTLINE)
    sup = await gw.open(gw.token("boss", role=Role.SUPERVISOR))
    other_sup = await gw.open(gw.token("boss2", role=Role.SUPERVISOR, hotline=OTHER_HOTLINE))
    assert sorted(c["call_id"] for c in sup.welcome["calls"]) == ["c1", "c2"]
    assert [c["call_id"] for c in other_sup.welcome["calls"]] == ["x1"]

    # Board: life-cycle and alerts of every call of the hotline; not transcripts, not x1.
    await gw.log.append("x1", 1, RiskAlert("threat", AlertLevel.CRITICAL, "other hotline"))
    await gw.log.append("c1", 1, TranscriptPartial(Leg.CALLER, "u", "…", 0, 1, 0))
    await gw.log.append("c1", 2, alert("c1 angry"))
    await gw.log.append("c2", 3, CallStateChanged(CallState.ON_HOLD))
    started = await gw.start_call("c3", "a9")
    ended = await gw.log.append("c2", 4, CallEnded("hangup"))
    got = await sup.until(is_event("c2", ended.seq))
    assert [(m["type"], m["call_id"]) for m in got] == [
        ("alert.emotion", "c1"),
        ("call.state", "c2"),
        ("call.started", "c3"),
        ("call.ended", "c2"),
    ]
    assert started.seq == 1
    got = await other_sup.until(lambda m: m.get("call_id") == "x1")
    assert [m["type"] for m in got] == ["alert.risk"]

    # Following one call brings all its events, history then live.
    await sup.send({"type": "follow", "call_id": "c1", "after_seq": 0})
    got = await sup.until(is_event("c1", 3))
    assert [m["type"] for m in got] == [
        "following",
        "call.started",
        "transcript.partial",
        "alert.emotion",
    ]
    live = await gw.log.append("c1", 9, final("live"))
    got = await sup.until(is_event("c1", live.seq))
    assert [m["seq"] for m in got] == [live.seq]

    # But not a call of another hotline.
    await sup.send({"type": "follow", "call_id": "x1"})
    error = await sup.recv()
    assert (error["code"], error["call_id"]) == ("forbidden", "x1")


async def test_follow_then_unfollow(gw) -> None:  # type: ignore[no-untyped-def]
    await gw.start_call("c1", "a1")
    for i in range(3):
        await gw.log.append("c1", i, final(f"old{i}"))
    client = await gw.open(gw.token("a1"))
    await client.send({"type": "follow", "call_id": "c1", "after_seq": 2})
    got = await client.until(is_event("c1", 4))
    assert [(m["type"], m.get("seq")) for m in got] == [
        ("following", None),
        ("transcript.final", 3),
        ("transcript.final", 4),
    ]
    await client.send({"type": "follow", "call_id": "c1"})
    assert (await client.recv())["code"] == "already_following"
    await client.send({"type": "unfollow", "call_id": "c1"})
    assert await client.recv() == {"type": "unfollowed", "call_id": "c1"}
    # After unfollowing, only board events of the call arrive.
    await gw.log.append("c1", 10, final("not for you"))
    board = await gw.log.append("c1", 11, alert("still on the board"))
    got = await client.until(is_event("c1", board.seq))
    assert [m["type"] for m in got] == ["alert.emotion"]
