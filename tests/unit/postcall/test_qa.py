"""The QA scorer on realistic calls: a well-handled call passes every item, a badly handled one
fails the items it should, each with the transcript lines that show why."""

from __future__ import annotations

from dataclasses import replace

from postcall_calls import BAD_LINES, GOOD_LINES, bad_call, good_call

from jiesu.engine.audio import Leg
from jiesu.engine.events import QaItem, QaResult
from jiesu.engine.postcall.qa import normalise_digits, phone_numbers, score_call
from jiesu.engine.postcall.record import Line, Mark
from jiesu.engine.postcall.rubric import load_rubric

RUBRIC = load_rubric()


def _items(result: QaResult) -> dict[str, QaItem]:
    return {item.item_id: item for item in result.items}


def _texts(item: QaItem) -> list[str]:
    return [e.text for e in item.evidence]


def test_spoken_numbers_are_read() -> None:
    assert normalise_digits("幺三八，幺二三四，五六七八") == "13812345678"
    assert phone_numbers("一五九零零一二三四五六，不对，是一五九零零一二三四五七") == [
        "15900123456",
        "15900123457",
    ]
    assert phone_numbers("我们小区有一个工地") == []


def test_a_well_handled_call_passes_every_item() -> None:
    result = score_call(good_call(), RUBRIC)
    items = _items(result)
    assert result.rubric == "12345-qa-v1"
    assert [i.item_id for i in result.items] == [i.id for i in RUBRIC.items]
    assert all(i.passed and i.applicable for i in result.items), [
        (i.item_id, i.reason) for i in result.items if not i.passed
    ]
    assert result.score == 100.0 and result.passed
    assert _texts(items["greeting"]) == [GOOD_LINES[0].text]
    # The spoken number and the agent's read-back are the callback evidence.
    assert _texts(items["callback"]) == [GOOD_LINES[5].text, GOOD_LINES[6].text]
    # The angry sentence and the apology that answered it.
    assert _texts(items["soothe"]) == [GOOD_LINES[1].text, GOOD_LINES[2].text]
    assert _texts(items["closing"]) == [GOOD_LINES[10].text]
    assert items["callback"].evidence[0].leg is Leg.CALLER
    assert items["callback"].evidence[0].t_start == GOOD_LINES[5].t_start


def test_a_badly_handled_call_fails_with_its_evidence() -> None:
    result = score_call(bad_call(), RUBRIC)
    items = _items(result)
    failed = {i.item_id for i in result.items if not i.passed}
    assert failed == {
        "greeting",
        "callback",
        "forbidden",
        "soothe",
        "closing",
        "dead_air",
        "ticket",
    }
    assert not result.passed
    assert _texts(items["greeting"]) == ["喂，说吧。"]
    assert _texts(items["forbidden"]) == ["这个不归我们管，你找物业去。"]
    assert "不归我们管" in items["forbidden"].reason and items["forbidden"].score == 0
    assert BAD_LINES[3].text in _texts(items["callback"])
    assert _texts(items["dead_air"]) == ["嗯。", "还有别的事吗？"]
    assert items["dead_air"].score == 2.5  # one gap over the allowance costs half the weight
    # One overlap is tolerated, but it is still shown.
    assert items["talk_over"].passed and "抢话 1 次" in items["talk_over"].reason
    assert _texts(items["talk_over"]) == [BAD_LINES[1].text, BAD_LINES[2].text]
    assert items["ticket"].score == 5.0  # 2 of 6 required fields
    assert "category" in items["ticket"].reason
    points = sum(i.score for i in result.items)
    assert result.score == round(points, 1)


def test_veto_fails_a_call_that_scores_high() -> None:
    lines = list(GOOD_LINES)
    lines[8] = replace(lines[8], text="这是规定，我也没办法，我已经记录了。")
    result = score_call(replace(good_call(), lines=tuple(lines)), RUBRIC)
    assert result.score >= RUBRIC.pass_score
    assert not result.passed
    assert not _items(result)["forbidden"].passed


def test_items_that_do_not_apply_do_not_count() -> None:
    calm = replace(good_call(), alerts=())
    result = score_call(calm, RUBRIC)
    soothe = _items(result)["soothe"]
    assert not soothe.applicable and soothe.score == 0 and result.score == 100.0
    # An info-level emotion (a "calm again" notice) is not an alert to soothe.
    info = replace(good_call(), alerts=(Mark(11000, "emotion:angry", "info", ""),))
    assert not _items(score_call(info, RUBRIC))["soothe"].applicable
    no_number = replace(good_call(), lines=GOOD_LINES[:5] + GOOD_LINES[8:])
    assert not _items(score_call(no_number, RUBRIC))["callback"].applicable


def test_unsoothed_alert_costs_the_points_and_scales_the_score() -> None:
    lines = list(GOOD_LINES)
    lines[2] = replace(lines[2], text="请问具体地址是哪里？")
    result = score_call(replace(good_call(), lines=tuple(lines)), RUBRIC)
    soothe = _items(result)["soothe"]
    assert not soothe.passed and soothe.score == 0
    assert result.score == 85.0 and result.passed


def test_a_call_without_agent_lines_is_not_blamed_on_the_agent() -> None:
    caller_only = replace(good_call(), lines=tuple(x for x in GOOD_LINES if x.leg is Leg.CALLER))
    result = score_call(caller_only, RUBRIC)
    applicable = {i.item_id for i in result.items if i.applicable}
    assert applicable == {"dead_air", "ticket"}


def test_dead_air_tip_outside_the_transcript_gaps_counts() -> None:
    record = replace(good_call(), tips=(Mark(60000, "dead_air", "info", "通话已静默"),))
    item = _items(score_call(record, RUBRIC))["dead_air"]
    assert not item.passed and "1 次" in item.reason


def test_fast_agent_line_is_evidence() -> None:
    fast = Line(Leg.AGENT, 50000, 52000, "您的问题我们已经登记了会尽快转交相关部门处理请耐心等待")
    record = replace(good_call(), lines=(*GOOD_LINES, fast, fast))
    item = _items(score_call(record, RUBRIC))["rate"]
    assert not item.passed and _texts(item) == [fast.text]


def test_scoring_is_deterministic() -> None:
    assert score_call(bad_call(), RUBRIC) == score_call(bad_call(), RUBRIC)
