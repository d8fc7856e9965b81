"""A pjsip module, registered through ctypes, that answers 400 to malformed requests.

pjsua answers every out-of-dialog OPTIONS itself (its ``mod-pjsua-options`` module, priority
``PJSIP_MOD_PRIORITY_APPLICATION``) before a pjsua2 application hears of it, and pjsua2 offers no
hook. The wheel's shared library exports the pjsip C API, so the worker registers one more
module one step earlier in the chain (priority 31). For every out-of-dialog request except ACK
and CANCEL it runs :func:`~jiesu.engine.sip.sanity.check_request` on the raw message and, when
that finds a problem, answers ``400`` statelessly and stops the request there; anything else
goes on to pjsua unchanged (``PJ_FALSE``).

The raw message is ``rdata->msg_info.msg_buf``. ``pjsip_rx_data``'s layout depends on
compile-time sizes (``pj_ioqueue_op_key_t``, ``PJSIP_MAX_PKT_LEN``), so the gate finds that field
instead of assuming it. On the first request it looks for the request line among the first
kilobyte of the rx_data (``pkt_info.packet``: offset 320 in this wheel), then for the first
pointer-aligned word after the packet buffer that holds the packet's address (``msg_buf``: offset
4424 here, after a 4000-byte buffer); both offsets are kept. If the layout is not what it
expects, the gate turns itself off (logged once, counted) and pjsua answers as before: it fails
open, never drops good calls.

Only ever used on the worker's main thread (pjsua2 polls with ``threadCnt = 0``); the callback
runs inside ``libHandleEvents``.
"""

from __future__ import annotations

import ctypes
import logging
import re
from collections.abc import Callable
from pathlib import Path

from jiesu.engine.sip.sanity import check_request

log = logging.getLogger(__name__)

#: One step before pjsua's application-level modules (PJSIP_MOD_PRIORITY_APPLICATION = 32) and
#: after the transaction (16) and dialog (30) layers, so in-dialog requests never reach it.
GATE_PRIORITY = 31
_PACKET_SEARCH = range(128, 1024, 8)  # tp_info + pkt_info.timestamp come before the packet
_MIN_PACKET_BUFFER = 512
_SCAN_LIMIT = 256 * 1024
_REQUEST_LINE = re.compile(rb"[A-Za-z0-9!%'*+.`~_-]+ \S+ SIP/2\.0\r?\n")
_PASS_METHODS = (b"ACK ", b"CANCEL ")

_OnRxRequest = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)
_VoidFn = ctypes.c_void_p  # unused callbacks are NULL


class _PjStr(ctypes.Structure):
    _fields_ = [("ptr", ctypes.c_char_p), ("slen", ctypes.c_ssize_t)]


class _PjsipModule(ctypes.Structure):
    """``struct pjsip_module`` (sip_module.h): list links, name, id, priority, 9 callbacks."""

    _fields_ = [
        ("prev", ctypes.c_void_p),
        ("next", ctypes.c_void_p),
        ("name", _PjStr),
        ("id", ctypes.c_int),
        ("priority", ctypes.c_int),
        ("load", _VoidFn),
        ("start", _VoidFn),
        ("stop", _VoidFn),
        ("unload", _VoidFn),
        ("on_rx_request", _OnRxRequest),
        ("on_rx_response", _VoidFn),
        ("on_tx_request", _VoidFn),
        ("on_tx_response", _VoidFn),
        ("on_tsx_state", _VoidFn),
    ]


def find_packet_offset(head: bytes) -> int | None:
    """Offset of ``pkt_info.packet`` in the first bytes of an rx_data holding a request."""
    for offset in _PACKET_SEARCH:
        if _REQUEST_LINE.match(head, offset):
            return offset
    return None


def find_msg_buf_offset(
    read: Callable[[int, int], bytes], base_address: int, packet_offset: int
) -> int | None:
    """Offset of ``msg_info.msg_buf`` in an rx_data whose message starts at the packet buffer.

    ``read(offset, size)`` reads the rx_data at ``base_address``; the field is the first
    pointer-aligned word past the packet buffer that holds the packet's own address (the
    buffer's start is skipped: the ioqueue keeps a pointer to it too). Pure, so it is
    unit-tested.
    """
    needle = (base_address + packet_offset).to_bytes(ctypes.sizeof(ctypes.c_void_p), "little")
    start = packet_offset + _MIN_PACKET_BUFFER
    step = 4096
    for base in range(start, packet_offset + _SCAN_LIMIT, step):
        chunk = read(base, step + len(needle))
        index = chunk.find(needle)
        while index != -1:
            if (base + index) % len(needle) == 0:
                return base + index
            index = chunk.find(needle, index + 1)
    return None


