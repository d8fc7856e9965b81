"""The extraction and classification functions the ticket filler uses, as one bundle.

The filler depends on these shapes only (structural protocols), so that unit tests can hand it
small doubles and the product hands it the real modules (:func:`load_toolkit`): the spoken-digit
extractors, the address CRF, the category classifier with its department router and the
request-type/urgency classifiers of ``jiesu.engine.assist.extract`` and ``.classify``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)


class PhoneLike(Protocol):
    @property
    def number(self) -> str: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def confidence(self) -> float: ...
    @property
    def kind(self) -> str: ...


class IdLike(Protocol):
    @property
    def number(self) -> str: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def confidence(self) -> float: ...
    @property
    def checksum_ok(self) -> bool: ...


class NameLike(Protocol):
    @property
    def full_name(self) -> str | None: ...
    @property
    def surname(self) -> str: ...
    @property
    def honorific(self) -> str | None: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def confidence(self) -> float: ...


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


class AddressLike(Protocol):
    @property
    def components(self) -> Mapping[str, str]: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def confidence(self) -> float: ...


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


def embedding_cache_dir() -> Path:
    """Where knowledge-base embeddings are kept between starts: ``$JIESU_CACHE/embeddings``
    (default ``$XDG_CACHE_HOME/jiesu`` or ``~/.cache/jiesu``)."""
    base = os.environ.get("JIESU_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache"), "jiesu"
    )
    return Path(base) / "embeddings"


def load_toolkit(
    departments_file: Path | None = None, knowledge_file: Path | None = None
) -> AssistToolkit:
    """The real extractors and classifiers (blocking: loads models; run off the event loop).

    Raises when a model artefact or a configuration file cannot be read.
    """
    # Imported here: these modules load models; nothing of them is needed until the runtime
    # asks for the toolkit.
    from jiesu.engine.assist import classify as classify_mod
    from jiesu.engine.assist import knowledge as kb_mod
    from jiesu.engine.assist.extract import address, idcard, names, phone, when

    classifier = classify_mod.CategoryClassifier.load_default()
    config_dir = Path(__file__).resolve().parents[2] / "sip_config"
    router = classify_mod.DepartmentRouter.from_config(
        departments_file if departments_file is not None else config_dir / "departments.toml"
    )
    parser = address.AddressParser.load_default()

    def classify(text: str) -> tuple[CategoryLike, DepartmentsLike]:
        prediction = classifier.predict(text)
        return prediction, router.route(prediction)

    knowledge = None
    kb_path = knowledge_file or config_dir / "knowledge" / "demo_kb.jsonl"
    if kb_path.is_file():
        # One sentence-embedding model for the classifier and the retriever.
        retriever = kb_mod.HybridRetriever(
            kb_mod.KnowledgeBase.load(kb_path),
            embedder=classifier.embedder,
            cache_dir=embedding_cache_dir(),
            shipped_dir=Path(__file__).resolve().parents[2] / "models" / "trained",
        )

        def search(query: str, context: str) -> Sequence[HitLike]:
            hits: Sequence[HitLike] = retriever.search(query, context=context, k=3)
            return hits

        knowledge = Knowledge(search=search, new_tracker=kb_mod.SuggestionTracker)
    else:
        log.warning("no knowledge base at %s: no knowledge cards", kb_path)

    return AssistToolkit(
        phones=phone.extract_phones,
        id_numbers=idcard.extract_id_numbers,
        names=names.extract_names,
        times=when.extract_times,
        addresses=parser.parse,
        classify=classify,
        request_type=classify_mod.classify_request_type,
        urgency=classify_mod.classify_urgency,
        knowledge=knowledge,
    )
