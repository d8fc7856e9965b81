"""ASR accuracy: Jiesu's streaming pipeline against plain faster-whisper, same model, same run.

For every utterance of each manifest (``trans.tsv``: file, reference text, source), and also
for a copy sent through an 8 kHz G.711 μ-law phone line and back, two systems transcribe:

* ``jiesu``: the streaming path: 20 ms chunks through VAD and the endpointer, each utterance
  decoded by the batched CTranslate2 adapter with the hotword/history prompt, then the display
  normalisation (simplified script, punctuation, numbers) and the pinyin hotword correction;
* ``plain``: faster-whisper's own ``WhisperModel.transcribe()`` on the whole file (language zh,
  same beam size), no post-processing.

Both outputs and the reference are put into one scoring form (simplified, NFKC, punctuation
and spaces removed, numbers as digits) so a difference comes from the pipeline, not the scoring.
The headline keys are those of the first manifest at 16 kHz; ``sets`` has every breakdown.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from jiesu.bench.cer import NO_ERRORS, CharErrors, char_errors
from jiesu.engine.audio import AudioChunk, Leg
from jiesu.engine.speech.endpointer import EndpointerConfig
from jiesu.engine.speech.hotwords import HotwordCorrector
from jiesu.engine.speech.leg import (
    Decode,
    DecodedText,
    LegRecognizer,
    RecognizerConfig,
)
from jiesu.engine.speech.pipeline import silero_vad_factory, whisper_decoder
from jiesu.engine.speech.textnorm import TextNormalizer

Pcm = npt.NDArray[np.int16]
RATE = 16_000
CHUNK = 320

DEFAULT_MANIFESTS = (
    Path("../shared/data/speech/mandarin/trans.tsv"),
    Path("../shared/data/speech/mandarin_extra/trans.tsv"),
)


@dataclass(frozen=True, slots=True)
class Utterance:
    path: Path
    reference: str


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--manifest",
        type=Path,
        action="append",
        help="trans.tsv (file, reference, ...); repeatable. Default: the shared Mandarin sets",
    )
    parser.add_argument("--hotwords", type=Path, default=Path("sip_config/hotwords.toml"))
    parser.add_argument(
        "--prompt",
        choices=["none", "history", "hotwords", "both"],
        default="none",
        help="what Jiesu gives the decoder as prompt (default: %(default)s, as serve does)",
    )
    parser.add_argument("--no-g711", action="store_true", help="skip the 8 kHz G.711 copies")
    parser.add_argument(
        "--final-min-window",
        type=float,
        default=0.0,
        help="finals decode in at least this window, s (as [speech] final_min_window_s)",
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--compute-type", default="int8")
    parser.add_argument("--beam-size", type=int, default=5)
    parser.add_argument("--model", default="whisper-base-ct2", help="registry name or folder")


def read_manifest(path: Path) -> list[Utterance]:
    if not path.is_file():
        raise SystemExit(f"asr-accuracy: manifest {path} not found (is ../shared/data there?)")
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and parts[0].endswith(".wav"):
            out.append(Utterance(path.parent / parts[0], parts[1]))
    return out


def phone_line(pcm: Pcm) -> Pcm:
    """16 kHz -> 8 kHz -> G.711 μ-law -> 8 kHz -> 16 kHz, as a call through the PSTN."""
    from jiesu.codecs.g711 import ulaw_decode, ulaw_encode
    from jiesu.codecs.resample import resample

    narrow = ulaw_decode(ulaw_encode(resample(pcm, RATE, 8000)))
    return resample(narrow, 8000, RATE)


def load_pcm(path: Path) -> Pcm:
    from jiesu.codecs.resample import resample
    from jiesu.engine.ingest.client import read_wav

    pcm, rate = read_wav(path)
    return pcm if rate == RATE else resample(pcm, rate, RATE)


class StreamingTranscriber:
    """Jiesu's per-leg path, run offline: finals only (partials do not change final text)."""

    def __init__(
        self,
        model: object,
        hotwords: tuple[str, ...],
        prompt: str,
        final_min_window_s: float = 0.0,
        second_pass: bool = True,
    ) -> None:
        self._decode = whisper_decoder(model, final_min_window_s=final_min_window_s)
        self._vad = silero_vad_factory()
        self._normalizer = TextNormalizer()
        self._hotwords = hotwords
        self._config = RecognizerConfig(
            endpointer=EndpointerConfig(),
            prompt_history_chars=60 if prompt in ("history", "both") else 0,
            prompt_hotwords=prompt in ("hotwords", "both"),
            hotword_second_pass=second_pass,
        )

    def transcribe(self, pcm: Pcm) -> str:
        recognizer = LegRecognizer(
            call_id="bench",
            leg=Leg.CALLER,
            speech_probability=self._vad(),
            normalizer=self._normalizer,
            hotwords=HotwordCorrector(self._hotwords) if self._hotwords else None,
            hotword_prompt=self._hotwords,
            config=self._config,
        )
        # A second of line silence after the speech, as a caller pausing, lets the endpoint fire.
        padded = np.concatenate([pcm, np.zeros(RATE, dtype=np.int16)])
        texts: list[str] = []
        for seq, start in enumerate(range(0, len(padded) - CHUNK + 1, CHUNK)):
            chunk = AudioChunk("bench", Leg.CALLER, seq, seq * 20, padded[start : start + CHUNK])
            texts += self._finals(recognizer, recognizer.push(chunk))
        texts += self._finals(recognizer, recognizer.flush())
        return "".join(texts)

    def _finals(self, recognizer: LegRecognizer, work: list[Decode]) -> list[str]:
        finals = [d for d in work if d.final]
        if not finals:
            return []
        results: list[DecodedText] = list(self._decode(finals))
        # The production path's second pass: finals that sound like hotwords, prompted.
        again = [recognizer.second_pass(d, r) for d, r in zip(finals, results, strict=True)]
        redo = [(i, d) for i, d in enumerate(again) if d is not None]
        if redo:
            for (i, d), r in zip(redo, self._decode([d for _, d in redo]), strict=True):
                if recognizer.keeps_second_pass(d, r):
                    finals[i], results[i] = d, r
        out = []
        for decode, result in zip(finals, results, strict=True):
            payload = recognizer.on_final(decode, result)
            if payload is not None:
                out.append(payload.text)
        return out


