"""The hotword evaluation set generator: hotword list, sentences, manifest, audio files."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from jiesu.bench.hotword_set import (
    CHANNELS,
    DEFAULT_HOTWORDS,
    MANIFEST_FIELDS,
    RATE,
    SENTENCES,
    VOICES,
    build_hotword_set,
    espeak_available,
    hotwords_in,
    load_hotwords,
    read_manifest,
    read_wav,
)

needs_espeak = pytest.mark.skipif(
    not espeak_available(),
    reason="espeak-ng is not installed (apt-get install -y espeak-ng); the set cannot be synthesised",
)


def test_configured_hotwords_hold_the_issue_terms() -> None:
    words = load_hotwords(DEFAULT_HOTWORDS)
    for term in ("社保缴费", "公积金提取", "居住证", "医保报销", "不动产登记", "人社局", "居委会"):
        assert term in words
    assert len(words) == len(set(words)) >= 33


def test_load_hotwords_reads_every_section_in_order(tmp_path: Path) -> None:
    path = tmp_path / "hw.toml"
    path.write_text(
        '[hotwords]\na = ["甲乙", " ", "丙丁"]\nb = ["戊己", "甲乙"]\n', encoding="utf-8"
    )
    assert load_hotwords(path) == ["甲乙", "丙丁", "戊己"]
    path.write_text('[other]\na = ["甲乙"]\n', encoding="utf-8")
    with pytest.raises(ValueError, match="no \\[hotwords\\]"):
        load_hotwords(path)


def test_every_sentence_is_short_and_holds_a_hotword() -> None:
    words = load_hotwords(DEFAULT_HOTWORDS)
    assert 40 <= len(SENTENCES) <= 60
    assert len(set(SENTENCES)) == len(SENTENCES)
    for sentence in SENTENCES:
        assert 8 <= len(sentence) <= 20, sentence
        assert hotwords_in(sentence, words), sentence
    used = {w for s in SENTENCES for w in hotwords_in(s, words)}
    assert used == set(words), "every configured hotword is exercised"


def test_hotwords_in_prefers_the_longest_match() -> None:
    words = ["公积金", "住房公积金", "居住证"]
    assert hotwords_in("住房公积金和居住证", words) == ["住房公积金", "居住证"]


def _rate(path: Path) -> int:
    with wave.open(str(path), "rb") as handle:
        return handle.getframerate()


def _high_band_share(pcm: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(pcm), 1 / RATE)
    return float(spectrum[freqs > 4200].sum() / spectrum.sum())


@needs_espeak
def test_generator_writes_a_manifest_and_audio(tmp_path: Path) -> None:
    out = tmp_path / "set"
    sentences = SENTENCES[:3]
    voices = VOICES[:2]
    manifest = build_hotword_set(out, voices=voices, sentences=sentences)
    assert manifest == out / "trans.tsv"
    rows = read_manifest(manifest)
    assert len(rows) == len(sentences) * len(voices) * len(CHANNELS)
    assert tuple(rows[0].keys()) == MANIFEST_FIELDS
    words = load_hotwords(DEFAULT_HOTWORDS)
    assert {r["voice"] for r in rows} == {v.name for v in voices}
    assert {r["channel"] for r in rows} == set(CHANNELS)
    for row in rows:
        assert row["text"] in sentences
        assert row["hotwords"].split() == hotwords_in(row["text"], words)
        assert any(word in row["text"] for word in words)
        path = out / row["file"]
        assert path.is_file()
        assert _rate(path) == RATE
        pcm, _ = read_wav(path)
        assert 1.0 < len(pcm) / RATE < 10.0
        assert np.abs(pcm).max() > 1000, "not silence"
    # The G.711 copy went through an 8 kHz line: next to nothing above 4 kHz, unlike the wide one.
    wide, _ = read_wav(out / rows[0]["file"].replace("g711u", "wide"))
    phone, _ = read_wav(out / rows[0]["file"].replace("wide", "g711u"))
    assert _high_band_share(wide) > 10 * _high_band_share(phone)


@needs_espeak
def test_generator_is_deterministic_and_rebuilds_only_when_missing(tmp_path: Path) -> None:
    kwargs = {"voices": VOICES[:1], "sentences": SENTENCES[:2]}
    first = build_hotword_set(tmp_path / "a", **kwargs)
    other = build_hotword_set(tmp_path / "b", **kwargs)
    rows = read_manifest(first)
    for row in rows:
        assert (first.parent / row["file"]).read_bytes() == (
            other.parent / row["file"]
        ).read_bytes()
    clip = first.parent / rows[0]["file"]
    stamp = first.stat().st_mtime_ns
    assert build_hotword_set(tmp_path / "a", **kwargs) == first
    assert first.stat().st_mtime_ns == stamp, "a complete set is not regenerated"
    clip.unlink()
    build_hotword_set(tmp_path / "a", **kwargs)
    assert clip.is_file(), "a missing clip triggers a rebuild"


def test_a_sentence_without_hotword_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="without a configured hotword"):
        build_hotword_set(tmp_path, voices=VOICES[:1], sentences=("今天天气很好我出去走走",))
