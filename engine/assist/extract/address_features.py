"""Token features for the character CRF that labels the parts of a Chinese address.

Input is a token sequence as the address corpus writes it: one Chinese character per token,
runs of ASCII digits or letters as one token (``602``, ``B``). Features per token: the tokens in
a ±3 window, bigrams and a trigram around it, character classes, a lexicon of address suffixes
(省/市/区/…/号/栋/单元/室) that end at or right after the token, the token's position inside
its jieba word, and a gazetteer of administrative names (province, city, district, town) learnt
from the training file, by longest match. Pure functions: values in, values out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

#: Words that end an address component, longest first where one contains another.
SUFFIXES: tuple[str, ...] = (
    "自治区", "自治州", "自治县", "特别行政区", "开发区", "工业区", "工业园", "产业园", "科技园",
    "高新区", "新区", "街道", "社区", "居委会", "村委会", "小区", "花园", "公寓", "大厦", "广场",
    "中心", "大道", "大街", "胡同", "单元", "号楼", "号院", "地区", "市场", "商城", "医院", "学校",
    "小学", "中学", "大学", "公司", "酒店", "宾馆", "超市", "银行", "门口", "对面", "旁边", "附近",
    "省", "市", "区", "县", "旗", "盟", "镇", "乡", "村", "组", "路", "街", "道", "巷", "弄", "里",
    "号", "栋", "幢", "座", "楼", "层", "室", "苑", "园", "庄", "湾", "城", "府", "院", "厦", "店",
    "馆", "站", "场", "部", "厂", "桥", "寺", "湖", "山", "坊", "期", "排", "户", "门",
)  # fmt: skip
_MAX_SUFFIX = max(len(s) for s in SUFFIXES)
_SUFFIX_SET = frozenset(SUFFIXES)
#: Characters that announce a number or a room ("第", "幢", "-") or cue location ("近", "旁").
_CUES = frozenset("第近旁内东西南北中之与和及对号栋幢单元层楼室弄")
#: Administrative labels the gazetteer remembers: closed sets that generalise across files.
GAZETTEER_LABELS = ("prov", "city", "district", "town")
#: The feature set new models are trained with (the model's provenance records its own). Set 2
#: measured worse on dev (F1 0.871 vs 0.882, ASR-like 0.803 vs 0.858), so 1 stays the default.
FEATURE_SET = 1
_TOKEN = re.compile(r"[0-9]+|[A-Za-z]+|\S")
_CHINESE_DIGITS = frozenset("零一二三四五六七八九十百千两幺")


def tokenize(text: str) -> list[tuple[str, int, int]]:
    """Split text as the corpus does: digit runs and letter runs are one token; spaces dropped.

    Returns (token, start, end) with character offsets into ``text``.
    """
    return [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def char_class(token: str) -> str:
    """A coarse class: digit run, letters, Chinese numeral, Han character, or punctuation."""
    if token.isdigit():
        return "D" if len(token) < 3 else "DD"
    if token.isascii() and token.isalpha():
        return "A"
    if token in _CHINESE_DIGITS:
        return "CN"
    if "\u4e00" <= token[0] <= "\u9fff":
        return "H"
    return "P"


def _norm(token: str) -> str:
    # Numbers matter by shape, not by value: "602" and "17" play the same part.
    if token.isdigit():
        return f"<NUM{min(len(token), 4)}>"
    if token.isascii() and token.isalpha():
        return "<LAT>"
    return token


def _suffix_features(tokens: Sequence[str]) -> tuple[list[str], list[str]]:
    """For each position, the longest suffix word ending there and the one starting just after."""
    n = len(tokens)
    ends = [""] * n
    starts = [""] * n
    for i in range(n):
        for size in range(min(_MAX_SUFFIX, i + 1), 0, -1):
            word = "".join(tokens[i - size + 1 : i + 1])
            if word in _SUFFIX_SET:
                ends[i] = word
                break
        for size in range(min(_MAX_SUFFIX, n - i), 0, -1):
            word = "".join(tokens[i : i + size])
            if word in _SUFFIX_SET:
                starts[i] = word
                break
    return ends, starts


def _gazetteer_tags(tokens: Sequence[str], gazetteer: Mapping[str, str]) -> list[str]:
    """Longest-match the gazetteer over the tokens: B-/I-label per covered token, else ""."""
    n = len(tokens)
    out = [""] * n
    longest = 8
    i = 0
    while i < n:
        hit = 0
        for size in range(min(longest, n - i), 1, -1):
            label = gazetteer.get("".join(tokens[i : i + size]))
            if label is not None:
                out[i] = "B-" + label
                for j in range(i + 1, i + size):
                    out[j] = "I-" + label
                hit = size
                break
        i += hit or 1
    return out


def _word_positions(tokens: Sequence[str], words: Sequence[str]) -> tuple[list[str], list[int]]:
    """B/M/E/S position of each token inside the jieba word covering it (by character offset),
    and the index of that word."""
    bounds: list[tuple[int, int]] = []
    pos = 0
    for word in words:
        bounds.append((pos, pos + len(word)))
        pos += len(word)
    labels: list[str] = []
    index: list[int] = []
    k = 0
    start = 0
    for tok in tokens:
        end = start + len(tok)
        while k < len(bounds) - 1 and bounds[k][1] <= start:
            k += 1
        w_start, w_end = bounds[k] if bounds else (start, end)
        if w_start == start and w_end == end:
            labels.append("S")
        elif w_start == start:
            labels.append("B")
        elif w_end == end:
            labels.append("E")
        else:
            labels.append("M")
        index.append(k)
        start = end
    return labels, index


def sequence_features(
    tokens: Sequence[str],
    words: Sequence[str],
    gazetteer: Mapping[str, str],
    feature_set: int = FEATURE_SET,
) -> list[list[str]]:
    """CRF features (string attributes) for every token.

    ``words`` is the jieba segmentation of ``"".join(tokens)``; ``gazetteer`` maps an
    administrative name to its label. ``feature_set`` 1 is the first shipped model's; 2 adds a
    ±4 window, more n-grams and the identity of the jieba words around the token.
    """
    n = len(tokens)
    norm = [_norm(t) for t in tokens]
    cls = [char_class(t) for t in tokens]
    ends, starts = _suffix_features(tokens)
    gaz = _gazetteer_tags(tokens, gazetteer)
    wpos, widx = _word_positions(tokens, words)
    wnorm = [_norm(w) for w in words] or [""]

    def at(seq: Sequence[str], i: int) -> str:
        return seq[i] if 0 <= i < len(seq) else ("<S>" if i < 0 else "</S>")

    out: list[list[str]] = []
    for i in range(n):
        f = ["bias"]
        for d in (-3, -2, -1, 0, 1, 2, 3):
            f.append(f"w[{d}]={at(norm, i + d)}")
        for d in (-2, -1, 0, 1):
            f.append(f"w[{d}|{d + 1}]={at(norm, i + d)}{at(norm, i + d + 1)}")
        f.append(f"w[-1|1]={at(norm, i - 1)}{norm[i]}{at(norm, i + 1)}")
        for d in (-2, -1, 0, 1, 2):
            f.append(f"c[{d}]={at(cls, i + d)}")
        f.append(f"c[-1|1]={at(cls, i - 1)}{cls[i]}{at(cls, i + 1)}")
        f.append(f"sfx_end={ends[i]}")
        f.append(f"sfx_end[-1]={at(ends, i - 1)}")
        f.append(f"sfx_start[1]={at(starts, i + 1)}")
        f.append(f"sfx_start[2]={at(starts, i + 2)}")
        f.append(f"cue[1]={at(tokens, i + 1) in _CUES}")
        f.append(f"gaz={gaz[i]}")
        f.append(f"gaz[-1]={at(gaz, i - 1)}")
        f.append(f"gaz[1]={at(gaz, i + 1)}")
        f.append(f"wp={wpos[i]}")
        f.append(f"wp[-1|1]={at(wpos, i - 1)}{wpos[i]}{at(wpos, i + 1)}")
        f.append(f"wp_w={wpos[i]}{norm[i]}")
        f.append(f"pos={min(i, 6)}")
        if feature_set >= 2:
            f.append(f"w[-4]={at(norm, i - 4)}")
            f.append(f"w[4]={at(norm, i + 4)}")
            f.append(f"w[-3|-2]={at(norm, i - 3)}{at(norm, i - 2)}")
            f.append(f"w[2|3]={at(norm, i + 2)}{at(norm, i + 3)}")
            f.append(f"w[-2|0]={at(norm, i - 2)}{at(norm, i - 1)}{norm[i]}")
            f.append(f"w[0|2]={norm[i]}{at(norm, i + 1)}{at(norm, i + 2)}")
            k = widx[i]
            f.append(f"word={wnorm[k]}")
            f.append(f"word[-1]={at(wnorm, k - 1)}")
            f.append(f"word[1]={at(wnorm, k + 1)}")
            f.append(f"wordlen={min(len(wnorm[k]), 5)}")
        out.append(f)
    return out
