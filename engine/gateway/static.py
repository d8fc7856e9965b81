"""The screens' web files (``agent_overlay/``) as HTTP responses on the gateway port.

Sans-I/O: :class:`StaticSite` reads the shipped files once, when the gateway is built, and
answers ``(path, If-None-Match)`` with a :class:`StaticReply` (status, headers, body); the
gateway turns that into a websockets ``Response``. Nothing is read from disk per request, and
only files that ship with the package can be served (no path is ever joined from the request).

Caching: there is no build step and no hashed file names, so every reply carries
``Cache-Control: no-cache`` and a strong ``ETag``; a browser revalidates and gets ``304`` while
the file is unchanged. Every reply carries a strict Content-Security-Policy: scripts, styles and
websocket connections only from the gateway itself, nothing inline, no framing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType

from jiesu.engine.assist.loaders import SCHEMA_FILE, load_schema
from jiesu.engine.labels import TABLES

#: The package that holds the screens.
OVERLAY_PACKAGE = "jiesu.agent_overlay"

CONTENT_TYPES = MappingProxyType(
    {
        ".html": "text/html; charset=utf-8",
        ".js": "text/javascript; charset=utf-8",
        ".css": "text/css; charset=utf-8",
        ".json": "application/json; charset=utf-8",
    }
)

#: Pages by request path; every other shipped file is served under ``/assets/NAME``.
PAGES = MappingProxyType(
    {"/": "index.html", "/agent": "agent.html", "/supervisor": "supervisor.html"}
)
ASSET_PREFIX = "/assets/"

# 'self' in connect-src covers ws:// and wss:// of the page's own host and port (CSP level 3).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

COMMON_HEADERS: tuple[tuple[str, str], ...] = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Cache-Control", "no-cache"),
)


def screen_labels_json() -> bytes:
    """Every table of :mod:`jiesu.engine.labels` under its name in capitals, plus
    ``ORDER_FIELDS``: the shipped work-order schema's ``[name, label]`` pairs in display order."""
    tables = {name.upper(): table for name, table in TABLES.items()}
    tables["ORDER_FIELDS"] = [[spec.name, spec.label] for spec in load_schema(SCHEMA_FILE).fields]
    return json.dumps(tables, ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True, slots=True)
class StaticFile:
    name: str
    content_type: str
    body: bytes
    etag: str


@dataclass(frozen=True, slots=True)
class StaticReply:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


class StaticSite:
    """The shipped web files, keyed by the path they are served on."""

    def __init__(self, files: dict[str, bytes]) -> None:
        """``files``: file name -> content; names with an unknown extension are left out."""
        self._by_path: dict[str, StaticFile] = {}
        for name, body in files.items():
            content_type = _content_type(name)
            if content_type is None or "/" in name:
                continue
            digest = hashlib.sha256(body).hexdigest()[:32]
            item = StaticFile(name, content_type, body, f'"{digest}"')
            self._by_path[ASSET_PREFIX + name] = item
        for path, name in PAGES.items():
            page = self._by_path.get(ASSET_PREFIX + name)
            if page is not None:
                self._by_path[path] = page

    @classmethod
    def from_package(cls, package: str = OVERLAY_PACKAGE) -> StaticSite:
        """Read the files that ship in ``package`` (top level only), plus ``labels.json`` built
        from :mod:`jiesu.engine.labels` (the one copy of the labels the engine also uses)."""
        files = {"labels.json": screen_labels_json()}
        for entry in resources.files(package).iterdir():
            if entry.is_file() and _content_type(entry.name) is not None:
                files[entry.name] = entry.read_bytes()
        return cls(files)

    def paths(self) -> tuple[str, ...]:
        return tuple(sorted(self._by_path))

    def reply(self, path: str, if_none_match: str | None = None) -> StaticReply | None:
        """The answer to ``GET path``; None when the path is not one of the web files."""
        item = self._by_path.get(path)
        if item is None:
            return None
        headers = (*COMMON_HEADERS, ("ETag", item.etag))
        if if_none_match is not None and _etag_matches(if_none_match, item.etag):
            return StaticReply(304, headers, b"")
        return StaticReply(
            200,
            (
                *headers,
                ("Content-Type", item.content_type),
                ("Content-Length", str(len(item.body))),
            ),
            item.body,
        )


def _content_type(name: str) -> str | None:
    dot = name.rfind(".")
    return CONTENT_TYPES.get(name[dot:]) if dot > 0 else None


def _etag_matches(header: str, etag: str) -> bool:
    candidates = {c.strip().removeprefix("W/") for c in header.split(",")}
    return "*" in candidates or etag in candidates
