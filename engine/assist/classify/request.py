"""Request type (咨询/求助/投诉/举报/建议/表扬) and urgency from cue phrases.

No labelled call data exists for these two fields, so they are weighted cue lexicons, not
trained models: each cue found adds its weight to its label, a small prior keeps the most common
type (咨询) and ``normal`` urgency when nothing matches, and a softmax turns the sums into
probabilities. Negated cues (不是投诉, 不着急) are skipped. The lexicons are written here from
the usual wording of 12345 calls; they are data of this module, deliberately short and readable.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from jiesu.engine.assist.classify.category import ScoredLabel

REQUEST_TYPES = ("咨询", "求助", "投诉", "举报", "建议", "表扬")
URGENCIES = ("normal", "urgent", "emergency")

_REQUEST_CUES: Mapping[str, tuple[tuple[str, float], ...]] = {
    "咨询": (
        ("咨询", 2.0),
        ("请问", 1.5),
        ("问一下", 1.5),
        ("想问", 1.5),
        ("怎么办理", 1.5),
        ("需要什么", 1.2),
        ("什么材料", 1.2),
        ("怎么申请", 1.2),
        ("能不能", 0.6),
        ("可以吗", 0.6),
        ("多少钱", 0.6),
        ("在哪里", 0.8),
        ("怎么", 0.4),
        ("吗", 0.2),
    ),
    "求助": (
        ("求助", 2.5),
        ("帮帮", 2.0),
        ("帮忙", 1.5),
        ("救命", 2.0),
        ("没办法了", 1.5),
        ("困在", 1.5),
        ("被困", 1.5),
        ("怎么办", 0.8),
        ("停水", 0.8),
        ("停电", 0.8),
        ("没水", 0.8),
        ("漏水", 0.6),
    ),
    "投诉": (
        ("投诉", 2.5),
        ("不作为", 1.5),
        ("太差", 1.2),
        ("态度", 0.8),
        ("不满", 1.2),
        ("扰民", 1.2),
        ("噪音", 0.8),
        ("拖欠", 1.2),
        ("乱收费", 1.2),
        ("推诿", 1.5),
        ("没人管", 1.5),
        ("一直不", 0.8),
        ("拒绝", 0.6),
        ("强烈要求", 1.0),
        ("影响", 0.4),
    ),
    "举报": (
        ("举报", 2.5),
        ("违法", 1.2),
        ("违规", 1.0),
        ("偷排", 1.5),
        ("违建", 1.2),
        ("违章建筑", 1.2),
        ("非法", 1.2),
        ("诈骗", 1.2),
        ("传销", 1.5),
        ("贪污", 1.5),
        ("受贿", 1.5),
        ("黑作坊", 1.5),
        ("无证", 1.0),
        ("私自", 0.8),
    ),
    "建议": (
        ("建议", 2.5),
        ("希望能", 1.0),
        ("能否", 0.8),
        ("是否可以", 0.8),
        ("应该", 0.6),
        ("增设", 1.5),
        ("增加一个", 1.0),
        ("提议", 2.0),
        ("意见", 0.8),
    ),
    "表扬": (
        ("表扬", 2.5),
        ("感谢", 1.2),
        ("谢谢你们", 1.0),
        ("点赞", 2.0),
        ("锦旗", 2.0),
        ("很负责", 1.5),
        ("非常好", 1.0),
        ("辛苦了", 0.8),
        ("好人好事", 2.0),
    ),
}
_REQUEST_PRIOR = {"咨询": 0.5}

_URGENCY_CUES: Mapping[str, tuple[tuple[str, float], ...]] = {
    "emergency": (
        ("着火", 3.0),
        ("起火", 3.0),
        ("火灾", 3.0),
        ("爆炸", 3.0),
        ("煤气泄漏", 3.0),
        ("燃气泄漏", 3.0),
        ("漏气", 2.0),
        ("煤气味", 2.5),
        ("燃气味", 2.5),
        ("有人跳楼", 3.0),
        ("要跳楼", 3.0),
        ("不想活", 3.0),
        ("自杀", 3.0),
        ("被困", 2.0),
        ("困人", 2.0),
        ("受伤", 1.5),
        ("流血", 2.0),
        ("昏迷", 2.5),
        ("触电", 2.5),
        ("坍塌", 2.5),
        ("塌了", 2.0),
        ("救命", 3.0),
        ("打人", 1.5),
        ("砍人", 3.0),
        ("溺水", 3.0),
    ),
    "urgent": (
        ("紧急", 2.0),
        ("着急", 1.2),
        ("马上", 1.0),
        ("尽快", 1.0),
        ("赶紧", 1.0),
        ("停水", 1.2),
        ("停电", 1.2),
        ("没有暖气", 1.0),
        ("井盖", 1.2),
        ("漏水", 1.0),
        ("积水", 1.0),
        ("老人", 0.6),
        ("孩子", 0.5),
        ("危险", 1.2),
        ("隐患", 0.8),
        ("一整天", 0.6),
        ("好几天", 0.6),
        ("今天必须", 1.2),
        ("断网", 0.6),
    ),
}
_URGENCY_PRIOR = {"normal": 1.5}

#: A cue right after one of these is negated (不是投诉, 不着急, 没有受伤).
_NEGATION = re.compile(r"(不是|不|没有|没|无|别)$")


def _cue_sums(text: str, cues: Mapping[str, tuple[tuple[str, float], ...]]) -> dict[str, float]:
    sums: dict[str, float] = {}
    for label, pairs in cues.items():
        total = 0.0
        for cue, weight in pairs:
            for match in re.finditer(re.escape(cue), text):
                if not _NEGATION.search(text[max(0, match.start() - 2) : match.start()]):
                    total += weight
        sums[label] = total
    return sums


def _softmax(labels: tuple[str, ...], sums: Mapping[str, float]) -> list[ScoredLabel]:
    peak = max(sums.get(label, 0.0) for label in labels)
    exps = {label: math.exp(sums.get(label, 0.0) - peak) for label in labels}
    total = sum(exps.values())
    ranked = sorted(labels, key=lambda label: (-exps[label], labels.index(label)))
    return [ScoredLabel(label, round(exps[label] / total, 4)) for label in ranked]


def classify_request_type(text: str) -> tuple[ScoredLabel, ...]:
    """All six request types, most likely first (probabilities sum to 1)."""
    sums = _cue_sums(text, _REQUEST_CUES)
    for label, prior in _REQUEST_PRIOR.items():
        sums[label] = sums.get(label, 0.0) + prior
    return tuple(_softmax(REQUEST_TYPES, sums))


def classify_urgency(text: str) -> ScoredLabel:
    """The most likely of normal / urgent / emergency, with its probability."""
    sums = _cue_sums(text, _URGENCY_CUES)
    for label, prior in _URGENCY_PRIOR.items():
        sums[label] = sums.get(label, 0.0) + prior
    return _softmax(URGENCIES, sums)[0]
