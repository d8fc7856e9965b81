"""Non-speech: characters the production speech pipeline emits on silence, noise, tones, music.

Each kind of ``jiesu.bench.nonspeech`` (silence, line noise, ring-back, DTMF, hold music;
``--seconds-each`` of each, 120 s by default, i.e. 10 minutes in all) is fed as its own call,
on the caller leg in 20 ms chunks, through the production pipeline
(:func:`jiesu.engine.runtime.build_speech_pipeline` with the default ``SpeechConfig``: Whisper
base, Silero + WebRTC VAD, the recogniser's guards) into a temporary event log; a second set
carries each clip through a G.711 mu-law 8 kHz round trip first. No real-time pacing: the
endpointer works on media time. After every chunk that scheduled a decode, the bench waits for
that call's decodes to finish, so no partial is skipped for being in flight or late: every
decode the pipeline wants is run, which is the strictest setting for this check. Each call is
ended with ``end_call`` and its events are read back; characters of ``transcript.partial`` and
``transcript.final`` events are counted. Target: 0 characters on 10 minutes of non-speech.

For diagnosis the result also carries, per clip, the production VAD's speech probabilities
(gated as in production, and Silero alone) and a guard probe: the VAD bypassed, the same
Whisper model decodes a few windows of the clip and the recogniser's final guards judge the
text. The probe shows what Whisper would invent if the VAD let a clip through and whether the
guards behind the VAD would still drop it; it does not count towards the target.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from jiesu.bench.nonspeech import RATE, nonspeech_corpus
from jiesu.engine.audio import AudioChunk, Leg
from jiesu.engine.config import SpeechConfig
from jiesu.engine.eventlog import EventLog
from jiesu.engine.events import TranscriptFinal, TranscriptPartial
from jiesu.engine.metrics import Metrics
from jiesu.engine.speech.pipeline import SpeechPipeline

Pcm = npt.NDArray[np.int16]

#: 20 ms at 16 kHz.
CHUNK_SAMPLES = RATE // 50
CHUNK_MS = 20
TARGET = "0 characters on 10 minutes of non-speech"
#: Emitted texts kept per kind and channel, for diagnosis.
MAX_TEXTS = 8
#: Pipeline counters reported per call (deltas; labelled series are summed).
COUNTERS = (
    "asr_partials_total",
    "asr_finals_total",
    "asr_finals_dropped_total",
    "asr_finals_failed_total",
    "asr_partials_skipped_total",
)
CHANNELS = ("16k", "g711_8k")
#: Guard probe: windows decoded per clip, and their length.
PROBE_WINDOWS = 3
PROBE_WINDOW_S = 5.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--seconds-each",
        type=float,
        default=120.0,
        help="seconds of each of the 5 kinds (default: %(default)s, i.e. 10 minutes)",
    )
    parser.add_argument("--no-g711", action="store_true", help="skip the 8 kHz G.711 copies")
    parser.add_argument(
        "--no-probe",
        action="store_true",
        help="skip the guard probe (Whisper decoding the clips with the VAD bypassed)",
    )


def phone_line(pcm: Pcm) -> Pcm:
    """The clip as a phone line carries it: 8 kHz, G.711 mu-law, back to 16 kHz."""
    from jiesu.codecs.g711 import ulaw_decode, ulaw_encode
    from jiesu.codecs.resample import resample

    narrow = ulaw_decode(ulaw_encode(resample(pcm, RATE, 8000)))
    return resample(narrow, 8000, RATE)


def chunks(call_id: str, pcm: Pcm, leg: Leg = Leg.CALLER) -> list[AudioChunk]:
    """The clip as 20 ms chunks (the last one zero-padded to a full frame)."""
    n = -(-len(pcm) // CHUNK_SAMPLES)
    padded = np.zeros(n * CHUNK_SAMPLES, dtype=np.int16)
    padded[: len(pcm)] = pcm
    return [
        AudioChunk(
            call_id,
            leg,
            seq,
            seq * CHUNK_MS,
            padded[seq * CHUNK_SAMPLES : (seq + 1) * CHUNK_SAMPLES].copy(),
        )
        for seq in range(n)
    ]


def _counters(metrics: Metrics) -> dict[str, float]:
    snap = metrics.snapshot()
    return {
        name: sum(v for k, v in snap.items() if k == name or k.startswith(name + "{"))
        for name in COUNTERS
    }


@dataclass
class CallResult:
    """What one non-speech call produced."""

    seconds: float
    chars_emitted: int = 0
    partial_events: int = 0
    final_events: int = 0
    texts: list[str] = field(default_factory=list)
    decodes_submitted: int = 0
    counters: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "seconds": self.seconds,
            "chars_emitted": self.chars_emitted,
            "partial_events": self.partial_events,
            "final_events": self.final_events,
            "texts": self.texts,
            "decodes_submitted": self.decodes_submitted,
            **{name: int(value) for name, value in self.counters.items()},
        }


def _pending(pipeline: SpeechPipeline, call_id: str) -> set[asyncio.Task[None]]:
    """The call's decode tasks still running (the pipeline keeps them per call)."""
    call = pipeline._calls.get(call_id)
    return set(call.tasks) if call is not None else set()


