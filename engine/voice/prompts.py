"""The prompt cache: fixed prompts synthesised ahead, at 8 kHz, loudness-normalised.

``sip_config/prompts.toml`` names each prompt (``[prompts.ID] text = …``, optionally
``interruptible = false``). :meth:`PromptCache.build` synthesises every prompt whose (voice,
text) is not in the cache yet into ``KEY.wav`` (``KEY``: a hash of the cache format, the voice
and the text), so editing one prompt rebuilds that prompt only, and writes ``manifest.json``
(id -> key, text, voice, seconds) for the dialogs and for operators. :meth:`PromptCache.get`
looks a text up at run time: a cached prompt plays at once; anything else goes to the
synthesiser.
"""

from __future__ import annotations

import hashlib
import json
import os
import wave
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from jiesu.engine.config import ConfigError, read_toml
from jiesu.engine.voice.synthesizer import Synthesizer

Pcm = npt.NDArray[np.int16]
RATE = 8000
#: Bumped when the way prompts are made changes (normalisation, rate): every key changes.
CACHE_FORMAT = 1
#: Speech level of every prompt: RMS of its voiced 20 ms frames, in dB below full scale.
TARGET_DBFS = -20.0
#: No sample above this after the gain (about -1 dBFS).
PEAK_LIMIT = 0.89
#: Frames within this many dB of the loudest count as voiced for the level.
_VOICED_WITHIN_DB = 30.0


@dataclass(frozen=True, slots=True)
class Prompt:
    """One fixed prompt."""

    prompt_id: str
    text: str
    interruptible: bool = True


@dataclass(frozen=True, slots=True)
class BuildReport:
    """What a build did: prompts synthesised now, and prompts already in the cache."""

    built: tuple[str, ...]
    kept: tuple[str, ...]


def load_prompts(path: Path) -> list[Prompt]:
    """The prompts of a prompts TOML; :class:`ConfigError` names what is wrong."""
    table = read_toml(path).get("prompts")
    if not isinstance(table, Mapping) or not table:
        raise ConfigError(f"{path}: no [prompts.ID] tables")
    prompts = []
    for prompt_id, entry in table.items():
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{path}: prompts.{prompt_id} must be a table")
        text, interruptible = entry.get("text"), entry.get("interruptible", True)
        unknown = set(entry) - {"text", "interruptible"}
        if not isinstance(text, str) or not text.strip():
            raise ConfigError(f"{path}: prompts.{prompt_id}.text must be non-empty text")
        if not isinstance(interruptible, bool):
            raise ConfigError(f"{path}: prompts.{prompt_id}.interruptible must be true or false")
        if unknown:
            raise ConfigError(f"{path}: prompts.{prompt_id}: unknown key(s) {sorted(unknown)}")
        prompts.append(Prompt(prompt_id, text.strip(), interruptible))
    return prompts


def prompt_key(voice: str, text: str) -> str:
    """The cache key of ``text`` spoken by ``voice``."""
    blob = f"{CACHE_FORMAT}\0{voice}\0{text}".encode()
    return hashlib.sha256(blob).hexdigest()[:24]


def normalise_loudness(pcm: Pcm, target_dbfs: float = TARGET_DBFS) -> Pcm:
    """``pcm`` with its voiced frames at ``target_dbfs`` RMS, peaks held under
    :data:`PEAK_LIMIT` (a quieter result rather than clipping)."""
    samples = pcm.astype(np.float64) / 32768.0
    frame = RATE // 50
    usable = len(samples) // frame * frame
    if usable == 0 or not np.any(samples):
        return pcm.copy()
    rms = np.sqrt(np.mean(samples[:usable].reshape(-1, frame) ** 2, axis=1))
    voiced = rms[rms >= rms.max() * 10 ** (-_VOICED_WITHIN_DB / 20)]
    level = float(np.sqrt(np.mean(voiced**2)))
    gain = 10 ** (target_dbfs / 20) / level
    gain = min(gain, PEAK_LIMIT / float(np.abs(samples).max()))
    return np.clip(np.round(samples * gain * 32768.0), -32768, 32767).astype(np.int16)


class PromptCache:
    """A folder of prompt WAV files (8 kHz mono int16) and their manifest."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path_for(self, voice: str, text: str) -> Path:
        return self.folder / f"{prompt_key(voice, text)}.wav"

    def get(self, voice: str, text: str) -> Pcm | None:
        """The cached audio of ``text`` in ``voice``, or None."""
        path = self.path_for(voice, text)
        if not path.is_file():
            return None
        with wave.open(str(path)) as handle:
            return np.frombuffer(handle.readframes(handle.getnframes()), "<i2").astype(np.int16)

    def build(self, prompts: Sequence[Prompt], synthesizer: Synthesizer) -> BuildReport:
        """Synthesise what is missing, write the manifest; see the module doc."""
        if synthesizer.rate != RATE:
            raise ValueError(f"prompts are {RATE} Hz; the synthesiser gives {synthesizer.rate}")
        self.folder.mkdir(parents=True, exist_ok=True)
        built, kept, manifest = [], [], {}
        for prompt in prompts:
            path = self.path_for(synthesizer.name, prompt.text)
            if path.is_file():
                kept.append(prompt.prompt_id)
            else:
                pcm = normalise_loudness(np.concatenate(list(synthesizer.stream(prompt.text))))
                _write_wav_atomically(path, pcm)
                built.append(prompt.prompt_id)
            with wave.open(str(path)) as handle:
                seconds = handle.getnframes() / RATE
            manifest[prompt.prompt_id] = {
                "key": path.stem,
                "text": prompt.text,
                "voice": synthesizer.name,
                "interruptible": prompt.interruptible,
                "seconds": round(seconds, 3),
            }
        text = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True)
        (self.folder / "manifest.json").write_text(text + "\n", encoding="utf-8")
        return BuildReport(tuple(built), tuple(kept))


def _write_wav_atomically(path: Path, pcm: Pcm) -> None:
    """A half-written file must never be taken for a cached prompt."""
    partial = path.with_suffix(".wav.part")
    with wave.open(str(partial), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(RATE)
        handle.writeframes(pcm.astype("<i2").tobytes())
    os.replace(partial, path)
