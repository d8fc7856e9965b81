"""``jiesu bench peer`` without servers: stream planning, matching transcripts to clips, summary."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from jiesu.bench.peer import (
    RATE,
    ClipOutcome,
    Observation,
    StreamSpec,
    compare,
    jiesu_observation,
    match_stream,
    overall_target,
    peer_observations,
    peer_python,
    percentile,
    plan_streams,
    ratio,
    rotated,
    stream_audio,
    summarize,
)
from jiesu.bench.peer_sides import check_plan, select_clips, tail_done

SPEC = StreamSpec()
CHUNK = SPEC.chunk  # 1600 samples = 100 ms


def test_streams_rotate_the_clip_list_and_keep_the_harness_pacing() -> None:
    names = [f"c{i}" for i in range(10)]
    assert [rotated(names, i, 4)[0] for i in range(4)] == ["c0", "c2", "c5", "c7"]
    lengths = {"a": 16_000, "b": 8_000, "c": 4_000}
    plans = plan_streams(["a", "b", "c"], lengths, 2, SPEC)
    assert plans[0].clip_order == ["a", "b", "c"]
    assert plans[1].clip_order == ["b", "c", "a"]  # offset 1 * 3 // 2 = 1
    spans = plans[0].spans
    # 0.5 s of lead silence, then the clips with 2 s (32 000 samples) between them.
    assert [(s.start, s.end) for s in spans] == [
        (8_000, 24_000),
        (56_000, 64_000),
        (96_000, 100_000),
    ]
    assert plans[0].samples == 100_000 == plans[1].samples


def test_stream_audio_puts_each_clip_at_its_place_in_silence() -> None:
    audio = {"a": np.full(800, 7, np.int16), "b": np.full(400, -3, np.int16)}
    plan = plan_streams(["a", "b"], {k: len(v) for k, v in audio.items()}, 1, SPEC)[0]
    pcm = stream_audio(plan, audio)
    assert len(pcm) == plan.samples == 8_000 + 800 + 32_000 + 400
    assert (pcm[8_000:8_800] == 7).all() and (pcm[40_800:] == -3).all()
    assert not pcm[:8_000].any() and not pcm[8_800:40_800].any()


def test_peer_completed_segments_count_once_at_first_receipt() -> None:
    seg = {"start": "1.0", "end": "2.5", "text": " 你好", "completed": True}
    messages = [
        (10.0, {"segments": [{"start": "1.0", "end": "2.0", "text": "你", "completed": False}]}),
        (
            11.0,
            {"segments": [seg, {"start": "2.5", "end": "3.0", "text": " ", "completed": False}]},
        ),
        (12.0, {"segments": [seg, {"start": "3.0", "end": "4.0", "text": "再见"}]}),
        (13.0, {"message": "not a transcript"}),
    ]
    obs = peer_observations(messages)
    assert obs == [
        Observation(10.0, 1.0, 2.0, "你", False),
        Observation(11.0, 1.0, 2.5, "你好", True),  # resent at 12.0: not a new final
        Observation(12.0, 3.0, 4.0, "再见", False),
    ]


def test_jiesu_screen_messages_become_observations_in_seconds() -> None:
    final = {"type": "transcript.final", "payload": {"text": "好的", "t_start": 500, "t_end": 2100}}
    partial = {**final, "type": "transcript.partial"}
    assert jiesu_observation(final, 3.0) == Observation(3.0, 0.5, 2.1, "好的", True)
    assert jiesu_observation(partial, 3.0) == Observation(3.0, 0.5, 2.1, "好的", False)
    blank = {"type": "transcript.final", "payload": {"text": " ", "t_start": 0, "t_end": 1}}
    assert jiesu_observation(blank, 3.0) is None
    assert jiesu_observation({"type": "call.ended", "payload": {}}, 3.0) is None


def _two_clip_plan() -> tuple[object, list[float]]:
    """Clips a (0.5-2.5 s) and b (4.5-5.5 s); chunk k sent at 100 + k/10 s."""
    plan = plan_streams(["a", "b"], {"a": 2 * RATE, "b": RATE}, 1, SPEC)[0]
    send = [100.0 + k / 10 for k in range(80)]
    return plan, send


def test_latency_runs_from_the_clips_edge_chunks_to_the_first_partial_and_last_final() -> None:
    plan, send = _two_clip_plan()
    obs = [
        Observation(101.2, 0.5, 1.2, "一", False),
        Observation(102.0, 0.5, 1.6, "一二", True),  # a pause inside clip a: an early final
        Observation(103.1, 1.7, 2.5, "三", True),
        Observation(105.9, 4.5, 5.5, "四", True),
    ]
    a, b = match_stream(plan, send, obs, SPEC)  # type: ignore[arg-type]
    # a's first sample is in chunk 5 (sent 100.5), its last in chunk 24 (sent 102.4).
    assert a.first_partial_s == pytest.approx(101.2 - 100.5)
    assert a.final_s == pytest.approx(103.1 - 102.4)
    assert a.final_text == "一二三" and a.covers_end and a.final_end_s == 2.5
    # b: 4.5 s = chunk 45 (sent 104.5); last sample 5.5 s - 1 = chunk 54 (sent 105.4); its final
    # is also its first transcript.
    assert b.first_partial_s == pytest.approx(105.9 - 104.5)
    assert b.final_s == pytest.approx(105.9 - 105.4)


def test_a_clip_without_a_final_is_lost_and_one_final_over_two_clips_counts_once() -> None:
    plan, send = _two_clip_plan()
    # One final spanning both clips (an endpointer that did not cut at the 2 s pause): it goes
    # to the clip it overlaps most (b: 1.0 + 0.3 s of slack vs a: 0.7 + 0.3 s) and a is lost.
    merged = Observation(106.0, 1.8, 5.5, "二三四", True)
    a, b = match_stream(plan, send, [merged], SPEC)  # type: ignore[arg-type]
    assert a.final_s is None and a.first_partial_s is None and not a.covers_end
    assert b.final_s == pytest.approx(0.6)
    summary = summarize([a, b])
    assert summary.lost == 1 and summary.final.n == 1 and summary.missing_first_partial == 1


def test_only_clips_already_started_are_candidates_and_near_misses_go_to_the_nearest() -> None:
    plan, send = _two_clip_plan()
    # Received at 104.0, before b's first chunk (104.5) left: it overlaps b's widened place, but
    # b is no candidate yet; it overlaps no started clip, so the nearest within 1 s (a) takes it.
    early = Observation(104.0, 3.2, 4.4, "?", True)
    near = Observation(104.2, 2.9, 3.0, "尾", True)  # 0.4 s past a's end: a
    far = Observation(104.3, 3.6, 3.8, "远", True)  # 1.1 s past a's end, b not started: nobody
    a, b = match_stream(plan, send, [early, near, far], SPEC)  # type: ignore[arg-type]
    assert b.final_s is None
    assert a.final_text == "尾?"  # in order of their audio
    assert a.final_s == pytest.approx(104.2 - 102.4) and a.final_end_s == 4.4


def test_a_final_that_stops_short_of_the_clip_end_does_not_cover_it() -> None:
    plan, send = _two_clip_plan()
    short = Observation(102.0, 0.5, 1.2, "一", True)
    a, _ = match_stream(plan, send, [short], SPEC)  # type: ignore[arg-type]
    assert not a.covers_end
    assert a.final_s == pytest.approx(102.0 - 102.4)  # arrived before the clip ended
    summary = summarize([a])
    assert summary.negative_final == 1 and summary.final_not_covering_end == 1


def test_percentiles_interpolate_linearly_like_the_harness() -> None:
    assert percentile([], 95) is None
    assert percentile([3.0], 95) == 3.0
    values = [1.0, 2.0, 3.0, 4.0, 10.0]
    assert percentile(values, 50) == 3.0
    assert percentile(values, 95) == pytest.approx(4.0 + 0.8 * 6.0)
    assert percentile(values, 95) == pytest.approx(float(np.percentile(values, 95)))


def _outcomes(finals: list[float | None]) -> list[ClipOutcome]:
    return [
        ClipOutcome(0, f"c{i}", f, f, 1.0 if f is not None else None, f is not None, "")
        for i, f in enumerate(finals)
    ]


def test_the_target_needs_a_tenth_of_the_peers_final_p95_and_nothing_lost() -> None:
    peer = summarize(_outcomes([10.0, 20.0, None]))
    fast = summarize(_outcomes([1.0, 1.5, 2.0]))
    result = compare(fast, peer)
    assert peer.final.p95_ms == 19_500.0 and fast.final.p95_ms == 1_950.0
    assert result.final_p95_ratio == 0.1 and result.lost_ratio == 0.0 and result.target_met
    slow = compare(summarize(_outcomes([1.0, 1.5, 2.1])), peer)
    assert slow.final_p95_ratio is not None and slow.final_p95_ratio > 0.1
    assert not slow.target_met
    lossy = compare(summarize(_outcomes([0.1, None, None])), peer)
    assert lossy.final_p95_ratio == pytest.approx(0.0051, abs=1e-4)
    assert lossy.lost_ratio == 2.0 and not lossy.target_met
    # The peer lost nothing: the lost ratio has no value, the target can still hold.
    no_loss = compare(fast, summarize(_outcomes([10.0, 20.0, 30.0])))
    assert no_loss.lost_ratio is None and no_loss.target_met
    # The peer finalised nothing at all while Jiesu did everything.
    assert compare(fast, summarize(_outcomes([None, None]))).target_met
    assert ratio(None, 1.0) is None and ratio(1.0, 0.0) is None and ratio(1.0, 3.0) == 0.3333


def test_the_overall_target_counts_only_full_runs_at_one_and_four_clients() -> None:
    assert overall_target({1: True, 4: True}, True) == (True, [])
    met, reasons = overall_target({1: True}, False)
    assert not met
    assert reasons == ["not run at [4] client(s)", "a subset of the clips was played"]
    assert overall_target({1: True, 4: False}, True) == (False, ["missed at 4 client(s)"])


def test_the_tail_is_silence_until_the_transcripts_stop() -> None:
    assert not tail_done(SPEC, 1.0, now=100.0, last_activity=0.0)  # under tail_min_s
    assert not tail_done(SPEC, 5.0, now=100.0, last_activity=95.0)  # a transcript 5 s ago
    assert tail_done(SPEC, 5.0, now=100.0, last_activity=90.0)
    assert tail_done(SPEC, 60.0, now=100.0, last_activity=100.0)  # tail_max_s


def test_the_harness_stream_must_match_the_plan() -> None:
    plan, _ = _two_clip_plan()
    rows = [{"client": 0, "stream_s": [0.5, 2.5]}, {"client": 0, "stream_s": [4.5, 5.5]}]
    check_plan(plan, {"clip_order": ["a", "b"]}, rows)  # type: ignore[arg-type]
    with pytest.raises(SystemExit, match="differs from the plan"):
        check_plan(plan, {"clip_order": ["b", "a"]}, rows)  # type: ignore[arg-type]
    with pytest.raises(SystemExit, match="differs from the plan"):
        check_plan(plan, {"clip_order": ["a", "b"]}, rows[:1])  # type: ignore[arg-type]


def test_missing_data_or_peer_venv_stop_with_a_message(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="skipped: no clip folder"):
        select_clips(tmp_path / "absent", "", 0)
    for name in ("b.wav", "a.wav", "c.wav"):
        (tmp_path / name).write_bytes(b"")
    assert select_clips(tmp_path, "", 0) == (["a.wav", "b.wav", "c.wav"], True)
    assert select_clips(tmp_path, "c.wav,a.wav", 0) == (["a.wav", "c.wav"], False)
    assert select_clips(tmp_path, "", 2) == (["a.wav", "b.wav"], False)
    with pytest.raises(SystemExit, match="no such clips"):
        select_clips(tmp_path, "z.wav", 0)
    with pytest.raises(SystemExit, match="no Python in"):
        peer_python(tmp_path / "no-venv")