async def run_call(
    pipeline: SpeechPipeline,
    event_log: EventLog,
    metrics: Metrics,
    call_id: str,
    pcm: Pcm,
) -> CallResult:
    """Feed one clip as one call, end it and count the transcript characters it produced."""
    before = _counters(metrics)
    submitted = pipeline.batcher.stats().submitted
    for chunk in chunks(call_id, pcm):
        pipeline.audio(chunk)
        pending = _pending(pipeline, call_id)
        if pending:
            # Let every decode run (no partial skipped as in flight): strictest check.
            await asyncio.gather(*pending, return_exceptions=True)
    await pipeline.end_call(call_id)
    after = _counters(metrics)
    result = CallResult(seconds=round(len(pcm) / RATE, 3))
    result.decodes_submitted = pipeline.batcher.stats().submitted - submitted
    result.counters = {name: after[name] - before[name] for name in COUNTERS}
    for event in await event_log.read(call_id):
        payload = event.payload
        if isinstance(payload, TranscriptPartial | TranscriptFinal):
            if isinstance(payload, TranscriptPartial):
                result.partial_events += 1
            else:
                result.final_events += 1
            result.chars_emitted += len(payload.text)
            if payload.text and len(result.texts) < MAX_TEXTS:
                kind = "partial" if isinstance(payload, TranscriptPartial) else "final"
                result.texts.append(f"{kind} {payload.t_start}-{payload.t_end} ms: {payload.text}")
    return result


def vad_profile(pcm: Pcm, vad: Callable[[Pcm], float], threshold: float) -> dict[str, float]:
    """Speech probability of the production VAD (Silero vetoed by WebRTC) on the clip, and of
    Silero alone: max, mean, share of frames >= the endpointer's threshold."""
    from jiesu.engine.speech.leg import pcm_to_float
    from jiesu.models.vad import SileroVad, SileroVadModel

    frames = [
        pcm[i : i + CHUNK_SAMPLES] for i in range(0, len(pcm) - CHUNK_SAMPLES + 1, CHUNK_SAMPLES)
    ]
    if not frames:
        return {"max": 0.0, "mean": 0.0, "frames_over_threshold": 0.0, "silero_alone_max": 0.0}
    probs = np.array([vad(frame) for frame in frames])
    silero = SileroVad(SileroVadModel(threads=1)).feed(pcm_to_float(pcm))
    return {
        "max": round(float(probs.max()), 4),
        "mean": round(float(probs.mean()), 4),
        "frames_over_threshold": round(float((probs >= threshold).mean()), 4),
        "silero_alone_max": round(float(silero.max()) if len(silero) else 0.0, 4),
        "silero_alone_frames_over_threshold": round(
            float((silero >= threshold).mean()) if len(silero) else 0.0, 4
        ),
    }


class GuardProbe:
    """Whisper on non-speech with the VAD bypassed, judged by the recogniser's final guards."""

    def __init__(self, config: SpeechConfig) -> None:
        from jiesu.engine.runtime import load_hotwords
        from jiesu.engine.speech.hotwords import HotwordCorrector
        from jiesu.engine.speech.leg import LegRecognizer
        from jiesu.engine.speech.pipeline import whisper_decoder
        from jiesu.engine.speech.textnorm import TextNormalizer
        from jiesu.models.whisper_ct2 import WhisperCt2, prepare_whisper_base

        model_dir = (
            prepare_whisper_base() if config.model == "whisper-base-ct2" else Path(config.model)
        )
        model = WhisperCt2(
            model_dir,
            device=config.device,
            compute_type=config.compute_type,
            cpu_threads=config.cpu_threads,
            beam_size=config.beam_size,
        )
        self._decode = whisper_decoder(model, config.language)
        hotwords = load_hotwords(config.hotwords_file)
        self._recognizer = LegRecognizer(
            call_id="probe",
            leg=Leg.CALLER,
            speech_probability=lambda _pcm: 0.0,
            normalizer=TextNormalizer(),
            hotwords=HotwordCorrector(hotwords) if hotwords else None,
            hotword_prompt=hotwords,
        )

    def probe(self, pcm: Pcm) -> dict[str, object]:
        """Decode up to PROBE_WINDOWS windows spread over the clip as finals."""
        from jiesu.engine.speech.leg import Decode

        window = int(PROBE_WINDOW_S * RATE)
        starts = np.linspace(0, max(0, len(pcm) - window), PROBE_WINDOWS).astype(int)
        decodes = [
            Decode(
                leg=Leg.CALLER,
                utterance_id=f"probe-{k}",
                final=True,
                t_start=int(start) * 1000 // RATE,
                t_end=(int(start) + window) * 1000 // RATE,
                pcm=pcm[start : start + window],
                prompt="",
                revision=0,
            )
            for k, start in enumerate(dict.fromkeys(int(s) for s in starts))
        ]
        windows: list[dict[str, object]] = []
        for decode, result in zip(decodes, self._decode(decodes), strict=True):
            kept = self._recognizer.on_final(decode, result)
            windows.append(
                {
                    "t_ms": [decode.t_start, decode.t_end],
                    "whisper_text": result.text,
                    "no_speech_prob": round(result.no_speech_prob, 3),
                    "avg_logprob": round(result.avg_logprob, 3),
                    "guards": "dropped" if kept is None else f"kept: {kept.text}",
                }
            )
        return {
            "windows": windows,
            "would_emit": sum(1 for w in windows if str(w["guards"]).startswith("kept")),
        }


