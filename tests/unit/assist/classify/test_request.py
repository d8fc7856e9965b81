"""Request type and urgency from cue phrases."""

from __future__ import annotations

import pytest

from jiesu.engine.assist.classify.request import (
    REQUEST_TYPES,
    classify_request_type,
    classify_urgency,
)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("我想咨询一下居住证怎么办理，需要什么材料", "咨询"),
        ("我要投诉，楼下饭店天天噪音扰民，没人管", "投诉"),
        ("我举报一个工厂晚上偷排污水", "举报"),
        ("建议在我们小区门口增设一个公交站", "建议"),
        ("我要表扬一下你们的工作人员，很负责，谢谢你们", "表扬"),
        ("求助，我家老人被困在电梯里了，帮帮忙", "求助"),
    ],
)
def test_request_types(text: str, label: str) -> None:
    ranked = classify_request_type(text)
    assert ranked[0].label == label
    assert sorted(s.label for s in ranked) == sorted(REQUEST_TYPES)
    assert sum(s.probability for s in ranked) == pytest.approx(1.0, abs=1e-3)


def test_nothing_said_is_a_plain_consultation() -> None:
    assert classify_request_type("喂，你好")[0].label == "咨询"


def test_a_negated_cue_does_not_count() -> None:
    assert classify_request_type("我不是投诉，就是想问一下")[0].label == "咨询"


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("家里闻到很大的煤气味，是不是漏气了", "emergency"),
        ("楼道里着火了", "emergency"),
        ("我们小区停水一整天了，老人孩子都没水喝", "urgent"),
        ("我想问一下公积金怎么提取", "normal"),
        ("没有受伤，就是车被刮了一下", "normal"),
    ],
)
def test_urgency(text: str, label: str) -> None:
    result = classify_urgency(text)
    assert result.label == label
    assert 0.0 < result.probability <= 1.0
