"""Voice activity: a cheap WebRTC frame gate and Silero speech probability over ONNX.

:class:`WebRtcVadGate` answers speech / not speech per 10, 20 or 30 ms int16 frame.

Silero is split the way diart splits its blocks: :class:`SileroVadModel` is the stateless part
(the onnxruntime session, shareable by every stream in the process) and :class:`SileroVad` is
one stream's state (LSTM state, the 64-sample context, leftover samples). Each 512-sample chunk
at 16 kHz (32 ms) gives one speech probability. No torch needed.

That model (faster-whisper's ``silero_vad_v6.onnx``) has no stream axis: its first axis is the
time of ONE stream. :class:`SileroBatchVad` runs Silero VAD 6.2's ``silero_vad.onnx`` (input
``[streams, 576]``, state ``[2, streams, 128]``) over many streams at once: per-stream state
lives in arrays indexed by stream slot, and one ONNX call serves every stream that completed
a chunk. Batching is exact: a stream's probabilities are bit-identical whether it runs alone
or beside others (``docs/vad.md``).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from jiesu.models.registry import (
    MODEL_REGISTRY,
    ModelUnavailable,
    check_installed,
    resolve_file,
    resolve_verified,
)

__all__ = [
    "SILERO_CHUNK",
    "SILERO_CONTEXT",
    "SileroBatchVad",
    "SileroStream",
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


def _cpu_session(path: Path, threads: int) -> Any:
    """An ONNX Runtime CPU session on ``path``: ``threads`` intra-op threads, quiet, no arena."""
    import onnxruntime  # type: ignore[import-untyped]

    options = onnxruntime.SessionOptions()
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = threads
    options.enable_cpu_mem_arena = False
    options.log_severity_level = 4
    return onnxruntime.InferenceSession(
        str(path), providers=["CPUExecutionProvider"], sess_options=options
    )


class SileroVadModel:
    """The Silero VAD v6 ONNX session: stateless, shared by many :class:`SileroVad` streams.

    ``run`` is serialised with a lock so streams on several threads can share one session.
    """

    def __init__(self, path: Path | None = None, threads: int = 1) -> None:
        spec = MODEL_REGISTRY["silero-vad-v6"]
        for package in spec.requires:
            check_installed(package)
        self.path = path if path is not None else resolve_file(spec.files[0])
        self._session = _cpu_session(self.path, threads)
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


_BATCH_STATE = 128
_RATE = np.array(16_000, dtype=np.int64)


@dataclass(frozen=True, slots=True)
class SileroStream:
    """Handle of one stream of a :class:`SileroBatchVad`: its slot and which opening of that
    slot it is, so a handle kept after :meth:`SileroBatchVad.close_stream` cannot reach the
    stream that later reuses the slot."""

    slot: int
    generation: int


class SileroBatchVad:
    """Silero VAD 6.2 over many streams: one ONNX session, per-stream state in slot arrays.

    ``open_stream`` gives a handle (a free slot, zeroed); ``close_stream`` frees the slot.
    ``run({handle: samples})`` appends each stream's new samples (int16, or float32 in
    [-1, 1], 16 kHz, any length) and returns, per handle, the probabilities of the 512-sample
    chunks those samples completed (often none: 20 ms is 320 samples). Streams that completed a
    chunk share ONE ONNX call; a stream that completed ``k`` chunks takes part in ``k``
    consecutive calls, so the number of calls is the largest ``k``, never one per stream.

    At most ``max_streams`` streams are open at once (the state arrays are allocated once);
    ``open_stream`` beyond that raises ``RuntimeError``. Not thread-safe: one thread owns it
    (the VAD stage's executor thread).
    """

    def __init__(self, path: Path | None = None, threads: int = 1, max_streams: int = 1024) -> None:
        if max_streams < 1:
            raise ValueError(f"max_streams must be at least 1, got {max_streams}")
        spec = MODEL_REGISTRY["silero-vad-batch"]
        for package in spec.requires:
            check_installed(package)
        self.path = path if path is not None else resolve_verified(spec.files[0])
        self._session = _cpu_session(self.path, threads)
        names = {i.name for i in self._session.get_inputs()}
        if not {"input", "state", "sr"} <= names:
            raise ModelUnavailable(
                f"{self.path} is not a batchable Silero model (inputs {sorted(names)}; "
                "expected input, state, sr)"
            )
        self.max_streams = max_streams
        self._state = np.zeros((2, max_streams, _BATCH_STATE), dtype=np.float32)
        self._context = np.zeros((max_streams, SILERO_CONTEXT), dtype=np.float32)
        self._pending = np.zeros((max_streams, SILERO_CHUNK), dtype=np.float32)
        self._pending_len = np.zeros(max_streams, dtype=np.int64)
        self._generation = np.zeros(max_streams, dtype=np.int64)
        self._open = np.zeros(max_streams, dtype=bool)
        # Lowest slot first, so the rows of a batch stay in a compact range of the arrays.
        self._free = list(range(max_streams - 1, -1, -1))
        #: ONNX calls made so far (for benchmarks).
        self.calls = 0

    @property
    def open_streams(self) -> int:
        return self.max_streams - len(self._free)

    def open_stream(self) -> SileroStream:
        """A new stream with fresh state (zero LSTM state, zero context, no samples)."""
        if not self._free:
            raise RuntimeError(f"all {self.max_streams} Silero streams are open")
        slot = self._free.pop()
        self._state[:, slot, :] = 0.0
        self._context[slot] = 0.0
        self._pending_len[slot] = 0
        self._generation[slot] += 1
        self._open[slot] = True
        return SileroStream(slot, int(self._generation[slot]))

    def close_stream(self, handle: SileroStream) -> None:
        """Free the stream's slot; its leftover samples (under one chunk) are dropped."""
        slot = self._slot(handle)
        self._open[slot] = False
        self._free.append(slot)

    def run(
        self, frames: Mapping[SileroStream, npt.NDArray[np.int16] | npt.NDArray[np.float32]]
    ) -> dict[SileroStream, npt.NDArray[np.float32]]:
        """Append each stream's samples; return each stream's newly completed chunks'
        probabilities (in chunk order; empty where none completed)."""
        out: dict[SileroStream, npt.NDArray[np.float32]] = {}
        # (handle, slot, chunks [k, 512]) of every stream that completed at least one chunk.
        work: list[tuple[SileroStream, int, npt.NDArray[np.float32]]] = []
        for handle, samples in frames.items():
            slot = self._slot(handle)
            if samples.ndim != 1:
                raise ValueError(f"samples must be 1-D, got shape {samples.shape}")
            if samples.dtype == np.int16:
                x = samples.astype(np.float32) / np.float32(32768.0)
            elif samples.dtype == np.float32:
                x = samples.astype(np.float32, copy=False)
            else:
                raise ValueError(f"samples must be int16 or float32, got {samples.dtype}")
            held = int(self._pending_len[slot])
            if held + len(x) < SILERO_CHUNK:
                # No chunk completed (the common 20 ms case, 3 times in 8): just keep the samples.
                self._pending[slot, held : held + len(x)] = x
                self._pending_len[slot] = held + len(x)
                out[handle] = np.zeros(0, dtype=np.float32)
                continue
            data = np.concatenate((self._pending[slot, :held], x)) if held else x
            k = len(data) // SILERO_CHUNK
            rest = len(data) - k * SILERO_CHUNK
            self._pending[slot, :rest] = data[k * SILERO_CHUNK :]
            self._pending_len[slot] = rest
            if k:
                work.append((handle, slot, data[: k * SILERO_CHUNK].reshape(k, SILERO_CHUNK)))
                out[handle] = np.empty(k, dtype=np.float32)
            else:
                out[handle] = np.zeros(0, dtype=np.float32)
        steps = max((len(chunks) for _, _, chunks in work), default=0)
        for step in range(steps):
            rows = [(h, slot, chunks[step]) for h, slot, chunks in work if len(chunks) > step]
            slots = np.fromiter((slot for _, slot, _ in rows), dtype=np.intp, count=len(rows))
            chunk = np.stack([c for _, _, c in rows])
            batch = np.concatenate((self._context[slots], chunk), axis=1)
            probs, state = self._session.run(
                None, {"input": batch, "state": self._state[:, slots, :], "sr": _RATE}
            )
            self.calls += 1
            self._state[:, slots, :] = state
            self._context[slots] = chunk[:, -SILERO_CONTEXT:]
            flat = np.asarray(probs, dtype=np.float32).reshape(-1)
            for i, (h, _, _) in enumerate(rows):
                out[h][step] = flat[i]
        return out

    def _slot(self, handle: SileroStream) -> int:
        slot = handle.slot
        if not (
            0 <= slot < self.max_streams
            and self._open[slot]
            and self._generation[slot] == handle.generation
        ):
            raise KeyError(f"Silero stream {handle} is not open")
        return slot
