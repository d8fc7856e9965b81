"""ITU-T G.722 wideband codec: stateful per-stream encoder and decoder.

Wraps the bit-exact C implementation in the ``G722`` package (PyPI ``g722``, libg722). G.722
is an ADPCM codec, so each object carries prediction state across calls and belongs to exactly
one RTP stream; feed it payloads in order and use a fresh object for a new stream.

At 64 kbit/s one payload byte carries one 16 kHz sample pair, so a 20 ms frame is 160 bytes of
payload and 320 samples of PCM. The library can also run its linear side at 8 kHz (narrowband
terminals talking to a wideband peer): the bit stream is the same, only the lower sub-band is
used, and one byte then maps to one 8 kHz sample.

The RTP clock rate of G.722 is 8000 (RFC 3551 §4.5.2) for historical reasons, although the
audio is sampled at 16000 Hz. This module deals only in audio rates.
"""

from __future__ import annotations

import array
import importlib
from typing import Any

import numpy as np
import numpy.typing as npt

from jiesu.codecs.errors import CodecError, CodecUnavailable

__all__ = ["BIT_RATES", "PCM_RATES", "G722Decoder", "G722Encoder", "load_g722"]

#: Bit rates the codec defines (modes 1-3); RTP payload type 9 is always 64 kbit/s.
BIT_RATES = (64000, 56000, 48000)
#: Sample rates of the linear PCM side: wideband, or the library's narrowband mode.
PCM_RATES = (16000, 8000)


def _new_codec(rate: int, bit_rate: int) -> Any:
    if rate not in PCM_RATES:
        raise CodecError(f"G.722 PCM rate must be one of {PCM_RATES} Hz, got {rate}")
    if bit_rate not in BIT_RATES:
        raise CodecError(f"G.722 bit rate must be one of {BIT_RATES} bit/s, got {bit_rate}")
    return load_g722().G722(rate, bit_rate)


def load_g722() -> Any:
    """Import the ``G722`` extension, or raise :class:`CodecUnavailable` saying what to install."""
    try:
        # Through importlib because the C extension ships no type stubs.
        return importlib.import_module("G722")
    except ImportError as exc:
        raise CodecUnavailable(
            f"G.722 needs the 'g722' package (pip install g722, import name G722): {exc}"
        ) from exc


def _check_pcm(pcm: npt.NDArray[np.int16]) -> None:
    if not isinstance(pcm, np.ndarray) or pcm.dtype != np.int16 or pcm.ndim != 1:
        got = f"{pcm.ndim}-D {pcm.dtype}" if isinstance(pcm, np.ndarray) else type(pcm).__name__
        raise CodecError(f"G.722 encode needs a 1-D int16 array, got {got}")


class G722Encoder:
    """Encodes one stream of 16-bit PCM (16 kHz, or 8 kHz in narrowband mode) to G.722.

    Chunks of any length may be fed. At 16 kHz the codec consumes samples in pairs, so an odd
    trailing sample is held back and encoded with the next call; :attr:`pending_samples` says
    whether one is waiting.
    """

    def __init__(self, rate: int = 16000, bit_rate: int = 64000) -> None:
        """``rate``: sample rate of the PCM fed in; ``bit_rate``: 64000, 56000 or 48000."""
        self.rate = rate
        self.bit_rate = bit_rate
        self._codec = _new_codec(rate, bit_rate)
        self._held = np.zeros(0, dtype=np.int16)

    @property
    def pending_samples(self) -> int:
        """Samples received but not yet encoded (0 or 1, and always 0 at 8 kHz)."""
        return len(self._held)

    def encode(self, pcm: npt.NDArray[np.int16]) -> bytes:
        """Encode the next run of PCM samples; returns the G.722 bytes they complete."""
        _check_pcm(pcm)
        if len(self._held):
            pcm = np.concatenate([self._held, pcm])
        # The library silently drops an unpaired last sample, which would shift the stream.
        usable = len(pcm) - (len(pcm) % 2 if self.rate == 16000 else 0)
        self._held = pcm[usable:].copy()
        if usable == 0:
            return b""
        data: bytes = self._codec.encode(array.array("h", pcm[:usable].tobytes()))
        return bytes(data)


class G722Decoder:
    """Decodes one stream of G.722 payloads to 16-bit PCM.

    ``rate`` is the sample rate of the PCM produced: 16000 (wideband, two samples per byte) or
    8000 (narrowband output from the lower sub-band, one sample per byte).
    """

    def __init__(self, rate: int = 16000, bit_rate: int = 64000) -> None:
        """``rate``: sample rate of the PCM returned; ``bit_rate``: 64000, 56000 or 48000."""
        self.rate = rate
        self.bit_rate = bit_rate
        self._codec = _new_codec(rate, bit_rate)

    def decode(self, payload: bytes) -> npt.NDArray[np.int16]:
        """Decode the next payload; returns ``len(payload) * rate // 8000`` samples."""
        if not isinstance(payload, bytes | bytearray | memoryview):
            raise CodecError(f"G.722 decode needs bytes, got {type(payload).__name__}")
        if len(payload) == 0:
            return np.zeros(0, dtype=np.int16)
        # The library accepts only ``bytes`` and returns array('h') or, with its numpy addon
        # installed, an ndarray; np.array copes with both and gives us an array we own.
        out = self._codec.decode(bytes(payload))
        return np.array(out, dtype=np.int16)
