"""Jiesu vs WhisperLive 0.10.0: the same streams, model and machine, measured the same way.

One invocation runs, for each ``N`` of ``--clients`` (1 and 4 by default), Jiesu and then the
peer back to back, each in its own freshly started server process: ``jiesu serve`` (a temporary
configuration; audio through the websocket ingest, transcripts through the screen gateway, as a
supervisor's screen follows a call) and WhisperLive's faster_whisper server started by the
harness in ``../shared/peer_whisperlive`` (``wl_serve.py``; its clients are ``wl_latency.py``).
Both load the same CTranslate2 Whisper folder (:func:`jiesu.models.whisper_ct2.prepare_whisper_base`
by default) with int8 on the CPU, beam 5 and ``--threads`` CPU threads.

The work is the same on both sides: ``N`` concurrent streams of 16 kHz audio, each 0.5 s of
silence, then the clips of ``--audio`` with 2 s of silence between them (stream *i* plays the list
rotated by ``i * len // N``), then trailing silence until no transcript came for ``--idle-s``,
sent in real time in 100 ms chunks at absolute deadlines (Jiesu: ``s16le`` frames of 100 ms,
or ``--jiesu-frame-ms``; the peer: the same samples as float32).

Both sides are analysed by the same code (this module): every transcript a client receives is an
:class:`Observation` (receipt time, start and end in seconds of stream audio, text, final or not)
and is given to a clip by :func:`assign`. Per clip:

* *final latency*: receipt of the last final given to the clip minus the send time of the chunk
  holding the clip's last sample (so Jiesu's endpoint hangover counts);
* *first-partial latency*: receipt of the first non-empty transcript (partial or final) given to
  the clip minus the send time of the chunk holding its first sample;
* *lost*: a clip that no final was given to.

Percentiles are over the clips that got one. ``final_p95_ratio`` and ``first_partial_p95_ratio``
are Jiesu's p95 over the peer's; ``lost_ratio`` is Jiesu's lost clips over the peer's (null when
the peer lost none). Target (the issue's): at 1 and 4 clients Jiesu's final p95 is at most 0.1 of
the peer's and Jiesu loses no clip. See ``docs/peer-bench.md``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from jiesu.bench.peer_sides import Setup

Pcm = npt.NDArray[np.int16]
RATE = 16_000
DEFAULT_AUDIO = Path("../shared/data/speech/mandarin")
DEFAULT_HARNESS = Path("../shared/peer_whisperlive")
#: ``jiesu bench peer`` writes bench/results/peer-whisperlive.json (see engine/cli.py).
RESULT_NAME = "peer-whisperlive"
TARGET_RATIO = 0.1
TARGET_CLIENTS = (1, 4)


# --------------------------------------------------------------------------- stream planning


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """Pacing of the streams and the matching rule; the defaults are the harness's."""

    lead_s: float = 0.5
    gap_s: float = 2.0
    chunk_ms: int = 100
    tail_min_s: float = 2.0
    tail_max_s: float = 60.0
    idle_s: float = 10.0
    #: Each clip's place in the stream is widened by this much when transcripts are matched.
    slack_s: float = 0.3
    #: A clip's finals "cover" it when they reach to within this of its end.
    cover_tol_s: float = 1.0

    @property
    def chunk(self) -> int:
        """Samples per chunk."""
        return RATE * self.chunk_ms // 1000


@dataclass(frozen=True, slots=True)
class ClipSpan:
    """One clip's place in a stream, in samples from the stream's first sample."""

    name: str
    start: int
    end: int

    @property
    def start_s(self) -> float:
        return self.start / RATE

    @property
    def end_s(self) -> float:
        return self.end / RATE


@dataclass(frozen=True, slots=True)
class StreamPlan:
    """What one client sends: its clips in order and the stream's length before the tail."""

    index: int
    spans: tuple[ClipSpan, ...]
    samples: int

    @property
    def clip_order(self) -> list[str]:
        return [span.name for span in self.spans]


def rotated(names: Sequence[str], index: int, clients: int) -> list[str]:
    """Client ``index``'s clip list: ``names`` rotated by ``index * len // clients``."""
    offset = (index * len(names)) // clients
    return [*names[offset:], *names[:offset]]


