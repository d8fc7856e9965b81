"""asr-accuracy's offline streaming path with a scripted decoder and an energy VAD: each
utterance's final is decoded once, early finals included (no model needed)."""

from __future__ import annotations

import numpy as np
import pytest

from jiesu.bench import asr_accuracy
from jiesu.engine.speech.leg import Decode, DecodedText, Pcm


def loud(pcm: Pcm) -> float:
    return 1.0 if np.abs(pcm).max() > 1000 else 0.0


def test_each_utterance_is_one_final_though_an_early_final_was_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    decoded: list[Decode] = []

    def decoder(*_: object, **__: object) -> object:
        def decode(batch: list[Decode]) -> list[DecodedText]:
            decoded.extend(batch)
            return [DecodedText("好") if d.final else DecodedText("") for d in batch]

        return decode

    monkeypatch.setattr(asr_accuracy, "whisper_decoder", decoder)
    monkeypatch.setattr(asr_accuracy, "silero_vad_factory", lambda: lambda: loud)
    transcriber = asr_accuracy.StreamingTranscriber(object(), (), "none", second_pass=False)
    speech = np.full(16_000, 8000, np.int16)
    pause = np.zeros(16_000, np.int16)  # longer than the hangover: two utterances
    text = transcriber.transcribe(np.concatenate([speech, pause, speech]))
    assert text == "好好"
    finals = [d for d in decoded if d.final]
    assert len(finals) == 2 and not any(d.early for d in finals)
