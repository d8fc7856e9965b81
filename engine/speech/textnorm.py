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

Scoring (:func:`normalize_for_scoring`): NFKC, simplified, lower case, every space and
punctuation mark or symbol removed, and every number that can be read as one written in digits,
whatever the context and script, with one written form for clock times (七点半 = 7:30 =
7点30分), decimals (三点五 = 3.5), percentages (百分之五 = 5%) and years (二零二六年 = 2026年);
see :meth:`TextNormalizer.for_scoring`. It is applied to hypothesis and reference alike, so only
the recognised content counts.
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


# ---- scoring form
#
# Sentinels stand for a decimal point and for 百分之 while punctuation is removed and numerals
# are read, so that neither is lost nor read as a numeral (the 百 of 百分之). They are private-use
# characters, which input text never keeps: any in the input are dropped first.
_DOT = "\ue001"
_PCT = "\ue002"
_SENTINELS = str.maketrans("", "", _DOT + _PCT)
_ANY_NUM = f"0-9{_NUM_CHARS}"
# A run of numerals in either script; it starts at the start of a run (and never right after a
# decimal point), so a number is always read whole.
_MIXED_RUN = re.compile(f"(?<![{_ANY_NUM}{_DOT}])[{_ANY_NUM}]+")
_CLOCK_DIGITS = re.compile(r"(?<![\d:.])(\d{1,2}):([0-5]\d)(?![\d:])")
_THOUSANDS = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?![\d,])")
_DECIMAL_DIGITS = re.compile(r"(?<![\d.])(\d+)\.(\d+)(?![\d.])")
# H点半, H点M分, H点M: a clock time when the hour and minutes fit (see _clock).
_CLOCK = re.compile(f"(?<![{_ANY_NUM}{_DOT}])([{_ANY_NUM}]+)点(?:(半)|([{_ANY_NUM}]+)(分)?)")
# N点D...: a decimal when the part after 点 is Chinese digits read one by one (三点一五), not a
# place-value number (三点十五 is a time, read first) and not the start of one (三点五十); 三点五万
# is 3.5万. The fraction is Chinese only: 3点15 as Whisper writes it is a time, not a decimal.
_DECIMAL = re.compile(f"(?<![{_ANY_NUM}{_DOT}])([{_ANY_NUM}]+)点([{_DIGIT_CHARS}]+)(?![0-9十百千])")
_BIG_DECIMAL = re.compile(f"(\\d+){_DOT}(\\d+)([万亿])")
_PERCENT_DIGITS = re.compile(f"(\\d+(?:{_DOT}\\d+)?)%")
_PERCENT_HUNDRED = re.compile(f"{_PCT}百(?![{_ANY_NUM}])")
_LONE_WORD_NUMERALS = frozenset("洞幺")  # 洞 "hole", 幺 "smallest": numerals only in a run
_MAX_SCORING_PASSES = 4
_MAX_HOUR = 24  # 十九点三十 is 19:30; 12- and 24-hour readings are not merged (see for_scoring)


def _chinese_place_value(n: int) -> str | None:
    """Chinese place-value text of ``0 < n < 10**12`` (3500 -> 三千五百, 20300 -> 二万零三百,
    5 -> 五), so that digit groups and Chinese units can be read as one number by
    :func:`parse_chinese_number` (3500万, 2万5); None outside that range."""
    if not 0 < n < 10**12:
        return None
    names = "零一二三四五六七八九"

    def section(value: int) -> str:
        out = ""
        gap = False
        for unit, name in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
            digit = value // unit % 10
            if digit == 0:
                gap = bool(out)
                continue
            out += ("零" if gap else "") + names[digit] + name
            gap = False
        return out

    parts: list[str] = []
    for big, name in ((100_000_000, "亿"), (10_000, "万"), (1, "")):
        value = n // big % 10_000
        if value:
            # 二万零三百: a section under 1000 after a higher one is read with 零.
            parts.append(("零" if parts and value < 1000 else "") + section(value) + name)
    return "".join(parts)


def _mixed_value(run: str) -> int | None:
    """Value of a run that mixes ASCII digit groups and Chinese units (3500万, 2万5, 3千5)."""
    rebuilt: list[str] = []
    for token in re.findall(r"[0-9]+|.", run):
        if token.isascii():
            chinese = None if token.startswith("0") else _chinese_place_value(int(token))
            if chinese is None:
                return None
            rebuilt.append(chinese)
        else:
            rebuilt.append(token)
    return parse_chinese_number("".join(rebuilt))


def _run_value(run: str) -> str | None:
    """Digits of one numeral run in any script (三千五, 3500, 3千5, 3500万, 幺三八), or None."""
    if run.isascii():
        return run
    if any(ch in _UNITS or ch in _BIG for ch in run):
        has_ascii = any("0" <= ch <= "9" for ch in run)
        value = _mixed_value(run) if has_ascii else parse_chinese_number(run)
        return None if value is None else str(value)
    return digit_string(run)


def _convert_runs(text: str) -> str:
    """Every numeral run in digits; a run that is not one number is read piece by piece."""

    def chinese_piece(match: re.Match[str]) -> str:
        piece = match.group(0)
        if piece in _LONE_WORD_NUMERALS:
            return piece
        value = parse_chinese_number(piece)
        if value is not None:
            return str(value)
        digits = digit_string(piece)
        return digits if digits is not None else piece

    def one(match: re.Match[str]) -> str:
        run = match.group(0)
        if run in _LONE_WORD_NUMERALS:
            return run
        value = _run_value(run)
        if value is not None:
            return value
        return _RUN.sub(chinese_piece, run)

    return _MIXED_RUN.sub(one, text)


