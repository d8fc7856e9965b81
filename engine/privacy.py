"""Masking of personal data for log lines, events and screens.

The design's rule: phone and ID numbers are masked in every log line; the clear value is only
ever held in memory by the code that needs it (and, later, encrypted at rest).
"""

from __future__ import annotations

_MASK = "*"


def mask_phone(number: str) -> str:
    """Mask the middle of a phone number: ``13812345678`` -> ``138****5678``.

    Separators are dropped; only digits, a ``+86 `` prefix and ``*`` remain. How much stays
    visible depends on the length, so that a short number is never shown whole:

    * 11 or more digits (mobile, landline with area code): first 3 and last 4;
    * 7 to 10 digits (local numbers): first 2 and last 2;
    * 1 to 6 digits (extensions, service numbers): all masked;
    * a Chinese country code (``+86`` or ``0086``) in front of 11 digits is kept as ``+86 ``.

    Text with no digits at all (``anonymous``, a SIP user name) becomes ``***``; empty text stays
    empty. The result never contains a digit of the masked middle.
    """
    text = number.strip()
    if not text:
        return ""
    digits = "".join(ch for ch in text if "0" <= ch <= "9")
    if not digits:
        return _MASK * 3
    prefix = ""
    for code in ("0086", "86"):
        if len(digits) == 11 + len(code) and digits.startswith(code):
            if code == "86" and not text.startswith("+"):
                continue
            prefix, digits = "+86 ", digits[len(code) :]
            break
    n = len(digits)
    if n >= 11:
        head, tail = 3, 4
    elif n >= 7:
        head, tail = 2, 2
    else:
        head, tail = 0, 0
    visible_tail = digits[n - tail :] if tail else ""
    return prefix + digits[:head] + _MASK * (n - head - tail) + visible_tail
