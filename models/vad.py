"""Voice activity: a cheap WebRTC frame gate and Silero speech probability over ONNX.

:class:`WebRtcVadGate` answers speech / not speech per 10, 20 or 30 ms int16 frame.

Silero is split the way diart splits its blocks: :class:`SileroVadModel` is the stateless part
(the onnxruntime session, shareable by every stream in the process) and :class:`SileroVad` is
one stream's state (LSTM state, the 64-sample context, leftover samples). Each 512-sample chunk
at 16 kHz (32 ms) gives one speech probability. No torch needed.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from jiesu.models.registry import MODEL_REGISTRY, check_installed, resolve_file

__all__ = [
    "SILERO_CHUNK",
    "SILERO_CONTEXT",
    "SileroVad",
    "SileroVadModel",
    "WebRtcVadGate",
]

SILERO_CHUNK = 512
"""Samples per Silero chunk at 16 kHz (32 ms)."""
SILERO_CONTEXT = 64
"""Samples of the previous chunk prepended to each chunk."""
_STATE_SHAPE = (1, 1, 128)


class WebRtcVadGate:
    """``webrtcvad`` per-frame speech gate (aggressiveness 0..3, 8/16/32/48 kHz, 10/20/30 ms)."""

    def __init__(self, aggressiveness: int = 2, rate: int = 16_000, frame_ms: int = 20) -> None:
        check_installed(MODEL_REGISTRY["webrtcvad"].requires[0])
        import webrtcvad  # type: ignore[import-untyped]

        if aggressiveness not in (0, 1, 2, 3):
            raise ValueError(f"aggressiveness must be 0..3, got {aggressiveness}")
        if rate not in (8_000, 16_000, 32_000, 48_000):
            raise ValueError(f"rate must be 8000, 16000, 32000 or 48000 Hz, got {rate}")
        if frame_ms not in (10, 20, 30):
            raise ValueError(f"frame_ms must be 10, 20 or 30, got {frame_ms}")
        self.aggressiveness = aggressiveness
        self.rate = rate
        self.frame_ms = frame_ms
        self.frame_samples = rate * frame_ms // 1000
        self._vad: Any = webrtcvad.Vad(aggressiveness)

    def is_speech(self, frame: npt.NDArray[np.int16]) -> bool:
        """Whether one frame of exactly ``frame_samples`` int16 samples holds speech."""
        if frame.dtype != np.int16 or frame.ndim != 1:
            raise ValueError(f"frame must be 1-D int16, got {frame.dtype} {frame.shape}")
        if len(frame) != self.frame_samples:
            raise ValueError(
                f"frame must have {self.frame_samples} samples ({self.frame_ms} ms at "
                f"{self.rate} Hz), got {len(frame)}"
            )
        return bool(self._vad.is_speech(frame.tobytes(), self.rate))


class SileroVadModel:
    """The Silero VAD v6 ONNX session: stateless, shared by many :class:`SileroVad` streams.

    ``run`` is serialised with a lock so streams on several threads can share one session.
    """

    def __init__(self, path: Path | None = None, threads: int = 1) -> None:
        spec = MODEL_REGISTRY["silero-vad-v6"]
        for package in spec.requires:
            check_installed(package)
        import onnxruntime  # type: ignore[import-untyped]

        self.path = path if path is not None else resolve_file(spec.files[0])
        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = threads
        options.enable_cpu_mem_arena = False
        options.log_severity_level = 4
        self._session: Any = onnxruntime.InferenceSession(
            str(self.path), providers=["CPUExecutionProvider"], sess_options=options
        )
        self._lock = threading.Lock()

    def run(
        self,
        chunks: npt.NDArray[np.float32],
        h: npt.NDArray[np.float32],
        c: npt.NDArray[np.float32],
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """``chunks``: ``[n, 64 + 512]`` consecutive chunks of one stream, each with its
        context. Returns (probabilities ``[n]``, new h, new c)."""
        with self._lock:
            probs, hn, cn = self._session.run(None, {"input": chunks, "h": h, "c": c})
        return (
            np.asarray(probs, dtype=np.float32).reshape(-1),
            np.asarray(hn, dtype=np.float32),
            np.asarray(cn, dtype=np.float32),
        )


class SileroVad:
    """One stream's Silero state over a shared :class:`SileroVadModel`.

    ``process`` takes exactly one 512-sample float32 chunk (16 kHz) and returns its speech
    probability; ``feed`` takes any length and returns one probability per completed chunk.
    ``reset`` forgets the stream (LSTM state, context, leftover samples).
    """

    def __init__(self, model: SileroVadModel) -> None:
        self.model = model
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._c = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._context = np.zeros(SILERO_CONTEXT, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)

    def process(self, chunk: npt.NDArray[np.float32]) -> float:
        """Speech probability of one 512-sample chunk (float32 in [-1, 1], 16 kHz)."""
        if chunk.ndim != 1 or len(chunk) != SILERO_CHUNK:
            raise ValueError(f"chunk must be 1-D with {SILERO_CHUNK} samples, got {chunk.shape}")
        return float(self._run(chunk.astype(np.float32, copy=False).reshape(1, -1))[0])

    def feed(self, pcm: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Append samples; return the probabilities of every chunk completed by them."""
        if pcm.ndim != 1:
            raise ValueError(f"pcm must be 1-D, got shape {pcm.shape}")
        data = np.concatenate([self._pending, pcm.astype(np.float32, copy=False)])
        n = len(data) // SILERO_CHUNK
        self._pending = data[n * SILERO_CHUNK :].copy()
        if n == 0:
            return np.zeros(0, dtype=np.float32)
        return self._run(data[: n * SILERO_CHUNK].reshape(n, SILERO_CHUNK))

    def _run(self, chunks: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        previous = np.concatenate([self._context[None, :], chunks[:-1, -SILERO_CONTEXT:]])
        batch = np.ascontiguousarray(np.concatenate([previous, chunks], axis=1))
        probs, self._h, self._c = self.model.run(batch, self._h, self._c)
        self._context = chunks[-1, -SILERO_CONTEXT:].copy()
        return probs
