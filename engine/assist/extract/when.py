"""When something happened, from spoken Chinese, relative to a reference time (the call start).

Handles a day (今天/昨天/前天/大前天/明天, 上周三/这周五/周日, 三天前, 上个月, 五月三号, 去年),
a part of the day (凌晨/早上/上午/中午/下午/傍晚/晚上/夜里/半夜), a clock time (十点, 十点半,
两点一刻, 22:30) and relative spans (三个小时前, 二十分钟前, 刚才), alone or combined, and
recurrences (每天晚上, 天天, 每周六) which resolve to their latest occurrence with
``recurring=True``. A result spans a range (``end_time``) unless it names a point in time.
Pure: the text and the reference in, the matches out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

_NUM = "[零〇一二两三四五六七八九十百0-9]+"
_WEEKDAY = "[一二三四五六日天末1-7]"
_DAY = (
    rf"(?P<rel_days>{_NUM})天(?:之)?前|(?P<rel_weeks>{_NUM})个?(?:星期|礼拜|周)(?:之)?前"
    rf"|(?P<month_day>(?:(?P<md_last>上个?月)|(?P<md_month>{_NUM})月)(?P<md_day>{_NUM})[号日])"
    rf"|(?P<week>(?P<week_rel>上上|上|这|本|这个|下)?个?(?:周|星期|礼拜)(?P<week_day>{_WEEKDAY}))"
    rf"|(?P<every_week>(?:每周|每个?星期|每个?礼拜)(?P<every_day>{_WEEKDAY}))"
    r"|(?P<named>大前天|前天|昨天|昨日|今天|今日|明天|后天|今早|今晚|昨晚|前晚|明早|明晚|当天)"
    r"|(?P<every>每天|每晚|天天|每天都|每个晚上)"
    r"|(?P<month>上个月|这个月|本月|上上个月)|(?P<year>去年|今年|前年)"
)
_PART = r"(?P<part>凌晨|清早|早上|早晨|上午|中午|下午|傍晚|晚上|夜里|夜间|半夜|深夜|后半夜)"
_CLOCK = (
    rf"(?P<clock>(?P<hour>{_NUM})(?:点|时)(?:钟)?(?P<minute_part>半|一刻|三刻|多|(?P<minute>{_NUM})分?)?)"
    r"|(?P<hhmm>(?P<hh>[0-2]?\d)[:：](?P<mm>[0-5]\d))"
)
_AGO = rf"(?P<ago>(?P<ago_n>{_NUM}|半)个?(?P<ago_unit>小时|钟头|分钟)(?:之)?前)|(?P<just>刚才|刚刚)"
_PATTERN = re.compile(rf"{_AGO}|(?:(?:{_DAY})(?:的)?)?(?:{_PART})?(?:{_CLOCK})?", re.UNICODE)
_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
           "七": 7, "八": 8, "九": 9}  # fmt: skip
#: Part of the day -> (start hour, end hour); an end past 24 runs into the next day.
_PARTS = {
    "凌晨": (0, 6), "清早": (5, 8), "早上": (6, 9), "早晨": (6, 9), "上午": (8, 12),
    "中午": (11, 13), "下午": (13, 18), "傍晚": (17, 19), "晚上": (18, 24), "夜里": (21, 27),
    "夜间": (21, 27), "半夜": (23, 27), "深夜": (22, 26), "后半夜": (24, 29),
}  # fmt: skip
_NAMED = {
    "大前天": (-3, None), "前天": (-2, None), "昨天": (-1, None), "昨日": (-1, None),
    "今天": (0, None), "今日": (0, None), "当天": (0, None), "明天": (1, None), "后天": (2, None),
    "今早": (0, "早上"), "今晚": (0, "晚上"), "昨晚": (-1, "晚上"), "前晚": (-2, "晚上"),
    "明早": (1, "早上"), "明晚": (1, "晚上"),
}  # fmt: skip
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 5}
_EVENING = ("下午", "傍晚", "晚上", "夜里", "夜间", "半夜", "深夜", "后半夜")


@dataclass(frozen=True, slots=True)
class TimeMatch:
    """A time said in the text: when it starts, when the range ends (None for a point), the
    span [text_start, text_end), a confidence, and whether it recurs (每天晚上)."""

    start_time: datetime
    end_time: datetime | None
    text_start: int
    text_end: int
    confidence: float
    recurring: bool = False


def chinese_number(text: str) -> int | None:
    """二十三 -> 23, 十 -> 10, 两 -> 2, 15 -> 15, 一五 -> 15 (digit by digit); None if not a number."""
    if text.isdigit():
        return int(text)
    if "百" in text:
        head, _, tail = text.partition("百")
        hundreds = chinese_number(head) if head else 1
        rest = chinese_number(tail.lstrip("零")) if tail.lstrip("零") else 0
        return None if hundreds is None or rest is None else hundreds * 100 + rest
    if "十" in text:
        head, _, tail = text.partition("十")
        tens = _DIGITS.get(head, -1) if head else 1
        ones = _DIGITS.get(tail, -1) if tail else 0
        return None if tens < 0 or ones < 0 else tens * 10 + ones
    digits = [_DIGITS.get(c) for c in text]
    if not digits or any(d is None for d in digits):
        return None
    return int("".join(str(d) for d in digits))


def _weekday(word: str) -> int:
    """Monday = 0: 一..六/日/天, or a digit 1-7; 末 (weekend) starts on Saturday."""
    return int(word) - 1 if word.isdigit() else _WEEKDAYS[word]


def _midnight(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _minutes(m: re.Match[str]) -> int:
    part = m.group("minute_part")
    if part in (None, "多"):
        return 0
    if part == "半":
        return 30
    if part == "一刻":
        return 15
    if part == "三刻":
        return 45
    value = chinese_number(m.group("minute") or "")
    return value if value is not None and value < 60 else 0


def _ago(m: re.Match[str], ref: datetime) -> tuple[datetime, datetime | None, float]:
    if m.group("just"):
        return ref - timedelta(minutes=10), ref, 0.6
    raw = m.group("ago_n")
    amount = 0.5 if raw == "半" else float(chinese_number(raw) or 0)
    unit = timedelta(minutes=1) if m.group("ago_unit") == "分钟" else timedelta(hours=1)
    return ref - amount * unit, None, 0.85


def _day(m: re.Match[str], ref: datetime) -> tuple[datetime, timedelta, str | None, bool] | None:
    """(start of the day or range, its length, implied part of day, recurring)."""
    today = _midnight(ref)
    one_day = timedelta(days=1)
    if m.group("named"):
        offset, part = _NAMED[m.group("named")]
        return today + offset * one_day, one_day, part, False
    if m.group("rel_days"):
        n = chinese_number(m.group("rel_days"))
        return None if n is None else (today - n * one_day, one_day, None, False)
    if m.group("rel_weeks"):
        n = chinese_number(m.group("rel_weeks"))
        return None if n is None else (today - 7 * n * one_day, one_day, None, False)
    if m.group("week"):
        wanted = _weekday(m.group("week_day"))
        monday = today - ref.weekday() * one_day
        shift = {"上上": -14, "上": -7, "下": 7}.get(m.group("week_rel") or "", 0)
        day = monday + (shift + wanted) * one_day
        if m.group("week_rel") is None and day > today:
            day -= 7 * one_day  # a bare 周三 about an incident is the last one
        length = 2 * one_day if m.group("week_day") == "末" else one_day
        return day, length, None, False
    if m.group("every_week"):
        wanted = _weekday(m.group("every_day"))
        day = today - ((ref.weekday() - wanted) % 7) * one_day
        return day, one_day, None, True
    if m.group("every"):
        part = "晚上" if m.group("every") in ("每晚", "每个晚上") else None
        return today, one_day, part, True
    if m.group("month_day"):
        day_n = chinese_number(m.group("md_day"))
        if m.group("md_last"):
            month_start = (today.replace(day=1) - one_day).replace(day=1)
            month_n: int | None = month_start.month
            year = month_start.year
        else:
            month_n = chinese_number(m.group("md_month"))
            year = ref.year
        if day_n is None or month_n is None:
            return None
        try:
            day = today.replace(year=year, month=month_n, day=day_n)
        except ValueError:
            return None
        if day > today and not m.group("md_last"):
            day = day.replace(year=year - 1)  # a date ahead of today is last year's
        return day, one_day, None, False
    if m.group("month"):
        first = today.replace(day=1)
        back = {"上个月": 1, "上上个月": 2}.get(m.group("month"), 0)
        for _ in range(back):
            first = (first - one_day).replace(day=1)
        after = (first + timedelta(days=32)).replace(day=1)
        return first, after - first, None, False
    if m.group("year"):
        year = ref.year + {"去年": -1, "前年": -2}.get(m.group("year"), 0)
        first = today.replace(year=year, month=1, day=1)
        return first, first.replace(year=year + 1) - first, None, False
    return None


def _resolve(m: re.Match[str], ref: datetime) -> TimeMatch | None:
    if m.group("ago") or m.group("just"):
        start, end, conf = _ago(m, ref)
        return TimeMatch(start, end, m.start(), m.end(), conf)
    day = _day(m, ref)
    part = m.group("part")
    has_clock = bool(m.group("clock") or m.group("hhmm"))
    recurring = False
    if day is not None:
        day_start, length, implied, recurring = day
        part = part or implied
    else:
        day_start, length = _midnight(ref), timedelta(days=1)
    if has_clock:
        if m.group("hhmm"):
            hour, minute = int(m.group("hh")), int(m.group("mm"))
        else:
            hour_n = chinese_number(m.group("hour"))
            if hour_n is None:
                return None
            hour, minute = hour_n, _minutes(m)
        if hour > 24 or (day is None and part is None and not _clock_alone_ok(m)):
            return None
        if part in _EVENING and hour < 12 and not (part in ("半夜", "后半夜", "深夜") and hour < 6):
            hour += 12
        elif part in ("晚上", "夜里", "夜间", "半夜", "深夜") and hour == 12:
            hour = 24  # 晚上十二点 is the midnight that ends that day
        elif part == "中午" and hour < 3:
            hour += 12
        if part in ("夜里", "夜间", "半夜", "后半夜", "深夜", "晚上") and hour < 6:
            hour += 24  # 昨天半夜两点: the night after that day
        start = day_start + timedelta(hours=hour, minutes=minute)
        if recurring and start > ref:
            start -= timedelta(days=7 if m.group("every_week") else 1)
        conf = 0.9 if (day is not None or part is not None) else 0.6
        if m.group("minute_part") == "多":
            return TimeMatch(start, start + timedelta(hours=1), m.start(), m.end(), conf, recurring)
        return TimeMatch(start, None, m.start(), m.end(), conf, recurring)
    if part is not None:
        lo, hi = _PARTS[part]
        start, end = day_start + timedelta(hours=lo), day_start + timedelta(hours=hi)
        if recurring and start > ref:
            shift = timedelta(days=7 if m.group("every_week") else 1)
            start, end = start - shift, end - shift
        return TimeMatch(start, end, m.start(), m.end(), 0.85 if day else 0.6, recurring)
    if day is None:
        return None
    if recurring and day_start > ref:
        day_start -= timedelta(days=1)
    return TimeMatch(day_start, day_start + length, m.start(), m.end(), 0.8, recurring)


def _clock_alone_ok(m: re.Match[str]) -> bool:
    # "一点" alone is usually "a bit" (快一点); digits or 两点/十点半 are clock times.
    if m.group("hhmm"):
        return True
    hour = m.group("hour")
    return hour not in ("一", "两", "二") or m.group("minute_part") is not None


def extract_times(text: str, reference: datetime) -> list[TimeMatch]:
    """Every time expression in ``text``, resolved against ``reference``, in order."""
    out: list[TimeMatch] = []
    for m in _PATTERN.finditer(text):
        if not m.group():
            continue
        match = _resolve(m, reference)
        if match is not None:
            out.append(match)
    return out
