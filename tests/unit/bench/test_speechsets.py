"""The development speech sets: split, trimming, joining, speed changes, manifests, planning."""

from __future__ import annotations

import itertools
import time
import wave
from pathlib import Path

import numpy as np
import pytest
from shared_data import SHARED_DATA

from jiesu.bench.speechsets import (
    CALLS_README,
    CALLS_SET,
    CLIPS,
    FAST_FACTORS,
    LONG_ITEMS,
    MANIFEST_HEADER,
    MAX_ITEM_S,
    MAX_JOIN_GAP_MS,
    RATE,
    SETS,
    SPLITS,
    TURN_GAP_MS,
    TURN_ITEMS,
    ManifestRow,
    SourceClip,
    SpeechDataMissing,
    build_speechsets,
    clips_of,
    format_manifest,
    is_agreement_only,
    join,
    match_level,
    plan_sets,
    quiet_cuts,
    read_manifest,
    read_wav,
    reference,
    render,
    split_of,
    summarize,
    tape_speed,
    trim_silence,
    write_wav,
    wsola,
)


def tone(seconds: float, freq: float = 220.0, amplitude: float = 8000.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return np.rint(amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), dtype=np.int16)


def dominant_hz(pcm: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64) * np.hanning(len(pcm))))
    return float(np.fft.rfftfreq(len(pcm), 1 / RATE)[int(np.argmax(spectrum))])


SECONDS = {c.name: min(c.seconds, 27.5) for c in CLIPS}


# ---- the split


def test_split_never_shares_a_clip_and_covers_all_eleven() -> None:
    tune = {c.name for c in clips_of("tune")}
    report = {c.name for c in clips_of("report")}
    assert not tune & report
    assert len(tune | report) == len(CLIPS) == 11
    assert {c.split for c in CLIPS} == set(SPLITS)
    # Balanced by duration: within 10 % of each other.
    durations = [sum(c.seconds for c in clips_of(s)) for s in SPLITS]
    assert abs(durations[0] - durations[1]) <= 0.1 * max(durations)
    # Each group has read speech and free speech.
    for split in SPLITS:
        kinds = {c.kind for c in clips_of(split)}
        assert "read" in kinds and kinds - {"read"}


def test_split_of_and_unknown_split() -> None:
    assert split_of("speechio_CCTV_1") == "tune"
    assert split_of("aishell-BAC009S0724W0121") == "report"
    with pytest.raises(ValueError, match="unknown split"):
        clips_of("dev")


def test_every_planned_item_stays_inside_its_split() -> None:
    items = plan_sets(SECONDS, seed=7)
    assert items
    for item in items:
        assert {split_of(name) for name in item.sources} == {item.split}


# ---- signal helpers


def test_trim_silence_cuts_leading_and_trailing_silence_only() -> None:
    speech = tone(1.0)
    pcm = np.concatenate([silence(0.5), speech, silence(0.2), speech, silence(0.7)])
    trimmed = trim_silence(pcm, pad_ms=0)
    # Inner pause kept, outer silence gone (to within one 10 ms frame).
    assert abs(len(trimmed) - int(2.2 * RATE)) <= RATE // 100
    assert len(trim_silence(pcm, pad_ms=30)) == len(trimmed) + 2 * 480


def test_trim_silence_ignores_low_noise_and_returns_empty_for_silence() -> None:
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 30, int(0.4 * RATE)).astype(np.int16)  # about -60 dBFS
    pcm = np.concatenate([noise, tone(0.5), noise])
    assert abs(len(trim_silence(pcm, pad_ms=0)) - RATE // 2) <= RATE // 100
    assert len(trim_silence(noise)) == 0
    assert len(trim_silence(silence(1.0))) == 0


def test_join_with_gaps_and_overlaps() -> None:
    a, b, c = tone(0.5), tone(0.3, 440), tone(0.2, 660)
    gap, overlap = int(0.05 * RATE), -int(0.1 * RATE)
    pcm, starts = join([a, b, c], [gap, overlap])
    assert starts == [0, len(a) + gap, len(a) + gap + len(b) + overlap]
    assert len(pcm) == len(a) + gap + len(b) + overlap + len(c)
    assert not pcm[len(a) : len(a) + gap].any()  # the gap is silence
    # The overlap holds both signals mixed.
    mid = starts[2] + 10
    assert pcm[mid] == np.clip(int(b[mid - starts[1]]) + int(c[10]), -32768, 32767)


def test_join_clips_instead_of_wrapping_and_checks_gap_count() -> None:
    loud = np.full(100, 30000, dtype=np.int16)
    pcm, _ = join([loud, loud], [-100])
    assert pcm.max() == 32767 and len(pcm) == 100
    with pytest.raises(ValueError, match="gaps"):
        join([loud, loud], [])


def test_match_level_brings_clips_to_one_level_without_clipping() -> None:
    quiet, loud = tone(1.0, amplitude=500), tone(1.0, amplitude=20000)
    a, b = match_level(quiet), match_level(loud)
    rms = [float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) for x in (a, b)]
    assert abs(rms[0] - rms[1]) / rms[1] < 0.01
    assert np.abs(a).max() < 32767


