"""Scripted 12345 calls for the post-call tests: a well-handled one and a badly handled one,
as transcript lines with realistic timing, plus the work-order fields the assist stage fills."""

from __future__ import annotations

from jiesu.engine.audio import Leg
from jiesu.engine.postcall.record import CallRecord, Line, Mark

A, C = Leg.AGENT, Leg.CALLER

GOOD_LINES = (
    Line(A, 300, 3200, "您好，12345热线，很高兴为您服务。"),
    Line(C, 3800, 11000, "你好，我要投诉，我们小区旁边的工地天天晚上施工，吵得根本睡不着。"),
    Line(A, 11600, 15200, "非常抱歉给您带来不便，请问具体地址是哪里？"),
    Line(C, 15800, 21000, "西湖区文三路100号金都花园旁边。"),
    Line(A, 21500, 23600, "好的，请留一个联系电话。"),
    Line(C, 24100, 29000, "幺三八，幺二三四，五六七八。"),
    Line(A, 29500, 32400, "13812345678，对吗？"),
    Line(C, 32900, 34000, "对的。"),
    Line(
        A,
        34600,
        41800,
        "好的，您反映的夜间施工问题我已经记录，会转交区城管部门处理，三个工作日内回复您。",
    ),
    Line(C, 42300, 43600, "好，没有了，谢谢。"),
    Line(A, 44100, 47800, "感谢您的来电，祝您生活愉快，再见。"),
)
GOOD_FIELDS = {
    "caller_name": "王先生",
    "callback_phone": "13812345678",
    "address": "西湖区文三路100号",
    "request_type": "投诉",
    "category": "环境保护/环境污染/噪音污染",
    "summary": "文三路100号旁工地夜间施工噪音扰民",
    "department": "市生态环境局",
}
#: The caller was angry right after their first sentence.
GOOD_ALERTS = (Mark(11000, "emotion:angry", "warning", ""),)


def good_call(call_id: str = "good") -> CallRecord:
    return CallRecord(call_id, GOOD_LINES, (), GOOD_ALERTS, dict(GOOD_FIELDS), 48000)


BAD_LINES = (
    Line(A, 20000, 21000, "喂，说吧。"),  # late, no greeting
    Line(C, 21500, 30000, "我都打了三次电话了，你们到底管不管，我家楼上漏水把天花板都泡坏了！"),
    Line(A, 29000, 31000, "这个不归我们管，你找物业去。"),  # talks over the caller; 服务禁语
    Line(C, 31500, 36000, "物业根本不理，我的电话是13912345678，你们记一下。"),
    Line(A, 36500, 37500, "嗯。"),
    Line(A, 48000, 50000, "还有别的事吗？"),  # 10.5 s of silence before it
    Line(C, 50500, 52000, "没有了。"),
    Line(A, 52500, 53200, "好。"),
)
BAD_FIELDS = {"callback_phone": "13912345678", "request_type": "投诉"}
BAD_ALERTS = (Mark(30000, "emotion:angry", "critical", ""),)


def bad_call(call_id: str = "bad") -> CallRecord:
    return CallRecord(call_id, BAD_LINES, (), BAD_ALERTS, dict(BAD_FIELDS), 54000)
