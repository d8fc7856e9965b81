"""Typed frames between a SIP worker and the main process, over one Unix stream socket.

Each frame is one msgpack array: its ``TYPE`` name, then its fields in declaration order (no
keys: audio frames go 50 times a second per leg). A stream of them needs no extra framing
(msgpack is self-delimiting). :func:`encode_frame` writes one; :class:`FrameReader` turns
received bytes back into frames, validated field by field with :mod:`jiesu.engine.wire`. Bytes
that are not msgpack break the stream (:class:`WireError`); a well-formed message that is not a
valid frame is yielded as :class:`BadFrame` and the stream goes on.

Worker -> main: :class:`Ready`, :class:`CallStart`, :class:`AudioFrame` (one 20 ms frame of one
leg), :class:`Dtmf`, :class:`CallEnd` (with the call's counters), :class:`Metric` (a counter
increment), :class:`Registration`, :class:`Pong`, :class:`PlayState` (a playback started,
finished or was stopped), :class:`TransferState`.
Main -> worker: :class:`Command` (an action on a call), :class:`PlayAudio` (audio for the caller,
in pieces, as it is synthesised), :class:`Ping`, :class:`Stop`.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, get_args

import msgpack

from jiesu.engine.audio import Leg
from jiesu.engine.events import CallMode
from jiesu.engine.wire import ProtocolError, from_plain, to_plain

MAX_MESSAGE_BYTES = 1 << 20


class WireError(Exception):
    """Bytes on the socket that are not msgpack: the stream cannot be read further."""


@dataclass(frozen=True, slots=True)
class Ready:
    """The worker bound its SIP port; first frame on its connection."""

    TYPE: ClassVar[str] = "ready"
    index: int
    port: int


@dataclass(frozen=True, slots=True)
class CallStart:
    """A call has media: the main process opens it on the sink before its first audio frame."""

    TYPE: ClassVar[str] = "start"
    call_id: str
    mode: CallMode
    dialled: str
    #: The caller's number masked; ``number`` in clear crosses only this socket (never logged).
    caller_masked: str
    number: str
    agent: str
    legs: tuple[Leg, ...]
    #: pjsua2's codec name (``PCMA``, ``G722``…); empty when unknown.
    codec: str


@dataclass(frozen=True, slots=True)
class AudioFrame:
    """One 20 ms frame of one leg: 16 kHz int16 PCM as pjmedia's bridge delivered it."""

    TYPE: ClassVar[str] = "audio"
    call_id: str
    leg: Leg
    #: Counts the leg's frames from 0; a frame the worker dropped leaves a gap.
    seq: int
    #: Start of the frame in ms from the start of the call (the leg's tap may start later).
    media_ms: int
    pcm: bytes


@dataclass(frozen=True, slots=True)
class Dtmf:
    TYPE: ClassVar[str] = "dtmf"
    call_id: str
    leg: Leg
    digit: str
    #: "rfc4733" (telephone-event in RTP) or "info" (SIP INFO application/dtmf-relay).
    method: str


@dataclass(frozen=True, slots=True)
class LegEnd:
    """The worker's counters of one leg, sent with :class:`CallEnd`."""

    leg: Leg
    frames: int
    dropped: int
    rtp_packets: int
    rtp_lost: int


@dataclass(frozen=True, slots=True)
class CallEnd:
    TYPE: ClassVar[str] = "end"
    call_id: str
    reason: str
    legs: tuple[LegEnd, ...]


@dataclass(frozen=True, slots=True)
class Metric:
    """A counter increment for the main process's metrics."""

    TYPE: ClassVar[str] = "metric"
    name: str
    labels: tuple[tuple[str, str], ...]
    n: int


@dataclass(frozen=True, slots=True)
class Registration:
    TYPE: ClassVar[str] = "reg"
    code: int
    reason: str
    active: bool
    expires: int


@dataclass(frozen=True, slots=True)
class Pong:
    TYPE: ClassVar[str] = "pong"
    n: int


class Op(enum.StrEnum):
    """What a :class:`Command` asks of a call (the answer-mode primitives for IVR flows)."""

    HANGUP = "hangup"
    #: ``arg``: the WAV file to play to the caller.
    PLAY = "play"
    #: Stops the WAV player and the streamed playback (``arg``: its ``play_id``; empty: any).
    STOP_PLAY = "stop_play"
    #: ``arg``: the URI for a blind transfer (REFER).
    TRANSFER = "transfer"
    #: ``arg``: the URI to ring and bridge to the caller.
    BRIDGE = "bridge"


