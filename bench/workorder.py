"""Work order end to end: scripted hotline calls in, the finished work order out, vs a reference.

Each call of ``--data`` (JSON lines: ``call_id``, ``start`` (ISO time of the call, for relative
times), ``utterances`` as ``[leg, text]`` pairs in the order spoken, ``reference``) is replayed
final by final through the production :class:`~jiesu.engine.assist.filler.TicketFiller` with the
shipped extractors and classifiers (:func:`~jiesu.engine.assist.loaders.load_toolkit`), exactly
as the assist stage runs it on a live call. The finished order's fields are compared with the
reference:

* ``incident_time``: the date (``YYYY-MM-DD``) must match;
* ``category``: the reference's levels must be a prefix of the predicted path;
* ``summary_keywords``: the share of the listed words found in the summary (reported apart);
* every other field (``caller_name``, ``callback_phone``, ``id_number``, ``address.*``,
  ``request_type``, ``urgency``, ``department``): exact match.

Fields the reference does not list are not scored. Target: field accuracy >= 0.85 over all
scored fields of all calls. The scripts are in ``bench/data/workorder/calls.jsonl`` (written for
this benchmark: typical 12345 calls with spoken digits, self-corrections, surname descriptions
like 三横王, the agent confirming details).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from jiesu.bench.replay import paced_finals
from jiesu.engine.assist.filler import TicketFiller
from jiesu.engine.assist.loaders import SCHEMA_FILE, load_schema, load_toolkit
from jiesu.engine.assist.toolkit import AssistToolkit
from jiesu.models.registry import shipped_path

DEFAULT_DATA = shipped_path("bench", "data", "workorder", "calls.jsonl")
TARGET_ACCURACY = 0.85


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="scripted calls (default: %(default)s)"
    )
    parser.add_argument("--schema", type=Path, default=SCHEMA_FILE, help="work-order schema TOML")
    parser.add_argument(
        "--departments", type=Path, default=None, help="departments TOML (default: shipped)"
    )


def load_calls(path: Path) -> list[dict[str, Any]]:
    calls = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        call = json.loads(line)
        for key in ("call_id", "start", "utterances", "reference"):
            if key not in call:
                raise ValueError(f"{path}: line {n}: missing {key!r}")
        calls.append(call)
    return calls


def field_matches(name: str, value: str, expected: str) -> bool:
    if name == "incident_time":
        return value[:10] == expected[:10]
    if name == "category":
        return value.split("/")[: len(expected.split("/"))] == expected.split("/")
    return value == expected


def fill_call(filler: TicketFiller, call: Mapping[str, Any]) -> tuple[dict[str, str], list[float]]:
    """Replay one call; the finished order's values and the time each final took (ms)."""
    state = filler.start(call["call_id"], datetime.fromisoformat(call["start"]))
    times: list[float] = []
    for final in paced_finals(call["utterances"], first=1):
        began = time.perf_counter()
        state, _ = filler.on_final(state, final)
        times.append(1000 * (time.perf_counter() - began))
    return state.order.plain(), times


def score(calls: list[dict[str, Any]], filler: TicketFiller) -> dict[str, Any]:
    per_field: dict[str, dict[str, int]] = {}
    per_call: list[dict[str, Any]] = []
    keyword_hits = keyword_total = 0
    fill_ms: list[float] = []
    for call in calls:
        order, times = fill_call(filler, call)
        fill_ms += times
        wrong: dict[str, dict[str, str]] = {}
        for name, expected in call["reference"].items():
            if name == "summary_keywords":
                summary = order.get("summary", "")
                found = [k for k in expected if k in summary]
                keyword_hits += len(found)
                keyword_total += len(expected)
                continue
            value = order.get(name, "")
            ok = field_matches(name, value, str(expected))
            counts = per_field.setdefault(name, {"correct": 0, "total": 0})
            counts["total"] += 1
            counts["correct"] += int(ok)
            if not ok:
                wrong[name] = {"expected": str(expected), "got": value}
        per_call.append(
            {
                "call_id": call["call_id"],
                "wrong": wrong,
                "summary": order.get("summary", ""),
                "department": order.get("department", ""),
                "category": order.get("category", ""),
            }
        )
    correct = sum(c["correct"] for c in per_field.values())
    total = sum(c["total"] for c in per_field.values())
    accuracy = correct / total if total else 0.0
    return {
        "calls": len(calls),
        "fields_scored": total,
        "fields_correct": correct,
        "field_accuracy": round(accuracy, 4),
        "per_field": {
            name: {**c, "accuracy": round(c["correct"] / c["total"], 4)}
            for name, c in sorted(per_field.items())
        },
        "summary_keyword_recall": round(keyword_hits / keyword_total, 4) if keyword_total else None,
        "fill_ms_per_final_p50": round(statistics.median(fill_ms), 2) if fill_ms else None,
        "fill_ms_per_final_max": round(max(fill_ms), 2) if fill_ms else None,
        "per_call": per_call,
    }


def run(args: argparse.Namespace, toolkit: AssistToolkit | None = None) -> dict[str, Any]:
    calls = load_calls(args.data)
    schema = load_schema(args.schema)
    began = time.monotonic()
    kit = toolkit if toolkit is not None else load_toolkit(args.departments)
    load_s = time.monotonic() - began
    result = score(calls, TicketFiller(schema, kit))
    return {
        "benchmark": "workorder",
        "data": str(args.data),
        "target": f"field accuracy >= {TARGET_ACCURACY}",
        "target_met": result["field_accuracy"] >= TARGET_ACCURACY,
        "toolkit_load_s": round(load_s, 2),
        **result,
    }
