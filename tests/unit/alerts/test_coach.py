"""Coaching rules on scripted calls: each rule fires when it should, stays quiet otherwise, rate limits."""

from __future__ import annotations

from dataclasses import replace

from jiesu.engine.alerts.coach import CoachInput, CoachSettings, CoachState, MediaTick, coach_step
from jiesu.engine.audio import Leg
from jiesu.engine.events import CallEnded, CallMode, CallStarted, CoachingTip, TranscriptFinal

S = CoachSettings(min_interval_s=0.0, per_rule_interval_s=0.0)
START = CallStarted("12345", "a1", CallMode.ASSIST, (Leg.CALLER, Leg.AGENT))


def agent(text: str, t0: int, t1: int) -> TranscriptFinal:
    return TranscriptFinal(Leg.AGENT, f"a{t0}", text, t0, t1)


def caller(text: str, t0: int, t1: int) -> TranscriptFinal:
    return TranscriptFinal(Leg.CALLER, f"c{t0}", text, t0, t1)


def play(items: list[CoachInput], s: CoachSettings = S) -> tuple[CoachState, list[CoachingTip]]:
    state, tips = CoachState(), []
    for item in items:
        state, out = coach_step(state, item, s)
        tips.extend(out)
    return state, tips


GOOD_CALL: list[CoachInput] = [
    START,
    agent("您好，12345为您服务", 500, 2500),
    caller("我家楼下烧烤摊太吵了，我电话是13812345678", 3000, 8000),
    agent("好的，您的电话是13812345678对吗", 8500, 12000),
    caller("对的", 12200, 12800),
    MediaTick(15000),
    agent("我帮您记录下来，转交城管处理", 13500, 17000),
    caller("好的，没有了，谢谢", 17500, 19000),
    agent("感谢您的来电，再见", 19500, 21000),
    CallEnded("hangup"),
]


def test_a_good_call_gets_no_tips() -> None:
    _, tips = play(GOOD_CALL)
    assert tips == []


def test_forbidden_phrase_names_the_phrase() -> None:
    _, tips = play([START, agent("您好", 0, 800), agent("这个不归我们管", 5000, 7000)])
    assert [t.tip_id for t in tips] == ["forbidden"]
    assert "不归我们管" in tips[0].text


def test_missing_greeting_and_closing() -> None:
    _, tips = play(
        [START, agent("喂，说吧", 500, 1500), caller("没有了", 5000, 6000), agent("嗯", 6500, 7000)]
    )
    assert [t.tip_id for t in tips] == ["greeting", "closing"]


def test_dead_air_once_per_silence() -> None:
    items: list[CoachInput] = [START, agent("您好", 0, 1000)]
    items += [MediaTick(t) for t in range(2000, 20000, 1000)]
    items += [caller("喂，还在吗", 20000, 21000)] + [
        MediaTick(t) for t in range(22000, 31000, 1000)
    ]
    _, tips = play(items)
    assert [t.tip_id for t in tips] == ["dead_air", "dead_air"]
    assert "8秒" in tips[0].text


def test_talk_over_only_when_the_agent_interrupts() -> None:
    base: list[CoachInput] = [
        START,
        agent("您好", 0, 800),
        caller("我要反映一个问题就是那个", 1000, 6000),
    ]
    _, tips = play([*base, agent("你先听我说", 3000, 5000)])
    assert [t.tip_id for t in tips] == ["talk_over"]
    _, tips = play([*base, agent("好的您请说", 6200, 7000)])
    assert tips == []
    # A back-channel shorter than overlap_ms is not talking over.
    _, tips = play([*base, agent("嗯", 3000, 3300)])
    assert tips == []


def test_too_fast() -> None:
    fast = "您反映的问题我们已经记录下来了会在三个工作日内转交相关部门处理请您保持电话畅通"
    _, tips = play([START, agent("您好", 0, 800), agent(fast, 2000, 6000)])
    assert [t.tip_id for t in tips] == ["too_fast"]
    _, tips = play([START, agent("您好", 0, 800), agent(fast, 2000, 11000)])
    assert tips == []


def test_callback_number_not_confirmed() -> None:
    _, tips = play(
        [
            START,
            agent("您好", 0, 800),
            caller("我的号码是13812345678", 1000, 4000),
            agent("好的", 4500, 5000),
            agent("我记下了", 5500, 6500),
        ]
    )
    assert [t.tip_id for t in tips] == ["callback"]
    assert "5678" not in tips[0].text  # the number never appears in a tip


def test_rate_limits() -> None:
    s = replace(S, min_interval_s=10.0, per_rule_interval_s=60.0)
    items: list[CoachInput] = [START, agent("您好", 0, 800)]
    items += [agent("这是规定", t, t + 1000) for t in (2000, 5000, 15000, 70000)]
    items += [agent("你问别人去，没空", 80000, 81000)]
    state, tips = play(items, s)
    # 2 s: fires; 5 s: global limit; 15 s: same rule within 60 s; 70 s: fires; 80 s: global limit.
    assert [t.tip_id for t in tips] == ["forbidden", "forbidden"]
    assert state.suppressed == 3


def test_nothing_after_the_call_ended() -> None:
    _, tips = play([START, CallEnded("hangup"), agent("不知道", 1000, 2000), MediaTick(60000)])
    assert tips == []
