"""Knowledge-base entries and their two file formats (JSONL and Markdown).

JSONL: one object per line with ``id``, ``title``, ``body``, ``keywords`` (list of strings),
``version``, ``effective_date`` (YYYY-MM-DD) and optional ``category``.

Markdown: entries separated by lines of ``---``; each starts with ``# title``, then
``key: value`` lines (``id``, ``version``, ``effective_date``, ``keywords`` comma-separated,
``category``), a blank line, and the body (the answer script the agent reads out).

Errors name the file, the line and the key (:class:`KnowledgeFormatError`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass


class KnowledgeFormatError(ValueError):
    """A knowledge file is malformed."""


@dataclass(frozen=True, slots=True)
class KnowledgeEntry:
    id: str
    title: str
    body: str
    keywords: tuple[str, ...]
    version: str
    effective_date: dt.date
    category: str = ""


_REQUIRED = ("id", "title", "body", "keywords", "version", "effective_date")


def _entry(raw: dict[str, object], where: str) -> KnowledgeEntry:
    for key in _REQUIRED:
        if key not in raw:
            raise KnowledgeFormatError(f"{where}: missing key {key!r}")
    texts = {}
    for key in ("id", "title", "body", "version", "effective_date"):
        value = raw[key]
        if not isinstance(value, str) or not value.strip():
            raise KnowledgeFormatError(f"{where}: {key}: expected a non-empty string")
        texts[key] = value.strip()
    keywords = raw["keywords"]
    if not isinstance(keywords, list) or not all(
        isinstance(k, str) and k.strip() for k in keywords
    ):
        raise KnowledgeFormatError(f"{where}: keywords: expected a list of non-empty strings")
    try:
        effective = dt.date.fromisoformat(texts["effective_date"])
    except ValueError as exc:
        raise KnowledgeFormatError(f"{where}: effective_date: expected YYYY-MM-DD") from exc
    category = raw.get("category", "")
    return KnowledgeEntry(
        texts["id"],
        texts["title"],
        texts["body"],
        tuple(k.strip() for k in keywords),
        texts["version"],
        effective,
        category if isinstance(category, str) else "",
    )


def parse_jsonl(text: str, source: str) -> Iterator[KnowledgeEntry]:
    """The entries of JSONL text (``source`` names the file in errors)."""
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise KnowledgeFormatError(f"{source}:{number}: not JSON ({exc.msg})") from exc
        if not isinstance(raw, dict):
            raise KnowledgeFormatError(f"{source}:{number}: expected a JSON object")
        yield _entry(raw, f"{source}:{number}")


_META = re.compile(r"^(id|version|effective_date|keywords|category)\s*:\s*(.*)$")


def parse_markdown(text: str, source: str) -> Iterator[KnowledgeEntry]:
    """The entries of Markdown text (``source`` names the file in errors)."""
    lines = text.splitlines()
    blocks: list[tuple[int, list[str]]] = [(1, [])]
    for number, line in enumerate(lines, 1):
        if line.strip() == "---":
            blocks.append((number + 1, []))
        else:
            blocks[-1][1].append(line)
    for start, block in blocks:
        if not any(b.strip() for b in block):
            continue
        raw: dict[str, object] = {}
        body: list[str] = []
        in_body = False
        for line in block:
            if not in_body and line.startswith("# ") and "title" not in raw:
                raw["title"] = line[2:].strip()
            elif not in_body and (m := _META.match(line.strip())):
                key, value = m.group(1), m.group(2).strip()
                raw[key] = (
                    [k.strip() for k in re.split(r"[,，、]", value) if k.strip()]
                    if key == "keywords"
                    else value
                )
            elif not in_body and not line.strip():
                in_body = "title" in raw
            else:
                in_body = True
                body.append(line)
        raw["body"] = "\n".join(body).strip()
        yield _entry(raw, f"{source}:{start}")


@dataclass(frozen=True)
class KnowledgeBase:
    entries: tuple[KnowledgeEntry, ...]

    @classmethod
    def of(cls, entries: Sequence[KnowledgeEntry], where: str = "knowledge base") -> KnowledgeBase:
        seen: set[str] = set()
        for entry in entries:
            if entry.id in seen:
                raise KnowledgeFormatError(f"{where}: duplicate entry id {entry.id!r}")
            seen.add(entry.id)
        if not entries:
            raise KnowledgeFormatError(f"{where}: no entries")
        return cls(tuple(entries))

    def __len__(self) -> int:
        return len(self.entries)