def plan_stream(
    index: int, order: Sequence[str], lengths: Mapping[str, int], spec: StreamSpec
) -> StreamPlan:
    """Lead silence, then the clips of ``order`` with ``gap_s`` of silence between them."""
    gap = round(RATE * spec.gap_s)
    pos = round(RATE * spec.lead_s)
    spans = []
    for i, name in enumerate(order):
        if i:
            pos += gap
        spans.append(ClipSpan(name, pos, pos + lengths[name]))
        pos += lengths[name]
    return StreamPlan(index, tuple(spans), pos)


def plan_streams(
    names: Sequence[str], lengths: Mapping[str, int], clients: int, spec: StreamSpec
) -> list[StreamPlan]:
    """One plan per client, each with its own rotation of ``names``."""
    return [plan_stream(i, rotated(names, i, clients), lengths, spec) for i in range(clients)]


def stream_audio(plan: StreamPlan, audio: Mapping[str, Pcm]) -> Pcm:
    """The plan's samples (silence between the clips), without the trailing silence."""
    pcm = np.zeros(plan.samples, np.int16)
    for span in plan.spans:
        pcm[span.start : span.end] = audio[span.name]
    return pcm


# --------------------------------------------------------------------------- observations


@dataclass(frozen=True, slots=True)
class Observation:
    """A transcript as a client received it: receipt time ``t`` (s, monotonic clock), its
    audio's place in the stream (s), its text and whether it is final."""

    t: float
    start_s: float
    end_s: float
    text: str
    final: bool


def peer_observations(messages: Iterable[tuple[float, Mapping[str, Any]]]) -> list[Observation]:
    """WhisperLive ``segments`` messages as observations.

    Every message resends up to ``send_last_n_segments`` completed segments: a completed
    segment counts once, at its first receipt (keyed on start, end and text, as the harness
    does). The trailing ``completed: false`` segment is a partial. Blank texts are skipped.
    """
    seen: set[tuple[Any, Any, Any]] = set()
    out = []
    for t, message in messages:
        for segment in message.get("segments") or []:
            text = (segment.get("text") or "").strip()
            if not text:
                continue
            final = bool(segment.get("completed"))
            if final:
                key = (segment["start"], segment["end"], segment.get("text"))
                if key in seen:
                    continue
                seen.add(key)
            out.append(Observation(t, float(segment["start"]), float(segment["end"]), text, final))
    return out


def jiesu_observation(message: Mapping[str, Any], t: float) -> Observation | None:
    """A screen message as an observation: ``transcript.partial`` / ``transcript.final`` with
    non-blank text (``t_start``/``t_end`` are ms of the call's media time, which starts at the
    stream's first sample); None for anything else."""
    kind = message.get("type")
    if kind not in ("transcript.partial", "transcript.final"):
        return None
    payload = message.get("payload") or {}
    text = str(payload.get("text") or "").strip()
    if not text:
        return None
    start, end = payload["t_start"] / 1000, payload["t_end"] / 1000
    return Observation(t, start, end, text, kind == "transcript.final")


# --------------------------------------------------------------------------- matching


@dataclass(frozen=True, slots=True)
class ClipOutcome:
    """One clip of one stream: latencies in seconds (None: never came)."""

    client: int
    clip: str
    first_partial_s: float | None
    final_s: float | None
    #: Where the clip's last final ends, in seconds of stream audio.
    final_end_s: float | None
    covers_end: bool
    final_text: str


def sent_at(send_times: Sequence[float], sample: int, chunk: int) -> float | None:
    """Send time of the chunk holding ``sample`` (None if it was never sent)."""
    index = sample // chunk
    return send_times[index] if index < len(send_times) else None


