"""The extraction and classification functions the ticket filler uses, as one bundle.

The filler depends on these shapes only (structural protocols), so that unit tests can hand it
small doubles and the product hands it the real modules
(:func:`jiesu.engine.assist.loaders.load_toolkit`): the spoken-digit
extractors, the address CRF, the category classifier with its department router and the
request-type/urgency classifiers of ``jiesu.engine.assist.extract`` and ``.classify``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


class SpanLike(Protocol):
    """What every extraction has: where it is in the text and how sure it is."""

    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def confidence(self) -> float: ...


class NumberLike(SpanLike, Protocol):
    @property
    def number(self) -> str: ...


class PhoneLike(NumberLike, Protocol):
    @property
    def kind(self) -> str: ...


class IdLike(NumberLike, Protocol):
    @property
    def checksum_ok(self) -> bool: ...


class NameLike(SpanLike, Protocol):
    @property
    def full_name(self) -> str | None: ...
    @property
    def surname(self) -> str: ...
    @property
    def honorific(self) -> str | None: ...


class TimeLike(Protocol):
    @property
    def start_time(self) -> datetime: ...
    @property
    def end_time(self) -> datetime | None: ...
    @property
    def text_start(self) -> int: ...
    @property
    def text_end(self) -> int: ...
    @property
    def confidence(self) -> float: ...


class AddressLike(SpanLike, Protocol):
    @property
    def components(self) -> Mapping[str, str]: ...


class ScoredLike(Protocol):
    @property
    def label(self) -> str: ...
    @property
    def probability(self) -> float: ...


class CategoryLike(Protocol):
    @property
    def level1(self) -> Sequence[ScoredLike]: ...
    @property
    def path(self) -> Sequence[str]: ...
    @property
    def path_confidence(self) -> float: ...


class DepartmentsLike(Protocol):
    @property
    def top3(self) -> Sequence[ScoredLike]: ...
    @property
    def ready_to_dispatch(self) -> bool: ...


class HitLike(Protocol):
    @property
    def entry_id(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def snippet(self) -> str: ...
    @property
    def score(self) -> float: ...
    @property
    def matched_keywords(self) -> Sequence[str]: ...


class TrackerLike(Protocol):
    """Per-call card keeper: the cards to show, replaced only by clearly better ones."""

    def update(self, hits: Sequence[Any]) -> Sequence[HitLike]: ...


@dataclass(frozen=True, slots=True)
class Knowledge:
    """Knowledge suggestions: retrieval on the running conversation and a per-call tracker."""

    #: (the newest utterance, the conversation before it) -> ranked hits.
    search: Callable[[str, str], Sequence[HitLike]]
    new_tracker: Callable[[], TrackerLike]


@dataclass(frozen=True, slots=True)
class AssistToolkit:
    """Pure text -> values functions (models loaded once, shared by every call)."""

    phones: Callable[[str], Sequence[PhoneLike]]
    id_numbers: Callable[[str], Sequence[IdLike]]
    names: Callable[[str], Sequence[NameLike]]
    times: Callable[[str, datetime], Sequence[TimeLike]]
    addresses: Callable[[str], Sequence[AddressLike]]
    #: Category prediction and the department recommendation derived from it.
    classify: Callable[[str], tuple[CategoryLike, DepartmentsLike]]
    request_type: Callable[[str], Sequence[ScoredLike]]
    urgency: Callable[[str], ScoredLike]
    #: None: no knowledge base configured (no suggestions).
    knowledge: Knowledge | None = None
