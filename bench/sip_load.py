"""SIP load: W workers x C calls, W*C concurrent sipp calls streaming G.711 speech, one more refused.

Real pjsua2 workers under the supervisor, real sipp callers on 127.0.0.1, the speech pipeline
left out (chunks are only counted: transcription capacity is the speech core's benchmark).
Target: 0 failed calls, 0 frames dropped (worker queue and sequence gaps), 0 RTP packets lost,
every call's frame count within 5 frames (100 ms: sipp's own BYE timing) of the
streamed duration, the extra call refused.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from jiesu.engine.audio import Leg
from jiesu.engine.calls import IngestCall
from jiesu.engine.config import SipConfig, SipRoutingConfig
from jiesu.engine.ingest.client import read_wav
from jiesu.engine.ingest.recording import RecordingSink
from jiesu.engine.metrics import Metrics
from jiesu.engine.sip.rtpfile import g711_packets, pcap_bytes
from jiesu.engine.sip.sipp import free_udp_port, run_sipp, uac_scenario
from jiesu.engine.sip.supervisor import SipSupervisor
from jiesu.models.registry import shared_data_path

DEFAULT_SPEECH = Path(os.environ.get("JIESU_SHARED_DATA", shared_data_path()))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each call")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--calls-per-worker", type=int, default=4)
    parser.add_argument(
        "--speech-dir",
        type=Path,
        default=DEFAULT_SPEECH / "speech" / "mandarin",
        help="folder of 16 kHz WAV recordings looped into each call (default: %(default)s)",
    )


def run(args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="jiesu-sip-load-") as tmp:
        return asyncio.run(
            measure(args.seconds, args.workers, args.calls_per_worker, args.speech_dir, Path(tmp))
        )


def speech_pcm(folder: Path, seconds: float) -> np.ndarray[Any, np.dtype[np.int16]]:
    """The recordings of ``folder`` one after another, repeated to ``seconds`` (16 kHz)."""
    clips = sorted(folder.glob("*.wav"))
    if not clips:
        raise FileNotFoundError(f"no WAV recordings in {folder}")
    parts: list[np.ndarray[Any, np.dtype[np.int16]]] = []
    total = 0
    want = int(seconds * 16000)
    for path in _cycle(clips):
        pcm, rate = read_wav(path)
        if rate != 16000:
            continue
        parts.append(pcm)
        total += len(pcm)
        if total >= want:
            break
    return np.concatenate(parts)[:want]


class _CountingSink(RecordingSink):
    """Counts only; ``all_up`` is set once ``expected`` calls have started."""

    def __init__(self, expected: int) -> None:
        super().__init__(keep_audio=False)
        self.expected = expected
        self.all_up = asyncio.Event()

    async def call_started(self, call: IngestCall) -> None:
        await super().call_started(call)
        if len(self.started) >= self.expected:
            self.all_up.set()


def _cycle(items: list[Path]) -> Iterator[Path]:
    while True:
        yield from items


def _invite(port: int, me: int, n: int, rtp: int) -> bytes:
    sdp = (
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio {rtp} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    )
    return (
        f"INVITE sip:40001@127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{me};rport;branch=z9hG4bK-extra{n}\r\n"
        "Max-Forwards: 70\r\nTo: <sip:40001@127.0.0.1>\r\n"
        f"From: <sip:13800000000@127.0.0.1>;tag=x{n}\r\nCall-ID: extra-{n}@127.0.0.1\r\n"
        f"CSeq: 1 INVITE\r\nContact: <sip:x@127.0.0.1:{me}>\r\n"
        f"Content-Type: application/sdp\r\nContent-Length: {len(sdp)}\r\n\r\n{sdp}"
    ).encode()


def _extra_call(port: int, n: int) -> tuple[str, float]:
    """Send one more INVITE; the status line of its final answer and how long it took."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        began = time.monotonic()
        sock.sendto(
            _invite(port, sock.getsockname()[1], n, free_udp_port(2)),
            (
                "127.0.0.1",
                port,
            ),
        )
        deadline = began + 5.0
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                data = sock.recv(65535).decode(errors="replace")
            except TimeoutError:
                break
            status = data.split("\r\n", 1)[0]
            parts = status.split(" ")
            if len(parts) > 1 and parts[1] >= "200":
                return status, time.monotonic() - began
        return "no answer", time.monotonic() - began


