"""Authorisation rules: who may open a screen, which calls are in a screen's scope."""

from __future__ import annotations

import pytest

from jiesu.engine.auth import Claims, Role
from jiesu.engine.gateway.access import Scope, may_open_screen


def claims(
    role: Role, sub: str = "a1", hotline: str = "12345", calls: tuple[str, ...] = ()
) -> Claims:
    return Claims(sub=sub, role=role, hotline=hotline, exp=2_000_000_000, iat=0, calls=calls)


def test_only_agents_and_supervisors_open_screens() -> None:
    assert may_open_screen(claims(Role.AGENT))
    assert may_open_screen(claims(Role.SUPERVISOR))
    assert not may_open_screen(claims(Role.INGEST))
    with pytest.raises(ValueError):
        Scope.of(claims(Role.INGEST))


def test_agent_sees_own_calls_and_listed_calls_of_their_hotline() -> None:
    scope = Scope.of(claims(Role.AGENT, sub="a1", calls=("c-lent",)))
    assert scope.covers("c1", "12345", "a1")
    assert not scope.covers("c2", "12345", "a2")
    assert scope.covers("c-lent", "12345", "a2")
    assert not scope.covers("c1", "0571-12345", "a1")  # same agent id, other hotline
    assert not scope.covers("c-lent", "0571-12345", "a2")
    assert not scope.whole_hotline


def test_supervisor_sees_every_call_of_their_hotline_only() -> None:
    scope = Scope.of(claims(Role.SUPERVISOR, sub="boss"))
    assert scope.whole_hotline
    assert scope.covers("c1", "12345", "a1")
    assert scope.covers("c2", "12345", "a2")
    assert not scope.covers("c3", "0571-12345", "a1")


def test_agent_id_equal_to_a_call_id_grants_nothing_extra() -> None:
    scope = Scope.of(claims(Role.AGENT, sub="c9"))
    assert not scope.covers("c9", "12345", "a2")
