"""Who gets in: hello timeout, bad/expired/missing tokens, wrong role, Origin, capacity."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest
from websockets.exceptions import InvalidStatus

from jiesu.engine.auth import Role, TokenSigner, token_fingerprint

AUTH = "gateway_auth_refused_total"


async def hello_and_expect_refusal(gw, hello: dict | str) -> tuple[list[dict], int | None]:  # type: ignore[no-untyped-def]
    ws = await gw.connect()
    await ws.send(hello if isinstance(hello, str) else json.dumps(hello))
    got: list[dict] = []
    async with asyncio.timeout(10):
        try:
            while True:
                got.append(json.loads(await ws.recv()))
        except Exception:
            pass
    return got, ws.close_code


async def test_no_hello_within_timeout_is_closed(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.start(hello_timeout_s=0.2)
    ws = await harness.connect()
    started = time.monotonic()
    async with asyncio.timeout(10):
        frame = await ws.recv()
        await ws.wait_closed()
    assert json.loads(frame) == {"type": "error", "code": "auth_failed", "reason": "timeout"}
    assert ws.close_code == 4401
    assert time.monotonic() - started < 5
    assert harness.metrics.value(AUTH, {"reason": "timeout"}) == 1


@pytest.mark.parametrize(
    ("make_token", "reason"),
    [
        (lambda gw: None, "missing"),
        (lambda gw: "", "missing"),
        (lambda gw: "not-a-token", "malformed"),
        (
            lambda gw: TokenSigner(b"another-secret-0123456789abcdefghij").mint(
                "a1", Role.AGENT, "12345", 60, time.time()
            ),
            "bad_signature",
        ),
        (lambda gw: gw.token("a1", now=time.time() - 7200, ttl_s=60), "expired"),
        (lambda gw: gw.token("pbx-1", role=Role.INGEST), "wrong_role"),
    ],
)
async def test_bad_tokens_are_refused(gw, make_token, reason: str) -> None:  # type: ignore[no-untyped-def]
    hello: dict = {"type": "hello", "protocol": 1}
    token = make_token(gw)
    if token is not None:
        hello["token"] = token
    got, code = await hello_and_expect_refusal(gw, hello)
    assert got == [{"type": "error", "code": "auth_failed", "reason": reason}]
    assert code == 4401
    assert gw.metrics.value(AUTH, {"reason": reason}) == 1
    assert gw.metrics.value("gateway_screens") == 0


async def test_first_message_must_be_hello(gw) -> None:  # type: ignore[no-untyped-def]
    got, code = await hello_and_expect_refusal(gw, {"type": "follow", "call_id": "c1"})
    assert got == [{"type": "error", "code": "auth_failed", "reason": "missing"}]
    assert code == 4401


async def test_garbage_first_message_is_a_bad_message(gw) -> None:  # type: ignore[no-untyped-def]
    got, code = await hello_and_expect_refusal(gw, "{not json")
    assert [(m["code"], m["reason"]) for m in got] == [("bad_message", "bad_json")]
    assert code == 4400


async def test_unsupported_protocol_version(gw) -> None:  # type: ignore[no-untyped-def]
    got, code = await hello_and_expect_refusal(
        gw, {"type": "hello", "protocol": 2, "token": gw.token("a1")}
    )
    assert [(m["code"], m["reason"]) for m in got] == [("unsupported_protocol", "2")]
    assert code == 4400


async def test_valid_token_gets_welcome_and_is_counted(gw) -> None:  # type: ignore[no-untyped-def]
    client = await gw.open(gw.token("a1"))
    assert client.welcome == {
        "type": "welcome",
        "protocol": 1,
        "sub": "a1",
        "role": "agent",
        "hotline": "12345",
        "calls": [],
    }
    assert gw.metrics.value("gateway_screens") == 1
    await client.ws.close()
    await client.ws.wait_closed()


async def test_tokens_never_reach_the_log(gw, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    good = gw.token("a1")
    bad = TokenSigner(b"another-secret-0123456789abcdefghij").mint(
        "a1", Role.AGENT, "12345", 60, time.time()
    )
    client = await gw.open(good)
    await client.send({"type": "follow", "call_id": "nope"})
    assert (await client.recv())["code"] == "not_found"
    await hello_and_expect_refusal(gw, {"type": "hello", "protocol": 1, "token": bad})
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert token_fingerprint(good) in text and token_fingerprint(bad) in text
    for token in (good, bad):
        assert token not in text
        assert token.split(".")[1] not in text  # not even the signature part


async def test_token_expiring_while_connected_closes_the_screen(gw) -> None:  # type: ignore[no-untyped-def]
    # exp is whole seconds: the token expires within the next 1-2 seconds.
    client = await gw.open(gw.token("a1", ttl_s=1))
    got, code = await client.closed(within=10)
    assert got == [{"type": "error", "code": "auth_failed", "reason": "expired"}]
    assert code == 4401
    assert gw.metrics.value("gateway_sessions_expired_total") == 1


async def test_origin_allow_list(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.start(
        allowed_origins=("https://hotline.example.gov.cn",), allow_missing_origin=False
    )
    with pytest.raises(InvalidStatus) as refused:
        await harness.connect(origin="https://evil.example.com")
    assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as missing:
        await harness.connect()
    assert missing.value.response.status_code == 403
    assert harness.metrics.value(AUTH, {"reason": "origin"}) == 2
    client = await harness.open(harness.token("a1"), origin="https://hotline.example.gov.cn")
    assert client.welcome["sub"] == "a1"


async def test_missing_origin_allowed_only_when_configured(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.start(allowed_origins=("https://hotline.example.gov.cn",))
    client = await harness.open(harness.token("a1"))  # no Origin header: native tool, test
    assert client.welcome["type"] == "welcome"
    with pytest.raises(InvalidStatus):
        await harness.connect(origin="http://localhost:8765")


async def test_max_screens_refuses_beyond_capacity(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.start(max_screens=2)
    first = await harness.open(harness.token("a1"))
    await harness.open(harness.token("a2"))
    with pytest.raises(InvalidStatus) as refused:
        await harness.connect()
    assert refused.value.response.status_code == 503
    assert harness.metrics.value("gateway_capacity_refused_total") == 1
    await first.ws.close()
    await first.ws.wait_closed()
    # The slot is free once the server has seen the close; a new screen gets in then.
    async with asyncio.timeout(10):
        while True:
            try:
                third = await harness.open(harness.token("a3"))
                break
            except InvalidStatus:  # the server has not run the closed handler yet: retry
                continue
    assert third.welcome["sub"] == "a3"
