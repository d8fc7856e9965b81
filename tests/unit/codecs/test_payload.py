"""open_decoder / open_encoder: every codec name, rates, byte orders, and clear refusals."""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from jiesu.codecs.errors import CodecError, CodecUnavailable
from jiesu.codecs.g711 import alaw_encode, ulaw_encode
from jiesu.codecs.opus import load_opuslib
from jiesu.codecs.payload import (
    SUPPORTED_CODECS,
    PayloadDecoder,
    available_codecs,
    open_decoder,
    open_encoder,
)

Pcm = npt.NDArray[np.int16]


def opus_missing() -> str | None:
    try:
        load_opuslib()
    except CodecUnavailable as exc:
        return str(exc)
    return None


MISSING_OPUS = opus_missing()
needs_opus = pytest.mark.skipif(
    MISSING_OPUS is not None,
    reason=f"needs libopus and opuslib: {MISSING_OPUS}",
)


def tone(rate: int, ms: int = 20, hz: float = 440.0) -> Pcm:
    t = np.arange(rate * ms // 1000) / rate
    return (9000 * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def test_supported_codecs_constant() -> None:
    assert SUPPORTED_CODECS == ("pcmu", "pcma", "g722", "l16", "s16le", "opus")
    assert isinstance(SUPPORTED_CODECS, tuple)


@pytest.mark.parametrize(
    ("codec", "rate", "expected_rate"),
    [
        ("pcmu", None, 8000),
        ("pcma", 8000, 8000),
        ("g722", None, 16000),
        ("g722", 16000, 16000),
        ("l16", 8000, 8000),
        ("l16", 48000, 48000),
        ("s16le", 16000, 16000),
    ],
)
def test_decoder_reports_codec_and_pcm_rate(
    codec: str, rate: int | None, expected_rate: int
) -> None:
    decoder: PayloadDecoder = open_decoder(codec, rate)
    assert (decoder.codec, decoder.rate) == (codec, expected_rate)
    encoder = open_encoder(codec, rate)
    assert (encoder.codec, encoder.rate) == (codec, expected_rate)


def test_codec_names_are_case_insensitive_like_sdp() -> None:
    assert open_decoder("PCMU").codec == "pcmu"
    assert open_decoder(" G722 ").codec == "g722"


def test_pcmu_and_pcma_payloads_are_g711() -> None:
    pcm = tone(8000)
    assert open_encoder("pcmu").encode(pcm) == ulaw_encode(pcm)
    assert open_encoder("pcma").encode(pcm) == alaw_encode(pcm)
    assert open_decoder("pcmu").decode(b"\xff\x80").tolist() == [0, 32124]
    assert open_decoder("pcma").decode(b"\xd5\xaa").tolist() == [8, 32256]


def test_l16_is_big_endian() -> None:
    # RFC 3551 §4.5.11: L16 samples are in network byte order.
    decoder = open_decoder("l16", 16000)
    assert decoder.decode(b"\x01\x02\xff\xfe").tolist() == [0x0102, -2]
    assert (
        open_encoder("l16", 16000).encode(np.array([0x0102, -2], np.int16)) == b"\x01\x02\xff\xfe"
    )


def test_s16le_is_little_endian() -> None:
    decoder = open_decoder("s16le", 8000)
    assert decoder.decode(b"\x01\x02\xff\xfe").tolist() == [0x0201, -257]
    assert open_encoder("s16le", 8000).encode(np.array([0x0201], np.int16)) == b"\x01\x02"


def test_linear_decode_returns_native_writable_int16() -> None:
    out = open_decoder("l16", 8000).decode(b"\x00\x01" * 4)
    assert out.dtype == np.dtype(np.int16) and out.dtype.isnative
    out[0] = 5  # not a read-only view of the payload


@pytest.mark.parametrize("codec", ["l16", "s16le"])
def test_odd_length_linear_payload_is_refused(codec: str) -> None:
    with pytest.raises(CodecError, match=f"{codec}.*3 bytes"):
        open_decoder(codec, 16000).decode(b"\x00\x01\x02")


def test_g722_payload_roundtrip_is_stateful_per_stream() -> None:
    pcm = np.concatenate([tone(16000, 20, 300.0 + 100 * i) for i in range(10)])
    encoder, decoder = open_encoder("g722"), open_decoder("g722")
    payloads = [encoder.encode(pcm[i : i + 320]) for i in range(0, len(pcm), 320)]
    assert {len(p) for p in payloads} == {160}
    decoded = np.concatenate([decoder.decode(p) for p in payloads])
    assert len(decoded) == len(pcm)
    # The codec delays by ~22 samples; compare after it, loosely (quality is tested elsewhere).
    error = decoded[22:].astype(np.float64) - pcm[:-22]
    assert np.sqrt(np.mean(error**2)) < 0.1 * 9000


def test_g722_encoder_refuses_odd_frames() -> None:
    with pytest.raises(CodecError, match="even"):
        open_encoder("g722").encode(np.zeros(321, np.int16))


@needs_opus
@pytest.mark.parametrize("rate", [None, 16000])
def test_opus_payload_roundtrip(rate: int | None) -> None:
    encoder, decoder = open_encoder("opus", rate), open_decoder("opus", rate)
    pcm_rate = rate or 48000
    assert encoder.rate == decoder.rate == pcm_rate
    frame = pcm_rate // 50
    decoded = decoder.decode(encoder.encode(tone(pcm_rate)))
    assert decoded.dtype == np.int16 and len(decoded) == frame


def test_unknown_codec_names_the_supported_ones() -> None:
    with pytest.raises(CodecError, match=r"unknown codec 'gsm'.*pcmu.*opus"):
        open_decoder("gsm")
    with pytest.raises(CodecError, match="unknown codec"):
        open_encoder("g729")


@pytest.mark.parametrize(
    ("codec", "rate", "match"),
    [
        ("pcmu", 16000, "8000 Hz audio, not 16000"),
        ("pcma", 48000, "8000 Hz audio"),
        ("g722", 8000, "RTP clock rate"),
        ("l16", None, "needs the sample rate"),
        ("s16le", 44100, "must be one of"),
        ("l16", 0, "must be one of"),
        ("opus", 44100, "opus rate"),
        ("l16", "16000", "integer"),
    ],
)
def test_unsupported_rates_are_refused(codec: str, rate: Any, match: str) -> None:
    with pytest.raises(CodecError, match=match):
        open_decoder(codec, rate)
    with pytest.raises(CodecError, match=match):
        open_encoder(codec, rate)


def test_non_bytes_payload_is_refused() -> None:
    for codec, rate in (("pcmu", None), ("l16", 8000)):
        with pytest.raises(CodecError, match="bytes"):
            open_decoder(codec, rate).decode("abcd")  # type: ignore[arg-type]


def test_encoders_refuse_non_int16() -> None:
    for codec, rate in (("pcma", None), ("l16", 8000), ("g722", None)):
        with pytest.raises(CodecError, match="int16"):
            open_encoder(codec, rate).encode(np.zeros(160, np.float32))  # type: ignore[arg-type]


def test_opus_unavailable_is_a_codec_error_naming_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> Any:
        raise ModuleNotFoundError(f"No module named {name!r}")

    monkeypatch.setattr(importlib, "import_module", missing)
    with pytest.raises(CodecUnavailable, match="opuslib"):
        open_decoder("opus")
    assert "opus" not in available_codecs()
    assert open_decoder("pcmu").rate == 8000  # the rest keeps working


def test_available_codecs_matches_what_opens() -> None:
    for codec in SUPPORTED_CODECS:
        rate = 16000 if codec in ("l16", "s16le") else None
        if codec in available_codecs():
            assert open_decoder(codec, rate).codec == codec
        else:
            with pytest.raises(CodecUnavailable):
                open_decoder(codec, rate)


def test_each_open_gives_an_independent_stream() -> None:
    pcm = tone(16000, 40)
    first = open_encoder("g722")
    first.encode(tone(16000, 20, 1000.0))
    assert first.encode(pcm) != open_encoder("g722").encode(pcm)
