"""A sipp caller streams real Mandarin speech as G.711 into an IVR-routed call: the worker
answers, taps the caller leg, and the chunks reach the sink; BYE ends the call."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
from sipp_peer import free_udp_port, run_sipp, uac_scenario

from jiesu.codecs.resample import resample
from jiesu.engine.audio import Leg
from jiesu.engine.events import CallMode
from jiesu.engine.ingest.recording import RecordingSink


def align(signal: Any, reference: Any) -> tuple[int, float]:
    """Where ``reference`` starts inside ``signal`` (FFT cross-correlation), and the median
    correlation of its voiced 20 ms frames with the signal near there (pjmedia's jitter buffer
    and resampler shift the audio by a few samples now and then, so frames are matched one by
    one within +-10 ms)."""
    a = signal.astype(np.float64)
    b = reference.astype(np.float64)
    n = 1 << int(np.ceil(np.log2(len(a) + len(b))))
    xc = np.fft.irfft(np.fft.rfft(a, n) * np.conj(np.fft.rfft(b, n)), n)[: len(a)]
    lag = int(np.argmax(xc))
    scores = []
    for start in range(0, len(b) - 320, 320):
        frame = b[start : start + 320]
        if np.abs(frame).mean() < 300:
            continue
        best = -1.0
        for shift in range(-160, 161, 2):
            at = lag + start + shift
            if at >= 0 and at + 320 <= len(a):
                best = max(best, float(np.corrcoef(a[at : at + 320], frame)[0, 1]))
        scores.append(best)
    return lag, float(np.median(scores))


SHORT = "firered_BAC009S0764W0121.wav"  # 4.2 s


async def test_sipp_call_is_answered_tapped_and_ended_by_bye(
    make_supervisor: Any, speech_pcap: Any, tmp_path: Path
) -> None:
    supervisor, sink = await make_supervisor()
    assert isinstance(sink, RecordingSink)
    pcap, packets, pcm = speech_pcap(SHORT, "pcmu")
    talk_ms = packets * 20
    result = await run_sipp(
        uac_scenario(pcap, talk_ms),
        tmp_path,
        f"127.0.0.1:{supervisor.ports[0]}",
        service="40001",
        sip_port=free_udp_port(),
        media_port=free_udp_port(4),
    )
    assert result.rc == 0, result.output[-3000:]
    call_id = next(iter(sink.started))
    ended = await asyncio.wait_for(sink.wait_ended(call_id), 10)
    call = sink.started[call_id]
    assert call.mode is CallMode.IVR and call.legs == (Leg.CALLER,)
    assert call.caller_masked == "138****5678" and call.codec == "pcmu"
    assert ended.reason == "caller_hangup"
    assert sink.violations == []
    chunks = sink.leg_chunks(call_id, Leg.CALLER)
    assert [c.seq for c in chunks] == list(range(len(chunks)))
    assert abs(len(chunks) - packets) <= 2, (len(chunks), packets)
    info = supervisor.last_leg_info[call_id]["caller"]
    assert info["dropped"] == 0 and info["rtp_lost"] == 0
    assert abs(info["rtp_packets"] - packets) <= 2
    out = sink.leg_pcm(call_id, Leg.CALLER)
    # G.711 keeps 0-4 kHz: compare with the clip taken down to 8 kHz and back.
    lag, corr = align(out, resample(resample(pcm, 16000, 8000), 8000, 16000))
    print(f"tap vs band-limited clip: lag {lag} samples, median frame correlation {corr:.3f}")
    assert corr > 0.8, f"the tapped audio is not the streamed clip (correlation {corr:.2f})"
    assert 0 <= lag < 16000, f"the clip starts {lag} samples into the call"


async def test_recording_writes_the_caller_leg_to_wav(
    make_supervisor: Any, speech_pcap: Any, tmp_path: Path
) -> None:
    import wave

    from jiesu.engine.config import SipRecordingConfig

    folder = tmp_path / "recordings"
    supervisor, sink = await make_supervisor(
        recording=SipRecordingConfig(enabled=True, directory=folder, retention_days=1.0)
    )
    pcap, packets, _ = speech_pcap(SHORT, "pcma")
    result = await run_sipp(
        uac_scenario(pcap, packets * 20, codec="PCMA"),
        tmp_path,
        f"127.0.0.1:{supervisor.ports[0]}",
        service="40001",
        sip_port=free_udp_port(),
        media_port=free_udp_port(4),
    )
    assert result.rc == 0, result.output[-3000:]
    call_id = next(iter(sink.started))
    await asyncio.wait_for(sink.wait_ended(call_id), 10)
    files = sorted(folder.rglob("*.wav"))
    assert [f.name for f in files] == [f"{call_id}-caller.wav"]
    with wave.open(str(files[0])) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
        recorded = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    assert np.array_equal(recorded, sink.leg_pcm(call_id, Leg.CALLER))
