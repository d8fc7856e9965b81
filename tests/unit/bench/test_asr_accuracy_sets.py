"""asr-accuracy's per-set summary: excess over plain, worst utterances, agreement-only sets,
and which manifests each ``--split`` evaluates (no model needed)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from jiesu.bench.asr_accuracy import (
    AGREEMENT_NOTE,
    ManifestSpec,
    Outcome,
    Utterance,
    _score,
    add_arguments,
    resolve_manifests,
    summarize_set,
)
from jiesu.engine.speech.textnorm import TextNormalizer

NORMALIZER = TextNormalizer()


def outcome(name: str, ref: str, jiesu: str, plain: str) -> Outcome:
    return Outcome(
        Utterance(Path(name), ref),
        jiesu,
        plain,
        _score(ref, jiesu, NORMALIZER),
        _score(ref, plain, NORMALIZER),
    )


SPEC = ManifestSpec(Path("var/speechsets/tune/long/trans.tsv"), "tune", "long")


def test_a_single_collapse_is_counted_not_averaged_away() -> None:
    ref = "如果大家想听到更丰富更及时的直播内容"
    collapse = "如果如果如果如果如果如果如果如果如果如果"
    outcomes = [outcome(f"u{i}.wav", ref, ref, ref) for i in range(9)]
    outcomes += [outcome("loop.wav", ref, collapse, ref)]
    outcomes += [outcome("better.wav", "七点半开会", "7:30开会", "七点半开会。")]
    outcomes += [outcome("worse.wav", "换一首歌", "换一首", "换一首歌")]
    entry = summarize_set(SPEC, "16k", outcomes, NORMALIZER)
    assert entry["split"] == "tune" and entry["set"] == "long" and entry["scored"] is True
    assert entry["jiesu_worse_utts"] == 2
    expected = outcomes[9].jiesu_errors.edits + 1
    assert entry["jiesu_excess_edits"] == expected
    assert entry["jiesu_better_utts"] == 0  # 7:30 and 七点半 score the same
    assert entry["loops"] == {"jiesu": 1, "plain": 0}
    worst = entry["worst"]
    assert isinstance(worst, list) and [w["file"] for w in worst] == ["loop.wav", "worse.wav"]
    assert worst[0]["excess"] == outcomes[9].jiesu_errors.edits
    assert float(str(entry["jiesu_cer"])) > float(str(entry["plain_cer"]))


def test_worst_keeps_five() -> None:
    outcomes = [
        outcome(
            f"u{i}.wav",
            "甚至出现交易几乎停滞的情况",
            "甚至" * (i + 1),
            "甚至出现交易几乎停滞的情况",
        )
        for i in range(8)
    ]
    entry = summarize_set(SPEC, "16k", outcomes, NORMALIZER)
    assert entry["jiesu_worse_utts"] == 8
    assert len(entry["worst"]) == 5  # type: ignore[arg-type]


def test_a_set_without_references_reports_agreement_not_cer() -> None:
    spec = ManifestSpec(Path("calls/trans.tsv"), "report", "calls", "en")
    outcomes = [
        outcome(
            "agent-01.wav",
            "",
            "Could you spell that for me?",
            "Could you spell that for me, please?",
        ),
        outcome("agent-02.wav", "", "Okay. Thank you.", "Okay, thank you."),
    ]
    entry = summarize_set(spec, "16k", outcomes, NORMALIZER)
    assert entry["scored"] is False and entry["language"] == "en"
    assert "jiesu_cer" not in entry and "plain_cer" not in entry
    assert entry["note"] == AGREEMENT_NOTE and "not accuracy" in AGREEMENT_NOTE
    plain_chars = len("couldyouspellthatformeplease") + len("okaythankyou")
    assert entry["pseudo_reference_chars"] == plain_chars
    assert entry["agreement_cer"] == round(len("please") / plain_chars, 4)
    assert [w["file"] for w in entry["worst"]] == ["agent-01.wav"]  # type: ignore[union-attr]


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_dev_split_is_the_default_and_keeps_the_shared_manifests() -> None:
    split, specs = resolve_manifests(parse())
    assert split == "dev"
    assert [s.set for s in specs][:1] == ["mandarin"]
    assert all(s.split == "dev" and s.language == "zh" for s in specs)
    split, specs = resolve_manifests(parse("--manifest", "x/trans.tsv"))
    assert (split, [(s.path, s.set) for s in specs]) == ("dev", [(Path("x/trans.tsv"), "x")])


def test_manifest_and_split_exclude_each_other() -> None:
    with pytest.raises(SystemExit, match="exclude"):
        resolve_manifests(parse("--manifest", "x/trans.tsv", "--split", "tune"))


def test_split_without_data_stops_with_the_folder_named(tmp_path: Path) -> None:
    args = parse("--split", "report", "--data", str(tmp_path / "nowhere"))
    with pytest.raises(SystemExit, match="nowhere"):
        resolve_manifests(args)


def test_split_lists_only_its_own_sets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import jiesu.bench.speechsets as speechsets

    built = speechsets.manifest_paths(tmp_path)
    monkeypatch.setattr(speechsets, "build_speechsets", lambda data, out, seed: built)
    split, specs = resolve_manifests(parse("--split", "report"))
    assert split == "report"
    assert {s.set for s in specs} == {"clips", "long", "fast", "turns", "calls"}
    assert {s.language for s in specs if s.set == "calls"} == {"en"}
    assert {s.language for s in specs if s.set != "calls"} == {"zh"}
    split, specs = resolve_manifests(parse("--split", "tune"))
    assert {s.set for s in specs} == {"clips", "long", "fast", "turns"}
    assert all(str(s.path).startswith(str(tmp_path / "tune")) for s in specs)
