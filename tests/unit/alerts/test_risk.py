"""Risk rules: emergencies fire once per kind with the right transfer target; passing mentions don't."""

from __future__ import annotations

import pytest

from jiesu.engine.alerts.risk import RiskRules, RiskState, find_risks, risk_step
from jiesu.engine.audio import Leg
from jiesu.engine.events import AlertLevel, TranscriptFinal, TranscriptPartial

RULES = RiskRules()


def final(text: str, uid: str = "u1") -> TranscriptFinal:
    return TranscriptFinal(Leg.CALLER, uid, text, 0, 2000)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("我们楼下着火了，好多烟", "fire"),
        ("家里一股很重的煤气味，是不是漏了", "gas_leak"),
        ("我爸突然晕倒了，叫他也不应", "medical"),
        ("你们再不管，我就从楼上跳下去", "self_harm"),
        ("他再来闹我就弄死他", "threat"),
        ("我老公喝了酒就家暴我", "violence"),
        ("我被困在电梯里了", "trapped"),
        ("我家孩子放学到现在都没回来，不见了", "vulnerable_person"),
    ],
)
def test_each_kind_fires(text: str, kind: str) -> None:
    assert kind in [h.kind for h in find_risks(text, RULES)]


@pytest.mark.parametrize(
    "text",
    [
        "我想问一下去火车站的公交是几路",
        "楼下火锅店油烟太大了",
        "气死我了，这个快递三天都没送到",
        "我们小区门口这条路就是个死胡同",
        "电脑死机了，数据没了",
        "燃气费这个月怎么这么贵",
        "打人家电话一直不接",
        "这个商场天天喊跳楼价",
        "我们家生活困难，想申请低保",
        "健身器材坏了，老人孩子容易受伤",
        "我的账户余额是1200元",
    ],
)
def test_passing_mentions_stay_quiet(text: str) -> None:
    assert find_risks(text, RULES) == []


def test_negation_before_trigger_suppresses() -> None:
    assert find_risks("没有着火，就是楼道灯坏了", RULES) == []
    assert [h.kind for h in find_risks("着火了", RULES)] == ["fire"]


def test_alert_is_critical_with_target_and_quote_and_fires_once_per_kind() -> None:
    state, alerts = risk_step(
        RiskState(), TranscriptPartial(Leg.CALLER, "u1", "楼下着火", 0, 900, 2), RULES
    )
    assert len(alerts) == 1
    alert = alerts[0]
    assert (alert.kind, alert.level) == ("fire", AlertLevel.CRITICAL)
    assert "119" in alert.reason and "着火" in alert.quote
    # The final of the same utterance and later mentions of the same kind do not repeat it.
    state, again = risk_step(state, final("楼下着火了，火很大"), RULES)
    assert again == []
    state, other = risk_step(state, final("我妈晕倒了", "u2"), RULES)
    assert [a.kind for a in other] == ["medical"] and "120" in other[0].reason


def test_configured_words_and_targets() -> None:
    rules = RiskRules.with_extra({"fire": ("走水",)}, ("火神庙",), {"fire": "119转接中心"})
    assert [h.kind for h in find_risks("后院走水了", rules)] == ["fire"]
    assert find_risks("我住在火神庙大火车站旁边", rules) == []
    _, alerts = risk_step(RiskState(), final("后院走水了"), rules)
    assert "119转接中心" in alerts[0].reason


def test_risk_phrase_list_through_the_bench() -> None:
    """The committed list through the bench code: counts add up, the tuned split stays perfect.

    The tuned split is what the rules were written against, so a rule change that breaks one of
    its lines is a regression; the fresh split is only measured (see docs/alerts.md).
    """
    import argparse

    from jiesu.bench import risk as bench

    result = bench.run(argparse.Namespace(data=bench.DEFAULT_LIST, alerts=None))
    assert result["positives"] >= 150 and result["negatives"] >= 150
    splits = result["splits"]
    assert set(splits) == {"tuned", "fresh"}
    assert sum(s["lines"] for s in splits.values()) == result["lines"]
    tuned = splits["tuned"]
    assert tuned["missed"] == [] and tuned["false_alarms"] == []
