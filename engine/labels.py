"""Chinese display labels that both the engine's texts and the screens use: one table each.

The engine words alert reasons and call summaries with them; the gateway serves them to the
screens as ``/assets/labels.json`` (:func:`screen_labels_json`), which
``agent_overlay/labels.js`` reads, so no second copy is kept by hand. Work-order field labels
come from the shipped schema (``sip_config/workorder.toml``). Labels only the screens show
(link states, refusals ...) stay in ``labels.js``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType

from jiesu.engine.assist.workorder import WorkOrderSchema, default_schema_path

#: Risk kinds of :mod:`jiesu.engine.alerts.risk`, plus the ones the screens derive (duplicate,
#: repeat) and older names the engine may still send.
RISK_KIND: Mapping[str, str] = MappingProxyType(
    {
        "duplicate_ticket": "疑似重复工单",
        "duplicate": "疑似重复工单",
        "repeat_caller": "重复来电",
        "self_harm": "自伤/轻生风险",
        "suicide": "自伤/轻生风险",
        "violence": "暴力事件",
        "threat": "威胁他人",
        "gas_leak": "燃气泄漏",
        "fire": "火情",
        "medical": "急症/伤病",
        "trapped": "人员被困",
        "vulnerable_person": "儿童/老人处境危险",
        "mass_incident": "群体性事件",
        "media": "媒体曝光",
        "complaint_escalation": "越级投诉",
        "legal": "法律风险",
        "sensitive": "敏感话题",
    }
)

#: Emotions by every name the models and the alerts use.
EMOTION: Mapping[str, str] = MappingProxyType(
    {
        "angry": "愤怒",
        "anger": "愤怒",
        "anxious": "焦虑",
        "anxiety": "焦虑",
        "sad": "悲伤",
        "sadness": "悲伤",
        "fear": "恐惧",
        "frustrated": "不满",
        "distress": "痛苦",
        "negative": "负面",
        "neutral": "平静",
        "calm": "平静",
        "positive": "正面",
        "surprise": "惊讶",
        "happy": "满意",
    }
)

#: The emotion alert kinds as an alert's reason names them: each covers two model labels
#: (:data:`jiesu.engine.alerts.emotion.ALERTED`), hence the pairs.
EMOTION_ALERT: Mapping[str, str] = MappingProxyType(
    {"anger": "愤怒", "anxiety": "焦虑/恐惧", "distress": "悲伤/无助"}
)

ALERT_LEVEL: Mapping[str, str] = MappingProxyType(
    {"info": "提示", "warning": "警告", "critical": "紧急"}
)
#: The post-call summary's words for the levels: there "critical" reads 严重.
SUMMARY_LEVEL: Mapping[str, str] = MappingProxyType({**ALERT_LEVEL, "critical": "严重"})

#: Coaching tip kinds (:mod:`jiesu.engine.alerts.coach`), as the summary counts them.
TIP: Mapping[str, str] = MappingProxyType(
    {
        "forbidden": "服务禁语",
        "dead_air": "静默",
        "talk_over": "抢话",
        "too_fast": "语速快",
        "greeting": "开场问候",
        "closing": "结束语",
        "callback": "回拨号码确认",
    }
)


def screen_labels_json() -> bytes:
    """The tables the screens need, as ``labels.json``: work-order fields in schema order."""
    schema = WorkOrderSchema.load(default_schema_path())
    tables = {
        "order_fields": [[spec.name, spec.label] for spec in schema.fields],
        "risk_kind": dict(RISK_KIND),
        "emotion": dict(EMOTION),
        "alert_level": dict(ALERT_LEVEL),
    }
    return json.dumps(tables, ensure_ascii=False, indent=1).encode("utf-8")
