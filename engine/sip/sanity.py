"""Checks of a request that pjsip's parser lets through but that must not be answered 2xx.

pjsip drops messages it cannot parse; a few malformed ones (RFC 4475 section 3.1.2) parse well
enough to reach the account. Pure: the raw message in, a problem description (or "") out.
"""

from __future__ import annotations

import re

_REQUIRED = (("to", "t"), ("from", "f"), ("call-id", "i"), ("cseq",), ("via", "v"))
_DATE = re.compile(r"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$")
_REQUEST_LINE = re.compile(r"^([A-Za-z0-9!%'*+.`~_-]+) (\S+) SIP/2\.0$")
#: RFC 3261 name-addr with an unquoted display name: tokens separated by white space only.
_TOKEN_NAME = re.compile(r"^[A-Za-z0-9.!%*_+`'~-]+(?:\s+[A-Za-z0-9.!%*_+`'~-]+)*$")


def _address_problem(value: str) -> str:
    """What is wrong with a To/From value (name-addr or addr-spec), or ""."""
    if "<" not in value:
        return ""
    name, _, rest = value.partition("<")
    inner, closed, _ = rest.partition(">")
    if not closed:
        return "unclosed <> in an address"
    if inner != inner.strip():
        return "white space inside <> (RFC 4475 3.1.2.14)"
    name = name.strip()
    if name and not name.startswith('"') and not _TOKEN_NAME.match(name):
        return "unquoted display name with non-token characters (RFC 4475 3.1.2.15)"
    return ""


def _headers(head: str) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    for line in head.split("\n")[1:]:
        line = line.rstrip("\r")
        if line[:1] in (" ", "\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, value + " " + line.strip())
        elif ":" in line:
            name, value = line.split(":", 1)
            headers.append((name.strip().lower(), value.strip()))
    return headers


def check_request(message: str) -> str:
    """What is wrong with the request, or "" if nothing this check knows of."""
    raw_head, sep, raw_body = message.partition("\r\n\r\n")
    if not sep:
        raw_head, _, raw_body = message.partition("\n\n")
    head = raw_head.replace("\r\n", "\n")
    first = head.split("\n", 1)[0]
    match = _REQUEST_LINE.match(first)
    if match is None:
        return "malformed request line"
    method = match[1]
    headers = _headers(head)
    names = [name for name, _ in headers]
    for aliases in _REQUIRED:
        if not any(name in aliases for name in names):
            return f"missing {aliases[0]} header"
    for aliases in (("call-id", "i"), ("cseq",), ("content-length", "l"), ("max-forwards",)):
        if sum(1 for name in names if name in aliases) > 1:
            return f"more than one {aliases[0]} header"
    values = dict(headers)
    cseq = values.get("cseq", "").split()
    if len(cseq) != 2 or not cseq[0].isdigit() or int(cseq[0]) >= 2**31:
        return "malformed CSeq"
    if cseq[1] != method:
        return "CSeq method does not match the request"
    length = values.get("content-length", values.get("l"))
    if length is not None:
        if not length.isdigit():
            return "malformed Content-Length"
        if int(length) > len(raw_body.encode("utf-8", "surrogateescape")):
            return "Content-Length larger than the body"
    date = values.get("date")
    if date is not None and not _DATE.match(date):
        return "malformed Date (RFC 1123 date in GMT expected)"
    max_forwards = values.get("max-forwards")
    if max_forwards is not None and (not max_forwards.isdigit() or int(max_forwards) > 255):
        return "malformed Max-Forwards"
    if "<" in first or ">" in first:
        return "Request-URI enclosed in <>"
    for aliases in (("to", "t"), ("from", "f")):
        for name, value in headers:
            if name in aliases and (problem := _address_problem(value)):
                return f"{aliases[0].capitalize()}: {problem}"
    return ""
