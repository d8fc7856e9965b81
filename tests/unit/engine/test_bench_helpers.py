"""The CER counter and the non-speech generators the speech benchmarks rely on."""

from __future__ import annotations

import numpy as np
import pytest

from jiesu.bench.cer import NO_ERRORS, CharErrors, char_errors
from jiesu.bench.nonspeech import DTMF_FREQS, RATE, dtmf, nonspeech_corpus, ring_back


@pytest.mark.parametrize(
    ("ref", "hyp", "expected"),
    [
        ("社保缴费", "社保缴费", CharErrors(0, 0, 0, 4)),
        ("社保缴费", "射爆脚费", CharErrors(3, 0, 0, 4)),
        ("社保缴费", "社保费", CharErrors(0, 1, 0, 4)),
        ("社保", "社保局", CharErrors(0, 0, 1, 2)),
        ("", "谢谢观看", CharErrors(0, 0, 4, 0)),
        ("公积金提取", "", CharErrors(0, 5, 0, 5)),
    ],
)
def test_char_errors(ref: str, hyp: str, expected: CharErrors) -> None:
    assert char_errors(ref, hyp) == expected


def test_cer_and_sums() -> None:
    total = NO_ERRORS + char_errors("社保缴费", "射爆脚费") + char_errors("居住证", "居住证")
    assert total.edits == 3 and total.reference_chars == 7
    assert total.cer == pytest.approx(3 / 7)
    assert char_errors("", "").cer == 0.0 and char_errors("", "x").cer == 1.0


def _peak_freqs(pcm: np.ndarray, count: int) -> set[int]:
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64)))
    freqs = np.fft.rfftfreq(len(pcm), 1 / RATE)
    return {int(f + 0.5) for f in freqs[np.argsort(spectrum)[-count:]]}


def test_ring_back_is_450_hz_one_second_in_five() -> None:
    pcm = ring_back(10.0)
    on = np.abs(pcm[:RATE]).mean()
    off = np.abs(pcm[2 * RATE : 5 * RATE]).mean()
    assert on > 1000 and off == 0
    assert 450 in _peak_freqs(pcm[:RATE], 1)


def test_dtmf_digit_has_its_two_frequencies() -> None:
    pcm = dtmf(0.1, digits="5")[: int(0.1 * RATE)]
    low, high = DTMF_FREQS["5"]
    peaks = _peak_freqs(pcm, 2)
    assert any(abs(p - low) <= 10 for p in peaks) and any(abs(p - high) <= 10 for p in peaks)


def test_corpus_kinds_and_lengths() -> None:
    corpus = nonspeech_corpus(2.0)
    assert set(corpus) == {"silence", "line_noise", "ring_back", "dtmf", "hold_music"}
    for pcm in corpus.values():
        assert pcm.dtype == np.int16 and len(pcm) == 2 * RATE
    assert np.abs(corpus["silence"]).max() < 64