@dataclass(frozen=True, slots=True)
class Command:
    TYPE: ClassVar[str] = "cmd"
    call_id: str
    op: Op
    arg: str = ""


@dataclass(frozen=True, slots=True)
class PlayAudio:
    """A piece of one playback to the caller: 16 kHz int16 PCM, any whole number of samples.

    Pieces of the same ``play_id`` are queued in the worker and played back to back; ``last``
    marks the end of the playback (so running dry before it is an underrun, after it the end).
    A new ``play_id`` replaces whatever is still queued of an older one.
    """

    TYPE: ClassVar[str] = "play"
    call_id: str
    play_id: int
    pcm: bytes
    last: bool


class PlayPhase(enum.StrEnum):
    STARTED = "started"
    FINISHED = "finished"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class PlayState:
    """Where a playback is, stamped on the call's media clock.

    ``caller_seq`` is the caller leg's frame count at that moment: the frame played first went
    out while the caller's tap received frame ``caller_seq`` (±1), which lines what was played
    up with what the caller's leg carries (echo, barge-in).
    """

    TYPE: ClassVar[str] = "play_state"
    call_id: str
    play_id: int
    phase: PlayPhase
    #: 20 ms frames of the playback sent to the caller so far.
    frames: int
    caller_seq: int
    #: Frames of silence sent because the next piece had not arrived yet.
    underruns: int


class TransferPhase(enum.StrEnum):
    RINGING = "ringing"
    #: The agent answered (a hand-over: bridged to the caller) or the REFER succeeded.
    ANSWERED = "answered"
    #: Busy, no answer, refused (4xx/5xx/6xx): the caller stays with the dialog.
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class TransferState:
    """How a hand-over (``bridge``: a new leg to the agent) or a blind transfer (``refer``)
    goes; the last one is ``answered`` or ``failed`` with the SIP status."""

    TYPE: ClassVar[str] = "transfer"
    call_id: str
    kind: str
    phase: TransferPhase
    status: int


@dataclass(frozen=True, slots=True)
class Ping:
    """A barrier: the worker answers :class:`Pong` after everything it sent before."""

    TYPE: ClassVar[str] = "ping"
    n: int


@dataclass(frozen=True, slots=True)
class Stop:
    TYPE: ClassVar[str] = "stop"


WorkerFrame = (
    Ready
    | CallStart
    | AudioFrame
    | Dtmf
    | CallEnd
    | Metric
    | Registration
    | Pong
    | PlayState
    | TransferState
)
MainFrame = Command | PlayAudio | Ping | Stop
Frame = WorkerFrame | MainFrame

_FRAMES: dict[str, type[Any]] = {cls.TYPE: cls for cls in get_args(Frame)}


@dataclass(frozen=True, slots=True)
class BadFrame:
    """A msgpack message that is not a valid frame (what was wrong, for the log)."""

    problem: str


def encode_frame(frame: Frame) -> bytes:
    """One frame as a msgpack array: ``[TYPE, field, field, …]``."""
    plain = to_plain(frame)
    packed: bytes = msgpack.packb([frame.TYPE, *plain.values()], use_bin_type=True)
    return packed


def _decode(message: object) -> Frame | BadFrame:
    if not isinstance(message, list) or not message or not isinstance(message[0], str):
        return BadFrame(f"not a frame: {type(message).__name__}")
    cls = _FRAMES.get(message[0])
    if cls is None:
        return BadFrame(f"unknown frame type {message[0][:40]!r}")
    names = [f.name for f in dataclasses.fields(cls)]
    if len(message) - 1 != len(names):
        return BadFrame(f"{cls.TYPE}: {len(message) - 1} fields, expected {len(names)}")
    try:
        frame: Frame = from_plain(cls, dict(zip(names, message[1:], strict=True)), cls.TYPE)
    except ProtocolError as exc:
        return BadFrame(str(exc))
    return frame


class FrameReader:
    """Incremental decoder: ``feed(bytes)`` then iterate the complete frames."""

    def __init__(self, max_message_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self._unpacker = msgpack.Unpacker(raw=False, max_buffer_size=4 * max_message_bytes)

    def feed(self, data: bytes) -> Iterator[Frame | BadFrame]:
        """The frames ``data`` completes; :class:`WireError` when the bytes are not msgpack."""
        try:
            self._unpacker.feed(data)
            for message in self._unpacker:
                yield _decode(message)
        except (msgpack.ExtraData, msgpack.FormatError, msgpack.StackError, ValueError) as exc:
            raise WireError(str(exc)) from None
