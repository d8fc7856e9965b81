"""Online diarizer with a stand-in VAD (energy) and embedder (spectrum bands) on tone "voices".

The real Silero and CAM++ are exercised by the benchmark and the model integration test; here
the surrounding logic is under test: windows, frame labels, turn building, latency, state size.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from diarize_fakes import RATE, SCENE, SCENE_TRUTH, BandEmbedder, EnergyVad, silence, tone

from jiesu.engine.audio import Leg
from jiesu.engine.diarize.online import (
    FRAME_SAMPLES,
    DiarizedTurn,
    DiarizerConfig,
    OnlineDiarizer,
)
from jiesu.engine.events import SpeakerTurn


def diarize(
    pcm: npt.NDArray[np.int16], chunk: int, config: DiarizerConfig | None = None
) -> list[DiarizedTurn]:
    d = OnlineDiarizer(EnergyVad(), BandEmbedder(), config)
    turns: list[DiarizedTurn] = []
    for i in range(0, len(pcm), chunk):
        turns.extend(d.feed(pcm[i : i + chunk]))
    return turns + d.flush()


def test_turns_follow_the_voices_and_labels_come_back() -> None:
    turns = diarize(SCENE, 320)
    got = [(t.speaker, t.t_start_ms / 1000, t.t_end_ms / 1000) for t in turns]
    assert [g[0] for g in got] == [t[0] for t in SCENE_TRUTH], got
    for (_, start, end), (_, t_start, t_end) in zip(got, SCENE_TRUTH, strict=True):
        assert start == pytest.approx(t_start, abs=0.4)
        assert end == pytest.approx(t_end, abs=0.4)


def test_turns_are_final_in_order_with_bounded_latency() -> None:
    config = DiarizerConfig()
    d = OnlineDiarizer(EnergyVad(), BandEmbedder(), config)
    seen: list[tuple[int, DiarizedTurn]] = []
    for i in range(0, len(SCENE), 320):
        for t in d.feed(SCENE[i : i + 320]):
            seen.append((i + 320, t))
    assert len(seen) == 3, "every turn is emitted before the stream ends (no flush needed)"
    bound_s = (
        config.window_s / 2 + 2 * config.hop_s + max(config.min_switch_s, config.max_gap_s) + 0.1
    )
    for fed, t in seen:
        assert t.t_emit_ms == pytest.approx(1000 * fed / RATE, abs=40)
        assert 0 <= t.t_emit_ms - t.t_end_ms <= 1000 * bound_s
    starts = [t.t_start_ms for _, t in seen]
    assert starts == sorted(starts)
    assert d.flush() == []


def test_chunk_size_does_not_change_the_turns() -> None:
    small = [(t.speaker, t.t_start_ms, t.t_end_ms) for t in diarize(SCENE, 320)]
    large = [(t.speaker, t.t_start_ms, t.t_end_ms) for t in diarize(SCENE, RATE)]
    assert small == large


def test_a_short_voice_between_long_ones_is_absorbed_by_smoothing() -> None:
    config = DiarizerConfig(min_switch_s=3.5)
    pcm = np.concatenate([tone(300, 4), tone(1500, 3), tone(300, 4), silence(1.5)])
    turns = diarize(pcm, 320, config)
    assert [t.speaker for t in turns] == ["S1"]
    # With the default (0.5 s) the 3 s voice is its own turn.
    assert [t.speaker for t in diarize(pcm, 320)] == ["S1", "S2", "S1"]


def test_silence_gives_no_turns_and_no_embeddings() -> None:
    d = OnlineDiarizer(EnergyVad(), embedder := BandEmbedder())
    assert d.feed(silence(5)) == [] and d.flush() == []
    assert embedder.calls == 0 and d.n_speakers == 0


def test_state_stays_bounded_on_a_long_stream() -> None:
    d = OnlineDiarizer(EnergyVad(), BandEmbedder())
    block = np.concatenate([tone(300, 3), silence(0.7), tone(1500, 3), silence(0.7)])
    for _ in range(20):
        d.feed(block)
    window = d.config.window_frames * FRAME_SAMPLES
    assert len(d._audio) <= 3 * window
    assert len(d._windows) <= 8
    assert len(d._speech) <= 8 * d.config.window_frames
    assert d.n_speakers == 2


def test_bad_pcm_is_refused() -> None:
    d = OnlineDiarizer(EnergyVad(), BandEmbedder())
    with pytest.raises(ValueError, match="int16"):
        d.feed(np.zeros(320, dtype=np.float32))  # type: ignore[arg-type]


def test_turn_event() -> None:
    ev = DiarizedTurn("S2", 100, 900, 2500).event()
    assert ev == SpeakerTurn(Leg.MIXED, "S2", 100, 900)
    assert SpeakerTurn.TYPE == "speaker.turn"