def assign(
    spans: Sequence[ClipSpan],
    first_sent: Sequence[float | None],
    obs: Observation,
    slack_s: float,
) -> int | None:
    """The index of the clip a transcript belongs to, or None.

    Candidates are the clips whose first chunk had been sent when the transcript arrived. The
    one whose place (widened by ``slack_s`` each side) overlaps the transcript's audio most wins
    (the first on a tie); failing any overlap, the nearest clip within 1 s of it.
    """
    best, best_overlap = None, 0.0
    for i, span in enumerate(spans):
        sent = first_sent[i]
        if sent is None or sent > obs.t:
            continue
        overlap = min(obs.end_s, span.end_s + slack_s) - max(obs.start_s, span.start_s - slack_s)
        if overlap > best_overlap:
            best, best_overlap = i, overlap
    if best is not None:
        return best
    best_distance = None
    for i, span in enumerate(spans):
        sent = first_sent[i]
        if sent is None or sent > obs.t:
            continue
        distance = max(span.start_s - obs.end_s, obs.start_s - span.end_s, 0.0)
        if distance <= 1.0 and (best_distance is None or distance < best_distance):
            best, best_distance = i, distance
    return best


def match_stream(
    plan: StreamPlan,
    send_times: Sequence[float],
    observations: Iterable[Observation],
    spec: StreamSpec,
    chunk: int | None = None,
) -> list[ClipOutcome]:
    """Each clip's first transcript and last final, as latencies (see the module's rule).

    ``send_times[k]`` is when chunk ``k`` (``chunk`` samples; default ``spec.chunk``) was sent.
    """
    chunk = chunk or spec.chunk
    first_sent = [sent_at(send_times, s.start, chunk) for s in plan.spans]
    last_sent = [sent_at(send_times, s.end - 1, chunk) for s in plan.spans]
    first: list[float | None] = [None] * len(plan.spans)
    finals: list[list[Observation]] = [[] for _ in plan.spans]
    for obs in sorted(observations, key=lambda o: o.t):
        i = assign(plan.spans, first_sent, obs, spec.slack_s)
        if i is None:
            continue
        if first[i] is None:
            first[i] = obs.t
        if obs.final:
            finals[i].append(obs)
    return [
        _outcome(plan.index, span, first[i], finals[i], first_sent[i], last_sent[i], spec)
        for i, span in enumerate(plan.spans)
    ]


def _outcome(
    client: int,
    span: ClipSpan,
    first_t: float | None,
    finals: list[Observation],
    first_sent: float | None,
    last_sent: float | None,
    spec: StreamSpec,
) -> ClipOutcome:
    first = None if first_t is None or first_sent is None else first_t - first_sent
    if not finals or last_sent is None:
        return ClipOutcome(client, span.name, first, None, None, False, "")
    end = max(o.end_s for o in finals)
    text = "".join(o.text for o in sorted(finals, key=lambda o: o.start_s))
    final = max(o.t for o in finals) - last_sent
    return ClipOutcome(
        client, span.name, first, final, end, end >= span.end_s - spec.cover_tol_s, text
    )


# --------------------------------------------------------------------------- summary


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default; the harness's ``pct``)."""
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


@dataclass(frozen=True, slots=True)
class Percentiles:
    """Latency percentiles in ms over ``n`` values (None when there are none)."""

    n: int
    p50_ms: float | None
    p95_ms: float | None
    max_ms: float | None

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Percentiles:
        def ms(value: float | None) -> float | None:
            return None if value is None else round(value * 1000, 1)

        return cls(
            len(seconds),
            ms(percentile(seconds, 50)),
            ms(percentile(seconds, 95)),
            ms(max(seconds, default=None)),
        )


@dataclass(frozen=True, slots=True)
class SideSummary:
    """One side of one run: latencies and what went missing."""

    utterances: int
    final: Percentiles
    first_partial: Percentiles
    #: Clips no final was given to.
    lost: int
    missing_first_partial: int
    #: Clips whose finals end more than ``cover_tol_s`` before the clip does.
    final_not_covering_end: int
    #: Clips whose last final arrived before their last sample was sent.
    negative_final: int


def summarize(outcomes: Sequence[ClipOutcome]) -> SideSummary:
    """Percentiles over the clips that got one; counts of the ones that did not."""
    finals = [o.final_s for o in outcomes if o.final_s is not None]
    partials = [o.first_partial_s for o in outcomes if o.first_partial_s is not None]
    return SideSummary(
        utterances=len(outcomes),
        final=Percentiles.of(finals),
        first_partial=Percentiles.of(partials),
        lost=len(outcomes) - len(finals),
        missing_first_partial=len(outcomes) - len(partials),
        final_not_covering_end=sum(o.final_s is not None and not o.covers_end for o in outcomes),
        negative_final=sum(1 for value in finals if value < 0),
    )


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator`` rounded to 4 places; None when either is missing or the
    denominator is 0."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return round(numerator / denominator, 4)


