"""Hotword correction by pinyin similarity, and Whisper prompts built from hotwords.

A small model mishears domain terms as words that sound alike: 社保缴费 (shè bǎo jiǎo fèi) came out
as 射爆脚费, which has the same toneless pinyin. :class:`HotwordCorrector` slides a window of each
hotword's length over the recognised text and replaces a window whose pinyin is close enough.

Closeness is computed per character on toneless pinyin split into initial and final, after the
fuzzy merges that Mandarin speakers (and Whisper) confuse: zh/z, ch/c, sh/s, n/l, f/h and
an/ang, en/eng, in/ing, ian/iang, uan/uang. A character scores 1 when initial and final agree,
0.6 for the final alone, 0.4 for the initial alone, taking the best of a character's readings.

Guards against false positives, since a wrong "correction" is worse than none: the window must have
the hotword's length and be all Chinese characters, score at least ``threshold`` (0.9 by default,
so a three-character word must match fully), share at least ``min_same_chars`` characters with the
hotword (so 午后去 never becomes 武侯区), not already be a hotword, and not overlap a hotword
that is already spelled right.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pypinyin import Style, pinyin

_INITIALS = ("zh", "ch", "sh", "b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h", "j", "q",
             "x", "r", "z", "c", "s", "y", "w")  # fmt: skip
_FUZZY_INITIAL = {"zh": "z", "ch": "c", "sh": "s", "n": "l", "f": "h"}
_FUZZY_FINAL = {"ang": "an", "eng": "en", "ing": "in", "iang": "ian", "uang": "uan"}
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

#: Weights of a matching final and a matching initial within one character.
FINAL_WEIGHT = 0.6
INITIAL_WEIGHT = 0.4

Syllable = tuple[str, str]


def fuzzy_syllable(syllable: str) -> Syllable:
    """Toneless pinyin ``syllable`` as (initial, final) after the fuzzy merges."""
    initial = next((i for i in _INITIALS if syllable.startswith(i)), "")
    final = syllable[len(initial) :]
    return _FUZZY_INITIAL.get(initial, initial), _FUZZY_FINAL.get(final, final)


def readings(char: str) -> frozenset[Syllable]:
    """Every fuzzy reading of one character (all heteronyms: 行 is xing, hang and heng)."""
    syllables = pinyin(char, style=Style.NORMAL, heteronym=True)[0]
    return frozenset(fuzzy_syllable(s) for s in syllables)


def char_similarity(a: frozenset[Syllable], b: frozenset[Syllable]) -> float:
    """Best score over the two characters' readings: 1, 0.6 (final), 0.4 (initial) or 0."""
    best = 0.0
    for ai, af in a:
        for bi, bf in b:
            score = (INITIAL_WEIGHT if ai == bi else 0.0) + (FINAL_WEIGHT if af == bf else 0.0)
            best = max(best, score)
    return best


@dataclass(frozen=True, slots=True)
class Correction:
    """Characters ``[start, end)`` of the input were ``original`` and became ``replacement``."""

    start: int
    end: int
    original: str
    replacement: str
    score: float


@dataclass(frozen=True, slots=True)
class Corrected:
    text: str
    corrections: tuple[Correction, ...]


