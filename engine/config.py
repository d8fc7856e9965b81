"""Configuration: TOML files under ``sip_config/``, validated at start into frozen dataclasses.

Every problem is reported as a :class:`ConfigError` that names the file, the key (dotted path)
and what was expected, e.g.::

    sip_config/jiesu.toml: gateway.port: expected an integer 1-65535, got "80a"

Relative paths in the file are resolved against the directory the process was started in
(the repository root for the README's commands), so ``var/`` holds the runtime state.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_origin


class ConfigError(Exception):
    """An invalid configuration file; the message names file, key and expectation."""


@dataclass(frozen=True, slots=True)
class Bounds:
    """Allowed range of a numeric setting, attached with ``field(metadata=...)``."""

    low: float
    high: float


def _bounded(default: Any, low: float, high: float, doc: str = "") -> Any:
    return field(default=default, metadata={"bounds": Bounds(low, high), "doc": doc})


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """The screen gateway: one websocket port for agent and supervisor screens."""

    host: str = "127.0.0.1"
    port: int = _bounded(8765, 0, 65535, "0 picks a free port")
    #: Origins a browser screen may connect from. Clients that send no Origin header (native
    #: tools, tests) are admitted only if ``allow_missing_origin`` is true.
    allowed_origins: tuple[str, ...] = ("http://127.0.0.1:8765", "http://localhost:8765")
    allow_missing_origin: bool = True
    max_message_bytes: int = _bounded(64 * 1024, 1024, 16 * 1024 * 1024)
    #: Messages a screen may have waiting before it is told to resync and closed.
    screen_queue_limit: int = _bounded(1000, 8, 1_000_000)
    #: Seconds a new connection has to send its hello (with the token).
    hello_timeout_s: float = _bounded(5.0, 0.1, 300.0)
    max_screens: int = _bounded(2000, 1, 100_000)


@dataclass(frozen=True, slots=True)
class IngestConfig:
    """The websocket audio ingest: the second door for audio besides SIP."""

    host: str = "127.0.0.1"
    port: int = _bounded(8766, 0, 65535, "0 picks a free port")
    #: Largest accepted frame; a larger one is answered with an error and dropped.
    max_frame_bytes: int = _bounded(64 * 1024, 512, 8 * 1024 * 1024)
    max_calls: int = _bounded(64, 1, 100_000)
    hello_timeout_s: float = _bounded(5.0, 0.1, 300.0)


@dataclass(frozen=True, slots=True)
class AuthConfig:
    #: HMAC secret for screen and ingest tokens; created (mode 0600) on first start.
    token_secret_file: Path = Path("var/token.secret")
    token_ttl_s: int = _bounded(8 * 3600, 60, 7 * 24 * 3600)


@dataclass(frozen=True, slots=True)
class StorageConfig:
    event_log: Path = Path("var/jiesu.sqlite3")
    #: SQLite ``synchronous`` for the event log: FULL survives power loss, NORMAL a process crash.
    synchronous: typing.Literal["FULL", "NORMAL", "EXTRA"] = "FULL"
    #: Tickets, transcripts and caller history (SQLite, WAL) unless ``dsn`` is set. Left at
    #: its default, it follows ``event_log`` into that file's folder.
    tickets: Path = Path("var/tickets.sqlite3")
    #: PostgreSQL connection string (``postgresql://…`` or ``host=… dbname=…``) for the ticket
    #: store; empty: SQLite at ``tickets``.
    dsn: str = ""
    #: HMAC key (created with mode 0600) for the callers' pseudonymous keys in the ticket store.
    #: Left at its default, it follows ``auth.token_secret_file`` into that file's folder.
    caller_key_secret_file: Path = Path("var/caller.secret")


@dataclass(frozen=True, slots=True)
class SpeechConfig:
    """The speech core: VAD, endpointing and streaming Whisper with cross-call batching."""

    enabled: bool = True
    #: "whisper-base-ct2" (from the PyPI packages) or the path of an operator's CTranslate2
    #: Whisper folder (large-v3, turbo, Chinese fine-tunes).
    model: str = "whisper-base-ct2"
    device: typing.Literal["cpu", "cuda", "auto"] = "cpu"
    compute_type: str = "int8"
    #: 0: let CTranslate2 choose.
    cpu_threads: int = _bounded(0, 0, 256)
    beam_size: int = _bounded(5, 1, 16)
    language: str = "zh"
    #: TOML file whose string lists are the hotwords (prompt + pinyin correction); optional.
    hotwords_file: Path = Path("sip_config/hotwords.toml")
    partial_interval_ms: int = _bounded(500, 100, 5000)
    hangover_ms: int = _bounded(600, 100, 5000)
    max_utterance_s: float = _bounded(15.0, 4.0, 29.0)
    max_batch: int = _bounded(8, 1, 256)
    max_wait_ms: float = _bounded(10.0, 0.0, 1000.0)


@dataclass(frozen=True, slots=True)
class AssistConfig:
    """Work order filling, caller history and duplicate detection (issue 5)."""

    enabled: bool = True
    #: The work-order schema (fields, taxonomy, dispatch threshold, duplicate window).
    workorder_file: Path = Path("sip_config/workorder.toml")
    #: Category -> departments mapping used for the department recommendation.
    departments_file: Path = Path("sip_config/departments.toml")
    #: Knowledge base (JSONL or Markdown entries) for the suggestion cards; absent: no cards.
    knowledge_file: Path = Path("sip_config/knowledge/demo_kb.jsonl")
    #: Events one call may have waiting for the assist stages; past it they are re-read from
    #: the event log once the stage catches up.
    queue_limit: int = _bounded(256, 8, 100_000)


@dataclass(frozen=True, slots=True)
class JiesuConfig:
    hotline: str = "12345"
    gateway: GatewayConfig = GatewayConfig()
    ingest: IngestConfig = IngestConfig()
    auth: AuthConfig = AuthConfig()
    storage: StorageConfig = StorageConfig()
    speech: SpeechConfig = SpeechConfig()
    assist: AssistConfig = AssistConfig()
    #: The file this was read from, for messages; not a setting.
    source: Path = field(default=Path("<defaults>"), metadata={"internal": True})


def load_config(path: Path) -> JiesuConfig:
    """Read and validate a TOML configuration file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    config: JiesuConfig = _build(JiesuConfig, data, path, "")
    return dataclasses.replace(config, source=path)


