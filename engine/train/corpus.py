"""Readers of the category training data: the labelled message file and the taxonomy.

``classified.tsv``: a header, then ``id, title, time, detail, label_l1`` (tab-separated).
``taxonomy_3level.tsv``: a header, then ``一级, 二级, 三级``. Bad rows raise ``ValueError``
naming the file and line: a training set that silently loses rows would mislead the metrics.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

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
