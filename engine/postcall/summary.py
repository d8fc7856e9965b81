"""The post-call summary (通话小结): extractive, deterministic and fast (no model).

* 诉求 (``request``): request type and category from the work order, the address, and the
  caller's key sentences (the most informative ones, preferring sentences with a request cue
  such as 投诉/反映/咨询/希望), in the order said;
* 处理 (``handling``): the agent's last substantive sentences, preferring those that say what
  will be done (记录/转交/反馈/联系…); closing formulas and questions are skipped;
* the filled work-order fields, in schema order, with numbers masked;
* the alerts that fired and the coaching tips given, one short line each.

Sentences with a phone or ID number are never quoted (the fields carry them, masked).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from jiesu.engine.audio import Leg
from jiesu.engine.events import CallSummary, EvidenceLine, SummaryField
from jiesu.engine.labels import EMOTION, RISK_KIND, SUMMARY_LEVEL, TIP
from jiesu.engine.postcall.qa import normalise_digits
from jiesu.engine.postcall.record import CallRecord, Line

_SENTENCE_END = re.compile(r"(?<=[。！？!?；;])")
_NUMBERISH = re.compile(r"\d{5,}")
_TRIVIAL = re.compile(
    r"^[\s，,。！？!?、]*(喂|嗯|啊|哦|对|对的|是的|好|好的|行|可以|谢谢|谢谢你|你好|您好)*[\s，,。！？!?、]*$"
)

REQUEST_CUES = (
    "投诉",
    "反映",
    "举报",
    "咨询",
    "求助",
    "建议",
    "想问",
    "要求",
    "希望",
    "问题",
    "麻烦",
)
HANDLING_CUES = (
    "记录",
    "转交",
    "转办",
    "转给",
    "反馈",
    "派单",
    "联系",
    "处理",
    "答复",
    "回复",
    "核实",
    "催办",
    "工作日",
    "告知",
    "安排",
    "跟进",
    "登记",
    "建议您",
    "可以",
)
CLOSING = ("还有其他", "还有什么", "感谢", "再见", "请挂机", "祝您", "不客气")
#: The agent asking the caller for details: not what will be done.
ASKING = ("请问", "请留", "请提供", "请您说", "麻烦您", "方便留", "怎么称呼", "贵姓")


@dataclass(frozen=True, slots=True)
class SummarySettings:
    """Which work-order fields feed the 诉求 line (names of the shipped schema by default)."""

    request_type_field: str = "request_type"
    category_field: str = "category"
    address_field: str = "address"
    #: Caller sentences quoted in 诉求, and agent sentences in 处理.
    key_sentences: int = 2
    handling_sentences: int = 2
    #: Agent sentences (from the end) searched for the handling.
    handling_window: int = 8


def _sentences(lines: Sequence[Line]) -> list[tuple[Line, str]]:
    out = []
    for line in lines:
        for part in _SENTENCE_END.split(line.text):
            part = part.strip()
            if part:
                out.append((line, part))
    return out


_LEAD_IN = re.compile(r"^((对的|是的|好的|你好|您好|喂|嗯|啊|哦|对|好|行)[，,、\s]*)+")


def _trimmed(text: str) -> str:
    """A sentence without its lead-in acknowledgements (喂，你好，…)."""
    return _LEAD_IN.sub("", text) or text


def _quotable(text: str) -> bool:
    return not _TRIVIAL.match(text) and not _NUMBERISH.search(normalise_digits(text))


def mask_value(value: str) -> str:
    """Numbers of 7+ digits (phones, ID numbers) keep their first 3 and last 4 characters."""

    def mask(m: re.Match[str]) -> str:
        s = m.group(0)
        return s[:3] + "*" * (len(s) - 7) + s[-4:]

    return re.sub(r"[0-9Xx]{7,}", mask, value)


def _key_caller(record: CallRecord, n: int) -> list[tuple[Line, str]]:
    candidates = [
        (i, line, s)
        for i, (line, s) in enumerate(_sentences(record.by(Leg.CALLER)))
        if _quotable(s) and len(s) >= 6
    ]
    ranked = sorted(
        candidates,
        key=lambda c: (
            -(min(len(c[2]), 40) + (15 if any(q in c[2] for q in REQUEST_CUES) else 0)),
            c[0],
        ),
    )[:n]
    return [(line, s) for _, line, s in sorted(ranked, key=lambda c: c[0])]


def _handling(record: CallRecord, s: SummarySettings) -> list[tuple[Line, str]]:
    said = _sentences(record.by(Leg.AGENT))[-s.handling_window :]
    usable = [
        (i, line, t)
        for i, (line, t) in enumerate(said)
        if _quotable(t)
        and not any(c in t for c in (*CLOSING, *ASKING))
        and not t.endswith(("？", "?", "吗", "吗。"))
    ]
    cued = [u for u in usable if any(c in u[2] for c in HANDLING_CUES)]
    chosen = (cued or usable[-1:])[-s.handling_sentences :]
    return [(line, t) for _, line, t in chosen]


def _alerts(record: CallRecord) -> tuple[str, ...]:
    out: list[str] = []
    counts = Counter((a.kind, a.level) for a in record.alerts if a.level != "info")
    for (kind, level), n in sorted(counts.items()):
        family, _, name = kind.partition(":")
        label = (
            f"情绪·{EMOTION.get(name, name)}"
            if family == "emotion"
            else f"风险·{RISK_KIND.get(name, name)}"
        )
        out.append(f"{label}（{SUMMARY_LEVEL.get(level, level)}）×{n}")
    tips = Counter(t.kind for t in record.tips)
    if tips:
        kinds = "、".join(f"{TIP.get(k, k)}×{n}" for k, n in sorted(tips.items()))
        out.append(f"辅导提示 {sum(tips.values())} 条：{kinds}")
    return tuple(out)


def summarise(
    record: CallRecord,
    labels: Mapping[str, str] | None = None,
    settings: SummarySettings | None = None,
) -> CallSummary:
    """The call's summary. ``labels``: field name -> label, in the order fields are listed
    (fields not in it follow, by name)."""
    s = settings or SummarySettings()
    labels = labels or {}
    f = record.fields
    address = f.get(s.address_field, "") or "".join(
        v for k, v in sorted(f.items()) if k.startswith(s.address_field + ".")
    )
    head = "·".join(x for x in (f.get(s.request_type_field, ""), f.get(s.category_field, "")) if x)
    key = _key_caller(record, s.key_sentences)
    quoted = "；".join(_trimmed(t).rstrip("。；;") for _, t in key)
    request = "：".join(x for x in (head, quoted) if x) or "（未识别到诉求）"
    if address:
        request += f"（地址：{mask_value(address)}）"
    handled = _handling(record, s)
    handling = (
        "；".join(_trimmed(t).rstrip("。；;") for _, t in handled) or "（坐席未说明处理方式）"
    )
    order = list(labels) + sorted(k for k in f if k not in labels)
    fields = tuple(
        SummaryField(name, labels.get(name, name), mask_value(f[name]))
        for name in order
        if f.get(name, "").strip()
    )
    key_lines = tuple(
        EvidenceLine(line.leg, line.t_start, line.text)
        for line in dict.fromkeys(line for line, _ in (*key, *handled))
    )
    return CallSummary(request, handling, fields, _alerts(record), key_lines)
