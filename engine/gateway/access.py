"""Who may see what: pure authorisation rules for screens.

* Only ``agent`` and ``supervisor`` tokens open a screen; ``ingest`` tokens are for audio.
* An agent's scope: calls of their hotline assigned to them (``agent_id == sub``) or listed in
  the token's ``calls``.
* A supervisor's scope: every call of their hotline.

The same scope decides both the board (call life-cycle and alerts pushed to every screen) and
which calls a screen may follow.
"""

from __future__ import annotations

from dataclasses import dataclass

from jiesu.engine.auth import Claims, Role

SCREEN_ROLES = frozenset({Role.AGENT, Role.SUPERVISOR})


def may_open_screen(claims: Claims) -> bool:
    return claims.role in SCREEN_ROLES


@dataclass(frozen=True, slots=True)
class Scope:
    """The calls one screen may see, derived from its token's claims."""

    role: Role
    sub: str
    hotline: str
    extra_calls: frozenset[str]

    @classmethod
    def of(cls, claims: Claims) -> Scope:
        if not may_open_screen(claims):
            raise ValueError(f"role {claims.role.value!r} has no screen scope")
        return cls(claims.role, claims.sub, claims.hotline, frozenset(claims.calls))

    @property
    def whole_hotline(self) -> bool:
        return self.role is Role.SUPERVISOR

    def covers(self, call_id: str, hotline: str, agent_id: str) -> bool:
        """May this screen see the call (board events, follow)?"""
        if hotline != self.hotline:
            return False
        if self.whole_hotline:
            return True
        return agent_id == self.sub or call_id in self.extra_calls
