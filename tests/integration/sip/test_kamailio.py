"""Kamailio in front of the workers: the committed example (sip_config/kamailio/kamailio.cfg) run
for real on loopback, with sipp callers that follow its Record-Route.

The test renders nothing but the dispatcher list: the committed config is started with ``-A``
defines for the address, port and list file, ``-DD -E`` in the foreground in its own process
group, with its own runtime dir and pid file. It shows that calls spread over both workers,
that a full worker's 503 fails over to the other one, that in-dialog requests (ACK, BYE from
either side) pass through Kamailio, and that malformed RFC 4475 OPTIONS stop at Kamailio.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import socket
import subprocess
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from shared_data import REPO_ROOT
from sipp_peer import free_udp_port, run_sipp, wait_udp_bound
from test_torture import TORTURE, aim_via, call_id_of, exchange

from jiesu.engine.calls import IngestCall
from jiesu.engine.ingest.recording import RecordingSink
from jiesu.engine.sip.sipp import ANSWER_BYE, SDP

KAMAILIO = Path("/usr/sbin/kamailio")
CONFIG = REPO_ROOT / "sip_config" / "kamailio" / "kamailio.cfg"
#: Malformed OPTIONS of RFC 4475 (see test_torture.py); zeromf has Max-Forwards 0 (483 at a proxy).
MALFORMED_OPTIONS = ("badaspec", "baddn", "mcl01", "zeromf")


def need_kamailio() -> None:
    if not KAMAILIO.exists():
        pytest.skip(f"{KAMAILIO} is missing (Debian package kamailio; ./jiesu.sh test installs it)")


@dataclass
class Kamailio:
    port: int
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@asynccontextmanager
async def kamailio(tmp_path: Path, workers: list[int]) -> AsyncIterator[Kamailio]:
    """The committed config on 127.0.0.1:<free port> dispatching to ``workers``."""
    need_kamailio()
    port = free_udp_port()
    dispatcher = tmp_path / "dispatcher.list"
    dispatcher.write_text("".join(f"1 sip:127.0.0.1:{p}\n" for p in workers))
    rundir = tmp_path / "kamailio-run"
    rundir.mkdir()
    log = tmp_path / "kamailio.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            str(KAMAILIO),
            "-DD",
            "-E",
            "-f",
            str(CONFIG),
            "-n",
            "2",
            "-m",
            "32",
            "-M",
            "8",
            "-Y",
            str(rundir),
            "-P",
            str(rundir / "kamailio.pid"),
            "-A",
            "JIESU_PROXY_IP=127.0.0.1",
            "-A",
            f"JIESU_PROXY_PORT={port}",
            "-A",
            f'JIESU_DISPATCHER_LIST="{dispatcher}"',
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    front = Kamailio(port, log)
    try:
        bound = asyncio.create_task(wait_udp_bound(port, timeout_s=15))
        exited = asyncio.create_task(proc.wait())
        await asyncio.wait({bound, exited}, return_when=asyncio.FIRST_COMPLETED)
        exited.cancel()
        if not bound.done() or bound.exception() is not None:
            bound.cancel()
            raise AssertionError(f"kamailio did not start:\n{front.log_text()}")
        yield front
    finally:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()


# --- a caller that follows the Route set -------------------------------------------------
_DIALOG = """Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "caller" <sip:13812345678@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>{to_tag}
      Call-ID: [call_id]
      CSeq: {cseq}
      Contact: <sip:13812345678@[local_ip]:[local_port]>
      Max-Forwards: 70"""


def _in_dialog(method: str, cseq: int) -> str:
    """ACK/BYE to the worker's Contact with the Route header learnt from Record-Route: sipp
    still sends the datagram to its target (Kamailio), which loose-routes it on."""
    headers = _DIALOG.format(to_tag="[peer_tag_param]", cseq=f"{cseq} {method}")
    return f"      {method} [next_url] SIP/2.0\n      {headers}\n      [routes]\n      Content-Length: 0\n"


def proxied_uac(talk_ms: int | None) -> str:
    """INVITE via the proxy, ACK and BYE along the Route set; ``talk_ms=None``: wait instead
    for the far end's BYE (sent by the worker through the proxy) and answer it."""
    sdp = SDP.format(pt=0, codec="PCMU")
    invite = (
        "      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0\n      "
        + _DIALOG.format(to_tag="", cseq="1 INVITE")
        + "\n      Content-Type: application/sdp\n      Content-Length: [len]\n\n"
        + sdp
    )
    steps = [
        f'<send retrans="500"><![CDATA[\n{invite}\n]]></send>',
        '<recv response="100" optional="true"/>',
        '<recv response="180" optional="true"/>',
        '<recv response="183" optional="true"/>',
        '<recv response="200" rrs="true" rtd="true"/>',
        f"<send><![CDATA[\n{_in_dialog('ACK', 1)}\n]]></send>",
    ]
    if talk_ms is not None:
        steps += [
            f'<pause milliseconds="{talk_ms}"/>',
            f'<send retrans="500"><![CDATA[\n{_in_dialog("BYE", 2)}\n]]></send>',
            '<recv response="200" crlf="true"/>',
        ]
    else:
        steps += ANSWER_BYE
    body = "\n".join(steps)
    return (
        '<?xml version="1.0" encoding="ISO-8859-1" ?>\n'
        f'<scenario name="jiesu uac via proxy">\n{body}\n</scenario>\n'
    )


