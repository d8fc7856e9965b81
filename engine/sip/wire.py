"""Msgpack frames between a SIP worker and the main process, over one Unix stream socket.

Each message is one msgpack map with a ``t`` key. A stream of them needs no extra framing
(msgpack is self-delimiting); :class:`FrameReader` turns received bytes back into messages and
refuses a message larger than ``max_message_bytes``.

Worker -> main: ``ready`` (index, ports), ``start`` (a call), ``audio`` (one 20 ms frame of one
leg), ``dtmf``, ``end`` (with the call's counters), ``metric`` (a counter increment).
Main -> worker: ``cmd`` (an action on a call: hangup, play, transfer), ``stop``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgpack

MAX_MESSAGE_BYTES = 1 << 20


class WireError(Exception):
    """Bytes on the socket that are not a valid message."""


def pack(message: dict[str, Any]) -> bytes:
    data: bytes = msgpack.packb(message, use_bin_type=True)
    return data


class FrameReader:
    """Incremental decoder: ``feed(bytes)`` then iterate the complete messages."""

    def __init__(self, max_message_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self._unpacker = msgpack.Unpacker(raw=False, max_buffer_size=4 * max_message_bytes)

    def feed(self, data: bytes) -> Iterator[dict[str, Any]]:
        try:
            self._unpacker.feed(data)
            for message in self._unpacker:
                if not isinstance(message, dict) or not isinstance(message.get("t"), str):
                    raise WireError(f"not a message map: {type(message).__name__}")
                yield message
        except (msgpack.ExtraData, msgpack.FormatError, msgpack.StackError, ValueError) as exc:
            raise WireError(str(exc)) from None
