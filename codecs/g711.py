"""ITU-T G.711 μ-law (PCMU) and A-law (PCMA) by table lookup.

Bit-exact with the reference algorithm (Sun's g711.c, which CPython's ``audioop`` also uses):
μ-law quantises the 16-bit sample's top 14 bits, A-law its top 13 bits. The tables are computed
once at import from that algorithm, vectorised, and frozen read-only so they cannot become shared
mutable state.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import numpy.typing as npt

from jiesu.codecs.errors import CodecError

__all__ = ["alaw_decode", "alaw_encode", "ulaw_decode", "ulaw_encode"]

_ULAW_BIAS = 0x84
_ULAW_CLIP = 8159  # largest magnitude of the 14-bit input that μ-law can represent
_ULAW_SEG_END = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)
_ALAW_SEG_END = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], dtype=np.int32)


def _all_int16() -> npt.NDArray[np.int32]:
    """Every int16 value, ordered by its bit pattern read as uint16 (the encode tables' index)."""
    return np.arange(65536, dtype=np.uint16).view(np.int16).astype(np.int32)


def _build_ulaw_encode() -> npt.NDArray[np.uint8]:
    pcm = _all_int16() >> 2
    negative = pcm < 0
    mask = np.where(negative, 0x7F, 0xFF)
    magnitude = np.minimum(np.where(negative, -pcm, pcm), _ULAW_CLIP) + (_ULAW_BIAS >> 2)
    seg = np.searchsorted(_ULAW_SEG_END, magnitude, side="left")
    # Only the clipped maximum (8159 + 33) lands past the last segment; it gets the top code.
    inside = np.minimum(seg, 7)
    code = np.where(seg >= 8, 0x7F, (inside << 4) | ((magnitude >> (inside + 1)) & 0xF))
    return (code ^ mask).astype(np.uint8)


def _build_ulaw_decode() -> npt.NDArray[np.int16]:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    t = (((u & 0x0F) << 3) + _ULAW_BIAS) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, _ULAW_BIAS - t, t - _ULAW_BIAS).astype(np.int16)


def _build_alaw_encode() -> npt.NDArray[np.uint8]:
    pcm = _all_int16() >> 3
    negative = pcm < 0
    mask = np.where(negative, 0x55, 0xD5)
    # One's-complement magnitude: A-law has no code for -0, so -1 shares 0's magnitude.
    magnitude = np.where(negative, -pcm - 1, pcm)
    seg = np.searchsorted(_ALAW_SEG_END, magnitude, side="left")
    shift = np.where(seg < 2, 1, seg)
    code = np.where(seg >= 8, 0x7F, (np.minimum(seg, 7) << 4) | ((magnitude >> shift) & 0xF))
    return (code ^ mask).astype(np.uint8)


def _build_alaw_decode() -> npt.NDArray[np.int16]:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    t = a & 0x0F
    seg = (a & 0x70) >> 4
    t = np.where(seg > 0, (2 * t + 33) << (seg + 2), (2 * t + 1) << 3)
    return np.where(a & 0x80, t, -t).astype(np.int16)


_T = TypeVar("_T", bound=np.generic)


def _readonly(table: npt.NDArray[_T]) -> npt.NDArray[_T]:
    table.flags.writeable = False
    return table


_ULAW_ENCODE = _readonly(_build_ulaw_encode())
_ULAW_DECODE = _readonly(_build_ulaw_decode())
_ALAW_ENCODE = _readonly(_build_alaw_encode())
_ALAW_DECODE = _readonly(_build_alaw_decode())


def _as_uint16_view(pcm: npt.NDArray[np.int16]) -> npt.NDArray[np.uint16]:
    if not isinstance(pcm, np.ndarray):
        raise CodecError(f"G.711 encode needs a 1-D int16 numpy array, got {type(pcm).__name__}")
    if pcm.dtype != np.int16 or pcm.ndim != 1:
        raise CodecError(f"G.711 encode needs a 1-D int16 array, got {pcm.ndim}-D {pcm.dtype}")
    return np.ascontiguousarray(pcm).view(np.uint16)


def _as_codes(data: bytes) -> npt.NDArray[np.uint8]:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise CodecError(f"G.711 decode needs bytes, got {type(data).__name__}")
    return np.frombuffer(data, dtype=np.uint8)


def ulaw_encode(pcm: npt.NDArray[np.int16]) -> bytes:
    """Encode 16-bit linear PCM to μ-law (PCMU), one byte per sample."""
    return _ULAW_ENCODE[_as_uint16_view(pcm)].tobytes()


def ulaw_decode(data: bytes) -> npt.NDArray[np.int16]:
    """Decode μ-law (PCMU) bytes to 16-bit linear PCM, one sample per byte."""
    return _ULAW_DECODE[_as_codes(data)]


def alaw_encode(pcm: npt.NDArray[np.int16]) -> bytes:
    """Encode 16-bit linear PCM to A-law (PCMA), one byte per sample."""
    return _ALAW_ENCODE[_as_uint16_view(pcm)].tobytes()


def alaw_decode(data: bytes) -> npt.NDArray[np.int16]:
    """Decode A-law (PCMA) bytes to 16-bit linear PCM, one sample per byte."""
    return _ALAW_DECODE[_as_codes(data)]
