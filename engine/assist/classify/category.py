"""Level-1 category of a citizen's request, and the best three-level path in the taxonomy.

Three scorers, averaged (an ensemble of views that fail differently on 300-odd messages):

* a class-balanced linear SVM over character 1-3 gram TF-IDF, trained on the labelled messages
  plus the taxonomy's level-2/3 names as extra short documents of their level-1 class;
* a class-balanced logistic regression over the message's e5 sentence embedding;
* zero-shot: cosine of the message embedding with each taxonomy row ("一级 二级 三级"),
  the best row per level-1 class, through a sharp softmax.

The weights live in one ``.npz`` artefact (numpy only at inference; scikit-learn only trains).
Levels 2 and 3 come from the taxonomy rows under the predicted level-1 class, ranked by the
same embedding similarity plus character overlap with the row's names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from jiesu.engine.assist.classify.embedding import Embedder
from jiesu.engine.assist.classify.features import CharTfidf, char_ngrams, sparse_scores

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ScoredLabel:
    label: str
    probability: float


@dataclass(frozen=True, slots=True)
class CategoryPrediction:
    """Level-1 distribution (best first) and the best 3-level path with its confidence."""

    level1: tuple[ScoredLabel, ...]
    path: tuple[str, ...]
    path_confidence: float


def compose(text: str, title: str = "") -> tuple[str, str]:
    """(text for the character model, text for the embedding). A title counts twice for the
    character model: it is the citizen's own one-line summary."""
    if not title:
        return text, text
    return f"{title}。{title}。{text}", f"{title}。{text}"


def softmax(z: Floats) -> Floats:
    shifted = z - np.max(z, axis=-1, keepdims=True)
    e = np.exp(shifted)
    return np.asarray(e / np.sum(e, axis=-1, keepdims=True), dtype=np.float64)


