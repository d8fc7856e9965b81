"""The demo knowledge base's embeddings ship with the package, so serve starts without
embedding it (tens of seconds on a small CPU); a stale or missing copy falls back to the cache."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from jiesu.engine.assist.loaders import cached_embeddings, load_knowledge_base

REPO = Path(__file__).resolve().parents[4]


def _never(texts: Sequence[str]) -> npt.NDArray[np.float32]:
    raise AssertionError("embedded although a shipped copy exists")


def test_shipped_copy_is_used_before_embedding(tmp_path: Path) -> None:
    texts = ["甲", "乙"]
    digest = hashlib.sha256("\x1e".join(["kb-passage", *texts]).encode()).hexdigest()[:32]
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    np.save(shipped / f"kb-passage-{digest}.npy", np.eye(2, dtype=np.float32))
    got = cached_embeddings(_never, texts, tmp_path / "cache", "kb-passage", shipped)
    assert np.array_equal(got, np.eye(2, dtype=np.float32))
    assert not (tmp_path / "cache").exists()  # nothing written: the shipped copy served


def test_stale_shipped_copy_falls_back_to_embedding_into_the_cache(tmp_path: Path) -> None:
    calls: list[int] = []

    def embed(texts: Sequence[str]) -> npt.NDArray[np.float32]:
        calls.append(len(texts))
        return np.ones((len(texts), 3), dtype=np.float32)

    shipped = tmp_path / "shipped"
    shipped.mkdir()
    first = cached_embeddings(embed, ["丙"], tmp_path / "cache", "kb-passage", shipped)
    again = cached_embeddings(embed, ["丙"], tmp_path / "cache", "kb-passage", shipped)
    assert calls == [1] and first.shape == again.shape == (1, 3)


def test_the_demo_knowledge_base_embeddings_are_shipped_and_current() -> None:
    kb = load_knowledge_base(REPO / "sip_config" / "knowledge" / "demo_kb.jsonl")
    texts = [f"{e.title}。{e.body}" for e in kb.entries]
    digest = hashlib.sha256("\x1e".join(["kb-passage", *texts]).encode()).hexdigest()[:32]
    shipped = REPO / "models" / "trained" / f"kb-passage-{digest}.npy"
    assert shipped.is_file(), (
        f"{shipped.name} missing: the demo KB changed; regenerate it with "
        "JIESU_CACHE=/tmp/kb python -c 'from jiesu.engine.assist.loaders import load_toolkit; "
        "load_toolkit(None, None)' and copy /tmp/kb/embeddings/kb-passage-*.npy to models/trained/"
    )
    assert np.load(shipped).shape == (len(texts), 384)
