"""The post-call QA scorer (全量质检): a call's record and a rubric in, a scored result out.

Pure and deterministic: the same record and rubric always give the same result. Every item
says how many of its points it scored, whether it applies to the call, why, and which transcript
lines (leg, start time, text) justify the score. The call's score is the points scored over the
points of the items that apply, scaled to 0..100; the call passes at ``pass_score`` unless a
veto item (一票否决) failed. What each check does is in docs/postcall.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

from jiesu.engine.alerts.prosody import spoken_chars
from jiesu.engine.audio import Leg
from jiesu.engine.events import EvidenceLine, QaItem, QaResult
from jiesu.engine.postcall.record import CallRecord, Line
from jiesu.engine.postcall.rubric import Rubric, RubricItem

_CN_DIGITS = str.maketrans("零〇幺一二两三四五六七八九", "0011223456789")
#: Digits with the spoken separators between them removed: "幺三八，幺二三四" -> "1381234".
_SEPARATED = re.compile(r"(?<=\d)[\s,，、.\-—]+(?=\d)")
_NUMBER = re.compile(r"\d{7,12}")
_LEVEL_RANK = {"info": 0, "warning": 1, "critical": 2}


def normalise_digits(text: str) -> str:
    """Spoken Chinese digits as Arabic digits, separators between digits removed."""
    return _SEPARATED.sub("", text.translate(_CN_DIGITS))


def phone_numbers(text: str) -> list[str]:
    """Phone-like numbers (7 to 12 digits) in a line, spoken or written."""
    return _NUMBER.findall(normalise_digits(text))


def _has(text: str, phrases: Sequence[str]) -> str | None:
    return next((p for p in phrases if p in text), None)


def _ev(lines: Sequence[Line]) -> tuple[EvidenceLine, ...]:
    seen: dict[tuple[Leg, int, str], EvidenceLine] = {}
    for line in lines:
        seen.setdefault((line.leg, line.t_start, line.text), line.evidence())
    return tuple(sorted(seen.values(), key=lambda e: e.t_start))


def _result(
    item: RubricItem,
    fraction: float,
    reason: str,
    evidence: Sequence[Line] = (),
    *,
    applicable: bool = True,
    passed: bool | None = None,
) -> QaItem:
    fraction = min(1.0, max(0.0, fraction))
    ok = fraction >= 1.0 if passed is None else passed
    score = round(item.weight * fraction, 2) if applicable else 0.0
    return QaItem(item.id, item.name, item.weight, score, ok, applicable, reason, _ev(evidence))


def _counted(item: RubricItem, events: int, what: str, evidence: Sequence[Line]) -> QaItem:
    over = max(0, events - item.allowed)
    fraction = 1.0 - over * item.per_event
    reason = f"{what} {events} 次（允许 {item.allowed} 次）"
    return _result(item, fraction, reason, evidence, passed=over == 0)


# --- checks ----------------------------------------------------------------------------------


def _greeting(item: RubricItem, record: CallRecord, agent: tuple[Line, ...]) -> QaItem:
    first = agent[0]
    phrase = _has(first.text, item.phrases)
    if first.t_start > item.within_s * 1000:
        return _result(item, 0, f"坐席首句在 {first.t_start / 1000:.0f} 秒后才开口", [first])
    if phrase is None:
        return _result(item, 0, "坐席首句没有规范问候语", [first])
    return _result(item, 1, f"首句问候“{phrase}”", [first])


def _callback(item: RubricItem, record: CallRecord, agent: tuple[Line, ...]) -> QaItem:
    given = [
        (line, phone_numbers(line.text)[-1])
        for line in record.by(Leg.CALLER)
        if phone_numbers(line.text)
    ]
    if not given:
        return _result(item, 1, "来电人未报号码", applicable=False)
    confirmed, evidence = 0, []
    for line, number in given:
        replies = [a for a in agent if a.t_start >= line.t_start][: item.within_lines]
        ok = next(
            (
                a
                for a in replies
                if number[-4:] in normalise_digits(a.text) or _has(a.text, item.phrases)
            ),
            None,
        )
        confirmed += ok is not None
        evidence += [line, ok] if ok is not None else [line, *replies]
    missed = len(given) - confirmed
    reason = (
        f"来电人报号 {len(given)} 次，坐席均已复述或确认"
        if not missed
        else f"来电人报号 {len(given)} 次，{missed} 次坐席未复述或确认"
    )
    return _result(item, confirmed / len(given), reason, evidence)


def _forbidden(item: RubricItem, record: CallRecord, agent: tuple[Line, ...]) -> QaItem:
    hits = [(line, p) for line in agent if (p := _has(line.text, item.phrases))]
    if not hits:
        return _result(item, 1, "未使用服务禁语")
    said = "、".join(dict.fromkeys(f"“{p}”" for _, p in hits))
    return _result(
        item,
        1 - len(hits) * item.per_event,
        f"使用服务禁语 {len(hits)} 次：{said}",
        [line for line, _ in hits],
        passed=False,
    )


def _soothe(item: RubricItem, record: CallRecord, agent: tuple[Line, ...]) -> QaItem:
    floor = _LEVEL_RANK[item.min_level]
    alerts = [
        a
        for a in record.alerts
        if a.kind.startswith("emotion:") and _LEVEL_RANK.get(a.level, 0) >= floor
    ]
    if not alerts:
        return _result(item, 1, "通话中未出现情绪告警", applicable=False)
    caller = record.by(Leg.CALLER)
    # One episode per caller line that triggered an alert (several alerts on one line: once).
    triggers: dict[int, Line | None] = {}
    for alert in alerts:
        before = [c for c in caller if c.t_start <= alert.t_media]
        trigger = before[-1] if before else None
        triggers.setdefault(trigger.t_start if trigger else alert.t_media, trigger)
    soothed, evidence = 0, []
    for t, trigger in sorted(triggers.items()):
        replies = [a for a in agent if a.t_start >= t][: item.within_lines]
        ok = next((a for a in replies if _has(a.text, item.phrases)), None)
        soothed += ok is not None
        evidence += (
            [x for x in (trigger, ok) if x is not None]
            if ok
            else [x for x in (trigger, *replies) if x is not None]
        )
    missed = len(triggers) - soothed
    reason = (
        f"情绪告警 {len(triggers)} 处，坐席均及时安抚"
        if not missed
        else f"情绪告警 {len(triggers)} 处，{missed} 处坐席未及时安抚"
    )
    return _result(item, soothed / len(triggers), reason, evidence)


def _closing(item: RubricItem, record: CallRecord, agent: tuple[Line, ...]) -> QaItem:
    last = agent[-item.last_lines :] if item.last_lines else agent[-1:]
    for line in reversed(last):
        if phrase := _has(line.text, item.phrases):
            return _result(item, 1, f"结束语“{phrase}”", [line])
    return _result(item, 0, "坐席最后的话里没有规范结束语", last)


def _dead_air(item: RubricItem, record: CallRecord, agent: tuple[Line, ...]) -> QaItem:
    gaps: list[tuple[Line, Line]] = []
    spoken_until, previous = None, None
    for line in record.lines:
        gap = line.t_start - spoken_until if spoken_until is not None else 0
        if previous is not None and gap >= item.seconds * 1000:
            gaps.append((previous, line))
        if spoken_until is None or line.t_end >= spoken_until:
            spoken_until, previous = line.t_end, line
    # Live dead-air tips outside the gaps seen here (e.g. silence before the hang-up) count too.
    spans = [(a.t_end, b.t_start) for a, b in gaps]
    tips = [
        t
        for t in record.tips
        if t.kind == "dead_air" and not any(lo <= t.t_media <= hi + 1000 for lo, hi in spans)
    ]
    evidence = [x for pair in gaps for x in pair]
    return _counted(item, len(gaps) + len(tips), f"静默 {item.seconds:g} 秒以上", evidence)


def _talk_over(item: RubricItem, record: CallRecord, agent: tuple[Line, ...]) -> QaItem:
    caller = record.by(Leg.CALLER)
    evidence: list[Line] = []
    events = 0
    for a in agent:
        for c in caller:
            overlap = min(c.t_end, a.t_end) - max(c.t_start, a.t_start)
            if c.t_start < a.t_start < c.t_end and overlap >= item.overlap_ms:
                events += 1
                evidence += [c, a]
                break
    return _counted(item, events, "坐席抢话", evidence)


def _rate(item: RubricItem, record: CallRecord, agent: tuple[Line, ...]) -> QaItem:
    fast = [
        a
        for a in agent
        if (s := (a.t_end - a.t_start) / 1000) >= 2.0
        and spoken_chars(a.text) / s > item.max_chars_per_s
    ]
    return _counted(item, len(fast), f"语速超过 {item.max_chars_per_s:g} 字/秒", fast)


_NEEDS_AGENT: dict[str, Callable[[RubricItem, CallRecord, tuple[Line, ...]], QaItem]] = {
    "greeting": _greeting,
    "callback_confirm": _callback,
    "forbidden": _forbidden,
    "soothe": _soothe,
    "closing": _closing,
    "talk_over": _talk_over,
    "speaking_rate": _rate,
}


def _ticket(item: RubricItem, fields: Mapping[str, str], labels: Mapping[str, str]) -> QaItem:
    def filled(name: str) -> bool:
        prefix = name + "."
        return bool(fields.get(name, "").strip()) or any(
            k.startswith(prefix) and v.strip() for k, v in fields.items()
        )

    missing = [name for name in item.fields if not filled(name)]
    share = 1 - len(missing) / len(item.fields)
    if not missing:
        return _result(item, 1, f"必填字段 {len(item.fields)} 项均已填写")
    names = "、".join(labels.get(m, m) for m in missing)
    return _result(item, share, f"必填字段缺 {len(missing)}/{len(item.fields)} 项：{names}")


def score_call(
    record: CallRecord, rubric: Rubric, labels: Mapping[str, str] | None = None
) -> QaResult:
    """Score one finished call. ``labels``: work-order field name -> label, for reasons."""
    agent = record.by(Leg.AGENT)
    items: list[QaItem] = []
    for item in rubric.items:
        if item.check == "ticket_complete":
            items.append(_ticket(item, record.fields, labels or {}))
        elif item.check == "dead_air":
            items.append(_dead_air(item, record, agent))
        elif not agent:
            items.append(_result(item, 1, "坐席未发言（无坐席转写）", applicable=False))
        else:
            items.append(_NEEDS_AGENT[item.check](item, record, agent))
    weight = sum(i.weight for i in items if i.applicable)
    points = sum(i.score for i in items if i.applicable)
    score = round(100 * points / weight, 1) if weight else 0.0
    vetoed = any(
        not i.passed and i.applicable and spec.veto
        for i, spec in zip(items, rubric.items, strict=True)
    )
    return QaResult(
        rubric.name, score, score >= rubric.pass_score and not vetoed and weight > 0, tuple(items)
    )
