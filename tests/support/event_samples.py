"""One example of every call event payload, shared by the event, schema and gateway tests."""

from __future__ import annotations

from jiesu.engine.audio import Leg
from jiesu.engine.events import (
    AlertLevel,
    CallEnded,
    CallerProfile,
    CallMode,
    CallStarted,
    CallState,
    CallStateChanged,
    CallSummary,
    CoachingTip,
    EmotionAlert,
    EvidenceLine,
    FieldOrigin,
    KnowledgeSuggestion,
    QaItem,
    QaResult,
    RiskAlert,
    ScoredValue,
    SourceSpan,
    SpeakerTurn,
    SummaryField,
    TicketField,
    TicketStatus,
    TimedToken,
    TranscriptFinal,
    TranscriptPartial,
)

SAMPLES = [
    CallStarted("12345", "agent-7", CallMode.ASSIST, (Leg.CALLER, Leg.AGENT), "138****5678"),
    CallStateChanged(CallState.ON_HOLD),
    CallEnded("caller_hangup"),
    TranscriptPartial(Leg.CALLER, "u1", "我想问一下社保", 1200, 2600, 4),
    TranscriptFinal(
        Leg.AGENT,
        "u2",
        "您好，请讲。",
        3000,
        4100,
        (TimedToken("您好", 3000, 3400, 0.93), TimedToken("请讲", 3500, 4000, 0.88)),
    ),
    SpeakerTurn(Leg.MIXED, "spk1", 0, 5000),
    TicketField(
        "department",
        "市人力社保局",
        0.81,
        FieldOrigin.AUTO,
        False,
        SourceSpan("u1", 5, 7),
        (ScoredValue("市人力社保局", 0.81), ScoredValue("区医保局", 0.12)),
    ),
    TicketField("caller_name", "王先生", 1.0, FieldOrigin.AGENT, True),
    KnowledgeSuggestion(
        "kb-017", "2026.3", "社保缴费基数", "缴费基数按…", 0.74, ("社保缴费",), "u1"
    ),
    CallerProfile(
        "138****5678",
        3,
        1,
        (ScoredValue("城乡建设", 2), ScoredValue("交通运输", 1)),
        "T0123456789ABCDEF",
        "城乡建设/城市建设和市政管理/噪音扰民",
        "open",
        "",
        1763900000000,
    ),
    EmotionAlert(Leg.CALLER, AlertLevel.WARNING, "angry", 0.86, "连续三句语气激烈"),
    RiskAlert("self_harm", AlertLevel.CRITICAL, "提到轻生", "不想活了"),
    CoachingTip("confirm-phone", "请复述并确认回拨号码"),
    TicketStatus("T0123456789ABCDEF", "dispatched", "市生态环境局", by="agent-7"),
    QaResult(
        "12345-qa-v1",
        72.5,
        False,
        (
            QaItem("greeting", "开场问候", 10.0, 10.0, True, True, "首句问候“您好”"),
            QaItem(
                "soothe",
                "安抚情绪",
                15.0,
                0.0,
                False,
                True,
                "情绪告警 1 处，1 处坐席未及时安抚",
                (
                    EvidenceLine(Leg.CALLER, 3800, "你们到底管不管？"),
                    EvidenceLine(Leg.AGENT, 9000, "嗯。"),
                ),
            ),
        ),
    ),
    CallSummary(
        "投诉·环境保护：工地夜间施工，吵得睡不着（地址：西湖区文三路100号）",
        "已记录，转交区城管部门处理",
        (SummaryField("callback_phone", "回访电话", "138****5678"),),
        ("情绪·愤怒（警告）×1",),
        (EvidenceLine(Leg.CALLER, 3800, "工地夜间施工，吵得睡不着。"),),
    ),
]
