"""The extractive summary on realistic calls: 诉求 from the order and the caller's key
sentences, 处理 from the agent's last substantive sentences, fields masked, alerts listed."""

from __future__ import annotations

import re
from dataclasses import replace

from postcall_calls import GOOD_LINES, bad_call, good_call

from jiesu.engine.postcall.record import Mark
from jiesu.engine.postcall.summary import mask_value, summarise

LABELS = {"caller_name": "来电人", "callback_phone": "回访电话", "address": "事发地址"}


def test_good_call_summary() -> None:
    s = summarise(good_call(), LABELS)
    assert s.request.startswith("投诉·环境保护/环境污染/噪音污染：")
    assert "我要投诉，我们小区旁边的工地天天晚上施工，吵得根本睡不着" in s.request
    assert s.request.endswith("（地址：西湖区文三路100号）")
    assert not s.request.startswith("投诉·环境保护/环境污染/噪音污染：你好")  # lead-in dropped
    # What will be done, not the agent's questions or the closing formula.
    assert s.handling == "您反映的夜间施工问题我已经记录，会转交区城管部门处理，三个工作日内回复您"
    assert [f.name for f in s.fields][:3] == ["caller_name", "callback_phone", "address"]
    assert s.fields[1].label == "回访电话" and s.fields[1].value == "138****5678"
    assert s.alerts == ("情绪·愤怒（警告）×1",)
    assert s.key_lines[0].text == GOOD_LINES[1].text


def test_no_number_is_quoted_in_clear() -> None:
    for record in (good_call(), bad_call()):
        s = summarise(record, LABELS)
        text = " ".join([s.request, s.handling, *(f.value for f in s.fields)])
        assert not re.search(r"\d{7,}", text), text
        assert all(not re.search(r"\d{7,}", e.text) for e in s.key_lines)


def test_bad_call_summary_and_tips() -> None:
    record = replace(
        bad_call(),
        tips=(
            Mark(31000, "forbidden", "info", "请避免服务禁语"),
            Mark(31000, "talk_over", "info", "来电人还在说话"),
            Mark(45000, "dead_air", "info", "通话已静默"),
        ),
    )
    s = summarise(record)
    assert s.request.startswith("投诉：")
    assert "楼上漏水把天花板都泡坏了" in s.request
    assert "地址" not in s.request  # none in the order
    # Tips by rule id (dead_air, forbidden, talk_over), named for the supervisor.
    assert s.alerts == ("情绪·愤怒（严重）×1", "辅导提示 3 条：静默×1、服务禁语×1、抢话×1")


def test_empty_call() -> None:
    s = summarise(replace(good_call(), lines=(), fields={}, alerts=()))
    assert s.request == "（未识别到诉求）"
    assert s.handling == "（坐席未说明处理方式）"
    assert s.fields == () and s.alerts == () and s.key_lines == ()


def test_mask_value() -> None:
    assert mask_value("330106199001011234") == "330***********1234"
    assert mask_value("电话13812345678") == "电话138****5678"
    assert mask_value("文三路100号") == "文三路100号"