def _hour(run: str) -> int | None:
    value = _run_value(run)
    if value is None or len(value) > 2:
        return None
    hour = int(value)
    return hour if hour <= _MAX_HOUR else None


def _clock(match: re.Match[str]) -> str:
    """Canonical clock time ``H点MM分`` (7点30分), or the match unchanged when it is none."""
    hour_run, half, minute_run, fen = match.groups()
    hour = _hour(hour_run)
    if hour is None:
        return match.group(0)
    if half:
        return f"{hour}点30分"
    minutes: int | None = None
    if fen:
        value = _run_value(minute_run)
        minutes = int(value) if value is not None and len(value) <= 2 else None
    elif minute_run.isascii():
        # 7点30 as Whisper writes 七点三十; 7点05 and 7点3 stay (a decimal or a time: unclear).
        if len(minute_run) == 2 and minute_run[0] != "0":
            minutes = int(minute_run)
    else:
        place = parse_chinese_number(minute_run)
        # 七点三十, 十九点四十五: place values after 点 are minutes, never decimals.
        minutes = place if place is not None and place >= 10 else None
    if minutes is None or minutes > 59:
        return match.group(0)
    return f"{hour}点{minutes:02d}分"


def _digit_clock(match: re.Match[str]) -> str:
    """7:30 -> 7点30分 (an hour past 24 is no clock time: 比分 30:15 stays)."""
    hour = int(match.group(1))
    return f"{hour}点{match.group(2)}分" if hour <= _MAX_HOUR else match.group(0)


def _decimal(match: re.Match[str]) -> str:
    whole, fraction = match.groups()
    value = _run_value(whole)
    digits = digit_string(fraction)
    if value is None or digits is None:
        return match.group(0)
    return f"{value}{_DOT}{digits}"


def _big_decimal(match: re.Match[str]) -> str:
    whole, fraction, unit = match.groups()
    scale = 10_000 if unit == "万" else 100_000_000
    numerator = int(whole + fraction) * scale
    denominator = 10 ** len(fraction)
    if numerator % denominator:
        return match.group(0)  # 1.23456万 is not a whole number: leave it
    return str(numerator // denominator)


def _scoring_numbers(text: str) -> str:
    """Clock times, decimals, percentages and every other number in one digit form."""
    text = _CLOCK.sub(_clock, text)
    text = _DECIMAL.sub(_decimal, text)
    text = _BIG_DECIMAL.sub(_big_decimal, text)
    text = _PERCENT_HUNDRED.sub(f"{_PCT}100", text)
    text = _convert_runs(text)
    text = _PERCENT_DIGITS.sub(lambda m: _PCT + m.group(1), text)
    return text


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
        """One form for CER scoring: identical for hypothesis and reference.

        NFKC (full-width digits and letters), simplified script, lower case; every space,
        punctuation mark and symbol removed (quotes, 《》, …); every number in digits, whatever
        the script (两/二, 幺, 〇/零, place values, digit strings, 3千5, 3500万, 2.5万). One
        written form each for:

        - clock times ``H点MM分``: 七点半, 7点半, 7:30, 七点三十, 7点30分 -> 7点30分 (半 after a
          clock hour is 30 minutes; place-value minutes after 点 are minutes; 24-hour times
          stay as said: 十九点三十 -> 19点30分, not 7点30分);
        - decimals ``N.D``: 三点五, 3.5 -> 3.5 (digits read one by one after 点; 三点一五 is
          3.15, 三点十五 is 3点15分);
        - percentages ``百分之N``: 百分之五, 5%, ５％ -> 百分之5 (kept apart from a bare 5);
        - years and digit strings as digits: 二零二六年, 二〇二六年, 2026年 -> 2026年.

        Unclear cases stay apart rather than merge: 七点零五 (7.05 or 7:05) is 7.05, while
        7:05 and 七点零五分 are 7点05分. 一点 "a little" becomes 1点 like the clock hour.
        """
        text = self._scoring_pass(text)
        # Removing marks and reading numbers can bring numerals together that the first
        # reading saw apart (6%万, 3千2零): read again until nothing changes, so that the form
        # of a scoring form is itself.
        for _ in range(_MAX_SCORING_PASSES):
            again = self._scoring_pass(text)
            if again == text:
                break
            text = again
        return text

    def _scoring_pass(self, text: str) -> str:
        text = unicodedata.normalize("NFKC", text).translate(_SENTINELS)
        text = self.to_simplified(text).lower()
        # ○ is a symbol that Whisper writes for 〇 (二○二六): it must survive symbol removal.
        text = text.replace("○", "〇")
        # Digit forms that use punctuation, read before punctuation goes.
        text = _CLOCK_DIGITS.sub(_digit_clock, text)
        text = _THOUSANDS.sub(lambda m: m.group(0).replace(",", ""), text)
        text = _DECIMAL_DIGITS.sub(lambda m: f"{m.group(1)}{_DOT}{m.group(2)}", text)
        text = text.replace("百分之", _PCT)
        # Separators and marks go before numbers are read, so 一 千 and 一千 read the same.
        text = "".join(
            ch
            for ch in text
            if (not ch.isspace() and unicodedata.category(ch)[0] not in "PSZC")
            or ch in (_DOT, _PCT, "%")
        )
        text = _scoring_numbers(text)
        text = text.replace("%", "")
        return text.replace(_PCT, "百分之").replace(_DOT, ".")


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
