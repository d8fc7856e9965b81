"""Small stand-ins for the extraction and classification modules, for the filler's unit tests.

They recognise only what the tests feed them (ASCII digits, a few fixed phrases); the real
modules are tested on their own and used by the integration tests and the benchmark.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from jiesu.engine.assist.toolkit import AssistToolkit, CategoryLike, DepartmentsLike, Knowledge


@dataclass(frozen=True)
class Phone:
    number: str
    start: int
    end: int
    confidence: float
    kind: str


@dataclass(frozen=True)
class IdNo:
    number: str
    start: int
    end: int
    confidence: float
    checksum_ok: bool


@dataclass(frozen=True)
class Name:
    full_name: str | None
    surname: str
    honorific: str | None
    start: int
    end: int
    confidence: float


@dataclass(frozen=True)
class When:
    start_time: datetime
    end_time: datetime | None
    text_start: int
    text_end: int
    confidence: float


@dataclass(frozen=True)
class Address:
    components: Mapping[str, str]
    start: int
    end: int
    confidence: float


@dataclass(frozen=True)
class Scored:
    label: str
    probability: float


@dataclass(frozen=True)
class Category:
    level1: tuple[Scored, ...]
    path: tuple[str, ...]
    path_confidence: float


@dataclass(frozen=True)
class Departments:
    top3: tuple[Scored, ...]
    ready_to_dispatch: bool


def phones(text: str) -> list[Phone]:
    return [
        Phone(m.group(), m.start(), m.end(), 0.9, "mobile") for m in re.finditer(r"1\d{10}", text)
    ]


def ids(text: str) -> list[IdNo]:
    return [
        IdNo(m.group(), m.start(), m.end(), 0.9, True) for m in re.finditer(r"\d{17}[\dX]", text)
    ]


def names(text: str) -> list[Name]:
    out = [
        Name(m.group(1), m.group(1)[0], None, m.start(), m.end(), 0.85)
        for m in re.finditer(r"我叫(\w{2,3}?)(?:，|。|$)", text)
    ]
    out += [
        Name(None, m.group(1), m.group(2), m.start(), m.end(), 0.7)
        for m in re.finditer(r"(王|李|张)(先生|女士)", text)
    ]
    return out


def times(text: str, reference: datetime) -> list[When]:
    out = []
    i = text.find("昨天晚上十点")
    if i >= 0:
        day = (reference - timedelta(days=1)).replace(hour=22, minute=0, second=0, microsecond=0)
        out.append(When(day, None, i, i + 6, 0.8))
    i = text.find("上周三")
    if i >= 0:
        day = (reference - timedelta(days=8)).replace(hour=0, minute=0, second=0, microsecond=0)
        out.append(When(day, None, i, i + 3, 0.8))
    return out


PLACES = {
    "天河区": "district",
    "黄埔区": "district",
    "中山大道": "road",
    "88号": "roadno",
    "阳光花园": "poi",
    "3栋": "houseno",
}


def addresses(text: str) -> list[Address]:
    found = {(text.find(k), k): v for k, v in PLACES.items() if k in text}
    if not found:
        return []
    comps = {v: k for (_, k), v in sorted(found.items())}
    start = min(i for i, _ in found)
    end = max(i + len(k) for i, k in found)
    return [Address(comps, start, end, 0.8)]


@dataclass
class Classifier:
    calls: list[str] = field(default_factory=list)

    def __call__(self, text: str) -> tuple[CategoryLike, DepartmentsLike]:
        self.calls.append(text)
        if "噪音" in text:
            cat = Category(
                (Scored("城乡建设", 0.8), Scored("环境保护", 0.15)),
                ("环境保护", "环境污染", "噪音污染"),
                0.7,
            )
            return cat, Departments(
                (Scored("区生态环境局", 0.72), Scored("区城管局", 0.2), Scored("街道办", 0.05)),
                True,
            )
        cat = Category(
            (Scored("劳动和社会保障", 0.5),), ("劳动和社会保障", "不存在的二级", "x"), 0.4
        )
        return cat, Departments(
            (Scored("市人社局", 0.45), Scored("区人社局", 0.3), Scored("街道办", 0.1)), False
        )


def request_type(text: str) -> list[Scored]:
    if "投诉" in text or "噪音" in text:
        return [Scored("投诉", 0.8), Scored("咨询", 0.1), Scored("建议", 0.05)]
    return [Scored("咨询", 0.7), Scored("求助", 0.2)]


def urgency(text: str) -> Scored:
    return Scored("urgent", 0.8) if "着火" in text else Scored("normal", 0.9)


def toolkit(classifier: Classifier | None = None, knowledge: bool = False) -> AssistToolkit:
    return AssistToolkit(
        phones=phones,
        id_numbers=ids,
        names=names,
        times=times,
        addresses=addresses,
        classify=classifier if classifier is not None else Classifier(),
        request_type=request_type,
        urgency=urgency,
        knowledge=Knowledge(kb_search, Tracker) if knowledge else None,
    )


@dataclass(frozen=True)
class Hit:
    entry_id: str
    version: str
    title: str
    snippet: str
    score: float
    matched_keywords: tuple[str, ...]


KB = (
    Hit(
        "kb-noise",
        "1",
        "夜间施工噪音",
        "22时至次日6时禁止产生噪声的建筑施工作业……",
        0.0,
        ("噪音", "施工"),
    ),
    Hit("kb-social", "2", "社保断缴补缴", "断缴后可在参保地补缴……", 0.0, ("社保", "补缴")),
)


def kb_search(query: str, context: str) -> list[Hit]:
    text = context + query
    hits = []
    for entry in KB:
        found = tuple(k for k in entry.matched_keywords if k in text)
        if found:
            hits.append(
                Hit(
                    entry.entry_id, entry.version, entry.title, entry.snippet, len(found) / 2, found
                )
            )
    return sorted(hits, key=lambda h: -h.score)


class Tracker:
    """Keeps the shown card unless a different one scores clearly (0.2) higher."""

    def __init__(self) -> None:
        self.shown: list[Hit] = []

    def update(self, hits: list[Hit]) -> list[Hit]:
        if hits and (not self.shown or hits[0].score > self.shown[0].score + 0.2):
            self.shown = [hits[0]]
        return self.shown
