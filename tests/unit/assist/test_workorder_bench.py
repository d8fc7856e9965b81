"""The end-to-end work-order benchmark's scoring, with the stand-in extractors."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import assist_doubles as doubles

from jiesu.bench import workorder
from jiesu.engine.assist.loaders import SCHEMA_FILE


def write_calls(path: Path, reference: dict[str, object]) -> None:
    call = {
        "call_id": "b1",
        "start": "2026-12-03T09:30:00+08:00",
        "utterances": [
            ["caller", "我叫王小明，我要投诉噪音，昨天晚上十点开始的"],
            ["caller", "在天河区中山大道88号，电话13812345678"],
        ],
        "reference": reference,
    }
    path.write_text(json.dumps(call, ensure_ascii=False) + "\n", encoding="utf-8")


def args_for(path: Path) -> argparse.Namespace:
    return argparse.Namespace(data=path, schema=SCHEMA_FILE, departments=None)


def test_scores_each_reference_field(tmp_path: Path) -> None:
    path = tmp_path / "calls.jsonl"
    write_calls(
        path,
        {
            "caller_name": "王小明",
            "callback_phone": "13812345678",
            "address.district": "天河区",
            "incident_time": "2026-12-02",
            "category": "环境保护/环境污染",
            "request_type": "咨询",  # wrong on purpose: the double says 投诉
            "summary_keywords": ["噪音", "火星"],
        },
    )
    result = workorder.run(args_for(path), toolkit=doubles.toolkit())
    assert result["fields_scored"] == 6 and result["fields_correct"] == 5
    assert result["field_accuracy"] == round(5 / 6, 4)
    assert result["target_met"] is False
    assert result["per_call"][0]["wrong"] == {"request_type": {"expected": "咨询", "got": "投诉"}}
    assert result["summary_keyword_recall"] == 0.5
    assert result["per_field"]["callback_phone"] == {"correct": 1, "total": 1, "accuracy": 1.0}


def test_shipped_scripts_are_well_formed() -> None:
    calls = workorder.load_calls(workorder.DEFAULT_DATA)
    assert len(calls) >= 8
    for call in calls:
        assert {leg for leg, _ in call["utterances"]} <= {"caller", "agent"}
        assert call["reference"], call["call_id"]
