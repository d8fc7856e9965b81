"""Dialled number -> how the call is handled (assist, ivr, after_hours, or reject). Pure."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

Route = Literal["assist", "ivr", "after_hours", "reject"]


@dataclass(frozen=True, slots=True)
class RoutingRules:
    """The ``[sip.routing]`` lists, as the worker receives them."""

    assist_numbers: tuple[str, ...] = ("12345",)
    ivr_numbers: tuple[str, ...] = ()
    after_hours_numbers: tuple[str, ...] = ()
    unmatched: Route = "reject"
    office_hours: str = "00:00-24:00"


def _matches(number: str, patterns: tuple[str, ...]) -> bool:
    for pattern in patterns:
        if pattern.endswith("*"):
            if number.startswith(pattern[:-1]):
                return True
        elif number == pattern:
            return True
    return False


def in_office_hours(hours: str, now: dt.time) -> bool:
    """``"08:00-20:00"`` contains 08:00 up to (not including) 20:00; a window may wrap midnight."""
    start_text, end_text = hours.split("-")
    start = int(start_text[:2]) * 60 + int(start_text[3:])
    end = int(end_text[:2]) * 60 + int(end_text[3:])
    minute = now.hour * 60 + now.minute
    if start <= end:
        return start <= minute < end
    return minute >= start or minute < end


def route(number: str, rules: RoutingRules, now: dt.time) -> Route:
    """The mode for a call to ``number`` at local time ``now``."""
    if _matches(number, rules.assist_numbers):
        return "assist" if in_office_hours(rules.office_hours, now) else "after_hours"
    if _matches(number, rules.ivr_numbers):
        return "ivr"
    if _matches(number, rules.after_hours_numbers):
        return "after_hours"
    if rules.unmatched == "assist" and not in_office_hours(rules.office_hours, now):
        return "after_hours"
    return rules.unmatched


def sip_user(uri: str) -> str:
    """The user part of a SIP URI or name-addr (``"Bob" <sip:138@host>;tag=1`` -> ``138``)."""
    text = uri
    if "<" in text:
        text = text.split("<", 1)[1].split(">", 1)[0]
    for scheme in ("sips:", "sip:", "tel:"):
        if text.lower().startswith(scheme):
            text = text[len(scheme) :]
            break
    if "@" in text:
        text = text.split("@", 1)[0]
    return text.split(";", 1)[0].split("?", 1)[0]


def request_uri(message: str) -> str:
    """The Request-URI of a raw SIP request (its first line's middle element), or ""."""
    first = message.split("\n", 1)[0].strip()
    parts = first.split(" ")
    return parts[1] if len(parts) == 3 else ""
