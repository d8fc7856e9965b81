"""Registry and model-folder preparation, without loading any model: checksums, atomic rebuild
of a corrupt joined file, and the install hint for a missing package."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest

from jiesu.models.registry import (
    MODEL_REGISTRY,
    JoinedFile,
    ModelFile,
    ModelSpec,
    ModelUnavailable,
    PipPackage,
    check_installed,
    resolve_file,
    sha256_file,
)
from jiesu.models.whisper_ct2 import WINDOW_BUCKETS, bucket_for, prepare_whisper_base

FAKE = PipPackage("jiesu-fake-model-pkg", "jiesu_fake_model_pkg")
MISSING = PipPackage("jiesu-no-such-model-pkg", "jiesu_no_such_model_pkg")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def fake_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An importable package holding a tiny 'model' in two parts plus a config file."""
    root = tmp_path / "site"
    data = root / FAKE.module / "data"
    data.mkdir(parents=True)
    (root / FAKE.module / "__init__.py").write_text("")
    (data / "config.json").write_bytes(b'{"n": 1}')
    (data / "model.bin.part1").write_bytes(b"A" * 1000)
    (data / "model.bin.part2").write_bytes(b"B" * 777)
    monkeypatch.syspath_prepend(str(root))
    return data


def _spec(joined_sha: str | None = None) -> ModelSpec:
    return ModelSpec(
        name="fake",
        family="whisper-ct2",
        source="packages",
        requires=(FAKE,),
        files=(ModelFile(FAKE, "data/config.json", _sha(b'{"n": 1}')),),
        joined=(
            JoinedFile(
                name="model.bin",
                parts=(
                    ModelFile(FAKE, "data/model.bin.part1", _sha(b"A" * 1000)),
                    ModelFile(FAKE, "data/model.bin.part2", _sha(b"B" * 777)),
                ),
                sha256=joined_sha or _sha(b"A" * 1000 + b"B" * 777),
            ),
        ),
        licence="test",
        languages=("zh",),
        good_for="tests",
    )


def test_registry_has_the_default_models_and_is_read_only() -> None:
    assert {"whisper-base-ct2", "silero-vad-v6", "webrtcvad"} <= set(MODEL_REGISTRY)
    with pytest.raises(TypeError):
        MODEL_REGISTRY["x"] = MODEL_REGISTRY["webrtcvad"]  # type: ignore[index]
    whisper = MODEL_REGISTRY["whisper-base-ct2"]
    hashes = [f.sha256 for f in whisper.files] + [j.sha256 for j in whisper.joined]
    hashes += [p.sha256 for j in whisper.joined for p in j.parts]
    assert len(hashes) == 6
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes)
    assert [j.name for j in whisper.joined] == ["model.bin"]
    for spec in MODEL_REGISTRY.values():
        assert spec.licence and spec.languages and spec.good_for and spec.requires


def test_missing_package_names_the_pip_package_to_install() -> None:
    with pytest.raises(ModelUnavailable, match="pip install jiesu-no-such-model-pkg"):
        check_installed(MISSING)
    with pytest.raises(ModelUnavailable, match="pip install jiesu-no-such-model-pkg"):
        resolve_file(ModelFile(MISSING, "data/model.bin", "0" * 64))


def test_prepare_with_a_missing_package_gives_the_install_hint(tmp_path: Path) -> None:
    part = ModelFile(MISSING, "data/model.bin.part1", "0" * 64)
    spec = ModelSpec(
        "x",
        "whisper-ct2",
        "packages",
        (MISSING,),
        (),
        (JoinedFile("model.bin", (part,), "0" * 64),),
        "test",
        ("zh",),
        "tests",
    )
    with pytest.raises(ModelUnavailable, match="pip install jiesu-no-such-model-pkg"):
        prepare_whisper_base(tmp_path / "cache", spec)


def test_prepare_joins_parts_and_reuses_a_valid_folder(fake_package: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    folder = prepare_whisper_base(cache, _spec())
    assert folder == cache
    assert (folder / "model.bin").read_bytes() == b"A" * 1000 + b"B" * 777
    assert (folder / "config.json").read_bytes() == b'{"n": 1}'
    inode = os.stat(folder / "model.bin").st_ino
    prepare_whisper_base(cache, _spec())
    assert os.stat(folder / "model.bin").st_ino == inode, "a valid file must be reused"
    assert not list(cache.glob(".*.tmp")), "no temp files left behind"


def test_prepare_detects_a_corrupt_joined_file_and_rebuilds(
    fake_package: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    prepare_whisper_base(cache, _spec())
    target = cache / "model.bin"
    target.write_bytes(b"A" * 1000 + b"X" * 777)  # same size, wrong content
    prepare_whisper_base(cache, _spec())
    assert sha256_file(target) == _sha(b"A" * 1000 + b"B" * 777)
    (cache / "config.json").unlink()
    prepare_whisper_base(cache, _spec())
    assert (cache / "config.json").read_bytes() == b'{"n": 1}'


def test_prepare_refuses_parts_that_do_not_match_the_registry(
    fake_package: Path, tmp_path: Path
) -> None:
    with pytest.raises(ModelUnavailable, match="force-reinstall jiesu-fake-model-pkg"):
        prepare_whisper_base(tmp_path / "cache", _spec(joined_sha="f" * 64))
    assert not (tmp_path / "cache" / "model.bin").exists()


def test_bucket_is_the_smallest_window_that_fits_speech_plus_margin() -> None:
    assert WINDOW_BUCKETS == (500, 1000, 1500, 3000)
    assert bucket_for(16_000 * 2) == 500
    assert bucket_for(int(16_000 * 3.5)) == 500  # 350 frames + 150 margin
    assert bucket_for(int(16_000 * 3.6)) == 1000
    assert bucket_for(16_000 * 4, margin_frames=50) == 500
    assert bucket_for(int(16_000 * 4.6), margin_frames=50) == 1000  # 460 + 50 > 500
    assert bucket_for(16_000 * 12) == 1500
    assert bucket_for(16_000 * 29) == 3000
    assert bucket_for(16_000 * 40) == 3000
    assert bucket_for(16_000 * 4, margin_frames=200) == 1000


def test_decoder_loops_are_recognised() -> None:
    from jiesu.models.whisper_ct2 import is_looping

    assert is_looping("广州市佛地产中间协会分析" * 3)
    assert is_looping("我还是回来行行行行行行行行行行行")
    assert is_looping("abc " * 40)
    assert not is_looping("广州市房地产中介协会分析")
    assert not is_looping("对对对，就是这个地方")
    assert not is_looping("谢谢谢谢你")
    # the same sentence twice in a row (Whisper base, 3.3 s of AISHELL in the 5 s window)
    assert is_looping("广州市 佛地产 中间协会分析广州市 佛地产 中间协会分析")
    assert not is_looping("谢谢你谢谢你，我知道了")
    assert not is_looping("我住在武侯区，武侯区玉林街道")


def test_shipped_paths_point_into_this_checkout() -> None:
    from jiesu.models.registry import shared_data_path, shipped_path, trained_path

    root = shipped_path()
    assert (root / "pyproject.toml").is_file() and (root / "models" / "registry.py").is_file()
    assert shipped_path("sip_config", "jiesu.toml").is_file()
    assert trained_path() == root / "models" / "trained"
    assert trained_path("classify_l1.npz").is_file()
    assert shared_data_path("text") == root.parent / "shared" / "data" / "text"
