"""Chinese transcript text an agent can read, and one normal form for scoring.

Display (:meth:`TextNormalizer.normalize`): simplified characters (Whisper base often answers in
traditional), full-width punctuation, no spaces between Chinese characters, and numbers written
as digits where a person would write digits:

- digit strings read out one by one (phone, ID, house and room numbers; 幺=1, 两=2, 洞=0) of three
  or more characters: 幺三八一二三四五六七八 -> 13812345678;
- numbers with place values (十百千万亿), including the spoken shortcuts 三千五 = 3500 and
  两万五 = 25000: 三千五百元 -> 3500元, 两万 -> 20000;
- dates (二零二六年十一月二十三日 -> 2026年11月23日), clock times (晚上十点 -> 晚上10点) and
  percentages (百分之三点五 -> 3.5%).

A lone numeral is changed only before a date, time or money unit (一月, 五号, 三岁, 五块钱), so
words that contain numerals (一下, 一起, 一些, 一定, 统一, 万一, 十分, 千万, 一点 as "a little")
and counted things (三个月, 两次) stay as they are.

Scoring (:func:`normalize_for_scoring`): NFKC, simplified, every space and punctuation mark or
symbol removed, and every Chinese number that can be read as one turned into digits, whatever the
context. It is applied to hypothesis and reference alike, so only the recognised content counts.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable

from opencc import OpenCC  # type: ignore[import-untyped]  # ships no py.typed marker

#: Numeral characters read as single digits.
DIGITS: dict[str, int] = {
    "零": 0,
    "〇": 0,
    "○": 0,
    "洞": 0,
    "幺": 1,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_ZEROS = frozenset("零〇○洞")
_UNITS: dict[str, int] = {"十": 10, "百": 100, "千": 1000}
_BIG: dict[str, int] = {"万": 10_000, "亿": 100_000_000}
# 洞 and 幺 are only numerals inside digit strings ("洞" is also "hole"), so a run must not start
# from them alone; they are still accepted inside a run of other numerals.
_NUM_CHARS = "".join(DIGITS) + "".join(_UNITS) + "".join(_BIG)
_RUN = re.compile(f"[{_NUM_CHARS}]+")
_DIGIT_CHARS = "".join(DIGITS)

#: Words whose numerals are not numbers. A run of numerals that lies inside one is left alone.
PROTECTED_WORDS: tuple[str, ...] = (
    "一下", "一起", "一些", "一定", "一样", "一直", "一般", "一切", "一旦", "一致", "一律",
    "一向", "一边", "一会", "一再", "一并", "一路", "一带", "一块儿", "一点儿", "一点点",
    "一口气", "一模一样", "统一", "万一", "唯一", "之一", "第一", "一一", "千万", "万万", "十分",
    "一五一十", "三心二意", "乱七八糟", "七上八下", "五花八门", "九牛一毛", "不三不四",
    "四面八方", "一心一意", "独一无二", "一举两得", "三番五次", "说一不二", "一清二楚",
    "百分百", "一手", "一方面", "一部分", "一味", "一同", "一行", "万事", "百姓", "老百姓",
    "千克", "十足", "两边", "两者",
)  # fmt: skip

#: Units after which even a single numeral is written as a digit.
_DATE_TIME_MONEY = ("年", "月", "日", "号", "元", "块钱", "毛钱", "岁", "周岁", "楼", "层", "栋",
                    "单元", "室", "%", "万元", "千元", "百元")  # fmt: skip
_TIME_OF_DAY = (
    "凌晨",
    "早上",
    "早晨",
    "上午",
    "中午",
    "下午",
    "傍晚",
    "晚上",
    "夜里",
    "半夜",
    "到",
    "至",
)

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_FULLWIDTH_PUNCT = "，。？！：；（）、“”‘’《》…—"
_HALF_TO_FULL = {
    ",": "，",
    ".": "。",
    "?": "？",
    "!": "！",
    ":": "：",
    ";": "；",
    "(": "（",
    ")": "）",
}
_CJK_OR_MARK = re.compile(f"[{_CJK}{_FULLWIDTH_PUNCT}]")
_SPACE_NEAR_CJK = re.compile(
    rf"(?<=[{_CJK}{_FULLWIDTH_PUNCT}])\s+(?=[^A-Za-z\s])|(?<=[^A-Za-z\s])\s+(?=[{_CJK}{_FULLWIDTH_PUNCT}])"
)
_PERCENT = re.compile(f"百分之([{_NUM_CHARS}]+)(?:点([{_DIGIT_CHARS}]+))?")


def parse_chinese_number(text: str) -> int | None:
    """Value of a Chinese number with place values (三千五百, 两万零三, 十五, 三千五), or None.

    Spoken shortcuts are understood: a digit right after a unit counts one place lower
    (三千五 = 3500, 两万五 = 25000, 一百五 = 150). Approximations (五六百), digit strings and
    anything malformed give None.
    """
    if not text or any(ch not in DIGITS and ch not in _UNITS and ch not in _BIG for ch in text):
        return None
    total = 0
    section = 0
    digit: int | None = None
    last_unit: int | None = None  # smallest place unit used in this section so far
    last_big: int | None = None
    after_zero = False
    started = False
    for ch in text:
        if ch in DIGITS:
            if digit is not None:
                return None  # two digits in a row: an approximation or a digit string
            digit = DIGITS[ch]
            if ch in _ZEROS:
                after_zero = True
                digit = None
            started = True
        elif ch in _UNITS:
            unit = _UNITS[ch]
            if digit is None:
                if unit == 10 and not started:
                    digit = 1  # 十五 = 15
                else:
                    return None
            if last_unit is not None and unit >= last_unit:
                return None
            section += digit * unit
            digit = None
            last_unit = unit
            after_zero = False
            started = True
        else:
            big = _BIG[ch]
            if last_big is not None and big >= last_big:
                return None
            if digit is not None:
                section += digit
                digit = None
            if section == 0:
                return None
            total += section * big
            section = 0
            last_unit = None
            last_big = big
            after_zero = False
            started = True
    if digit is not None:
        if after_zero:
            section += digit
        elif last_unit is not None and last_unit > 10:
            section += digit * (last_unit // 10)  # 三千五 = 3500
        elif last_unit is None and last_big is not None and section == 0:
            section += digit * (last_big // 10)  # 两万五 = 25000
        else:
            section += digit
    if not started:
        return None
    if not any(ch in _UNITS or ch in _BIG for ch in text):
        return None
    return total + section


def digit_string(text: str) -> str | None:
    """Digits of a number read out one character at a time (幺三八 -> 138), or None."""
    if not text or any(ch not in DIGITS for ch in text):
        return None
    return "".join(str(DIGITS[ch]) for ch in text)


def _protected_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for word in PROTECTED_WORDS:
        start = text.find(word)
        while start != -1:
            spans.append((start, start + len(word)))
            start = text.find(word, start + 1)
    return spans


def _percent(match: re.Match[str], *, strict: bool) -> str:
    whole, frac = match.group(1), match.group(2)
    if whole == "百":
        value: int | None = 100
    else:
        value = parse_chinese_number(whole)
        if value is None:
            value_s = digit_string(whole)
            if value_s is None or (strict and len(whole) > 1):
                return match.group(0)
            value = int(value_s)
    decimals = digit_string(frac) if frac else None
    return f"{value}.{decimals}%" if decimals else f"{value}%"


def _is_time(text: str, start: int, end: int) -> bool:
    """Whether the numeral at ``[start, end)`` followed by 点 is a clock time, not "points"."""
    before = text[max(0, start - 2) : start]
    after = text[end + 1 : end + 2]
    if any(before.endswith(w) for w in _TIME_OF_DAY):
        return True
    if after in ("钟", "半", "整", "到", "至"):
        return True
    following = _RUN.match(text, end + 1)
    return bool(following and text.startswith("分", following.end()))


def _convert_run(text: str, start: int, end: int) -> str | None:
    """Display form of the numeral run ``text[start:end]``, or None to leave it."""
    run = text[start:end]
    rest = text[end:]
    prev = text[start - 1] if start else ""
    if rest.startswith(("几", "多")) and len(run) == 1:
        return None  # 十几, 百多: a rough amount, not a number
    value = parse_chinese_number(run)
    if value is None:
        digits = digit_string(run)
        if digits is None:
            return None
        if len(run) >= 3:
            return digits  # phone, ID, year, room: read out digit by digit
        if len(run) == 2 and rest.startswith("年") and prev == "":
            return None
        if len(run) == 1:
            return digits if _single_is_number(text, start, end) else None
        return None
    if len(run) >= 2:
        return str(value)
    # A lone 十/百/千/万: only before a unit (十月, 十点); 十分, 千万 and the like are words.
    return str(value) if _single_is_number(text, start, end) else None


def _single_is_number(text: str, start: int, end: int) -> bool:
    rest = text[end:]
    prev = text[start - 1] if start else ""
    if rest.startswith("分") and prev == "点":
        return True  # 十点十分: minutes
    if rest.startswith("点"):
        return _is_time(text, start, end)
    if text[start] in "幺洞":
        return False
    return rest.startswith(_DATE_TIME_MONEY)


def normalize_numbers(text: str) -> str:
    """Write numbers as digits where a reader expects digits (see the module docstring)."""
    text = _PERCENT.sub(lambda m: _percent(m, strict=True), text)
    spans = _protected_spans(text)
    out: list[str] = []
    pos = 0
    for match in _RUN.finditer(text):
        start, end = match.span()
        if any(s <= start and end <= e for s, e in spans) and not (
            text[start - 1 : start] == "点" and text.startswith("分", end)
        ):
            continue
        converted = _convert_run(text, start, end)
        if converted is None:
            continue
        out.append(text[pos:start])
        out.append(converted)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _numbers_everywhere(text: str) -> str:
    """Scoring form: every readable Chinese number becomes digits, in any context."""
    text = _PERCENT.sub(lambda m: _percent(m, strict=False), text)

    def one(match: re.Match[str]) -> str:
        run = match.group(0)
        value = parse_chinese_number(run)
        if value is not None:
            return str(value)
        digits = digit_string(run)
        return digits if digits is not None else run

    return _RUN.sub(one, text)


def fullwidth_punctuation(text: str) -> str:
    """ASCII punctuation next to Chinese text becomes full-width; spaces between CJK go."""
    text = _SPACE_NEAR_CJK.sub("", text.strip())

    # Walk left to right so that a mark converted just before counts as Chinese context
    # (。?? -> 。？？), which a single regex pass cannot see.
    out: list[str] = []
    for i, ch in enumerate(text):
        full = _HALF_TO_FULL.get(ch)
        if full is not None:
            before = "".join(out).rstrip()[-1:]
            # Look past a run of marks (??。) to the text that decides.
            after = text[i + 1 :].lstrip(" \t" + "".join(_HALF_TO_FULL))[:1]
            near_cjk = bool(_CJK_OR_MARK.match(before)) or bool(_CJK_OR_MARK.match(after))
            if near_cjk and not (before.isdigit() and after.isdigit()):
                while out and out[-1].isspace():
                    out.pop()
                out.append(full)
                continue
        out.append(ch)
    return "".join(out)


class TextNormalizer:
    """Holds the OpenCC converter (built once; it is read-only after construction)."""

    def __init__(self, config: str = "t2s") -> None:
        self._opencc = OpenCC(config)
        self._convert: Callable[[str], str] = self._opencc.convert

    def to_simplified(self, text: str) -> str:
        return self._convert(text)

    def normalize(self, text: str) -> str:
        """Display form for the agent's screen."""
        text = self.to_simplified(text)
        text = fullwidth_punctuation(text)
        return normalize_numbers(text)

    def for_scoring(self, text: str) -> str:
        """One form for CER scoring: identical for hypothesis and reference."""
        text = unicodedata.normalize("NFKC", text)
        text = self.to_simplified(text)
        # Separators and marks go before numbers are read, so 一 千 and 一千 read the same.
        text = "".join(
            ch
            for ch in text
            if (not ch.isspace() and unicodedata.category(ch)[0] not in "PSZC") or ch == "%"
        )
        text = _numbers_everywhere(text)
        text = text.replace("%", "")
        return text.lower()


@functools.cache
def default_normalizer() -> TextNormalizer:
    """A shared t2s normaliser (cached: building the OpenCC tables costs a few ms)."""
    return TextNormalizer()


def normalize_text(text: str) -> str:
    """Display form; see :meth:`TextNormalizer.normalize`."""
    return default_normalizer().normalize(text)


def normalize_for_scoring(text: str) -> str:
    """Scoring form; see :meth:`TextNormalizer.for_scoring`."""
    return default_normalizer().for_scoring(text)
