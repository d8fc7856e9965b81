"""Keys that let storage find a caller's and an address's past tickets without keeping the
phone number in clear: a keyed hash (HMAC-SHA256) of the number's digits.

The key is secret (a file created with mode 0600, like the token secret), so the stored value
cannot be reversed by hashing all 10^11 phone numbers.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping

_NON_DIGIT = re.compile(r"\D")


class CallerKeyer:
    """Phone number -> stable pseudonymous key (empty for a number with too few digits)."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("caller key secret must be at least 16 bytes")
        self._secret = secret

    def __call__(self, number: str) -> str:
        digits = _NON_DIGIT.sub("", number)
        # +86 / 0086 in front of a mobile number is the same caller.
        for prefix in ("0086", "86"):
            if len(digits) == 11 + len(prefix) and digits.startswith(prefix):
                digits = digits[len(prefix) :]
        if len(digits) < 5:
            return ""
        return hmac.new(self._secret, digits.encode("ascii"), hashlib.sha256).hexdigest()[:32]

    def __repr__(self) -> str:
        return "CallerKeyer(<secret>)"


#: Address components that name a place precisely enough for duplicate detection.
_PLACE_KEYS = ("district", "town", "community", "road", "roadno", "poi", "subpoi", "houseno")


def address_key(components: Mapping[str, str]) -> str:
    """A normalised key of the place (district .. building); empty if too vague to compare."""
    parts = [components.get(k, "").strip() for k in _PLACE_KEYS]
    named = [p for p in parts if p]
    if len(named) < 2:
        return ""
    return "|".join(parts)