def test_tape_speed_shortens_and_raises_pitch() -> None:
    pcm = tone(2.0, 300)
    fast = tape_speed(pcm, 1.3)
    assert abs(len(fast) - len(pcm) / 1.3) <= 2
    assert abs(dominant_hz(fast) - 390) < 5


@pytest.mark.parametrize("factor", FAST_FACTORS)
def test_wsola_shortens_and_keeps_pitch(factor: float) -> None:
    pcm = tone(2.0, 300)
    fast = wsola(pcm, factor)
    assert len(fast) == round(len(pcm) / factor)
    assert abs(dominant_hz(fast[RATE // 10 : -RATE // 10]) - 300) < 5
    # A steady tone stays steady: no dropouts or clicks from misaligned frames.
    body = fast[RATE // 10 : -RATE // 10].astype(np.float64)
    envelope = np.sqrt(np.convolve(body**2, np.ones(160) / 160, mode="valid"))
    assert envelope.min() > 0.9 * envelope.max()


def test_quiet_cuts_cut_at_the_pause_and_respect_the_limit() -> None:
    pcm = np.concatenate([tone(12.0), silence(0.5), tone(20.0), silence(0.5), tone(8.0)])
    pieces = quiet_cuts(pcm, RATE, max_s=28.0, min_s=10.0)
    assert pieces[0][0] == 0 and pieces[-1][1] == len(pcm)
    assert all(b == c for (_, b), (c, _) in itertools.pairwise(pieces))
    assert all(end - start <= 28 * RATE for start, end in pieces)
    # The first cut lies inside the first pause.
    assert 12.0 * RATE <= pieces[0][1] <= 12.5 * RATE


# ---- planning


def test_plan_is_deterministic_for_a_seed_and_differs_between_seeds() -> None:
    assert plan_sets(SECONDS, seed=3) == plan_sets(SECONDS, seed=3)
    assert plan_sets(SECONDS, seed=3) != plan_sets(SECONDS, seed=4)


def test_plan_shapes() -> None:
    items = plan_sets(SECONDS, seed=1)
    for split in SPLITS:
        group = clips_of(split)
        mine = [i for i in items if i.split == split]
        by_set = {name: [i for i in mine if i.set == name] for name in SETS}
        assert {i.sources[0] for i in by_set["clips"]} == {c.name for c in group}
        assert len(by_set["long"]) == LONG_ITEMS
        assert len(by_set["turns"]) == TURN_ITEMS
        assert len(by_set["fast"]) == len(group) * 2 * len(FAST_FACTORS) + LONG_ITEMS
        assert {i.method for i in by_set["fast"]} == {"tape", "wsola"}
        for item in by_set["long"]:
            assert len(item.sources) >= 2
            assert all(0 <= g <= MAX_JOIN_GAP_MS for g in item.gaps_ms)
            assert sum(SECONDS[s] for s in item.sources) + sum(item.gaps_ms) / 1000 <= MAX_ITEM_S
        assert any(sum(SECONDS[s] for s in i.sources) > 15 for i in by_set["long"]), (
            "no long run crosses the endpointer's 15 s split"
        )
        origin = {c.name: c.origin for c in group}
        gaps = [g for i in by_set["turns"] for g in i.gaps_ms]
        assert all(TURN_GAP_MS[0] <= g <= TURN_GAP_MS[1] for g in gaps)
        assert min(gaps) < 0 < max(gaps)  # overlaps and pauses both occur
        for item in by_set["turns"]:
            assert all(origin[a] != origin[b] for a, b in itertools.pairwise(item.sources))
        assert len({i.file for i in mine if i.set != "clips"}) == len(mine) - len(group)


def test_turns_always_change_voice_when_a_group_has_one_voice_twice() -> None:
    group = [
        SourceClip(f"speech/x/{name}.wav", "read", origin, "tune", 4.0)
        for name, origin in [("a1", "A"), ("a2", "A"), ("a3", "A"), ("b1", "B"), ("c1", "C")]
    ]
    seconds = {c.name: c.seconds for c in group}
    origin = {c.name: c.origin for c in group}
    for seed in range(20):
        for item in plan_sets(seconds, seed, group):
            if item.set == "turns":
                assert all(origin[a] != origin[b] for a, b in itertools.pairwise(item.sources))


def test_render_from_synthetic_clips() -> None:
    # Every clip a tone of its own pitch with silence around it.
    audio = {
        c.name: np.concatenate(
            [silence(0.3), tone(min(c.seconds, 9.0), 200 + 20 * i), silence(0.4)]
        )
        for i, c in enumerate(CLIPS)
    }
    seconds = {name: len(trim_silence(pcm)) / RATE for name, pcm in audio.items()}
    items = plan_sets(seconds, seed=2)
    by_kind = {(i.set, i.method, i.speed, len(i.sources) > 1): i for i in items}
    clip = by_kind[("clips", "", 1.0, False)]
    assert render(clip, audio) is audio[clip.sources[0]]
    tape = by_kind[("fast", "tape", 1.4, False)]
    stretched = by_kind[("fast", "wsola", 1.4, False)]
    source = audio[tape.sources[0]]
    pitch = dominant_hz(source)
    for item, expected in ((tape, pitch * 1.4), (stretched, pitch)):
        out = render(item, audio)
        assert abs(len(out) - len(source) / 1.4) <= 2
        assert abs(dominant_hz(out) - expected) < 6, item
    for name in ("long", "turns"):
        item = by_kind[(name, "", 1.0, True)]
        out = render(item, audio)
        expected = sum(seconds[s] for s in item.sources) * RATE
        expected += sum(item.gaps_ms) * RATE // 1000
        assert abs(len(out) - expected) <= len(item.sources) * RATE // 100
    long_fast = by_kind[("fast", "wsola", 1.3, True)]
    assert len(render(long_fast, audio)) < 0.8 * sum(seconds[s] for s in long_fast.sources) * RATE


def test_reference_joins_the_sources_in_start_order() -> None:
    item = plan_sets(SECONDS, seed=1)[-1]
    refs = {name: f"<{name}>" for name in SECONDS}
    assert reference(item, refs) == "".join(f"<{name}>" for name in item.sources)


# ---- manifests and files


def test_manifest_format_round_trips_and_refuses_tabs(tmp_path: Path) -> None:
    rows = [ManifestRow("a.wav", "你好。", "clips: a"), ManifestRow("b.wav", "", "calls: b")]
    text = format_manifest(rows)
    assert text.splitlines()[0] == "\t".join(MANIFEST_HEADER) == "file\ttext\tsource"
    path = tmp_path / "trans.tsv"
    path.write_text(text, encoding="utf-8")
    assert read_manifest(path) == rows
    assert not is_agreement_only(path)
    path.write_text(format_manifest(rows[1:]), encoding="utf-8")
    assert is_agreement_only(path)
    with pytest.raises(ValueError, match="tab"):
        format_manifest([ManifestRow("a.wav", "x\ty", "")])


def test_wav_round_trip(tmp_path: Path) -> None:
    pcm = tone(0.1)
    write_wav(tmp_path / "x" / "a.wav", pcm)
    back, rate = read_wav(tmp_path / "x" / "a.wav")
    assert rate == RATE and np.array_equal(back, pcm)
    with wave.open(str(tmp_path / "x" / "a.wav")) as handle:
        assert (handle.getnchannels(), handle.getsampwidth()) == (1, 2)


def test_missing_data_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SpeechDataMissing, match="not found"):
        build_speechsets(tmp_path / "nowhere", tmp_path / "out", 1)


def test_command_line_exits_1_without_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from jiesu.bench.speechsets import main

    assert main(["--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == 1
    assert "nowhere" in capsys.readouterr().err


# ---- the real sets


@pytest.mark.skipif(
    not (SHARED_DATA / "speech" / "mandarin").is_dir(),
    reason=f"shared data folder {SHARED_DATA / 'speech' / 'mandarin'} is missing",
)
def test_build_real_sets(tmp_path: Path) -> None:
    began = time.perf_counter()
    paths = build_speechsets(SHARED_DATA, tmp_path, seed=5)
    assert set(paths) == {f"{s}/{n}" for s in SPLITS for n in SETS} | {CALLS_SET}
    figures = summarize(paths)
    for split in SPLITS:
        n = len(clips_of(split))
        assert figures[f"{split}/clips"]["items"] == n
        assert figures[f"{split}/long"]["items"] == LONG_ITEMS
        assert figures[f"{split}/turns"]["items"] == TURN_ITEMS
        assert figures[f"{split}/fast"]["items"] == n * 6 + LONG_ITEMS
        clip_seconds = figures[f"{split}/clips"]["seconds"]
        assert 45 < clip_seconds < 55
        # Sped up 1.2/1.3/1.4 twice, plus the long runs at 1.3.
        expected = clip_seconds * 2 * sum(1 / f for f in FAST_FACTORS)
        assert expected < figures[f"{split}/fast"]["seconds"] < expected + 4 * MAX_ITEM_S
        for name in ("long", "turns"):
            for row in read_manifest(paths[f"{split}/{name}"]):
                pcm, rate = read_wav(paths[f"{split}/{name}"].parent / row.file)
                assert rate == RATE and len(pcm) <= MAX_ITEM_S * RATE
                assert row.text and row.source.startswith(f"{name}: ")
        long_seconds = [
            len(read_wav(paths[f"{split}/long"].parent / r.file)[0]) / RATE
            for r in read_manifest(paths[f"{split}/long"])
        ]
        assert max(long_seconds) > 15
    # The originals are referenced by path, never copied.
    for row in read_manifest(paths["tune/clips"]):
        assert (
            (paths["tune/clips"].parent / row.file).resolve().is_relative_to(SHARED_DATA.resolve())
        )
    assert not list(paths["tune/clips"].parent.glob("*.wav"))
    # Calls: report only, no reference, pieces of at most 28 s at 16 kHz.
    calls = read_manifest(paths[CALLS_SET])
    assert calls and all(row.text == "" for row in calls)
    assert (paths[CALLS_SET].parent / "README").read_text().startswith(CALLS_README)
    for row in calls:
        pcm, rate = read_wav(paths[CALLS_SET].parent / row.file)
        assert rate == RATE and len(pcm) <= MAX_ITEM_S * RATE
    assert 300 < figures[CALLS_SET]["seconds"] <= 2 * 246
    # A second build with the same inputs reuses the files (stamp) and is quick.
    stamp = (tmp_path / "stamp.json").stat().st_mtime_ns
    again = time.perf_counter()
    assert build_speechsets(SHARED_DATA, tmp_path, seed=5) == paths
    assert (tmp_path / "stamp.json").stat().st_mtime_ns == stamp
    assert time.perf_counter() - again < 2
    assert time.perf_counter() - began < 20


@pytest.mark.skipif(
    not (SHARED_DATA / "speech" / "mandarin").is_dir(),
    reason=f"shared data folder {SHARED_DATA / 'speech' / 'mandarin'} is missing",
)
def test_same_seed_same_audio(tmp_path: Path) -> None:
    # One set's audio, rendered twice from the real clips: byte-identical.
    audio = {c.name: read_wav(SHARED_DATA / c.path)[0] for c in CLIPS}
    seconds = {name: len(trim_silence(pcm)) / RATE for name, pcm in audio.items()}
    items = [i for i in plan_sets(seconds, 9) if i.set in ("turns", "long")][:2]
    again = [i for i in plan_sets(seconds, 9) if i.set in ("turns", "long")][:2]
    assert items == again
    for a, b in zip(items, again, strict=True):
        assert np.array_equal(render(a, audio), render(b, audio))