class RequestGate:
    """Registers the module and decides, per request, whether pjsua may see it."""

    def __init__(self, count: Callable[[str, dict[str, str]], None]) -> None:
        self._count = count
        self._lib: ctypes.CDLL | None = None
        self._endpoint: int | None = None
        self._msg_buf_offset: int | None = None
        self._disabled = False
        self._name = b"mod-jiesu-request-gate"
        self._callback = _OnRxRequest(self._on_rx_request)
        self._module = _PjsipModule()
        self._module.name = _PjStr(self._name, len(self._name))
        self._module.id = -1
        self._module.priority = GATE_PRIORITY
        self._module.on_rx_request = self._callback

    def install(self, library: Path) -> bool:
        """Register with the running endpoint (after ``libInit``); False if that fails."""
        try:
            lib = ctypes.CDLL(str(library))
            lib.pjsua_get_pjsip_endpt.restype = ctypes.c_void_p
            lib.pjsip_endpt_register_module.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
            lib.pjsip_endpt_register_module.restype = ctypes.c_int
            lib.pjsip_endpt_respond_stateless.argtypes = [ctypes.c_void_p] * 6
            lib.pjsip_endpt_respond_stateless.argtypes[2] = ctypes.c_int
            lib.pjsip_endpt_respond_stateless.restype = ctypes.c_int
            endpoint = lib.pjsua_get_pjsip_endpt()
            if not endpoint:
                raise OSError("pjsua has no endpoint yet")
            status = lib.pjsip_endpt_register_module(endpoint, ctypes.byref(self._module))
            if status != 0:
                raise OSError(f"pjsip_endpt_register_module returned {status}")
        except (OSError, AttributeError) as exc:
            log.error("request gate not installed (%s): pjsua answers OPTIONS unchecked", exc)
            self._count("sip_request_gate_unavailable_total", {"why": "install"})
            return False
        self._lib = lib
        self._endpoint = endpoint
        return True

    def _raw_message(self, rdata: int) -> bytes | None:
        if self._msg_buf_offset is None:
            packet_offset = find_packet_offset(ctypes.string_at(rdata, _PACKET_SEARCH.stop + 64))
            if packet_offset is None:
                return None
            self._msg_buf_offset = find_msg_buf_offset(
                lambda offset, size: ctypes.string_at(rdata + offset, size), rdata, packet_offset
            )
            if self._msg_buf_offset is None:
                return None
        buf = ctypes.c_void_p.from_address(rdata + self._msg_buf_offset).value
        length = ctypes.c_int.from_address(rdata + self._msg_buf_offset + 8).value
        if not buf or not 0 < length <= _SCAN_LIMIT:
            return None
        return ctypes.string_at(buf, length)

    def _on_rx_request(self, rdata: int | None) -> int:
        # Never let an exception cross into C: pjsip would carry on with garbage.
        try:
            return self._decide(rdata) if rdata and not self._disabled else 0
        except Exception:
            log.exception("request gate failed: letting the request through")
            self._count("sip_callback_errors_total", {"callback": "request_gate"})
            return 0

    def _decide(self, rdata: int) -> int:
        calibrated = self._msg_buf_offset is not None
        raw = self._raw_message(rdata)
        if raw is None and not calibrated:
            self._disabled = True
            log.error("request gate: rx_data layout not recognised; gate off")
            self._count("sip_request_gate_unavailable_total", {"why": "layout"})
            return 0
        if raw is None:
            self._count("sip_request_gate_unavailable_total", {"why": "message"})
            return 0
        if raw.startswith(_PASS_METHODS):
            return 0
        problem = check_request(raw.decode("utf-8", "surrogateescape"))
        if not problem:
            return 0
        method = raw.split(b" ", 1)[0].decode("ascii", "replace")
        log.warning("400 to a malformed %s: %s", method, problem)
        self._count("sip_requests_rejected_total", {"method": method, "reason": "malformed"})
        assert self._lib is not None
        reason = f"Bad Request ({problem})".encode("ascii", "replace")
        text = _PjStr(reason, len(reason))
        self._lib.pjsip_endpt_respond_stateless(
            self._endpoint, rdata, 400, ctypes.byref(text), None, None
        )
        return 1
