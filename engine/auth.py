"""Signed, expiring access tokens for screens and ingest clients.

A token is ``base64url(json claims) + "." + base64url(HMAC-SHA256(secret, claims))``. Claims:
``sub`` (agent or client id), ``role`` (agent / supervisor / ingest), ``hotline``, ``exp`` and
``iat`` (Unix seconds), and optionally ``calls`` (call ids an agent may follow besides those
assigned to them). Tokens travel in the first message of a connection, never in a URL, and are
never logged; :func:`token_fingerprint` gives a safe handle for log lines.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import json
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from jiesu.engine.wire import ProtocolError, from_plain, to_plain

MIN_SECRET_BYTES = 32


class Role(enum.StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    #: A media source (PBX connector, web channel, test client) allowed to push audio.
    INGEST = "ingest"


@dataclass(frozen=True, slots=True)
class Claims:
    sub: str
    role: Role
    hotline: str
    exp: int
    iat: int
    calls: tuple[str, ...] = ()


class AuthError(Exception):
    """A token was refused; ``reason`` is one of: missing, malformed, bad_signature, expired."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"token refused: {reason}")
        self.reason = reason


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    """Mints and verifies tokens with one HMAC secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"token secret must be at least {MIN_SECRET_BYTES} bytes")
        self._secret = secret

    def mint(
        self,
        sub: str,
        role: Role,
        hotline: str,
        ttl_s: int,
        now: float,
        calls: tuple[str, ...] = (),
    ) -> str:
        claims = Claims(
            sub=sub, role=role, hotline=hotline, exp=int(now) + ttl_s, iat=int(now), calls=calls
        )
        body = _b64(json.dumps(to_plain(claims), separators=(",", ":")).encode())
        return f"{body}.{self._sign(body)}"

    def verify(self, token: object, now: float) -> Claims:
        if not token or not isinstance(token, str):
            raise AuthError("missing")
        body, dot, signature = token.partition(".")
        if not dot or not body or not signature:
            raise AuthError("malformed")
        if not hmac.compare_digest(signature, self._sign(body)):
            raise AuthError("bad_signature")
        try:
            claims = from_plain(Claims, json.loads(_unb64(body)))
        except (ValueError, ProtocolError):
            raise AuthError("malformed") from None
        if claims.exp <= now:
            raise AuthError("expired")
        return claims

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._secret, body.encode("ascii"), hashlib.sha256).digest())


def token_fingerprint(token: str) -> str:
    """A short non-reversible handle for a token, safe to log."""
    return hashlib.sha256(token.encode()).hexdigest()[:10]


def load_or_create_secret(path: Path) -> bytes:
    """Read the HMAC secret; create a random one (mode 0600) on first start."""
    if path.exists():
        secret = path.read_bytes().strip()
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"{path}: token secret shorter than {MIN_SECRET_BYTES} bytes")
        return secret
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(32).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secret)
    return secret
