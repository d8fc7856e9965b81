"""Live coaching on the agent leg: a pure, rate-limited rule engine that emits quiet tips.

Inputs are the call's transcripts (both legs: some rules compare them), its start and end, and
a :class:`MediaTick` (the media clock) so that silence can be noticed while it lasts. Rules:

* ``forbidden``: the agent used a phrase from the configured 服务禁语 list;
* ``dead_air``: nobody has spoken for ``dead_air_s`` seconds during the call;
* ``talk_over``: the agent started speaking while the caller was still talking, and the two
  overlapped for at least ``overlap_ms``;
* ``too_fast``: an agent utterance of at least 2 s above ``max_chars_per_s``;
* ``greeting``: the agent's first utterance (within ``greeting_within_s``) has no greeting;
* ``closing``: the caller said goodbye and the agent's next utterance has no closing phrase;
* ``callback``: the caller gave a phone number and the agent's next ``confirm_within``
  utterances neither repeat its last four digits nor ask to confirm it.

Rate limit: the same rule fires at most once per ``per_rule_interval_s`` and any tip at most once
per ``min_interval_s`` (a tip suppressed by the limit is counted in the state, not queued: a
stale tip is noise). Tips never contain the caller's number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TypeAlias

from jiesu.engine.alerts.prosody import spoken_chars
from jiesu.engine.audio import Leg
from jiesu.engine.config import _bounded
from jiesu.engine.events import CallEnded, CallStarted, CoachingTip, TranscriptFinal

_PHONE = re.compile(r"(?<!\d)(1[3-9]\d{9}|0\d{2,3}-?\d{7,8}|\d{7,8})(?!\d)")


@dataclass(frozen=True, slots=True)
class CoachSettings:
    """Rule parameters (``[coach]`` in ``sip_config/alerts.toml``)."""

    forbidden_phrases: tuple[str, ...] = (
        "不知道",
        "不归我们管",
        "我也没办法",
        "你问别人去",
        "你自己看着办",
        "这是规定",
        "听不懂吗",
        "我说过了",
        "快点说",
        "没空",
        "你找领导去",
        "有本事你去告",
        "爱找谁找谁",
        "跟我说没用",
        "着什么急",
    )
    greeting_phrases: tuple[str, ...] = ("您好", "你好", "很高兴为您服务", "请讲", "12345")
    closing_phrases: tuple[str, ...] = (
        "还有其他",
        "还有什么",
        "感谢您的来电",
        "感谢来电",
        "谢谢您的来电",
        "再见",
        "请挂机",
        "祝您",
    )
    farewell_cues: tuple[str, ...] = ("没有了", "没别的了", "就这些", "就这样吧", "再见", "拜拜")
    confirm_phrases: tuple[str, ...] = ("确认", "核对", "是不是", "对吗", "对不对", "没错吧")
    dead_air_s: float = _bounded(8.0, 1.0, 600.0)
    overlap_ms: int = _bounded(800, 100, 10_000)
    max_chars_per_s: float = _bounded(6.0, 2.0, 20.0)
    greeting_within_s: float = _bounded(15.0, 1.0, 120.0)
    confirm_within: int = _bounded(2, 1, 10, "agent utterances to confirm a number")
    min_interval_s: float = _bounded(10.0, 0.0, 600.0, "between any two tips")
    per_rule_interval_s: float = _bounded(60.0, 0.0, 3600.0, "between two tips of one rule")
    #: Tip wording per rule (code, not configuration: placeholders must match).
    texts: Mapping[str, str] = field(
        metadata={"internal": True},
        default_factory=lambda: {
            "forbidden": "请避免服务禁语“{phrase}”，可改说：“这个问题我帮您记录并转交相关部门”。",
            "dead_air": "通话已静默{seconds:.0f}秒，请向来电人说明正在查询，或询问是否还在线。",
            "talk_over": "来电人还在说话，请先听完再回应。",
            "too_fast": "语速偏快（约{rate:.1f}字/秒），请放慢，便于来电人听清。",
            "greeting": "开场未使用规范问候语，如“您好，12345为您服务”。",
            "closing": "来电人准备结束通话，请使用结束语，如“请问还有其他可以帮您的吗？感谢来电”。",
            "callback": "来电人提供了回拨号码，请复述确认号码。",
        },
    )


@dataclass(frozen=True, slots=True)
class MediaTick:
    """The media clock advanced to ``t_media`` ms (sent periodically by the stage driver)."""

    t_media: int


@dataclass(frozen=True, slots=True)
class CoachState:
    """Per-call coaching state."""

    started: bool = False
    ended: bool = False
    last_speech_end: int = 0
    dead_air_reported: bool = False
    agent_utterances: int = 0
    caller_intervals: tuple[tuple[int, int], ...] = ()
    closing_pending: bool = False
    #: Last four digits of a number the caller gave, and how many agent utterances are left.
    callback_digits: str = ""
    callback_left: int = 0
    last_tip_at: int | None = None
    last_by_rule: Mapping[str, int] = field(default_factory=dict)
    suppressed: int = 0


CoachInput: TypeAlias = TranscriptFinal | CallStarted | CallEnded | MediaTick


def _has(text: str, phrases: Sequence[str]) -> str | None:
    return next((p for p in phrases if p in text), None)


def _emit(
    state: CoachState, rule: str, now: int, text: str, s: CoachSettings
) -> tuple[CoachState, list[CoachingTip]]:
    last_rule = state.last_by_rule.get(rule)
    if (last_rule is not None and now - last_rule < s.per_rule_interval_s * 1000) or (
        state.last_tip_at is not None and now - state.last_tip_at < s.min_interval_s * 1000
    ):
        return replace(state, suppressed=state.suppressed + 1), []
    by_rule = {**state.last_by_rule, rule: now}
    return replace(state, last_tip_at=now, last_by_rule=by_rule), [CoachingTip(rule, text)]


def coach_step(
    state: CoachState, item: CoachInput, s: CoachSettings
) -> tuple[CoachState, list[CoachingTip]]:
    """One input in; zero or more tips out (see the module docstring for the rules)."""
    if isinstance(item, CallStarted):
        return replace(state, started=True), []
    if isinstance(item, CallEnded):
        return replace(state, ended=True), []
    if state.ended:
        return state, []
    if isinstance(item, MediaTick):
        silent_ms = item.t_media - state.last_speech_end
        if state.started and not state.dead_air_reported and silent_ms >= s.dead_air_s * 1000:
            state = replace(state, dead_air_reported=True)
            return _emit(
                state,
                "dead_air",
                item.t_media,
                s.texts["dead_air"].format(seconds=silent_ms / 1000),
                s,
            )
        return state, []
    state = replace(
        state, last_speech_end=max(state.last_speech_end, item.t_end), dead_air_reported=False
    )
    if item.leg is Leg.CALLER:
        return _caller(state, item, s)
    if item.leg is Leg.AGENT:
        return _agent(state, item, s)
    return state, []


def _caller(
    state: CoachState, item: TranscriptFinal, s: CoachSettings
) -> tuple[CoachState, list[CoachingTip]]:
    intervals = (*state.caller_intervals[-7:], (item.t_start, item.t_end))
    state = replace(state, caller_intervals=intervals)
    if _has(item.text, s.farewell_cues):
        state = replace(state, closing_pending=True)
    if numbers := _PHONE.findall(item.text):
        state = replace(state, callback_digits=numbers[-1][-4:], callback_left=s.confirm_within)
    return state, []


def _agent(
    state: CoachState, item: TranscriptFinal, s: CoachSettings
) -> tuple[CoachState, list[CoachingTip]]:
    now = item.t_end
    candidates: list[tuple[str, str]] = []
    first = state.agent_utterances == 0
    state = replace(state, agent_utterances=state.agent_utterances + 1)
    if phrase := _has(item.text, s.forbidden_phrases):
        candidates.append(("forbidden", s.texts["forbidden"].format(phrase=phrase)))
    if (
        first
        and item.t_start <= s.greeting_within_s * 1000
        and not _has(item.text, s.greeting_phrases)
    ):
        candidates.append(("greeting", s.texts["greeting"]))
    for c_start, c_end in state.caller_intervals:
        overlap = min(c_end, item.t_end) - max(c_start, item.t_start)
        if c_start < item.t_start < c_end and overlap >= s.overlap_ms:
            candidates.append(("talk_over", s.texts["talk_over"]))
            break
    seconds = (item.t_end - item.t_start) / 1000
    if seconds >= 2.0 and (rate := spoken_chars(item.text) / seconds) > s.max_chars_per_s:
        candidates.append(("too_fast", s.texts["too_fast"].format(rate=rate)))
    if state.closing_pending:
        state = replace(state, closing_pending=False)
        if not _has(item.text, s.closing_phrases):
            candidates.append(("closing", s.texts["closing"]))
    if state.callback_left > 0:
        digits = re.sub(r"\D", "", item.text)
        if state.callback_digits in digits or _has(item.text, s.confirm_phrases):
            state = replace(state, callback_left=0, callback_digits="")
        else:
            state = replace(state, callback_left=state.callback_left - 1)
            if state.callback_left == 0:
                state = replace(state, callback_digits="")
                candidates.append(("callback", s.texts["callback"]))
    tips: list[CoachingTip] = []
    for rule, text in candidates:
        state, out = _emit(state, rule, now, text, s)
        tips.extend(out)
    return state, tips