def _score(reference: str, hypothesis: str, normalizer: TextNormalizer) -> CharErrors:
    return char_errors(normalizer.for_scoring(reference), normalizer.for_scoring(hypothesis))


def run(args: argparse.Namespace) -> dict[str, object]:
    from jiesu.engine.runtime import load_hotwords
    from jiesu.models.whisper_ct2 import WhisperCt2, prepare_whisper_base

    manifests = (
        args.manifest or [m for m in DEFAULT_MANIFESTS if m.is_file()] or [DEFAULT_MANIFESTS[0]]
    )
    model_dir = prepare_whisper_base() if args.model == "whisper-base-ct2" else Path(args.model)
    model = WhisperCt2(
        model_dir, device=args.device, compute_type=args.compute_type, beam_size=args.beam_size
    )
    hotwords = load_hotwords(args.hotwords)
    streaming = StreamingTranscriber(model, hotwords, args.prompt, args.final_min_window)
    normalizer = TextNormalizer()
    channels = ["16k"] + ([] if args.no_g711 else ["g711_8k"])
    sets: list[dict[str, object]] = []
    examples: list[dict[str, str]] = []
    timing = {"jiesu_s": 0.0, "plain_s": 0.0, "audio_s": 0.0}
    for manifest in manifests:
        utterances = read_manifest(manifest)
        for channel in channels:
            totals = {"jiesu": NO_ERRORS, "plain": NO_ERRORS}
            for utt in utterances:
                pcm = load_pcm(utt.path)
                if channel == "g711_8k":
                    pcm = phone_line(pcm)
                timing["audio_s"] += len(pcm) / RATE
                began = time.perf_counter()
                jiesu_text = streaming.transcribe(pcm)
                timing["jiesu_s"] += time.perf_counter() - began
                began = time.perf_counter()
                plain_text = model.transcribe_plain(
                    pcm.astype(np.float32) / 32768.0, beam_size=args.beam_size
                )
                timing["plain_s"] += time.perf_counter() - began
                totals["jiesu"] += _score(utt.reference, jiesu_text, normalizer)
                totals["plain"] += _score(utt.reference, plain_text, normalizer)
                if channel == "16k" and len(examples) < 12:
                    examples.append(
                        {"file": utt.path.name, "ref": utt.reference, "jiesu": jiesu_text,
                         "plain": plain_text}
                    )  # fmt: skip
            jiesu_cer, plain_cer = totals["jiesu"].cer, totals["plain"].cer
            sets.append(
                {
                    "manifest": str(manifest),
                    "channel": channel,
                    "n_utts": len(utterances),
                    "reference_chars": totals["plain"].reference_chars,
                    "jiesu_cer": round(jiesu_cer, 4),
                    "plain_cer": round(plain_cer, 4),
                    "relative_change": round((jiesu_cer - plain_cer) / plain_cer, 4)
                    if plain_cer
                    else 0.0,
                }
            )
    head = sets[0]
    return {
        "jiesu_cer": head["jiesu_cer"],
        "plain_cer": head["plain_cer"],
        "relative_change": head["relative_change"],
        "n_utts": head["n_utts"],
        "headline": f"{head['manifest']} ({head['channel']})",
        "sets": sets,
        "hotwords": len(hotwords),
        "prompt": args.prompt,
        "final_min_window_s": args.final_min_window,
        "model": str(model_dir),
        "device": args.device,
        "compute_type": args.compute_type,
        "beam_size": args.beam_size,
        "real_time_factor": {
            "jiesu": round(timing["jiesu_s"] / timing["audio_s"], 3),
            "plain": round(timing["plain_s"] / timing["audio_s"], 3),
        },
        "examples": examples,
        "target": "streaming CER no worse than plain faster-whisper on the Mandarin clips",
        "target_met": all(
            float(str(s["jiesu_cer"])) <= float(str(s["plain_cer"]))
            for s in sets
            if s["channel"] == "16k"
        ),
        "note": "development numbers on ../shared/data",
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }
