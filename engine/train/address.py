"""Train the address CRF (python-crfsuite) on a char-BIO corpus and write it with provenance.

``jiesu train address [--train PATH] [--dev PATH] [--output DIR]``: features as in
``address_features``; the administrative gazetteer is learnt from the training file (for the
training features, by 5-fold jackknife, so that the CRF does not learn to trust a gazetteer that
always knows the answer). A share of the addresses is also trained inside spoken context
(我家住在…，那边一直很吵) with numbers read out (三百零二号) and no punctuation, so that the
labeller marks non-address words O. Writes ``address_crf.crfsuite``, ``address_gazetteer.json``
and ``address_crf.provenance.json`` (data, command, parameters, dev metrics, date).
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jiesu.engine.assist.extract.address import (
    GAZETTEER_FILE,
    MODEL_FILE,
    PROVENANCE_FILE,
    AddressParser,
    _new_segmenter,
)
from jiesu.engine.assist.extract.address_corpus import (
    LabelledAddress,
    entity_scores,
    read_corpus,
    spans,
)
from jiesu.engine.assist.extract.address_features import (
    FEATURE_SET,
    GAZETTEER_LABELS,
    sequence_features,
)
from jiesu.engine.assist.extract.spoken import read_count, read_digits
from jiesu.engine.assist.loaders import load_address_parser
from jiesu.models.registry import sha256_file, shared_data_path, trained_path

DEFAULT_DATA = shared_data_path("text", "address_parsing")
logger = logging.getLogger("jiesu.train.address")

#: What callers say before an address, and after it (written for this project).
PREFIXES: tuple[str, ...] = (
    "我家住在", "我住在", "我家在", "地址是", "我的地址是", "就在", "在", "位置是", "是在",
    "我们小区在", "我是", "我现在在", "发生在", "地点在", "那个地方是", "嗯我家是", "就是那个",
    "对住在", "我们这边是", "事发地点是", "嗯", "那个", "我在", "我们单位在", "店在", "我们村是",
    "你好我住", "我要反映一下", "麻烦记一下地址", "具体位置在",
)  # fmt: skip
SUFFIXES: tuple[str, ...] = (
    "这边", "那边", "这里", "那里", "附近", "门口", "一直很吵", "有人乱停车", "噪音很大",
    "停水了", "没有暖气", "对吧", "是的", "好的", "谢谢", "嗯对", "的那个", "那边施工",
    "路灯坏了", "垃圾没人清", "晚上一直有噪音", "楼下", "旁边那个工地", "你们管一下",
)  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--train", type=Path, default=DEFAULT_DATA / "train.txt")
    parser.add_argument("--dev", type=Path, default=DEFAULT_DATA / "dev.txt")
    parser.add_argument("--output", type=Path, default=None, help="default: models/trained")
    parser.add_argument("--c1", type=float, default=0.1, help="L1 penalty")
    parser.add_argument("--c2", type=float, default=0.01, help="L2 penalty")
    parser.add_argument("--max-iterations", type=int, default=250)
    parser.add_argument(
        "--augment", type=float, default=0.4, help="share of addresses also set in spoken context"
    )
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--feature-set", type=int, default=FEATURE_SET, choices=(1, 2))


def build_gazetteer(corpus: Sequence[LabelledAddress]) -> dict[str, str]:
    """Administrative names (2+ characters) -> their most frequent label."""
    votes: dict[str, Counter[str]] = {}
    for item in corpus:
        for label, i, j in spans(item.tags):
            if label in GAZETTEER_LABELS and j - i >= 2:
                votes.setdefault("".join(item.tokens[i:j]), Counter())[label] += 1
    return {name: c.most_common(1)[0][0] for name, c in sorted(votes.items())}


def _spoken_tokens(token: str, rng: random.Random) -> list[str]:
    if not token.isdigit():
        return [token]
    if len(token) <= 4 and token[0] != "0" and rng.random() < 0.6:
        return list(read_count(int(token)))
    return list(read_digits(token, rng, style="plain"))


def spoken_copy(item: LabelledAddress, rng: random.Random) -> LabelledAddress:
    """The address as said on the phone: numbers read out, no punctuation, in context."""
    tokens: list[str] = []
    tags: list[str] = []
    for tok, tag in zip(item.tokens, item.tags, strict=True):
        if not tok.isalnum():
            continue  # ASR output carries no punctuation
        pieces = _spoken_tokens(tok, rng)
        tokens.extend(pieces)
        inner = "I-" + tag[2:] if tag != "O" else "O"
        tags.extend([tag] + [inner] * (len(pieces) - 1))
    prefix = list(rng.choice(PREFIXES)) if rng.random() < 0.8 else []
    suffix = list(rng.choice(SUFFIXES)) if rng.random() < 0.7 else []
    return LabelledAddress(
        tuple(prefix + tokens + suffix),
        tuple(["O"] * len(prefix) + tags + ["O"] * len(suffix)),
    )


def _features(
    items: Sequence[LabelledAddress],
    segmenter: Any,
    gazetteer: Mapping[str, str],
    feature_set: int,
) -> list[list[list[str]]]:
    out = []
    for item in items:
        words = [str(w) for w in segmenter.lcut("".join(item.tokens), HMM=False)]
        out.append(sequence_features(item.tokens, words, gazetteer, feature_set))
    return out


def evaluate(parser: AddressParser, corpus: Sequence[LabelledAddress]) -> dict[str, Any]:
    """Entity-level P/R/F1 of ``parser`` on a labelled corpus (overall and per label)."""
    predicted = [[tag for tag, _ in parser.tag_tokens(item.tokens)] for item in corpus]
    overall, per_label = entity_scores([item.tags for item in corpus], predicted)
    return {
        "precision": overall.precision,
        "recall": overall.recall,
        "f1": overall.f1,
        "entities": overall.support,
        "per_label": {
            k: {"precision": v.precision, "recall": v.recall, "f1": v.f1, "support": v.support}
            for k, v in per_label.items()
        },
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    import pycrfsuite  # type: ignore[import-untyped]  # ships no py.typed marker

    output: Path = args.output or trained_path()
    output.mkdir(parents=True, exist_ok=True)
    if not args.train.is_file():
        raise FileNotFoundError(f"training file not found: {args.train}")
    started = time.monotonic()
    train = read_corpus(args.train.read_text(encoding="utf-8").splitlines())
    rng = random.Random(args.seed)
    segmenter = _new_segmenter()

    class _Trainer(pycrfsuite.Trainer):  # type: ignore[misc]  # untyped base
        """Logs progress every 25 iterations instead of crfsuite's verbose stdout."""

        def message(self, text: str) -> None:
            pass

        def on_iteration(self, log: str, info: dict[str, Any]) -> None:
            if info.get("num", 0) % 25 == 0:
                logger.info(
                    "address CRF iteration %s loss %.1f active features %s",
                    info.get("num"),
                    info.get("loss", 0.0),
                    info.get("active_features"),
                )

    folds = 5
    trainer = _Trainer(verbose=False)
    for k in range(folds):
        part = train[k::folds]
        others = [item for n, item in enumerate(train) if n % folds != k]
        gazetteer = build_gazetteer(others)
        extra = [spoken_copy(item, rng) for item in part if rng.random() < args.augment]
        for item, feats in zip(
            [*part, *extra],
            _features([*part, *extra], segmenter, gazetteer, args.feature_set),
            strict=True,
        ):
            trainer.append(feats, list(item.tags))
    trainer.set_params(
        {
            "c1": args.c1,
            "c2": args.c2,
            "max_iterations": args.max_iterations,
            "feature.possible_transitions": True,
        }
    )
    model_path = output / MODEL_FILE
    trainer.train(str(model_path))
    full_gazetteer = build_gazetteer(train)
    (output / GAZETTEER_FILE).write_text(
        json.dumps(full_gazetteer, ensure_ascii=False, sort_keys=True, indent=0) + "\n",
        encoding="utf-8",
    )
    train_s = time.monotonic() - started

    parser = load_address_parser(output)
    metrics: dict[str, Any] = {}
    if args.dev.is_file():
        dev = read_corpus(args.dev.read_text(encoding="utf-8").splitlines())
        metrics["dev"] = evaluate(parser, dev)
        spoken_rng = random.Random(args.seed + 1)
        metrics["dev_spoken"] = evaluate(parser, [spoken_copy(d, spoken_rng) for d in dev])
    provenance = {
        "artefact": MODEL_FILE,
        "gazetteer": GAZETTEER_FILE,
        "sha256": {
            MODEL_FILE: sha256_file(model_path),
            GAZETTEER_FILE: sha256_file(output / GAZETTEER_FILE),
        },
        "size_bytes": model_path.stat().st_size + (output / GAZETTEER_FILE).stat().st_size,
        "data": {
            "train": str(args.train),
            "train_sha256": sha256_file(args.train),
            "train_addresses": len(train),
            "dev": str(args.dev),
            "source": "Li & Lu, NAACL 2019, neural-chinese-address-parsing (licence unstated; "
            "development use, see ../shared/data/README)",
        },
        "command": "jiesu train address " + " ".join(sys.argv[3:]),
        "parameters": {
            "c1": args.c1,
            "c2": args.c2,
            "max_iterations": args.max_iterations,
            "augment": args.augment,
            "seed": args.seed,
            "gazetteer_jackknife_folds": folds,
            "feature_set": args.feature_set,
        },
        "metrics": metrics,
        "train_seconds": round(train_s, 1),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "tool": f"python-crfsuite {pycrfsuite.__version__ if hasattr(pycrfsuite, '__version__') else ''}".strip(),
    }
    (output / PROVENANCE_FILE).write_text(
        json.dumps(provenance, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return provenance
