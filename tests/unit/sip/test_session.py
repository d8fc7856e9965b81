"""The pure decisions of a worker's call session (engine/sip/session.py); importable without
pjsua2."""

from __future__ import annotations

import pytest

from jiesu.engine.audio import Leg
from jiesu.engine.sip.session import caller_refusal, end_reason, from_user


@pytest.mark.parametrize(
    ("leg", "confirmed", "reason"),
    [
        (Leg.CALLER, True, "caller_hangup"),
        (Leg.CALLER, False, "cancelled"),
        (Leg.AGENT, True, "agent_hangup"),
        (Leg.AGENT, False, "agent_unavailable"),
    ],
)
def test_end_reason_names_who_hung_up_first(leg: Leg, confirmed: bool, reason: str) -> None:
    assert end_reason(leg, confirmed) == reason


def test_the_caller_gets_the_agents_refusal_or_480() -> None:
    assert [caller_refusal(s) for s in (486, 603, 699, 200, 0, 700)] == [486, 603, 699] + [480] * 3


def test_from_user_reads_the_from_header_in_either_form() -> None:
    invite = "INVITE sip:12345@h SIP/2.0\r\nVia: x\r\nFrom: <sip:13812345678@pbx>;tag=1\r\n"
    assert from_user(invite) == "13812345678"
    assert from_user("INVITE sip:1@h SIP/2.0\r\nf: sip:4000@pbx;tag=2\r\n") == "4000"
    assert from_user("INVITE sip:1@h SIP/2.0\r\nTo: <sip:1@h>\r\n") == ""