@dataclass(frozen=True, slots=True)
class Comparison:
    """Jiesu over the peer for one run, and whether the run meets the target."""

    final_p95_ratio: float | None
    first_partial_p95_ratio: float | None
    lost_ratio: float | None
    target_met: bool


def compare(jiesu: SideSummary, peer: SideSummary, max_ratio: float = TARGET_RATIO) -> Comparison:
    """Ratios Jiesu / peer. The target holds when Jiesu lost no clip and its final p95 is at
    most ``max_ratio`` of the peer's (or the peer finalised nothing while Jiesu did)."""
    final_ratio = ratio(jiesu.final.p95_ms, peer.final.p95_ms)
    if final_ratio is not None:
        fast = final_ratio <= max_ratio
    else:
        fast = jiesu.final.p95_ms is not None and peer.final.p95_ms is None
    return Comparison(
        final_p95_ratio=final_ratio,
        first_partial_p95_ratio=ratio(jiesu.first_partial.p95_ms, peer.first_partial.p95_ms),
        lost_ratio=ratio(jiesu.lost, peer.lost),
        target_met=fast and jiesu.lost == 0,
    )


def overall_target(run_met: Mapping[int, bool], complete_clip_set: bool) -> tuple[bool, list[str]]:
    """The issue's target over the runs made, and what keeps it from counting.

    It holds only when every run met it, runs at 1 and 4 clients were among them and every clip
    of the folder was played."""
    reasons = [f"missed at {n} client(s)" for n, met in sorted(run_met.items()) if not met]
    missing = [n for n in TARGET_CLIENTS if n not in run_met]
    if missing:
        reasons.append(f"not run at {missing} client(s)")
    if not complete_clip_set:
        reasons.append("a subset of the clips was played")
    return not reasons, reasons


def side_dict(summary: SideSummary, extra: Mapping[str, Any]) -> dict[str, Any]:
    """One side's summary as JSON-ready data, with run facts (CPU, CER, …) after it."""
    return {**asdict(summary), **extra}


# --------------------------------------------------------------------------- command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``jiesu bench peer``."""
    parser.add_argument(
        "--peer-venv",
        type=Path,
        required=True,
        help="venv with whisper-live 0.10.0 (../shared/peer_whisperlive/install_peer.sh)",
    )
    parser.add_argument(
        "--harness",
        type=Path,
        default=DEFAULT_HARNESS,
        help="folder of wl_serve.py and wl_latency.py (default: %(default)s)",
    )
    parser.add_argument(
        "--clients",
        default="1,4",
        help="comma-separated concurrent streams, one run of each side per value "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--audio",
        type=Path,
        default=DEFAULT_AUDIO,
        help="folder of 16 kHz mono WAV clips and trans.tsv (default: %(default)s)",
    )
    parser.add_argument("--clips", default="", help="comma-separated subset of the WAV names")
    parser.add_argument("--max-clips", type=int, default=0, help="the first K clips (0: all)")
    parser.add_argument(
        "--model",
        default="whisper-base-ct2",
        help="CTranslate2 Whisper folder for both sides (default: %(default)s, built from "
        "the registry packages)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=2,
        help="CPU threads of CTranslate2 on both sides (peer: OMP_NUM_THREADS; "
        "default: %(default)s)",
    )
    parser.add_argument(
        "--jiesu-frame-ms",
        type=int,
        default=0,
        help="ingest frame size for Jiesu (default 0: the peer's 100 ms chunks; 20 is the SIP "
        "frame size; anything else is not the same work, and the target then does not count)",
    )
    parser.add_argument("--idle-s", type=float, default=StreamSpec().idle_s)
    parser.add_argument("--tail-max-s", type=float, default=StreamSpec().tail_max_s)
    parser.add_argument(
        "--details", type=Path, default=None, help="also write every clip's outcome here"
    )


