"""Opus encoder and decoder (optional: needs libopus and the ``opuslib`` package).

``opuslib`` is imported on first use, not at import time, so the rest of the codec layer works on
a box without libopus; constructing a coder there raises :class:`CodecUnavailable` naming what
to install. Opus always runs at 48 kHz internally, but libopus decodes straight to any of its
supported rates, which spares a resampler when the pipeline wants 16 kHz.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import numpy.typing as npt

from jiesu.codecs.errors import CodecError, CodecUnavailable

__all__ = ["APPLICATIONS", "OPUS_RATES", "OpusDecoder", "OpusEncoder", "load_opuslib"]

#: Sample rates libopus can encode from and decode to.
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
#: Encoder application modes, as opuslib names them.
APPLICATIONS = ("voip", "audio", "restricted_lowdelay")
#: Frame durations an Opus packet may carry, in units of 0.1 ms (2.5 ms … 60 ms).
_FRAME_TENTHS_MS = (25, 50, 100, 200, 400, 600)
#: The longest packet (120 ms: several frames) bounds the decode buffer.
_MAX_PACKET_MS = 120

_INSTALL_HINT = (
    "Opus needs the system library libopus (Debian/Ubuntu: apt-get install libopus0) and the "
    "Python package opuslib (pip install 'jiesu[opus]' or pip install opuslib)"
)


def load_opuslib() -> Any:
    """Import opuslib, or raise :class:`CodecUnavailable` saying what is missing."""
    try:
        # opuslib has no type stubs; importlib keeps mypy from needing them.
        return importlib.import_module("opuslib")
    except ImportError as exc:
        raise CodecUnavailable(f"{_INSTALL_HINT}; opuslib is not installed ({exc})") from exc
    except Exception as exc:
        # opuslib raises a bare Exception at import when ctypes cannot find libopus.
        raise CodecUnavailable(f"{_INSTALL_HINT}; libopus could not be loaded ({exc})") from exc


def _check_format(rate: int, channels: int) -> None:
    if rate not in OPUS_RATES:
        raise CodecError(f"Opus rate must be one of {OPUS_RATES} Hz, got {rate}")
    if channels not in (1, 2):
        raise CodecError(f"Opus channels must be 1 or 2, got {channels}")


class OpusDecoder:
    """Decodes one stream of Opus packets to 16-bit PCM at ``rate``.

    With ``channels=2`` the returned samples are interleaved (L, R, L, R, …); a stereo stream
    decoded with ``channels=1`` is down-mixed by libopus.
    """

    def __init__(self, rate: int = 48000, channels: int = 1) -> None:
        """``rate``: sample rate of the PCM returned (one of :data:`OPUS_RATES`)."""
        _check_format(rate, channels)
        opuslib = load_opuslib()
        self.rate = rate
        self.channels = channels
        self._opuslib = opuslib
        self._max_samples = rate * _MAX_PACKET_MS // 1000
        self._decoder = opuslib.Decoder(rate, channels)

    def decode(self, payload: bytes) -> npt.NDArray[np.int16]:
        """Decode one RTP payload (one Opus packet)."""
        if not isinstance(payload, bytes | bytearray | memoryview):
            raise CodecError(f"Opus decode needs bytes, got {type(payload).__name__}")
        if len(payload) == 0:
            # libopus would treat an empty packet as a loss; an empty payload is a sender bug.
            raise CodecError("Opus payload is empty; use conceal() for a lost packet")
        return self._run(bytes(payload), self._max_samples)

    def conceal(self, samples: int) -> npt.NDArray[np.int16]:
        """Packet-loss concealment: ``samples`` per channel of PCM extrapolated by libopus.

        ``samples`` must be a whole number of 2.5 ms at :attr:`rate` (normally one packet).
        """
        if samples <= 0 or (samples * 400) % self.rate:
            raise CodecError(
                f"Opus concealment needs a positive multiple of 2.5 ms, got {samples} samples"
                f" at {self.rate} Hz"
            )
        return self._run(b"", samples)

    def _run(self, data: bytes, frame_size: int) -> npt.NDArray[np.int16]:
        try:
            pcm: bytes = self._decoder.decode(data, frame_size)
        except self._opuslib.OpusError as exc:
            raise CodecError(f"Opus packet could not be decoded: {exc}") from exc
        return np.frombuffer(pcm, dtype=np.int16).copy()


class OpusEncoder:
    """Encodes 16-bit PCM frames of 2.5, 5, 10, 20, 40 or 60 ms to Opus packets."""

    def __init__(
        self,
        rate: int = 48000,
        channels: int = 1,
        *,
        application: str = "voip",
        bitrate: int | None = None,
    ) -> None:
        """``rate``: sample rate of the PCM fed in; ``bitrate`` in bit/s (None: libopus picks)."""
        _check_format(rate, channels)
        if application not in APPLICATIONS:
            raise CodecError(f"Opus application must be one of {APPLICATIONS}, got {application!r}")
        if bitrate is not None and not 500 <= bitrate <= 512000:
            raise CodecError(f"Opus bitrate must be 500-512000 bit/s, got {bitrate}")
        opuslib = load_opuslib()
        self.rate = rate
        self.channels = channels
        self._opuslib = opuslib
        self._encoder = opuslib.Encoder(rate, channels, application)
        if bitrate is not None:
            self._encoder.bitrate = bitrate
        self._frame_sizes = tuple(rate * tenths // 10000 for tenths in _FRAME_TENTHS_MS)

    def encode(self, pcm: npt.NDArray[np.int16]) -> bytes:
        """Encode exactly one frame (interleaved when stereo) to one Opus packet."""
        if not isinstance(pcm, np.ndarray) or pcm.dtype != np.int16 or pcm.ndim != 1:
            got = f"{pcm.ndim}-D {pcm.dtype}" if isinstance(pcm, np.ndarray) else type(pcm).__name__
            raise CodecError(f"Opus encode needs a 1-D int16 array, got {got}")
        if len(pcm) % self.channels:
            raise CodecError(f"stereo Opus frame has an odd number of samples ({len(pcm)})")
        frame = len(pcm) // self.channels
        if frame not in self._frame_sizes:
            raise CodecError(
                f"Opus frame must be one of {self._frame_sizes} samples per channel at"
                f" {self.rate} Hz (2.5-60 ms), got {frame}"
            )
        try:
            packet: bytes = self._encoder.encode(np.ascontiguousarray(pcm).tobytes(), frame)
        except self._opuslib.OpusError as exc:
            raise CodecError(f"Opus encoder failed: {exc}") from exc
        return bytes(packet)
