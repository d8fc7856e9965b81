"""The gateway serves the screens over plain HTTP on its websocket port: right types, a strict
Content-Security-Policy, revalidation with ETag, and nothing outside the shipped files."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from email.message import Message
from typing import Any

from jiesu.engine.gateway.static import CONTENT_SECURITY_POLICY, StaticSite


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Message, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


async def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Message, bytes]:
    return await asyncio.to_thread(_get, url, headers)


async def test_pages_and_assets_are_served_with_types_and_policy(engine: Any) -> None:
    for path, kind, marker in [
        ("/", "text/html", "话务员".encode()),
        ("/agent", "text/html", b'src="/assets/agent.js"'),
        ("/supervisor", "text/html", b'src="/assets/supervisor.js"'),
        ("/assets/agent.js", "text/javascript", b"class AgentScreen"),
        ("/assets/link.js", "text/javascript", b"export class ScreenLink"),
        ("/assets/screens.css", "text/css", b".transcript"),
        ("/assets/protocol.v1.schema.json", "application/json", b'"ticket.field"'),
        ("/assets/labels.json", "application/json", '"fire": "火情"'.encode()),
    ]:
        status, headers, body = await get(engine.base + path)
        assert status == 200, path
        assert headers["Content-Type"].startswith(kind), (path, headers["Content-Type"])
        assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Cache-Control"] == "no-cache"
        assert int(headers["Content-Length"]) == len(body)
        assert marker in body, path


async def test_unchanged_file_revalidates_with_304(engine: Any) -> None:
    status, headers, _ = await get(engine.base + "/assets/agent.js")
    assert status == 200
    etag = headers["ETag"]
    status, headers, body = await get(engine.base + "/assets/agent.js", {"If-None-Match": etag})
    assert (status, body) == (304, b"")
    assert headers["ETag"] == etag
    status, _, _ = await get(engine.base + "/assets/agent.js", {"If-None-Match": '"other"'})
    assert status == 200


async def test_only_shipped_files_are_served(engine: Any) -> None:
    for path in [
        "/assets/__init__.py",
        "/assets/../engine/auth.py",
        "/assets/%2e%2e/pyproject.toml",
        "/assets/",
        "/agent.js",
        "/etc/passwd",
    ]:
        status, _, _ = await get(engine.base + path)
        assert status == 404, path
    # Health and metrics are still there.
    status, _, body = await get(engine.base + "/healthz")
    assert (status, body) == (200, b"ok\n")


def test_site_keeps_files_of_known_types_only() -> None:
    site = StaticSite(
        {"agent.html": b"<html>", "app.js": b"x", "notes.txt": b"no", "sub/x.js": b"no"}
    )
    assert site.paths() == ("/agent", "/assets/agent.html", "/assets/app.js")
    reply = site.reply("/agent")
    assert reply is not None and reply.status == 200 and reply.body == b"<html>"
    assert site.reply("/assets/notes.txt") is None
    assert site.reply("/") is None  # no index.html given
