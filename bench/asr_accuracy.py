"""ASR accuracy: Jiesu's streaming pipeline against plain faster-whisper, same model, same run.

For every utterance of each manifest (``trans.tsv``: file, reference text, source), and also
for a copy sent through an 8 kHz G.711 μ-law phone line and back, two systems transcribe:

* ``jiesu``: the streaming path: 20 ms chunks through VAD and the endpointer, each utterance
  decoded by the batched CTranslate2 adapter with the hotword/history prompt, then the display
  normalisation (simplified script, punctuation, numbers) and the pinyin hotword correction;
* ``plain``: faster-whisper's own ``WhisperModel.transcribe()`` on the whole file (the set's
  language, zh unless told; same beam size), no post-processing.

Both outputs and the reference are put into one scoring form
(:meth:`~jiesu.engine.speech.textnorm.TextNormalizer.for_scoring`: simplified, NFKC, marks
removed, numbers, clock times, decimals and percentages in one written form) so a difference
comes from the pipeline, not the scoring.

Which manifests (``--split``):

* ``dev`` (default): the two shared Mandarin manifests, as before, so committed results stay
  comparable; the headline keys are those of the first manifest at 16 kHz;
* ``tune`` / ``report``: every set of that split of the development speech sets
  (:mod:`jiesu.bench.speechsets`, built or reused under ``--speechsets``); the headline keys
  are all scored sets of the split pooled, at 16 kHz. Tune on ``tune``, report ``report``.

Every entry of ``sets`` names its ``split`` and ``set`` and counts the utterances where Jiesu
made more edits than plain and the sum of that excess (one collapse shows, not averaged
away), the decoder loops of each system (``is_looping``), and keeps the ``worst`` 5
utterances by Jiesu's excess. A manifest without references (the English ``calls`` set) is
not scored: it reports ``agreement_cer``, Jiesu's text against plain's as a pseudo-reference
(agreement, **not accuracy**), decoded as English by both systems. ``target_met``: Jiesu's CER
is at most plain's on every scored set of the split, on both channels.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from jiesu.bench.cer import NO_ERRORS, CharErrors, char_errors
from jiesu.bench.speechsets import DEFAULT_DATA, DEFAULT_OUT, DEFAULT_SEED, SpeechDataMissing
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


SPLITS = ("dev", "tune", "report")
#: Worst utterances kept per set (largest excess of Jiesu's edits over plain's).
WORST_KEPT = 5
#: Sets decoded in another language than ``--language`` (both systems).
SET_LANGUAGES = {"calls": "en"}
AGREEMENT_NOTE = (
    "no reference: agreement_cer is Jiesu's text scored against plain faster-whisper's text as a "
    "pseudo-reference (how much the two agree), not accuracy"
)


@dataclass(frozen=True, slots=True)
class Utterance:
    path: Path
    reference: str


@dataclass(frozen=True, slots=True)
class ManifestSpec:
    """One manifest to evaluate and where it comes from."""

    path: Path
    split: str
    set: str
    language: str = "zh"


@dataclass(frozen=True, slots=True)
class Outcome:
    """Both systems' text for one utterance on one channel, and their edits."""

    utterance: Utterance
    jiesu: str
    plain: str
    jiesu_errors: CharErrors
    plain_errors: CharErrors


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
    parser.add_argument(
        "--split",
        choices=SPLITS,
        default=None,
        help="dev: the shared Mandarin manifests (default); tune/report: that split of the "
        "development speech sets (jiesu.bench.speechsets), built if needed",
    )
    parser.add_argument(
        "--speechsets",
        type=Path,
        default=DEFAULT_OUT,
        help="folder of the development speech sets (default: %(default)s)",
    )
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="shared data (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="speech sets' seed")
    parser.add_argument(
        "--language", default="zh", help="decoding language of the Mandarin sets (default zh)"
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
    """Jiesu's per-leg path, run offline: finals only (partials do not change final text).

    ``language``: what the decoder is told (as ``[speech] language``; ``"auto"`` detects)."""

    def __init__(
        self,
        model: object,
        hotwords: tuple[str, ...],
        prompt: str,
        final_min_window_s: float = 0.0,
        second_pass: bool = True,
        language: str = "zh",
    ) -> None:
        self._decode = whisper_decoder(
            model, language=language, final_min_window_s=final_min_window_s
        )
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
        # An early final decodes the audio the endpoint's final will ask for (the pipeline keeps
        # its result then); offline, timing does not count, so only the endpoint's final runs.
        finals = [d for d in work if d.final and not d.early]
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


def resolve_manifests(args: argparse.Namespace) -> tuple[str, list[ManifestSpec]]:
    """The split evaluated and its manifests, from ``--split`` / ``--manifest``."""
    if args.manifest and args.split not in (None, "dev"):
        raise SystemExit("asr-accuracy: --manifest and --split tune/report exclude each other")
    split = args.split or "dev"
    if split == "dev":
        paths = (
            args.manifest or [m for m in DEFAULT_MANIFESTS if m.is_file()] or [DEFAULT_MANIFESTS[0]]
        )
        return split, [
            ManifestSpec(p, split, p.parent.name, SET_LANGUAGES.get(p.parent.name, args.language))
            for p in paths
        ]
    from jiesu.bench.speechsets import build_speechsets

    try:
        built = build_speechsets(args.data, args.speechsets, args.seed)
    except SpeechDataMissing as exc:
        raise SystemExit(f"asr-accuracy: {exc}") from exc
    specs = []
    for key, path in built.items():
        group, name = key.split("/", 1)
        if group == split:
            specs.append(ManifestSpec(path, split, name, SET_LANGUAGES.get(name, args.language)))
    return split, specs


def excess(outcomes: list[Outcome]) -> dict[str, int]:
    """Utterances where one system made more edits than the other, and by how many in all."""
    diffs = [o.jiesu_errors.edits - o.plain_errors.edits for o in outcomes]
    return {
        "jiesu_worse_utts": sum(d > 0 for d in diffs),
        "jiesu_excess_edits": sum(d for d in diffs if d > 0),
        "jiesu_better_utts": sum(d < 0 for d in diffs),
        "plain_excess_edits": sum(-d for d in diffs if d < 0),
    }


def worst(outcomes: list[Outcome], kept: int = WORST_KEPT) -> list[dict[str, object]]:
    """The utterances where Jiesu did worst against plain (largest excess of edits first)."""
    ranked = sorted(
        (o for o in outcomes if o.jiesu_errors.edits > o.plain_errors.edits),
        key=lambda o: (o.plain_errors.edits - o.jiesu_errors.edits, o.utterance.path.name),
    )
    return [
        {
            "file": o.utterance.path.name,
            "ref": o.utterance.reference,
            "jiesu": o.jiesu,
            "plain": o.plain,
            "jiesu_edits": o.jiesu_errors.edits,
            "plain_edits": o.plain_errors.edits,
            "excess": o.jiesu_errors.edits - o.plain_errors.edits,
        }
        for o in ranked[:kept]
    ]


def disagreements(
    outcomes: list[Outcome], normalizer: TextNormalizer, kept: int = WORST_KEPT
) -> tuple[CharErrors, list[dict[str, object]]]:
    """Jiesu's text against plain's as a pseudo-reference: total edits and the most different."""
    scored = [(o, _score(o.plain, o.jiesu, normalizer)) for o in outcomes]
    total = sum((e for _, e in scored), NO_ERRORS)
    ranked = sorted(scored, key=lambda pair: (-pair[1].edits, pair[0].utterance.path.name))
    rows: list[dict[str, object]] = [
        {"file": o.utterance.path.name, "jiesu": o.jiesu, "plain": o.plain, "edits": e.edits}
        for o, e in ranked[:kept]
        if e.edits
    ]
    return total, rows


def _relative(jiesu_cer: float, plain_cer: float) -> float:
    return round((jiesu_cer - plain_cer) / plain_cer, 4) if plain_cer else 0.0


def summarize_set(
    spec: ManifestSpec, channel: str, outcomes: list[Outcome], normalizer: TextNormalizer
) -> dict[str, object]:
    """One entry of ``sets``: CER of both systems, or agreement when there is no reference."""
    from jiesu.models.whisper_ct2 import is_looping

    entry: dict[str, object] = {
        "manifest": str(spec.path),
        "split": spec.split,
        "set": spec.set,
        "channel": channel,
        "language": spec.language,
        "n_utts": len(outcomes),
    }
    loops = {
        "jiesu": sum(is_looping(o.jiesu) for o in outcomes),
        "plain": sum(is_looping(o.plain) for o in outcomes),
    }
    if outcomes and all(not o.utterance.reference.strip() for o in outcomes):
        agreement, rows = disagreements(outcomes, normalizer)
        entry.update(
            {
                "scored": False,
                "agreement_cer": round(agreement.cer, 4),
                "pseudo_reference_chars": agreement.reference_chars,
                "loops": loops,
                "note": AGREEMENT_NOTE,
                "worst": rows,
            }
        )
        return entry
    jiesu = sum((o.jiesu_errors for o in outcomes), NO_ERRORS)
    plain = sum((o.plain_errors for o in outcomes), NO_ERRORS)
    entry.update(
        {
            "scored": True,
            "reference_chars": plain.reference_chars,
            "jiesu_cer": round(jiesu.cer, 4),
            "plain_cer": round(plain.cer, 4),
            "relative_change": _relative(jiesu.cer, plain.cer),
            **excess(outcomes),
            "loops": loops,
            "worst": worst(outcomes),
        }
    )
    return entry


def _pooled(
    per_set: list[tuple[dict[str, object], list[Outcome]]], channel: str
) -> dict[str, object]:
    outcomes = [
        o for entry, os_ in per_set if entry["channel"] == channel and entry["scored"] for o in os_
    ]
    jiesu = sum((o.jiesu_errors for o in outcomes), NO_ERRORS)
    plain = sum((o.plain_errors for o in outcomes), NO_ERRORS)
    return {
        "channel": channel,
        "n_utts": len(outcomes),
        "reference_chars": plain.reference_chars,
        "jiesu_cer": round(jiesu.cer, 4),
        "plain_cer": round(plain.cer, 4),
        "relative_change": _relative(jiesu.cer, plain.cer),
        **excess(outcomes),
    }


def run(args: argparse.Namespace) -> dict[str, object]:
    from jiesu.engine.runtime import load_hotwords
    from jiesu.models.whisper_ct2 import WhisperCt2, prepare_whisper_base

    split, specs = resolve_manifests(args)
    model_dir = prepare_whisper_base() if args.model == "whisper-base-ct2" else Path(args.model)
    model = WhisperCt2(
        model_dir, device=args.device, compute_type=args.compute_type, beam_size=args.beam_size
    )
    hotwords = load_hotwords(args.hotwords)
    streaming: dict[str, StreamingTranscriber] = {}
    normalizer = TextNormalizer()
    channels = ["16k"] + ([] if args.no_g711 else ["g711_8k"])
    per_set: list[tuple[dict[str, object], list[Outcome]]] = []
    examples: list[dict[str, str]] = []
    timing = {"jiesu_s": 0.0, "plain_s": 0.0, "audio_s": 0.0}
    for spec in specs:
        utterances = read_manifest(spec.path)
        if spec.language not in streaming:
            streaming[spec.language] = StreamingTranscriber(
                model, hotwords, args.prompt, args.final_min_window, language=spec.language
            )
        transcriber = streaming[spec.language]
        for channel in channels:
            outcomes: list[Outcome] = []
            for utt in utterances:
                pcm = load_pcm(utt.path)
                if channel == "g711_8k":
                    pcm = phone_line(pcm)
                timing["audio_s"] += len(pcm) / RATE
                began = time.perf_counter()
                jiesu_text = transcriber.transcribe(pcm)
                timing["jiesu_s"] += time.perf_counter() - began
                began = time.perf_counter()
                plain_text = model.transcribe_plain(
                    pcm.astype(np.float32) / 32768.0,
                    language=spec.language,
                    beam_size=args.beam_size,
                )
                timing["plain_s"] += time.perf_counter() - began
                outcomes.append(
                    Outcome(
                        utt,
                        jiesu_text,
                        plain_text,
                        _score(utt.reference, jiesu_text, normalizer),
                        _score(utt.reference, plain_text, normalizer),
                    )
                )
                if channel == "16k" and len(examples) < 12 and utt.reference:
                    examples.append(
                        {"file": utt.path.name, "ref": utt.reference, "jiesu": jiesu_text,
                         "plain": plain_text}
                    )  # fmt: skip
            entry = summarize_set(spec, channel, outcomes, normalizer)
            per_set.append((entry, outcomes))
            print(
                f"asr-accuracy: {spec.split}/{spec.set} {channel}: {_brief(entry)}", file=sys.stderr
            )
    sets = [entry for entry, _ in per_set]
    scored = [s for s in sets if s["scored"]]
    if split == "dev":
        head = scored[0] if scored else sets[0]
        headline = f"{head['manifest']} ({head['channel']})"
    else:
        head = _pooled(per_set, "16k")
        headline = f"{split} split: every scored set pooled (16k)"
    pooled = [_pooled(per_set, channel) for channel in channels]
    met_measured = bool(scored) and all(
        float(str(s["jiesu_cer"])) <= float(str(s["plain_cer"])) for s in scored
    )
    target = (
        f"streaming CER <= plain faster-whisper CER on every scored set of the {split} split, "
        "on both channels (16k and G.711 8k)"
    )
    if args.no_g711:
        target += "; G.711 not measured in this run (--no-g711), so not met"
    return {
        "jiesu_cer": head.get("jiesu_cer"),
        "plain_cer": head.get("plain_cer"),
        "relative_change": head.get("relative_change"),
        "n_utts": head["n_utts"],
        "headline": headline,
        "split": split,
        "pooled": pooled,
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
        "target": target,
        "target_met": met_measured and not args.no_g711,
        "target_met_on_measured_channels": met_measured,
        "note": "development numbers on ../shared/data"
        + ("" if split == "dev" else f" (speech sets, {split} split, seed {args.seed})"),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }


def _brief(entry: dict[str, object]) -> str:
    if entry["scored"]:
        return (
            f"CER jiesu {entry['jiesu_cer']} plain {entry['plain_cer']}, "
            f"jiesu worse on {entry['jiesu_worse_utts']} (+{entry['jiesu_excess_edits']} edits), "
            f"loops {entry['loops']}"
        )
    return f"agreement_cer {entry['agreement_cer']}, loops {entry['loops']}"