class HotwordCorrector:
    """Built once per hotword list; :meth:`correct` is then pure."""

    def __init__(
        self,
        hotwords: Iterable[str],
        *,
        threshold: float = 0.9,
        min_same_chars: int = 1,
        min_length: int = 2,
    ) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError("threshold must be in (0, 1]")
        words = []
        for word in dict.fromkeys(w.strip() for w in hotwords):
            # Only all-Chinese words of a useful length: two-character words still need a full
            # pinyin match (threshold applies per character) and a shared character.
            if len(word) >= min_length and all(_CJK.fullmatch(ch) for ch in word):
                words.append(word)
        self._words = tuple(words)
        self._threshold = threshold
        self._min_same = min_same_chars
        self._readings = {w: tuple(readings(ch) for ch in w) for w in self._words}

    @property
    def hotwords(self) -> tuple[str, ...]:
        return self._words

    def word_readings(self, hotword: str) -> tuple[frozenset[Syllable], ...]:
        """The fuzzy readings of each character of ``hotword``."""
        return self._readings.get(hotword) or tuple(readings(ch) for ch in hotword)

    def similarity(self, window: str, hotword: str) -> float:
        """Mean per-character pinyin similarity of two strings of the same length."""
        if len(window) != len(hotword) or not hotword:
            return 0.0
        ref = self._readings.get(hotword) or tuple(readings(ch) for ch in hotword)
        total = sum(char_similarity(readings(ch), r) for ch, r in zip(window, ref, strict=True))
        return total / len(hotword)

    def correct(self, text: str) -> Corrected:
        """Replace sound-alike windows of ``text`` with hotwords; say what was changed."""
        if not self._words or not text:
            return Corrected(text, ())
        taken = [False] * len(text)
        # Hotwords already spelled right are never touched or overlapped.
        for word in self._words:
            start = text.find(word)
            while start != -1:
                for k in range(start, start + len(word)):
                    taken[k] = True
                start = text.find(word, start + 1)
        char_readings = [readings(ch) if _CJK.fullmatch(ch) else None for ch in text]
        candidates: list[Correction] = []
        for word in self._words:
            ref = self._readings[word]
            n = len(word)
            for start in range(len(text) - n + 1):
                window = text[start : start + n]
                window_readings = char_readings[start : start + n]
                if window == word or any(r is None for r in window_readings):
                    continue
                same = sum(1 for a, b in zip(window, word, strict=True) if a == b)
                if same < self._min_same:
                    continue
                score = (
                    sum(
                        char_similarity(r, h)
                        for r, h in zip(window_readings, ref, strict=True)
                        if r is not None
                    )
                    / n
                )
                if score >= self._threshold:
                    candidates.append(Correction(start, start + n, window, word, score))
        # Best first; on a tie prefer the longer hotword, then the earlier position.
        candidates.sort(key=lambda c: (-c.score, -(c.end - c.start), c.start))
        chosen: list[Correction] = []
        for cand in candidates:
            if any(taken[cand.start : cand.end]):
                continue
            for k in range(cand.start, cand.end):
                taken[k] = True
            chosen.append(cand)
        chosen.sort(key=lambda c: c.start)
        out: list[str] = []
        pos = 0
        for c in chosen:
            out.append(text[pos : c.start])
            out.append(c.replacement)
            pos = c.end
        out.append(text[pos:])
        return Corrected("".join(out), tuple(chosen))


def suspects(
    corrector: HotwordCorrector, text: str, *, threshold: float = 0.7, limit: int = 3
) -> tuple[str, ...]:
    """Hotwords that ``text`` may have misheard: a same-length all-Chinese window sounds like
    one (pinyin similarity at least ``threshold``, looser than correction's) and the hotword is
    not already in the text. Best first, at most ``limit``.

    These are worth a second decode with only them as the prompt: a prompt of every hotword
    makes Whisper base say them where they were not said, a prompt of the few that the audio
    already sounds like does not (measured in docs/speech.md).
    """
    scored: dict[str, float] = {}
    char_readings = [readings(ch) if _CJK.fullmatch(ch) else None for ch in text]
    # Characters of hotwords already heard right belong to them, as in correction.
    taken = [False] * len(text)
    for word in corrector.hotwords:
        at = text.find(word)
        while at != -1:
            taken[at : at + len(word)] = [True] * len(word)
            at = text.find(word, at + 1)
    for word in corrector.hotwords:
        if word in text:
            continue
        ref = corrector.word_readings(word)
        n = len(word)
        best = 0.0
        for start in range(len(text) - n + 1):
            window = char_readings[start : start + n]
            if any(r is None for r in window) or any(taken[start : start + n]):
                continue
            score = sum(char_similarity(r, h) for r, h in zip(window, ref, strict=True) if r) / n
            best = max(best, score)
        if best >= threshold:
            scored[word] = best
    ranked = sorted(scored, key=lambda w: (-scored[w], -len(w)))
    return tuple(ranked[:limit])


def build_prompt(hotwords: Sequence[str], previous_text: str, max_chars: int) -> str:
    """A Whisper initial prompt of at most ``max_chars`` characters.

    Hotwords come first (in the given order, whole words only, duplicates dropped) because they
    steer spelling; the most recent part of ``previous_text`` fills the rest, and is always given
    at least half the budget when there is that much of it. Written in simplified Chinese with
    full-width punctuation, which also nudges Whisper towards answering in that style.
    """
    if max_chars <= 0:
        return ""
    previous = previous_text.strip()
    prev_budget = min(len(previous), max_chars // 2)
    words_budget = max_chars - prev_budget
    words_part = ""
    for word in dict.fromkeys(w.strip() for w in hotwords if w.strip()):
        candidate = f"{words_part}，{word}" if words_part else word
        if len(candidate) + 1 > words_budget:  # +1 for the closing 。
            break
        words_part = candidate
    if words_part:
        words_part += "。"
    room = max_chars - len(words_part)
    tail = previous[len(previous) - room :] if room < len(previous) else previous
    if room <= 0:
        tail = ""
    return words_part + tail
