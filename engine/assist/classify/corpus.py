"""Readers for the labelled message file and the taxonomy, and an embedding cache.

``classified.tsv``: a header, then ``id, title, time, detail, label_l1`` (tab-separated).
``taxonomy_3level.tsv``: a header, then ``一级, 二级, 三级``. Bad rows raise ``ValueError``
naming the file and line: a training set that silently loses rows would mislead the metrics.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

csv.field_size_limit(1 << 24)


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    title: str
    detail: str
    label: str


def _rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t")
        return [(i + 2, row) for i, row in enumerate(reader)]


def read_messages(path: Path) -> list[Message]:
    """Labelled messages; needs columns ``title``, ``detail``, ``label_l1`` (``id`` optional)."""
    out = []
    for line, row in _rows(path):
        title, detail, label = row.get("title"), row.get("detail"), row.get("label_l1")
        if title is None or detail is None or not label:
            raise ValueError(f"{path}:{line}: expected title, detail and label_l1 columns")
        out.append(
            Message(row.get("id") or str(line), title.strip(), detail.strip(), label.strip())
        )
    if not out:
        raise ValueError(f"{path}: no messages")
    return out


def read_taxonomy(path: Path) -> list[tuple[str, str, str]]:
    """Three-level rows (一级, 二级, 三级) in file order, header skipped, duplicates dropped."""
    seen: dict[tuple[str, str, str], None] = {}
    with path.open(encoding="utf-8", newline="") as f:
        for i, cells in enumerate(csv.reader(f, delimiter="\t")):
            if i == 0 or not any(c.strip() for c in cells):
                continue
            if len(cells) < 3:
                raise ValueError(f"{path}:{i + 1}: expected 3 tab-separated levels")
            seen[(cells[0].strip(), cells[1].strip(), cells[2].strip())] = None
    return list(seen)


def taxonomy_texts(rows: Sequence[tuple[str, str, str]]) -> list[str]:
    """What the taxonomy rows are embedded as."""
    return [f"{a} {b} {c}" for a, b, c in rows]


def cached_embeddings(
    embed: Callable[[Sequence[str]], npt.NDArray[np.float32]],
    texts: Sequence[str],
    cache_dir: Path | None,
    kind: str,
    shipped_dir: Path | None = None,
) -> npt.NDArray[np.float32]:
    """``embed(texts)``, kept under ``cache_dir`` keyed by the texts' sha256 (embedding a few
    hundred messages takes minutes on a small CPU; reruns of a benchmark need not pay again).

    ``shipped_dir`` (read-only, e.g. the package's ``models/trained``) is looked in first: the
    demo knowledge base's embeddings ship there, so a fresh install starts in seconds."""
    digest = hashlib.sha256("\x1e".join([kind, *texts]).encode("utf-8")).hexdigest()[:32]
    name = f"{kind}-{digest}.npy"
    for folder in (shipped_dir, cache_dir):
        path = folder / name if folder is not None else None
        if path is not None and path.is_file():
            cached = np.load(path, allow_pickle=False)
            if cached.shape[0] == len(texts):
                return np.asarray(cached, dtype=np.float32)
    if cache_dir is None:
        return embed(texts)
    path = cache_dir / name
    matrix = embed(texts)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, matrix)
    tmp.replace(path)
    return matrix
