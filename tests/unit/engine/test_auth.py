"""Signed expiring tokens: what is accepted, and every way a token is refused."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from jiesu.engine.auth import AuthError, Role, TokenSigner, load_or_create_secret, token_fingerprint

SECRET = b"s" * 32
NOW = 1_763_900_000.0


def test_minted_token_verifies_with_its_claims() -> None:
    signer = TokenSigner(SECRET)
    token = signer.mint("agent-7", Role.AGENT, "12345", 60, NOW, calls=("c1",))
    claims = signer.verify(token, NOW + 59)
    assert (claims.sub, claims.role, claims.hotline, claims.calls) == (
        "agent-7",
        Role.AGENT,
        "12345",
        ("c1",),
    )
    assert claims.exp == int(NOW) + 60


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        (17, "missing"),
        ("abc", "malformed"),
        (".x", "malformed"),
    ],
)
def test_malformed_tokens(token: object, reason: str) -> None:
    with pytest.raises(AuthError) as info:
        TokenSigner(SECRET).verify(token, NOW)
    assert info.value.reason == reason


def test_expired_token_is_refused() -> None:
    signer = TokenSigner(SECRET)
    token = signer.mint("a", Role.AGENT, "12345", 60, NOW)
    with pytest.raises(AuthError) as info:
        signer.verify(token, NOW + 60)
    assert info.value.reason == "expired"


def test_other_secret_and_tampered_claims_fail_the_signature() -> None:
    token = TokenSigner(SECRET).mint("a", Role.AGENT, "12345", 60, NOW)
    with pytest.raises(AuthError) as info:
        TokenSigner(b"t" * 32).verify(token, NOW)
    assert info.value.reason == "bad_signature"
    supervisor = TokenSigner(SECRET).mint("a", Role.SUPERVISOR, "12345", 60, NOW)
    forged = supervisor.split(".")[0] + "." + token.split(".")[1]
    with pytest.raises(AuthError) as info:
        TokenSigner(SECRET).verify(forged, NOW)
    assert info.value.reason == "bad_signature"


def test_signed_garbage_claims_are_malformed_not_a_crash() -> None:
    signer = TokenSigner(SECRET)
    body = "bm90LWpzb24"  # base64url of "not-json"
    token = f"{body}.{signer._sign(body)}"
    with pytest.raises(AuthError) as info:
        signer.verify(token, NOW)
    assert info.value.reason == "malformed"


def test_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32"):
        TokenSigner(b"short")


def test_fingerprint_does_not_reveal_the_token() -> None:
    token = TokenSigner(SECRET).mint("a", Role.AGENT, "12345", 60, NOW)
    fp = token_fingerprint(token)
    assert fp not in token and len(fp) == 10
    assert fp == token_fingerprint(token)


def test_secret_file_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "var" / "token.secret"
    first = load_or_create_secret(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_or_create_secret(path) == first
    assert len(first) >= 32


def test_short_secret_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "token.secret"
    path.write_bytes(b"tiny")
    with pytest.raises(ValueError, match="shorter than 32"):
        load_or_create_secret(path)
