"""Which screens get which event: the gateway's routing, pure and without I/O.

A screen gets a call's events when it follows the call, and the board events (``BOARD_TYPES``)
of every live call in its scope (:class:`~jiesu.engine.gateway.access.Scope`): a supervisor's
whole hotline, an agent's own calls and the extra calls in their token. The indexes make
:meth:`Fanout.targets` O(targets); screens are any hashable handle (plain strings in tests).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from jiesu.engine.events import BOARD_TYPES, CallContext, CallEnded, CallStarted, Event
from jiesu.engine.gateway.access import Scope

S = TypeVar("S", bound=Hashable)
K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class CallInfo:
    """What routing needs of a live call."""

    hotline: str
    agent_id: str


class Fanout(Generic[S]):
    """Routing indexes of the open screens; updated by the gateway, asked per event."""

    def __init__(self) -> None:
        self._calls: dict[str, CallInfo] = {}
        self._scopes: dict[S, Scope] = {}
        self._followers: dict[str, set[S]] = {}
        self._board_hotline: dict[str, set[S]] = {}
        self._board_agent: dict[tuple[str, str], set[S]] = {}
        self._board_call: dict[str, set[S]] = {}

    def add_call(self, call_id: str, hotline: str, agent_id: str) -> None:
        """A live call known before its ``call.started`` is seen (the log's live calls)."""
        self._calls.setdefault(call_id, CallInfo(hotline, agent_id))

    def add_screen(self, screen: S, scope: Scope) -> None:
        """Board events of the calls in ``scope`` go to ``screen`` from now on."""
        self._scopes[screen] = scope
        if scope.whole_hotline:
            self._board_hotline.setdefault(scope.hotline, set()).add(screen)
        else:
            self._board_agent.setdefault((scope.hotline, scope.sub), set()).add(screen)
            for call_id in scope.extra_calls:
                self._board_call.setdefault(call_id, set()).add(screen)

    def remove_screen(self, screen: S, follows: Iterable[str] = ()) -> None:
        """Forget the screen and its ``follows`` (idempotent)."""
        for call_id in follows:
            self.unfollow(call_id, screen)
        scope = self._scopes.pop(screen, None)
        if scope is None:
            return
        if scope.whole_hotline:
            _discard(self._board_hotline, scope.hotline, screen)
        else:
            _discard(self._board_agent, (scope.hotline, scope.sub), screen)
            for call_id in scope.extra_calls:
                _discard(self._board_call, call_id, screen)

    def follow(self, call_id: str, screen: S) -> None:
        self._followers.setdefault(call_id, set()).add(screen)

    def unfollow(self, call_id: str, screen: S) -> None:
        _discard(self._followers, call_id, screen)

    def targets(self, event: Event) -> dict[S, None]:
        """The screens that get ``event``, followers first (an ordered set, no repeats).

        Learns a call from its ``call.started``, moves it to the receiving agent at a
        ``call.context`` (a hand-over: that agent's boards get this event already) and forgets
        it at ``call.ended``; a call that routing never learnt reaches its followers only.
        """
        call_id = event.call_id
        payload = event.payload
        info = self._calls.get(call_id)
        if info is None and isinstance(payload, CallStarted):
            info = self._calls[call_id] = CallInfo(payload.hotline, payload.agent_id)
        elif info is not None and isinstance(payload, CallContext) and payload.agent_id:
            info = self._calls[call_id] = CallInfo(info.hotline, payload.agent_id)
        targets: dict[S, None] = dict.fromkeys(self._followers.get(call_id, ()))
        if info is not None and event.type in BOARD_TYPES:
            hotline = info.hotline
            targets.update(dict.fromkeys(self._board_hotline.get(hotline, ())))
            targets.update(dict.fromkeys(self._board_agent.get((hotline, info.agent_id), ())))
            for screen in self._board_call.get(call_id, ()):
                if self._scopes[screen].covers(call_id, hotline, info.agent_id):
                    targets[screen] = None
            if isinstance(payload, CallEnded):
                del self._calls[call_id]
        return targets


def _discard(index: dict[K, set[S]], key: K, screen: S) -> None:
    members = index.get(key)
    if members is not None:
        members.discard(screen)
        if not members:
            del index[key]
