"""Phone numbers said on the phone: exact-match rate of the extractor on generated spoken variants.

Numbers follow real Chinese formats: mobiles on the allocated 13x-19x prefixes, landlines with
real area codes (010, 02x, 0xxx) and 7/8-digit local numbers, service numbers (12345, 110, 95xxx,
400…). Each is said in one of several ways: digit by digit with 一 or 幺 for 1, 两 or 洞 now and
then, grouped 3-4-4 with pauses (commas, spaces) or fillers (嗯, 那个), already as digits from the
ASR normaliser, half and half, with a self-correction (不对 / 错了我重说 / 不是…是…), with or
without punctuation (ASR-like), inside a sentence. A case counts as matched when the extractor
returns exactly one number and it is the one meant. Also reported: false positives on sentences
that hold other numbers (dates, times, house numbers, amounts) but no phone number.
Target: exact match >= 0.99.
"""

from __future__ import annotations

import argparse
import random
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from jiesu.engine.assist.extract.phone import extract_phones
from jiesu.engine.assist.extract.spoken import read_count

TARGET = 0.99
MOBILE_PREFIXES = (
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "145", "147", "150", "151",
    "152", "153", "155", "156", "157", "158", "159", "166", "170", "171", "173", "175", "176", "177",
    "178", "180", "181", "182", "183", "184", "185", "186", "187", "188", "189", "191", "198", "199",
)  # fmt: skip
AREA_CODES_3 = ("010", "020", "021", "022", "023", "024", "025", "027", "028", "029")
AREA_CODES_4 = (
    "0571", "0574", "0577", "0755", "0757", "0769", "0512", "0510", "0516", "0531", "0532", "0591",
    "0592", "0731", "0871", "0898", "0851", "0311", "0371", "0431", "0451", "0471", "0551", "0771",
    "0791", "0931", "0951", "0971", "0991",
)  # fmt: skip
SERVICE = ("12345", "110", "119", "120", "122", "95588", "95598", "95533", "12315", "12369")
_PLAIN = "零一二三四五六七八九"
PREFIXES = (
    "", "", "我的电话是", "电话是", "手机号码是", "我手机号", "联系电话", "你记一下，", "号码是",
    "嗯我的电话号码是", "打这个号", "您拨打", "我留个电话", "回电话打",
)  # fmt: skip
SUFFIXES = ("", "", "，你记一下", "，谢谢", "。", "，对", "就这个", "，这个号码能打通", "吧")
NEGATIVES = (
    "我住在三号楼二单元五零二", "昨天晚上十点多开始吵", "一共交了三百五十块钱", "二零二六年五月三号",
    "我们小区有两千多户", "他们一二三四五个人都在", "家里有一个老人两个小孩", "等了一个多小时",
    "这个事情反映了三四次了", "七月十五号那天", "每个月扣两百", "我一直在等", "一楼到六楼都停水",
    "下午三点半", "他说一两天就修好", "三十六号院", "一九九零年出生的", "车牌号浙A一二三四五",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Case:
    """One generated utterance and the number it means ("" for a negative)."""

    text: str
    number: str
    style: str


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cases", type=int, default=3000, help="utterances with a number")
    parser.add_argument(
        "--seed", type=int, default=2026, help="generator seed (12345 was used while developing)"
    )


def random_number(rng: random.Random) -> str:
    """A number in a real format: mostly mobiles, then landlines, then service numbers."""
    roll = rng.random()
    if roll < 0.6:
        return rng.choice(MOBILE_PREFIXES) + "".join(rng.choices("0123456789", k=8))
    if roll < 0.75:
        return (
            rng.choice(AREA_CODES_3)
            + rng.choice("2345678")
            + "".join(rng.choices("0123456789", k=7))
        )
    if roll < 0.92:
        local = rng.choice("2345678") + "".join(rng.choices("0123456789", k=rng.choice((6, 7))))
        return rng.choice(AREA_CODES_4) + local
    return rng.choice(SERVICE)


def groups_of(number: str) -> list[str]:
    """How people group a number when they say it."""
    if number[0] == "1" and len(number) == 11:
        return [number[:3], number[3:7], number[7:]]
    if number[0] == "0":
        code = 3 if number[1] in "12" else 4
        local = number[code:]
        cut = len(local) - 4
        return [number[:code], local[:cut], local[cut:]]
    return [number]


def say_digit(d: str, rng: random.Random, one: str) -> str:
    """One digit read out: 1 as 一 or 幺 (the caller's habit), 2 sometimes 两, 0 sometimes 洞."""
    if d == "1":
        return one
    if d == "2" and rng.random() < 0.15:
        return "两"
    if d == "0" and rng.random() < 0.05:
        return "洞"
    return _PLAIN[int(d)]


def say_group(group: str, rng: random.Random, one: str, as_digits: bool) -> str:
    if as_digits:
        return group
    return "".join(say_digit(d, rng, one) for d in group)


def say_number(number: str, rng: random.Random, style: str) -> str:
    """The number said in one style (see the module docstring)."""
    one = "幺" if rng.random() < 0.7 else "一"
    groups = groups_of(number)
    if style == "digits":
        sep = rng.choice(("", " ", "-"))
        return sep.join(groups)
    if style == "mixed":
        return "".join(say_group(g, rng, one, rng.random() < 0.5) for g in groups)
    if style == "service" and number in ("110", "119", "120", "122") and rng.random() < 0.5:
        return "".join(say_digit(d, rng, "幺") for d in number)
    spoken = [say_group(g, rng, one, False) for g in groups]
    if style == "plain":
        return "".join(spoken)
    if style == "pauses":
        seps = ("，", " ", "、", "，嗯，", "，那个", "…", "嗯")
        return spoken[0] + "".join(rng.choice(seps) + g for g in spoken[1:])
    raise ValueError(style)


def wrong_variant(group: str, rng: random.Random) -> str:
    """The same group with one digit misspoken."""
    i = rng.randrange(len(group))
    wrong = rng.choice([d for d in "0123456789" if d != group[i]])
    return group[:i] + wrong + group[i + 1 :]


def say_with_correction(number: str, rng: random.Random) -> str:
    """The caller misspeaks one group and corrects it."""
    one = "幺" if rng.random() < 0.7 else "一"
    groups = groups_of(number)
    spoken = [say_group(g, rng, one, False) for g in groups]
    k = len(groups) - 1 if rng.random() < 0.7 else rng.randrange(len(groups))
    wrong = say_group(wrong_variant(groups[k], rng), rng, one, False)
    head = "，".join(spoken[:k])
    tail = "，".join(spoken[k + 1 :])
    kind = rng.choice(("不对", "restate", "negation"))
    if kind == "不对":
        marker = rng.choice(("，不对，", "，哦不对，", "，错了，", "，说错了，"))
        said = (head + "，" if head else "") + wrong + marker + spoken[k]
        return said + ("，" + tail if tail else "")
    if kind == "restate":
        bad = [*spoken[:k], wrong, *spoken[k + 1 :]]
        return (
            "，".join(bad)
            + rng.choice(("，错了，我重说，", "，不对不对，", "，不好意思说错了，"))
            + "，".join(spoken)
        )
    said = (head + "，" if head else "") + "不是" + wrong + "，是" + spoken[k]
    return said + ("，" + tail if tail else "")


def generate(count: int, seed: int) -> list[Case]:
    """``count`` utterances with a phone number, deterministic for a seed."""
    rng = random.Random(seed)
    styles = ("plain", "pauses", "digits", "mixed", "correction")
    cases: list[Case] = []
    for n in range(count):
        number = random_number(rng)
        style = "service" if number in SERVICE else styles[n % len(styles)]
        if style == "correction" and len(number) >= 10:
            said = say_with_correction(number, rng)
        else:
            style = "plain" if style == "correction" else style
            said = say_number(number, rng, "plain" if style == "service" else style)
        text = rng.choice(PREFIXES) + said + rng.choice(SUFFIXES)
        asr_like = rng.random() < 0.5
        if asr_like:
            text = re.sub(r"[，。、…]", "", text)  # ASR finals without punctuation
        cases.append(Case(text, number, style + ("/asr" if asr_like else "")))
    return cases


def negatives(seed: int) -> list[str]:
    """Sentences with numbers that are not phone numbers."""
    rng = random.Random(seed + 1)
    out = list(NEGATIVES)
    for _ in range(50):
        out.append(f"住在{read_count(rng.randint(1, 300))}号楼{read_count(rng.randint(1, 6))}单元")
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    cases = generate(args.cases, args.seed)
    matched = 0
    by_style: Counter[str] = Counter()
    by_style_ok: Counter[str] = Counter()
    failures: list[dict[str, Any]] = []
    for case in cases:
        found = [m.number for m in extract_phones(case.text)]
        ok = found == [case.number]
        matched += ok
        by_style[case.style] += 1
        by_style_ok[case.style] += ok
        if not ok and len(failures) < 20:
            failures.append({"text": case.text, "expected": case.number, "found": found})
    negs = negatives(args.seed)
    false_positives = [t for t in negs if extract_phones(t)]
    rate = matched / len(cases) if cases else 0.0
    return {
        "cases": len(cases),
        "exact_match": round(rate, 4),
        "by_style": {s: round(by_style_ok[s] / by_style[s], 4) for s in sorted(by_style)},
        "by_style_cases": dict(sorted(by_style.items())),
        "negatives": len(negs),
        "false_positives": len(false_positives),
        "false_positive_texts": false_positives[:10],
        "failures": failures,
        "seed": args.seed,
        "target": f"exact match >= {TARGET}",
        "target_met": rate >= TARGET,
    }
