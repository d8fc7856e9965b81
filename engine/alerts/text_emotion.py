"""Text emotion of one utterance: a small linear model over character n-grams, in plain numpy.

The shipped artefact (``models/trained/emotion_text.npz``, provenance in
``models/trained/emotion_text.json``) is trained by ``jiesu train emotion`` on the six-label
Weibo set (happy / neutral / angry / sad / fear / surprise). It holds the n-gram vocabulary,
the idf weights, the coefficient matrix and intercepts of a multinomial logistic regression,
and per-label decision thresholds chosen by cross-validation (the anger threshold is the one
that keeps anger recall at or above the target with the best precision). Inference needs
neither scikit-learn nor the training data: the product runs without ``../shared/data``.

:func:`char_ngrams` is the analyzer used both when training and here, so the two cannot drift.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

LABELS: tuple[str, ...] = ("angry", "fear", "happy", "neutral", "sad", "surprise")

#: Hashtags, mentions, links and runs of '?' (emoji the export lost) carry topic, not emotion.
_NOISE = re.compile(r"#[^#]{0,40}#|@\S+|https?://\S+|\?{2,}")
_SPACE = re.compile(r"\s+")
NGRAM_RANGE = (1, 3)


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


def default_model_path() -> Path:
    """The artefact shipped in ``models/trained/``."""
    return Path(__file__).resolve().parents[2] / "models" / "trained" / "emotion_text.npz"


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
    ) -> None:
        if coef.shape != (len(labels), len(vocab)) or idf.shape != (len(vocab),):
            raise ValueError("emotion model: coefficient/vocabulary shapes disagree")
        self._index = {g: i for i, g in enumerate(vocab)}
        self._vocab = tuple(vocab)
        self._idf = idf.astype(np.float32)
        self._coef = coef.astype(np.float32)
        self._intercept = intercept.astype(np.float32)
        self.labels = tuple(labels)
        #: Per-label probability above which the label counts as present (from CV).
        self.thresholds = dict(thresholds)

    @classmethod
    def load(cls, path: Path | None = None) -> TextEmotionModel:
        """Read the ``.npz`` artefact (no pickles: plain arrays and a JSON header)."""
        path = path or default_model_path()
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            return cls(
                [str(g) for g in data["vocab"]],
                data["idf"],
                data["coef"],
                data["intercept"],
                meta["labels"],
                {str(k): float(v) for k, v in meta["thresholds"].items()},
            )

    def save(self, path: Path, extra_meta: dict[str, object] | None = None) -> None:
        meta = {"labels": list(self.labels), "thresholds": self.thresholds, **(extra_meta or {})}
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            path,
            vocab=np.array(self._vocab),
            idf=self._idf,
            coef=self._coef.astype(np.float16),
            intercept=self._intercept,
            meta=np.array(json.dumps(meta, ensure_ascii=False)),
        )

    def _features(self, text: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        counts = Counter(i for g in char_ngrams(text) if (i := self._index.get(g)) is not None)
        if not counts:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        idx = np.fromiter(counts.keys(), np.int64, len(counts))
        tf = 1.0 + np.log(np.fromiter(counts.values(), np.float32, len(counts)))
        values = (tf * self._idf[idx]).astype(np.float32)
        norm = float(np.linalg.norm(values))
        return idx, values / norm if norm > 0 else values

    def predict(self, text: str, n_cues: int = 3) -> TextEmotion:
        """Label probabilities for one utterance, and up to ``n_cues`` n-grams behind the top one."""
        idx, values = self._features(text)
        logits = self._coef[:, idx] @ values + self._intercept
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
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

    def predict_many(self, texts: Iterable[str]) -> list[TextEmotion]:
        return [self.predict(t) for t in texts]
