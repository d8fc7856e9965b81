"""Address parsing: entity-level precision/recall/F1 per label and overall of the shipped parser.

``--data`` is a char-BIO file of the address-parsing corpus's kind (one token and tag a line, a
blank line between addresses); by default the corpus's dev file. An entity counts when its label
and both boundaries match. Measured twice: on the file as written, and on an ASR-like copy of
each address (numbers read out as words, punctuation removed, set inside a spoken sentence whose
extra words are tagged O), which is what the parser meets in a call. Target: overall F1 >= 0.90
on the file as written (JSON key ``f1``).
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path
from typing import Any

from jiesu.engine.assist.extract.address_corpus import read_corpus
from jiesu.engine.assist.loaders import load_address_parser
from jiesu.engine.train.address import DEFAULT_DATA, evaluate, spoken_copy
from jiesu.models.registry import trained_path

TARGET = 0.90


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA / "dev.txt", help="char-BIO file")
    parser.add_argument("--model", type=Path, default=None, help="model folder (default: shipped)")
    parser.add_argument("--seed", type=int, default=2019, help="seed of the ASR-like copies")
    parser.add_argument("--no-spoken", action="store_true", help="skip the ASR-like measurement")


def run(args: argparse.Namespace) -> dict[str, Any]:
    if not args.data.is_file():
        raise FileNotFoundError(f"address data not found: {args.data}")
    folder: Path = args.model or trained_path()
    parser = load_address_parser(folder)
    corpus = read_corpus(args.data.read_text(encoding="utf-8").splitlines())
    started = time.monotonic()
    written = evaluate(parser, corpus)
    seconds = time.monotonic() - started
    result: dict[str, Any] = {
        "data": str(args.data),
        "addresses": len(corpus),
        "model": str(folder),
        "f1": written["f1"],
        "precision": written["precision"],
        "recall": written["recall"],
        "entities": written["entities"],
        "per_label": written["per_label"],
        "ms_per_address": round(1000 * seconds / max(1, len(corpus)), 2),
    }
    if not args.no_spoken:
        rng = random.Random(args.seed)
        spoken = evaluate(parser, [spoken_copy(item, rng) for item in corpus])
        result["spoken"] = {
            "f1": spoken["f1"],
            "precision": spoken["precision"],
            "recall": spoken["recall"],
            "per_label": spoken["per_label"],
        }
    result["target"] = f"overall entity F1 >= {TARGET} on the file as written"
    result["target_met"] = written["f1"] >= TARGET
    return result