async def measure(
    seconds: float, workers: int, calls_per_worker: int, speech_dir: Path, workdir: Path
) -> dict[str, object]:
    pcm = speech_pcm(speech_dir, seconds)
    packets = g711_packets(pcm, 16000, "pcmu")
    pcap = workdir / "load.pcap"
    pcap.write_bytes(pcap_bytes(packets))
    talk_ms = len(packets) * 20
    config = SipConfig(
        enabled=True,
        sip_port=0,
        workers=workers,
        calls_per_worker=calls_per_worker,
        rtp_port_start=free_udp_port(64 * workers),
        rtp_ports_per_worker=64,
        routing=SipRoutingConfig(ivr_numbers=("4000*",)),
    )
    sink = _CountingSink(workers * calls_per_worker)
    metrics = Metrics()
    supervisor = SipSupervisor(config, sink, metrics)
    await supervisor.start()
    try:
        callers = [
            asyncio.create_task(
                run_sipp(
                    uac_scenario(pcap, talk_ms),
                    workdir,
                    f"127.0.0.1:{port}",
                    name=f"load{i}",
                    service="40001",
                    calls=calls_per_worker,
                    limit=calls_per_worker,
                    rate=20,
                    sip_port=free_udp_port(),
                    media_port=free_udp_port(2 * calls_per_worker + 4),
                    timeout_s=seconds + 30,
                )
            )
            for i, port in enumerate(supervisor.ports)
        ]
        # Once every call is up, one more to each worker must be refused at once.
        await asyncio.wait_for(sink.all_up.wait(), 30)
        refusals = [
            await asyncio.to_thread(_extra_call, port, i) for i, port in enumerate(supervisor.ports)
        ]
        results = await asyncio.gather(*callers)
        for call_id in list(sink.started):
            await asyncio.wait_for(sink.wait_ended(call_id), 15)
        await supervisor.sync(0)
        for index in range(1, workers):
            await supervisor.sync(index)
    finally:
        await supervisor.close()
    per_call = []
    for call_id in sink.started:
        info = supervisor.last_leg_info.get(call_id, {}).get(Leg.CALLER.value, {})
        per_call.append(
            {
                "frames": int(info.get("frames", 0)),
                "dropped": int(info.get("dropped", 0)),
                "rtp_packets": int(info.get("rtp_packets", 0)),
                "rtp_lost": int(info.get("rtp_lost", 0)),
                "reason": sink.ended[call_id].reason if call_id in sink.ended else "",
            }
        )
    expected_frames = talk_ms / 20
    frame_error = max((abs(c["frames"] - expected_frames) for c in per_call), default=0.0)
    failed_calls = sum(0 if r.rc == 0 else 1 for r in results)
    gaps = metrics.value("sip_frames_dropped_total", {"where": "gap"})
    dropped = sum(c["dropped"] for c in per_call) + int(gaps)
    rtp_lost = sum(c["rtp_lost"] for c in per_call)
    calls = len(per_call)
    refused_ok = all(status.split(" ")[1] in ("486", "503") for status, _ in refusals)
    result: dict[str, object] = {
        "workers": workers,
        "calls_per_worker": calls_per_worker,
        "seconds": talk_ms / 1000,
        "calls": calls,
        "sipp_runs_failed": failed_calls,
        "calls_ended_by_bye": sum(1 for c in per_call if c["reason"] == "caller_hangup"),
        "frames_dropped": dropped,
        "rtp_packets_lost": rtp_lost,
        "rtp_packets_per_call": sorted({c["rtp_packets"] for c in per_call}),
        "rtp_packets_sent_per_call": len(packets),
        "frames_per_call": sorted({c["frames"] for c in per_call}),
        "expected_frames_per_call": expected_frames,
        "max_frame_count_error": frame_error,
        "end_reasons": sorted({c["reason"] for c in per_call}, key=str),
        "sipp_errors": [r.output[-1500:] for r in results if r.rc != 0],
        "extra_calls": [{"status": s, "seconds": round(t, 3)} for s, t in refusals],
        "load_average": list(os.getloadavg()),
        "sink_violations": len(sink.violations),
    }
    result["target_met"] = bool(
        calls == workers * calls_per_worker
        and failed_calls == 0
        and result["calls_ended_by_bye"] == calls
        and dropped == 0
        and rtp_lost == 0
        and frame_error <= 5
        and refused_ok
        and not sink.violations
    )
    return result