def parse_clients(text: str) -> list[int]:
    """``"1,4"`` -> ``[1, 4]``; SystemExit on anything else."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise SystemExit(f"peer: --clients must be positive integers like 1,4, got {text!r}")
    return values


def peer_python(venv: Path) -> Path:
    """The venv's interpreter, after checking it has whisper_live and faster_whisper.

    SystemExit with what to do when it does not."""
    python = venv / "bin" / "python"
    install = (
        f"bash {DEFAULT_HARNESS}/install_peer.sh {venv} 'torch==2.13.0+cpu' "
        "(see ../shared/peer_whisperlive/README.md)"
    )
    if not python.exists():
        raise SystemExit(f"peer: no Python in {venv} (no {python}); install the peer: {install}")
    probe = (
        "import importlib.util as u, sys\n"
        "sys.exit(0 if u.find_spec('whisper_live') and u.find_spec('faster_whisper') else 3)"
    )
    result = subprocess.run([str(python), "-c", probe], capture_output=True, timeout=60)
    if result.returncode != 0:
        raise SystemExit(f"peer: {venv} lacks whisper_live or faster_whisper; install: {install}")
    return python


def machine() -> dict[str, Any]:
    """The machine the run was made on."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        mem_kb = 0
    return {
        "cpu": model,
        "cpu_count": os.cpu_count(),
        "memory_gib": round(mem_kb / 2**20, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "loadavg_at_start": list(os.getloadavg()),
    }


def _run_at(setup: Setup, n: int) -> tuple[dict[str, Any], bool, dict[str, Any]]:
    """Both sides at ``n`` streams: the run's summary, whether it met the target, the rows."""
    from jiesu.bench import peer_sides

    plans = plan_streams(setup.names, setup.lengths, n, setup.spec)
    jiesu = peer_sides.run_jiesu(setup, plans)
    peer = peer_sides.run_peer(setup, plans)
    j_sum, p_sum = summarize(jiesu.outcomes), summarize(peer.outcomes)
    comparison = compare(j_sum, p_sum)
    print(peer_sides.one_line(n, j_sum, p_sum, comparison), file=sys.stderr, flush=True)
    summary = {
        "clients": n,
        "clips_per_stream": len(setup.names),
        "jiesu": side_dict(j_sum, jiesu.facts),
        "peer": side_dict(p_sum, peer.facts),
        **asdict(comparison),
    }
    rows = {"clients": n, "jiesu": jiesu.rows(), "peer": peer.rows()}
    return summary, comparison.target_met, rows


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run both sides at every ``--clients`` value and compare them."""
    from jiesu.bench import peer_sides

    clients = parse_clients(args.clients)
    python = peer_python(args.peer_venv)
    if not (args.harness / "wl_serve.py").is_file():
        raise SystemExit(f"peer: no wl_serve.py in {args.harness} (is ../shared there?)")
    setup = peer_sides.build_setup(args, python)
    spec = setup.spec
    started, host = datetime.datetime.now(datetime.UTC), machine()
    runs, met, details = [], {}, []
    for n in clients:
        summary, met[n], rows = _run_at(setup, n)
        runs.append(summary)
        details.append(rows)
    target_met, reasons = overall_target(met, setup.complete)
    if setup.jiesu_frame_ms != spec.chunk_ms:
        target_met = False
        reasons.append(
            f"Jiesu was sent {setup.jiesu_frame_ms} ms frames, the peer {spec.chunk_ms} ms"
        )
    if args.details is not None:
        peer_sides.write_json(args.details, details)
    return {
        "runs": runs,
        "target": f"Jiesu final p95 <= {TARGET_RATIO} x the peer's at {list(TARGET_CLIENTS)} "
        "clients, and Jiesu loses 0 utterances",
        "target_met": target_met,
        "target_not_met_because": reasons,
        "method": peer_sides.method(setup),
        "clips": list(setup.names),
        "machine": {**host, **peer_sides.versions(python)},
        "commands": {
            "bench": shlex.join(["jiesu", *sys.argv[1:]]),
            "jiesu_server": shlex.join(peer_sides.jiesu_server_argv(Path("TMP/jiesu.toml"))),
            "peer_server": peer_sides.peer_server_command(setup, "PORT"),
            "peer_clients": peer_sides.peer_client_command(setup, "N", "PORT", "OUT.json"),
        },
        "date": started.isoformat(timespec="seconds"),
    }