async def call_via(
    front: Kamailio, workdir: Path, name: str, talk_ms: int | None, calls: int = 1
) -> Any:
    """``calls`` sequential calls to 40001 (the answer mode) through the proxy; sipp's files
    are ``workdir/name.*``."""
    result = await run_sipp(
        proxied_uac(talk_ms),
        workdir,
        f"127.0.0.1:{front.port}",
        name=name,
        service="40001",
        sip_port=free_udp_port(),
        media_port=free_udp_port(4),
        calls=calls,
        rate=10.0,
        limit=1,
        timeout_s=30,
    )
    return result


class StartedSink(RecordingSink):
    """Sets ``first`` when the first call starts."""

    def __init__(self) -> None:
        super().__init__()
        self.first = asyncio.Event()

    async def call_started(self, call: IngestCall) -> None:
        await super().call_started(call)
        self.first.set()


def workers_of(sink: Any, call_ids: list[str]) -> Counter[str]:
    return Counter(sink.started[c].source for c in call_ids)


# --- tests -------------------------------------------------------------------------------
def test_committed_config_passes_the_syntax_check() -> None:
    need_kamailio()
    done = subprocess.run(
        [str(KAMAILIO), "-c", "-f", str(CONFIG)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "config file ok" in done.stdout + done.stderr


async def test_calls_spread_over_the_workers_and_bye_passes_the_proxy(
    make_supervisor: Any, tmp_path: Path
) -> None:
    supervisor, sink = await make_supervisor(workers=2)
    async with kamailio(tmp_path, supervisor.ports) as front:
        result = await call_via(front, tmp_path, "spread", talk_ms=300, calls=4)
        assert result.rc == 0, result.output[-3000:] + front.log_text()
        calls = list(sink.started)
        assert len(calls) == 4
        spread = workers_of(sink, calls)
        print("calls per worker:", dict(spread))
        assert set(spread) == {"sip-worker-0", "sip-worker-1"}, spread
        for call_id in calls:
            # The caller's BYE went to Kamailio only (sipp's target); the worker saw it.
            ended = await sink.wait_ended(call_id)
            assert ended.reason == "caller_hangup", ended


async def test_a_full_worker_fails_over_and_a_worker_bye_passes_the_proxy(
    make_supervisor: Any, tmp_path: Path
) -> None:
    sink = StartedSink()
    supervisor, _ = await make_supervisor(sink=sink, workers=2, calls_per_worker=1)
    async with kamailio(tmp_path, supervisor.ports) as front:
        held = asyncio.create_task(call_via(front, tmp_path, "held", talk_ms=None))
        await asyncio.wait_for(sink.first.wait(), 20)
        held_id = next(iter(sink.started))
        full = sink.started[held_id].source
        # Round robin puts one of the next two calls on the full worker: it answers 503 and
        # Kamailio's failure route hands the call to the other worker.
        result = await call_via(front, tmp_path, "more", talk_ms=200, calls=2)
        assert result.rc == 0, result.output[-3000:] + front.log_text()
        others = [c for c in sink.started if c != held_id]
        assert len(others) == 2
        assert full not in workers_of(sink, others), workers_of(sink, others)
        index = int(full.rsplit("-", 1)[1])
        await supervisor.sync(index)  # the worker's counter travels as a frame
        refused = supervisor.metrics.value("sip_calls_refused_total", {"reason": "full"})
        print("refused by the full worker:", refused)
        assert refused >= 1
        # The worker ends the held call: its BYE follows the Route set through Kamailio.
        assert supervisor.hangup(held_id)
        held_result = await asyncio.wait_for(held, 30)
        assert held_result.rc == 0, held_result.output[-3000:] + front.log_text()
        ended = await sink.wait_ended(held_id)
        assert ended.reason == "hangup_command", ended


async def test_a_stopped_worker_times_out_once_and_calls_go_to_the_other(
    make_supervisor: Any, tmp_path: Path
) -> None:
    supervisor, sink = await make_supervisor(workers=2)
    # A long restart backoff keeps the killed worker down for the whole test (conftest's
    # sip_config() fixes the backoff at 0.1 s; the supervisor reads it when a worker dies).
    supervisor.config = dataclasses.replace(supervisor.config, restart_backoff_s=120.0)
    async with kamailio(tmp_path, supervisor.ports) as front:
        dead = supervisor.workers[1]
        assert dead.process is not None
        dead.process.send_signal(signal.SIGKILL)
        await dead.process.wait()
        # Round robin picks the dead worker for the first or second call: no reply within
        # fr_timer (3 s), 408, the call goes to worker 0 and ds_mark_dst takes worker 1 out.
        result = await call_via(front, tmp_path, "after", talk_ms=200, calls=4)
        assert result.rc == 0, result.output[-3000:] + front.log_text()
        assert workers_of(sink, list(sink.started)) == Counter({"sip-worker-0": 4})
        # Only one call waited for the dead worker (round robin alone would pick it twice).
        dead_uri = f"sip:127.0.0.1:{dead.port} did not answer"
        assert front.log.read_text(errors="replace").count(dead_uri) == 1, front.log_text()


async def test_malformed_options_stop_at_the_proxy(make_supervisor: Any, tmp_path: Path) -> None:
    files = [TORTURE / f"{name}.dat" for name in MALFORMED_OPTIONS]
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        pytest.skip(f"needs the RFC 4475 messages {missing} (../shared/data/sip)")
    supervisor, _ = await make_supervisor(workers=1)
    async with kamailio(tmp_path, supervisor.ports) as front:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        me = sock.getsockname()[1]
        answers: dict[str, list[str]] = {}
        try:
            for path in files:
                message = aim_via(path.read_bytes(), me)
                replies = await asyncio.to_thread(
                    exchange, sock, message, ("127.0.0.1", front.port), 0.5
                )
                cid = call_id_of(message)
                mine = [r for r in replies if call_id_of(r) == cid]
                answers[path.stem] = [r.split(b"\r\n", 1)[0].decode() for r in mine]
                # Answered by Kamailio itself (sl), not relayed from a worker.
                assert all(b"\r\nServer: kamailio" in r for r in mine), (path.stem, mine)
        finally:
            sock.close()
        print(answers)
        for name, lines in answers.items():
            assert not any(line.startswith("SIP/2.0 2") for line in lines), (name, lines)
        await supervisor.sync()
        # None of them reached the worker: Kamailio answered or dropped them itself.
        gated = supervisor.metrics.value(
            "sip_requests_rejected_total", {"method": "OPTIONS", "reason": "malformed"}
        )
        assert gated == 0, front.log_text()
