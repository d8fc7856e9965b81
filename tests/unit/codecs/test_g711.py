"""G.711: bit-exact against CPython's audioop over every input, plus hand-checked vectors."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest

from jiesu.codecs.errors import CodecError
from jiesu.codecs.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # reference implementation only; deprecated, gone in 3.13

Pcm = npt.NDArray[np.int16]

ALL_PCM = np.arange(-32768, 32768, dtype=np.int16)
ALL_CODES = bytes(range(256))


def test_ulaw_encode_matches_audioop_for_every_int16() -> None:
    assert ulaw_encode(ALL_PCM) == audioop.lin2ulaw(ALL_PCM.tobytes(), 2)


def test_alaw_encode_matches_audioop_for_every_int16() -> None:
    assert alaw_encode(ALL_PCM) == audioop.lin2alaw(ALL_PCM.tobytes(), 2)


def test_ulaw_decode_matches_audioop_for_every_code() -> None:
    assert ulaw_decode(ALL_CODES).tobytes() == audioop.ulaw2lin(ALL_CODES, 2)


def test_alaw_decode_matches_audioop_for_every_code() -> None:
    assert alaw_decode(ALL_CODES).tobytes() == audioop.alaw2lin(ALL_CODES, 2)


# Worked out by hand from the G.711 tables: μ-law inverts all bits (silence is 0xFF), its largest
# step decodes to (0xF << 3 | 0x84) << 7 - 0x84 = 32124; A-law toggles even bits (0xD5 / 0x55),
# its smallest step decodes to +-8 and its largest to (2*15 + 33) << 9 = 32256.
@pytest.mark.parametrize(
    ("pcm", "code"),
    [(0, 0xFF), (-1, 0x7E), (32767, 0x80), (-32768, 0x00), (8, 0xFE), (-8, 0x7E)],
)
def test_ulaw_encode_golden(pcm: int, code: int) -> None:
    assert ulaw_encode(np.array([pcm], dtype=np.int16)) == bytes([code])


@pytest.mark.parametrize(
    ("pcm", "code"), [(0, 0xD5), (-1, 0x55), (32767, 0xAA), (-32768, 0x2A), (16, 0xD4)]
)
def test_alaw_encode_golden(pcm: int, code: int) -> None:
    assert alaw_encode(np.array([pcm], dtype=np.int16)) == bytes([code])


@pytest.mark.parametrize(
    ("code", "pcm"), [(0xFF, 0), (0x7F, 0), (0x80, 32124), (0x00, -32124), (0xFE, 8), (0xEF, 132)]
)
def test_ulaw_decode_golden(code: int, pcm: int) -> None:
    assert ulaw_decode(bytes([code])).tolist() == [pcm]


@pytest.mark.parametrize(
    ("code", "pcm"), [(0xD5, 8), (0x55, -8), (0xAA, 32256), (0x2A, -32256), (0xD4, 24)]
)
def test_alaw_decode_golden(code: int, pcm: int) -> None:
    assert alaw_decode(bytes([code])).tolist() == [pcm]


@pytest.mark.parametrize(
    ("encode", "decode"), [(ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)]
)
def test_decoded_codes_are_fixed_points(
    encode: Callable[[Pcm], bytes], decode: Callable[[bytes], Pcm]
) -> None:
    # Every code's reconstruction level must encode back to the same level.
    levels = decode(ALL_CODES)
    assert np.array_equal(decode(encode(levels)), levels)


def test_roundtrip_error_is_within_g711_step_size() -> None:
    # The widest quantisation step (segment 7) is 1024 in 16-bit units for both laws, and the
    # decoder returns the middle of each step, so no error may exceed half of it plus what the
    # encoder's truncation to 14 (μ-law) or 13 (A-law) bits throws away.
    pcm = np.arange(-32000, 32000, 7, dtype=np.int16)
    for encode, decode, truncated in ((ulaw_encode, ulaw_decode, 3), (alaw_encode, alaw_decode, 7)):
        error = np.abs(decode(encode(pcm)).astype(np.int32) - pcm)
        assert error.max() <= 512 + truncated


def test_decode_returns_a_fresh_writable_array() -> None:
    out = ulaw_decode(b"\xff\x00")
    assert out.dtype == np.int16
    out[0] = 123  # must not write into the module's read-only table
    assert ulaw_decode(b"\xff").tolist() == [0]


def test_encode_accepts_strided_views() -> None:
    pcm = ALL_PCM[::3]
    assert ulaw_encode(pcm) == audioop.lin2ulaw(np.ascontiguousarray(pcm).tobytes(), 2)


def test_empty_input() -> None:
    assert ulaw_encode(np.zeros(0, np.int16)) == b""
    assert alaw_decode(b"").shape == (0,)


@pytest.mark.parametrize(
    "bad", [np.zeros(4, np.float32), np.zeros((2, 2), np.int16), [0, 1, 2], np.zeros(3, np.int32)]
)
def test_encode_refuses_non_int16_input(bad: object) -> None:
    with pytest.raises(CodecError, match="int16"):
        ulaw_encode(bad)  # type: ignore[arg-type]
    with pytest.raises(CodecError, match="int16"):
        alaw_encode(bad)  # type: ignore[arg-type]


def test_decode_refuses_non_bytes() -> None:
    with pytest.raises(CodecError, match="bytes"):
        ulaw_decode("abc")  # type: ignore[arg-type]
