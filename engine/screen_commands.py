"""An agent's work-order commands from a screen, shared by the gateway and the assist stages.

The screen sends ``ticket.edit`` (:class:`EditField`), ``ticket.submit`` (:class:`SubmitTicket`)
or ``ticket.dispatch`` (:class:`DispatchTicket`). The gateway checks the call is in the screen's
scope and hands the command to a :data:`TicketEditor` (the assist service), which applies it or
raises :class:`EditRefused`. The screen then gets ``{"type":"error","code":CODE,...}`` naming
the call. Codes: ``not_found`` and ``forbidden`` (gateway: no such call, call outside the
screen's scope), ``unavailable`` (no editor, no department field, no ticket store),
``not_active`` (no work order for the call), ``unknown_field`` and ``storage_failed``.

Lives at engine level so that assist never imports the gateway.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True, slots=True)
class EditField:
    """The agent set a work-order field by hand; the engine locks it against automatic updates.

    Answered by the ``ticket.field`` event (``origin: agent``, ``locked: true``) on the call's
    stream, or by an ``error`` naming the call.
    """

    type: Literal["ticket.edit"] = field(default="ticket.edit", kw_only=True)
    call_id: str
    field: str
    value: str

    def __post_init__(self) -> None:
        if not self.call_id or not self.field:
            raise ValueError("call_id and field must not be empty")
        if len(self.value) > 2000:
            raise ValueError("value is longer than 2000 characters")


@dataclass(frozen=True, slots=True)
class SubmitTicket:
    """The agent submits the call's work order as it stands (their edits are already in).

    Answered by a ``ticket.status`` event (``status: submitted``) on the call's stream, or by an
    ``error`` naming the call.
    """

    type: Literal["ticket.submit"] = field(default="ticket.submit", kw_only=True)
    call_id: str

    def __post_init__(self) -> None:
        if not self.call_id:
            raise ValueError("call_id must not be empty")


@dataclass(frozen=True, slots=True)
class DispatchTicket:
    """The agent sends the work order to a department (派单); the department field is set and
    locked as an agent edit. Answered by ``ticket.status`` (``status: dispatched``)."""

    type: Literal["ticket.dispatch"] = field(default="ticket.dispatch", kw_only=True)
    call_id: str
    department: str

    def __post_init__(self) -> None:
        if not self.call_id or not self.department.strip():
            raise ValueError("call_id and department must not be empty")
        if len(self.department) > 200:
            raise ValueError("department is longer than 200 characters")


#: An agent's action on a work order: a field edit, submit, or dispatch.
TicketRequest = EditField | SubmitTicket | DispatchTicket


class EditRefused(Exception):
    """A field editor refused an edit; the screen gets an ``error`` with this code."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(detail or code)
        self.code = code
        self.detail = detail


#: Applies an agent's work-order action (``sub`` of the screen's token, the command); raises
#: :class:`EditRefused`. Set on the gateway by the runtime when the assist stages run.
TicketEditor = Callable[[str, TicketRequest], Awaitable[None]]