async def bench(
    seconds_each: float, channels: tuple[str, ...], probe: bool = True
) -> dict[str, object]:
    """Every kind on every channel through one production pipeline; see the module docstring."""
    from jiesu.engine.runtime import build_speech_pipeline
    from jiesu.engine.speech.endpointer import EndpointerConfig
    from jiesu.engine.speech.pipeline import silero_vad_factory

    corpus = nonspeech_corpus(seconds_each)
    config = SpeechConfig()
    metrics = Metrics()
    threshold = EndpointerConfig().threshold
    vad_factory = silero_vad_factory()
    kinds: dict[str, dict[str, object]] = {}
    prober = GuardProbe(config) if probe else None
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="jiesu-nonspeech-") as tmp:
        event_log = EventLog(Path(tmp) / "events.sqlite3")
        await event_log.start()
        try:
            pipeline = await asyncio.to_thread(build_speech_pipeline, config, event_log, metrics)
            loaded = time.perf_counter()
            try:
                for kind, clean in corpus.items():
                    per_channel: dict[str, object] = {}
                    for channel in channels:
                        pcm = phone_line(clean) if channel == "g711_8k" else clean
                        result = await run_call(
                            pipeline, event_log, metrics, f"nonspeech-{kind}-{channel}", pcm
                        )
                        entry = result.as_dict()
                        entry["vad"] = vad_profile(pcm, vad_factory(), threshold)
                        if prober is not None:
                            entry["guard_probe"] = await asyncio.to_thread(prober.probe, pcm)
                        per_channel[channel] = entry
                    kinds[kind] = per_channel
            finally:
                await pipeline.close()
        finally:
            await event_log.close()
    elapsed = time.perf_counter() - began
    probe_emits = sum(
        int(str(probe_entry["would_emit"]))
        for per_channel in kinds.values()
        for entry in per_channel.values()
        if isinstance(entry, dict) and isinstance(probe_entry := entry.get("guard_probe"), dict)
    )
    chars = sum(
        int(str(entry["chars_emitted"]))
        for per_channel in kinds.values()
        for entry in per_channel.values()
        if isinstance(entry, dict)
    )
    clean_seconds = seconds_each * len(corpus)
    return {
        "total_seconds": round(clean_seconds, 3),
        "audio_seconds_fed": round(clean_seconds * len(channels), 3),
        "channels": list(channels),
        "kinds": kinds,
        "chars_emitted": chars,
        "target": TARGET,
        "target_met": chars == 0 and clean_seconds >= 600,
        "guard_probe": {
            "windows_per_clip": PROBE_WINDOWS if probe else 0,
            "window_s": PROBE_WINDOW_S,
            "windows_the_guards_would_pass": probe_emits if probe else None,
            "note": "VAD bypassed; diagnosis only, not part of the target",
        },
        "model": config.model,
        "device": config.device,
        "compute_type": config.compute_type,
        "beam_size": config.beam_size,
        "vad_threshold": threshold,
        "wall_s": round(elapsed, 1),
        "load_s": round(loaded - began, 1),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "python": platform.python_version(),
    }


def run(args: argparse.Namespace) -> dict[str, object]:
    if args.seconds_each <= 0:
        raise SystemExit("--seconds-each must be > 0")
    channels = ("16k",) if args.no_g711 else CHANNELS
    return asyncio.run(bench(args.seconds_each, channels, probe=not args.no_probe))
