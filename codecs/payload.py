"""One entry point from codec names to payload decoders and encoders.

The SIP door and the websocket ingest door both name codecs as lower-case strings and get back
an object that turns one RTP-style payload into int16 PCM (or the reverse, for test clients):

=========  ==========================================  ===================================
name       payload                                     PCM rate
=========  ==========================================  ===================================
``pcmu``   G.711 μ-law, 1 byte per sample              8000
``pcma``   G.711 A-law, 1 byte per sample              8000
``g722``   G.722 at 64 kbit/s, 1 byte per 2 samples    16000 (its RTP clock says 8000)
``l16``    big-endian int16 (RFC 3551 L16), mono       given: 8000, 16000 or 48000
``s16le``  little-endian int16, mono                   given: 8000, 16000 or 48000
``opus``   one Opus packet (needs libopus + opuslib)   48000 (or 8/12/16/24 kHz if given)
=========  ==========================================  ===================================

``rate`` is always the sample rate of the PCM, never an RTP clock rate: G.722 is announced as
``G722/8000`` in SDP but decodes to 16 kHz audio, and asking for ``g722`` at 8000 is refused
rather than silently producing narrowband audio (use :class:`~jiesu.codecs.g722.G722Decoder`
with ``rate=8000`` directly for that).

Decoders and encoders are per stream: G.722 and Opus carry state from one payload to the next.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
import numpy.typing as npt

from jiesu.codecs.errors import CodecError, CodecUnavailable
from jiesu.codecs.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from jiesu.codecs.g722 import G722Decoder, G722Encoder, load_g722
from jiesu.codecs.opus import OPUS_RATES, OpusDecoder, OpusEncoder, load_opuslib

__all__ = [
    "LINEAR_RATES",
    "SUPPORTED_CODECS",
    "PayloadDecoder",
    "PayloadEncoder",
    "available_codecs",
    "open_decoder",
    "open_encoder",
]

#: Every codec name this module knows. Opus is among them even where libopus is missing
#: (opening it then raises :class:`CodecUnavailable`); see :func:`available_codecs`.
SUPPORTED_CODECS: tuple[str, ...] = ("pcmu", "pcma", "g722", "l16", "s16le", "opus")
#: Rates accepted for the raw linear formats.
LINEAR_RATES = (8000, 16000, 48000)

_FIXED_RATES = {"pcmu": 8000, "pcma": 8000, "g722": 16000}

Pcm = npt.NDArray[np.int16]


class PayloadDecoder(Protocol):
    """Turns one payload of one stream into int16 PCM at :attr:`rate`."""

    @property
    def codec(self) -> str:
        """Canonical lower-case codec name (one of :data:`SUPPORTED_CODECS`)."""
        ...

    @property
    def rate(self) -> int:
        """Sample rate of the decoded PCM in Hz."""
        ...

    def decode(self, payload: bytes) -> Pcm:
        """Decode one payload; :class:`CodecError` if it is malformed."""
        ...


class PayloadEncoder(Protocol):
    """Turns int16 PCM at :attr:`rate` into one payload of one stream."""

    @property
    def codec(self) -> str:
        """Canonical lower-case codec name (one of :data:`SUPPORTED_CODECS`)."""
        ...

    @property
    def rate(self) -> int:
        """Sample rate of the PCM expected, in Hz."""
        ...

    def encode(self, pcm: Pcm) -> bytes:
        """Encode one frame of 1-D int16 PCM; :class:`CodecError` if it is unusable."""
        ...


def _check_pcm(codec: str, pcm: Pcm) -> None:
    if not isinstance(pcm, np.ndarray) or pcm.dtype != np.int16 or pcm.ndim != 1:
        got = f"{pcm.ndim}-D {pcm.dtype}" if isinstance(pcm, np.ndarray) else type(pcm).__name__
        raise CodecError(f"{codec} encode needs a 1-D int16 array, got {got}")


def _check_payload(codec: str, payload: bytes) -> None:
    if not isinstance(payload, bytes | bytearray | memoryview):
        raise CodecError(f"{codec} payload must be bytes, got {type(payload).__name__}")


class _G711Decoder:
    rate = 8000

    def __init__(self, codec: str, expand: Callable[[bytes], Pcm]) -> None:
        self.codec = codec
        self._expand = expand

    def decode(self, payload: bytes) -> Pcm:
        _check_payload(self.codec, payload)
        return self._expand(payload)


class _G711Encoder:
    rate = 8000

    def __init__(self, codec: str, compress: Callable[[Pcm], bytes]) -> None:
        self.codec = codec
        self.encode = compress


class _LinearDecoder:
    def __init__(self, codec: str, rate: int, dtype: str) -> None:
        self.codec = codec
        self.rate = rate
        self._dtype = np.dtype(dtype)

    def decode(self, payload: bytes) -> Pcm:
        _check_payload(self.codec, payload)
        if len(payload) % 2:
            raise CodecError(
                f"{self.codec} payload must hold whole 16-bit samples, got {len(payload)} bytes"
            )
        return np.frombuffer(payload, dtype=self._dtype).astype(np.int16)


class _LinearEncoder:
    def __init__(self, codec: str, rate: int, dtype: str) -> None:
        self.codec = codec
        self.rate = rate
        self._dtype = np.dtype(dtype)

    def encode(self, pcm: Pcm) -> bytes:
        _check_pcm(self.codec, pcm)
        return pcm.astype(self._dtype).tobytes()


class _G722PayloadDecoder:
    codec = "g722"
    rate = 16000

    def __init__(self) -> None:
        self._decoder = G722Decoder(rate=16000)

    def decode(self, payload: bytes) -> Pcm:
        return self._decoder.decode(payload)


class _G722PayloadEncoder:
    codec = "g722"
    rate = 16000

    def __init__(self) -> None:
        self._encoder = G722Encoder(rate=16000)

    def encode(self, pcm: Pcm) -> bytes:
        _check_pcm(self.codec, pcm)
        if len(pcm) % 2:
            # One payload byte is one sample pair; an odd frame would leave a sample behind.
            raise CodecError(f"g722 frame must have an even number of samples, got {len(pcm)}")
        return self._encoder.encode(pcm)


class _OpusPayloadDecoder:
    codec = "opus"

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._decoder = OpusDecoder(rate, channels=1)

    def decode(self, payload: bytes) -> Pcm:
        return self._decoder.decode(payload)


class _OpusPayloadEncoder:
    codec = "opus"

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._encoder = OpusEncoder(rate, channels=1)

    def encode(self, pcm: Pcm) -> bytes:
        return self._encoder.encode(pcm)


def _resolve(codec: str, rate: int | None) -> tuple[str, int]:
    """Canonical name and PCM rate, or :class:`CodecError` naming what is wrong."""
    if not isinstance(codec, str):
        raise CodecError(f"codec name must be a string, got {type(codec).__name__}")
    name = codec.strip().lower()  # SDP encoding names are case-insensitive
    if name not in SUPPORTED_CODECS:
        raise CodecError(f"unknown codec {codec!r}; supported: {', '.join(SUPPORTED_CODECS)}")
    if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int)):
        raise CodecError(f"{name} rate must be an integer in Hz, got {rate!r}")
    if name in _FIXED_RATES:
        fixed = _FIXED_RATES[name]
        if rate is not None and rate != fixed:
            hint = (
                " (8000 is G.722's RTP clock rate, not its audio rate)"
                if name == "g722" and rate == 8000
                else ""
            )
            raise CodecError(f"{name} carries {fixed} Hz audio, not {rate} Hz{hint}")
        return name, fixed
    if name == "opus":
        if rate is None:
            return name, 48000
        if rate not in OPUS_RATES:
            raise CodecError(f"opus rate must be one of {OPUS_RATES} Hz, got {rate}")
        return name, rate
    if rate is None:
        raise CodecError(f"{name} needs the sample rate: one of {LINEAR_RATES} Hz")
    if rate not in LINEAR_RATES:
        raise CodecError(f"{name} rate must be one of {LINEAR_RATES} Hz, got {rate}")
    return name, rate


def open_decoder(codec: str, rate: int | None = None) -> PayloadDecoder:
    """A fresh decoder for one stream of ``codec`` payloads, producing PCM at ``rate`` Hz.

    ``rate`` may be omitted for codecs whose rate is fixed (pcmu, pcma, g722) or defaulted
    (opus: 48000); l16 and s16le need it. :class:`CodecError` names an unknown codec or a rate
    the codec cannot produce; :class:`CodecUnavailable` says what to install for opus.
    """
    name, pcm_rate = _resolve(codec, rate)
    if name in ("pcmu", "pcma"):
        return _G711Decoder(name, ulaw_decode if name == "pcmu" else alaw_decode)
    if name == "g722":
        return _G722PayloadDecoder()
    if name == "l16":
        return _LinearDecoder(name, pcm_rate, ">i2")
    if name == "s16le":
        return _LinearDecoder(name, pcm_rate, "<i2")
    return _OpusPayloadDecoder(pcm_rate)


def open_encoder(codec: str, rate: int | None = None) -> PayloadEncoder:
    """A fresh encoder for one stream, the mirror of :func:`open_decoder` (same names, rates).

    Frame constraints: g722 frames need an even number of samples, opus frames must last
    2.5, 5, 10, 20, 40 or 60 ms.
    """
    name, pcm_rate = _resolve(codec, rate)
    if name in ("pcmu", "pcma"):
        return _G711Encoder(name, ulaw_encode if name == "pcmu" else alaw_encode)
    if name == "g722":
        return _G722PayloadEncoder()
    if name == "l16":
        return _LinearEncoder(name, pcm_rate, ">i2")
    if name == "s16le":
        return _LinearEncoder(name, pcm_rate, "<i2")
    return _OpusPayloadEncoder(pcm_rate)


def available_codecs() -> tuple[str, ...]:
    """The subset of :data:`SUPPORTED_CODECS` that can be opened on this machine now.

    What a door should advertise to its peers: a codec whose library is missing would be
    accepted in negotiation and then fail on the first packet.
    """
    missing = set()
    for name, load in (("g722", load_g722), ("opus", load_opuslib)):
        try:
            load()
        except CodecUnavailable:
            missing.add(name)
    return tuple(name for name in SUPPORTED_CODECS if name not in missing)
