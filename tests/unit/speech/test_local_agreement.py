"""LocalAgreement-n on Chinese character streams: unit and property tests."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jiesu.engine.events import TimedToken
from jiesu.engine.speech.local_agreement import LocalAgreement, split_chars


def hyp(text: str, start: int = 0, step: int = 100) -> list[TimedToken]:
    """One token per character, ``step`` ms each, starting at ``start``."""
    return [
        TimedToken(ch, start + i * step, start + (i + 1) * step, 0.9) for i, ch in enumerate(text)
    ]


def test_first_hypothesis_commits_nothing_with_n2() -> None:
    la = LocalAgreement(2)
    a = la.insert(hyp("我想问"))
    assert a.stable_text == "" and a.unstable_text == "我想问" and a.stable_chars == 0


def test_commits_longest_common_prefix_of_last_two() -> None:
    la = LocalAgreement(2)
    la.insert(hyp("我想问一"))
    a = la.insert(hyp("我想问社保"))
    assert a.stable_text == "我想问"
    assert a.unstable_text == "社保"
    assert a.text == "我想问社保"
    assert a.stable_chars == 3
    assert [t.text for t in a.newly_committed] == ["我", "想", "问"]


def test_n3_needs_three_agreeing_hypotheses() -> None:
    la = LocalAgreement(3)
    la.insert(hyp("你好请"))
    a = la.insert(hyp("你好请问"))
    assert a.stable_text == ""
    a = la.insert(hyp("你好亲"))
    assert a.stable_text == "你好"
    assert a.unstable_text == "亲"


def test_agreement_continues_after_commit() -> None:
    la = LocalAgreement(2)
    la.insert(hyp("社保"))
    assert la.insert(hyp("社保缴")).stable_text == "社保"
    a = la.insert(hyp("社保缴费怎么"))
    assert a.stable_text == "社保缴"
    a = la.insert(hyp("社保缴费怎么办"))
    assert a.stable_text == "社保缴费怎么"
    assert a.unstable_text == "办"


def test_committed_text_survives_a_changed_mind() -> None:
    la = LocalAgreement(2)
    la.insert(hyp("射爆"))
    assert la.insert(hyp("射爆脚")).stable_text == "射爆"
    # The model now hears the start differently; the committed part must not change, and the
    # hypothesis's later audio (after 200 ms) still counts.
    a = la.insert(hyp("社保缴费"))
    assert a.stable_text == "射爆"
    assert a.unstable_text == "缴费"


def test_multi_character_tokens_are_compared_per_character() -> None:
    la = LocalAgreement(2)
    la.insert([TimedToken("社保", 0, 400, 0.8), TimedToken("缴", 400, 600, 0.8)])
    a = la.insert([TimedToken("社", 0, 200, 0.9), TimedToken("保缴费", 200, 800, 0.9)])
    assert a.stable_text == "社保缴"
    assert a.unstable_text == "费"
    assert [(t.t_start, t.t_end) for t in a.stable] == [(0, 200), (200, 400), (400, 600)]


def test_split_chars_shares_time_evenly() -> None:
    toks = split_chars([TimedToken("一二三", 0, 300, 0.5)])
    assert [(t.text, t.t_start, t.t_end) for t in toks] == [
        ("一", 0, 100),
        ("二", 100, 200),
        ("三", 200, 300),
    ]


def test_finish_commits_final_hypothesis_and_resets() -> None:
    la = LocalAgreement(2)
    la.insert(hyp("我要投诉"))
    la.insert(hyp("我要投诉噪音"))
    a = la.finish(hyp("我要投诉噪音问题"))
    assert a.stable_text == "我要投诉噪音问题" and a.unstable == ()
    assert la.committed == ()
    assert la.insert(hyp("喂")).stable_text == ""


def test_finish_without_hypothesis_keeps_last_unstable() -> None:
    la = LocalAgreement(2)
    la.insert(hyp("好的"))
    la.insert(hyp("好的谢谢"))
    assert la.finish().stable_text == "好的谢谢"


def test_reset_forgets_everything() -> None:
    la = LocalAgreement(2)
    la.insert(hyp("好的"))
    la.insert(hyp("好的"))
    la.reset()
    assert la.committed == ()
    assert la.insert(hyp("再见")).stable_text == ""


def test_key_can_ignore_punctuation() -> None:
    def strip(t: str) -> str:
        return t.strip("，。？！,.?!")

    la = LocalAgreement(2, key=strip)
    la.insert(hyp("好，"))
    # Text and timings of a committed token come from the newest hypothesis.
    assert la.insert(hyp("好。")).stable_text == "好。"


def test_n_must_be_positive() -> None:
    with pytest.raises(ValueError):
        LocalAgreement(0)


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 3),
    hyps=st.lists(st.text(alphabet="社保缴费射爆脚我想问", max_size=12), min_size=1, max_size=12),
)
def test_committed_text_only_grows(n: int, hyps: list[str]) -> None:
    la = LocalAgreement(n)
    previous = ""
    for text in hyps:
        a = la.insert(hyp(text))
        assert a.stable_text.startswith(previous)
        assert a.text.startswith(a.stable_text)
        previous = a.stable_text
    assert la.finish().stable_text.startswith(previous)


@settings(max_examples=200, deadline=None)
@given(
    base=st.text(alphabet="一二三四五六七八九十", min_size=1, max_size=20),
    n=st.integers(1, 3),
)
def test_growing_prefixes_commit_all_but_the_newest_growth(base: str, n: int) -> None:
    la = LocalAgreement(n)
    for i in range(1, len(base) + 1):
        a = la.insert(hyp(base[:i]))
        # The last n hypotheses agree on the shortest of them: base[: i - n + 1].
        assert a.stable_text == base[: max(0, i - n + 1)]
        assert a.text == base[:i]