@dataclass(frozen=True)
class CategoryModel:
    """The fitted weights (see the module docstring); a value, kept as the arrays of a ``.npz``."""

    labels: tuple[str, ...]
    tfidf: CharTfidf
    char_w: npt.NDArray[np.float32]
    char_b: npt.NDArray[np.float32]
    emb_w: npt.NDArray[np.float32]
    emb_b: npt.NDArray[np.float32]
    taxonomy: tuple[tuple[str, str, str], ...]
    tax_emb: npt.NDArray[np.float32]
    char_temperature: float = 3.0
    zero_shot_temperature: float = 50.0

    def to_arrays(self) -> dict[str, npt.NDArray[Any]]:
        """The arrays of the ``.npz`` artefact, in the order they are written."""
        vocab = sorted(self.tfidf.vocabulary, key=self.tfidf.vocabulary.__getitem__)
        return dict(
            labels=np.array(self.labels),
            vocab=np.array(vocab),
            idf=self.tfidf.idf.astype(np.float32),
            ngram=np.array([self.tfidf.min_n, self.tfidf.max_n]),
            char_w=self.char_w.astype(np.float16),
            char_b=self.char_b.astype(np.float32),
            emb_w=self.emb_w.astype(np.float32),
            emb_b=self.emb_b.astype(np.float32),
            taxonomy=np.array(self.taxonomy).reshape(-1, 3),
            tax_emb=self.tax_emb.astype(np.float16),
            temps=np.array([self.char_temperature, self.zero_shot_temperature]),
        )

    @classmethod
    def from_arrays(cls, data: Mapping[str, npt.NDArray[Any]]) -> CategoryModel:
        """The model from the arrays of :meth:`to_arrays` (as read back from the ``.npz``)."""
        vocab = [str(v) for v in data["vocab"]]
        ngram = data["ngram"]
        tfidf = CharTfidf(
            {g: i for i, g in enumerate(vocab)},
            data["idf"].astype(np.float64),
            int(ngram[0]),
            int(ngram[1]),
        )
        temps = data["temps"]
        return cls(
            labels=tuple(str(v) for v in data["labels"]),
            tfidf=tfidf,
            char_w=data["char_w"].astype(np.float32),
            char_b=data["char_b"].astype(np.float32),
            emb_w=data["emb_w"].astype(np.float32),
            emb_b=data["emb_b"].astype(np.float32),
            taxonomy=tuple((str(r[0]), str(r[1]), str(r[2])) for r in data["taxonomy"].tolist()),
            tax_emb=data["tax_emb"].astype(np.float32),
            char_temperature=float(temps[0]),
            zero_shot_temperature=float(temps[1]),
        )

    def zero_shot(self, embedding: Floats) -> Floats:
        """Per label: a softmax over the best taxonomy-row cosine of each label's rows."""
        sims = self.tax_emb.astype(np.float64) @ embedding
        best = np.full(len(self.labels), -1.0)
        for row, (l1, _l2, _l3) in enumerate(self.taxonomy):
            if l1 in self.labels:
                k = self.labels.index(l1)
                best[k] = max(best[k], float(sims[row]))
        return softmax(best * self.zero_shot_temperature)

    def probabilities(self, char_text: str, embedding: Floats | None) -> Floats:
        """Averaged label probabilities; character model alone when there is no embedding."""
        row = self.tfidf.row(char_text)
        char = softmax(sparse_scores(row, self.char_w, self.char_b) * self.char_temperature)
        if embedding is None:
            return char
        emb = softmax(self.emb_w.astype(np.float64) @ embedding + self.emb_b)
        return np.asarray((char + emb + self.zero_shot(embedding)) / 3.0, dtype=np.float64)

    def best_path(
        self, level1: str, char_text: str, embedding: Floats | None
    ) -> tuple[tuple[str, ...], float]:
        """The taxonomy row under ``level1`` closest to the text, and its share of the rows."""
        rows = [i for i, r in enumerate(self.taxonomy) if r[0] == level1]
        if not rows:
            return (level1,), 1.0
        grams = char_ngrams(char_text, 2, 2)
        scores = np.zeros(len(rows))
        for j, i in enumerate(rows):
            _l1, l2, l3 = self.taxonomy[i]
            names = {g for g in char_ngrams(f"{l2} {l3}", 2, 2) if " " not in g}
            overlap = sum(1 for g in names if g in grams) / max(1, len(names))
            sim = (
                float(self.tax_emb[i].astype(np.float64) @ embedding)
                if embedding is not None
                else 0.0
            )
            scores[j] = sim * self.zero_shot_temperature + 5.0 * overlap
        share = softmax(scores)
        best = int(np.argmax(scores))
        return self.taxonomy[rows[best]], float(share[best])


class CategoryClassifier:
    """Text -> :class:`CategoryPrediction` (blocking: embeds the text; run off the event loop)."""

    def __init__(self, model: CategoryModel, embedder: Embedder | None) -> None:
        self.model = model
        self.embedder = embedder

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32] | None:
        if self.embedder is None:
            return None
        return self.embedder.passage(list(texts))

    def predict(self, text: str, title: str = "") -> CategoryPrediction:
        char_text, emb_text = compose(text, title)
        emb = self.embed([emb_text])
        return self.predict_embedded(char_text, None if emb is None else emb[0])

    def predict_embedded(
        self, char_text: str, embedding: npt.NDArray[np.floating] | None
    ) -> CategoryPrediction:
        """As :meth:`predict`, with the embedding already computed (benchmarks batch them)."""
        vec = None if embedding is None else np.asarray(embedding, dtype=np.float64)
        probs = self.model.probabilities(char_text, vec)
        order = np.argsort(-probs)
        level1 = tuple(ScoredLabel(self.model.labels[i], float(probs[i])) for i in order)
        path, share = self.model.best_path(level1[0].label, char_text, vec)
        return CategoryPrediction(level1, path, level1[0].probability * share)