def _build(cls: type[Any], data: Mapping[str, Any], path: Path, prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    for key in data:
        if key not in fields:
            where = f"{prefix}{key}"
            raise ConfigError(f"{path}: {where}: unknown key (expected one of {sorted(fields)})")
    kwargs: dict[str, Any] = {}
    for name, spec in fields.items():
        if name not in data:
            continue
        key = f"{prefix}{name}"
        kwargs[name] = _value(hints[name], data[name], path, key, spec.metadata.get("bounds"))
    return cls(**kwargs)


def _value(tp: Any, raw: Any, path: Path, key: str, bounds: Bounds | None) -> Any:
    def fail(expected: str) -> typing.NoReturn:
        raise ConfigError(f"{path}: {key}: expected {expected}, got {raw!r}")

    origin = get_origin(tp)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(raw, Mapping):
            fail(f"a table [{key}]")
        return _build(tp, raw, path, f"{key}.")
    if origin is typing.Literal:
        if raw not in get_args(tp):
            fail("one of " + ", ".join(repr(a) for a in get_args(tp)))
        return raw
    if origin is tuple:
        if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
            fail("a list of strings")
        return tuple(raw)
    if origin in (typing.Union, types.UnionType):
        raise TypeError(f"config field {key} has an unsupported union type")
    if tp is bool:
        if not isinstance(raw, bool):
            fail("true or false")
        return raw
    if tp is int or tp is float:
        ok = isinstance(raw, int) if tp is int else isinstance(raw, int | float)
        if isinstance(raw, bool) or not ok:
            fail("an integer" if tp is int else "a number")
        if bounds is not None and not bounds.low <= raw <= bounds.high:
            kind = "an integer" if tp is int else "a number"
            fail(f"{kind} {bounds.low:g}-{bounds.high:g}")
        return tp(raw)
    if tp is str:
        if not isinstance(raw, str) or not raw:
            fail("a non-empty string")
        return raw
    if tp is Path:
        if not isinstance(raw, str) or not raw:
            fail("a path string")
        return Path(raw)
    raise TypeError(f"config field {key} has unsupported type {tp!r}")
