"""Structured addresses from what a caller says: a character CRF labels each token with its
address part (province … room), and the runs of address parts become :class:`AddressMatch`es.

The shipped model (``models/trained/address_crf.crfsuite``, provenance beside it) was trained by
``jiesu train address`` on the address-parsing corpus, with copies of each address set inside
spoken context (我家住在…，那边…) and with spoken numbers (三百零二号), so that the labeller
also marks what is *not* an address in a sentence. The product needs only the artefact.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from jiesu.engine.assist.extract.address_corpus import spans
from jiesu.engine.assist.extract.address_features import sequence_features, tokenize

#: Corpus label -> work-order component name; labels not listed keep their corpus name.
COMPONENT_NAMES: Mapping[str, str] = MappingProxyType(
    {"prov": "province", "devZone": "devzone", "subRoad": "subroad"}
)
#: Labels that alone do not make an address (a name, a filler, a vague hint).
_NOT_ADDRESS = frozenset({"person", "redundant", "assist", "otherinfo"})
#: Where a clause ends: a new address never spans these.
_BREAKS = frozenset("，。！？；,.!?;\n")
MODEL_FILE = "address_crf.crfsuite"
GAZETTEER_FILE = "address_gazetteer.json"
PROVENANCE_FILE = "address_crf.provenance.json"
#: Below this mean marginal a run of tags is the labeller guessing, not an address.
MIN_CONFIDENCE = 0.5
#: A run that is only a place name (poi) needs more certainty: any phrase can look like one.
MIN_POI_ONLY_CONFIDENCE = 0.8


@dataclass(frozen=True, slots=True)
class AddressMatch:
    """One address found in the text: its parts, its character span [start, end), and the
    labeller's mean marginal probability over the span."""

    components: Mapping[str, str]
    start: int
    end: int
    confidence: float


@dataclass(frozen=True, slots=True)
class TaggedToken:
    """A token, its character span and the tag the CRF gave it with that tag's marginal."""

    text: str
    start: int
    end: int
    tag: str
    probability: float


def _new_segmenter() -> Any:
    # jieba ships no type information; one Tokenizer per parser, never the module-level one.
    import jieba  # type: ignore[import-untyped]

    jieba.setLogLevel(logging.WARNING)
    return jieba.Tokenizer()


class AddressParser:
    """Labels address parts with the CRF; one instance is shared by every call (read-only)."""

    def __init__(self, tagger: Any, gazetteer: Mapping[str, str], feature_set: int = 1) -> None:
        """``tagger``: an opened ``pycrfsuite.Tagger`` (the library ships no types)."""
        self._tagger = tagger
        self._gazetteer = MappingProxyType(dict(gazetteer))
        self._feature_set = feature_set
        self._segmenter = _new_segmenter()

    def words(self, text: str) -> list[str]:
        """jieba's segmentation of ``text`` (exact mode, no HMM for unknown words)."""
        return [str(w) for w in self._segmenter.lcut(text, HMM=False)]

    def tag_tokens(self, tokens: Sequence[str]) -> list[tuple[str, float]]:
        """(tag, marginal probability) per token of one address or clause."""
        if not tokens:
            return []
        features = sequence_features(
            tokens, self.words("".join(tokens)), self._gazetteer, self._feature_set
        )
        tags = [str(t) for t in self._tagger.tag(features)]
        return [(tag, float(self._tagger.marginal(tag, i))) for i, tag in enumerate(tags)]

    def tag(self, text: str) -> list[TaggedToken]:
        """Every token of ``text`` with its tag, clause by clause."""
        out: list[TaggedToken] = []
        clause: list[tuple[str, int, int]] = []
        for tok in [*tokenize(text), ("\n", len(text), len(text))]:
            if tok[0] not in _BREAKS:
                clause.append(tok)
                continue
            tagged = self.tag_tokens([t for t, _, _ in clause])
            for (t, s, e), (tag, p) in zip(clause, tagged, strict=True):
                out.append(TaggedToken(t, s, e, tag, p))
            if tok[1] < len(text):
                out.append(TaggedToken(tok[0], tok[1], tok[2], "O", 1.0))
            clause = []
        return out

    def parse(self, text: str) -> list[AddressMatch]:
        """The addresses in ``text``: maximal runs of address-labelled tokens inside a clause
        that hold at least one real address part (not only a name or a filler)."""
        tagged = self.tag(text)
        matches: list[AddressMatch] = []
        run: list[TaggedToken] = []
        for tok in [*tagged, TaggedToken("", len(text), len(text), "O", 1.0)]:
            if tok.tag != "O" and tok.text not in _BREAKS:
                run.append(tok)
                continue
            match = _to_match(text, run)
            if match is not None:
                matches.append(match)
            run = []
        return matches


def _to_match(text: str, run: Sequence[TaggedToken]) -> AddressMatch | None:
    if not run:
        return None
    components: dict[str, str] = {}
    for label, i, j in spans([t.tag for t in run]):
        key = COMPONENT_NAMES.get(label, label)
        value = text[run[i].start : run[j - 1].end]
        # A part said twice (the agent repeating it) keeps the first reading.
        components.setdefault(key, value)
    core = [k for k in components if k not in _NOT_ADDRESS]
    if not core:
        return None
    # Trim leading/trailing filler parts so the span is the address itself.
    real = [t for t in run if t.tag.partition("-")[2] not in _NOT_ADDRESS]
    confidence = sum(t.probability for t in run) / len(run)
    if confidence < MIN_CONFIDENCE or (
        set(core) <= {"poi", "subpoi"} and confidence < MIN_POI_ONLY_CONFIDENCE
    ):
        return None
    return AddressMatch(
        components=MappingProxyType(components),
        start=real[0].start,
        end=real[-1].end,
        confidence=round(confidence, 4),
    )
