"""Risk detection: precision and recall of the shipped rules on a list of labelled phrasings.

The list (``bench/data/risk_phrases.tsv`` by default; ``--data`` for another) has a header
``label  text  split``; ``label`` is a risk kind (fire, gas_leak, medical, self_harm, threat, violence,
trapped, vulnerable_person) or ``none`` for ordinary complaints, many of which mention 火 or 死
in passing (火车站, 火锅店, 气死我了, 死胡同). ``split`` is ``tuned`` for lines the rules were
developed against and ``fresh`` for lines written afterwards and scored without changing the
rules (the figure to trust more); results are given overall and per split. Each line is run through
:func:`jiesu.engine.alerts.risk.find_risks` with the rules of ``sip_config/alerts.toml``.

A positive line counts as detected when any risk fires (the agent gets an urgent alert); the
kind is scored separately. Precision: detected positives over all lines that fired.
Targets: recall >= 0.95 (recall matters most) and precision >= 0.90. The list was written by
the same engineer as the rules, so these are optimistic development figures.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path
from typing import Any

from jiesu.engine.alerts.config import load_alerts
from jiesu.engine.alerts.risk import DEFAULT_TARGETS, RiskRules, find_risks
from jiesu.models.registry import shipped_path

DEFAULT_LIST = shipped_path("bench", "data", "risk_phrases.tsv")
TARGET_RECALL = 0.95
TARGET_PRECISION = 0.90


def read_list(path: Path) -> list[tuple[str, str, str]]:
    """(label, text, split) rows; a row with an unknown label is an error naming the line."""
    rows: list[tuple[str, str, str]] = []
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if header != ["label", "text", "split"]:
            raise ValueError(f"{path}: expected header 'label<TAB>text<TAB>split', got {header!r}")
        for number, row in enumerate(reader, start=2):
            if len(row) != 3 or (row[0] != "none" and row[0] not in DEFAULT_TARGETS):
                raise ValueError(
                    f"{path}:{number}: expected 'kind<TAB>text<TAB>split', got {row!r}"
                )
            rows.append((row[0], row[1], row[2]))
    return rows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=DEFAULT_LIST, help="label<TAB>text list")
    parser.add_argument("--alerts", type=Path, default=None, help="alerts.toml (default: shipped)")


def _score(rows: list[tuple[str, str, str]], rules: RiskRules) -> dict[str, Any]:
    tp = fp = fn = right_kind = 0
    per_kind: dict[str, list[int]] = {}
    false_alarms: list[str] = []
    missed: list[str] = []
    for label, text, _ in rows:
        kinds = [h.kind for h in find_risks(text, rules)]
        if label == "none":
            if kinds:
                fp += 1
                false_alarms.append(f"{text} -> {','.join(kinds)}")
            continue
        counts = per_kind.setdefault(label, [0, 0])
        counts[1] += 1
        if kinds:
            tp += 1
            counts[0] += 1
            right_kind += label in kinds
        else:
            fn += 1
            missed.append(f"{label}: {text}")
    negatives = len(rows) - tp - fn
    return {
        "lines": len(rows),
        "positives": tp + fn,
        "negatives": negatives,
        "precision": round(tp / max(1, tp + fp), 4),
        "recall": round(tp / max(1, tp + fn), 4),
        "kind_accuracy": round(right_kind / max(1, tp), 4),
        "false_positive_rate": round(fp / max(1, negatives), 4),
        "recall_per_kind": {k: round(v[0] / v[1], 4) for k, v in sorted(per_kind.items())},
        "false_alarms": false_alarms,
        "missed": missed,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    rows = read_list(args.data)
    rules = load_alerts(args.alerts).risk_rules()
    started = time.perf_counter()
    overall = _score(rows, rules)
    elapsed = time.perf_counter() - started
    splits = sorted({split for _, _, split in rows})
    result: dict[str, Any] = {"data": str(args.data), **overall}
    result["splits"] = {
        split: _score([r for r in rows if r[2] == split], rules) for split in splits
    }
    result["ms_per_utterance"] = round(1000 * elapsed / max(1, len(rows)), 3)
    result["target"] = f"recall >= {TARGET_RECALL}, precision >= {TARGET_PRECISION}"
    result["target_met"] = (
        overall["recall"] >= TARGET_RECALL and overall["precision"] >= TARGET_PRECISION
    )
    result["note"] = (
        "development list; 'tuned' lines were written alongside the rules (optimistic), "
        "'fresh' lines afterwards and not tuned on"
    )
    return result
