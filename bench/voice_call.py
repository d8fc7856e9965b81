"""A voice call for the benchmarks, over real SIP: ``jiesu serve``'s runtime (SIP workers, speech
core when asked), a voice service running the benchmark's own dialog, sipp placing the call to
an IVR number, and a :class:`~jiesu.bench.rtp_phone.RtpPhone` as the caller's handset.

``async with voice_call(folder, dialog, speech=...) as call:`` yields the runtime, the phone and
the sipp task once the call is up; leaving the block hangs up (if the dialog has not) and
waits for sipp.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from jiesu.bench.replay import offline_config
from jiesu.bench.rtp_phone import RtpPhone
from jiesu.bench.speechsets import read_wav
from jiesu.codecs.resample import resample
from jiesu.engine.config import AssistConfig, SipConfig, SipRoutingConfig, SpeechConfig
from jiesu.engine.runtime import Runtime
from jiesu.engine.sip import sipp
from jiesu.engine.voice.prompts import normalise_loudness
from jiesu.engine.voice.service import Dialog, VoiceService
from jiesu.engine.voice.synthesizer import Synthesizer

Pcm = npt.NDArray[np.int16]
IVR_NUMBER = "40001"


@dataclass
class VoiceCall:
    runtime: Runtime
    service: VoiceService
    phone: RtpPhone
    caller: asyncio.Task[sipp.SippResult]


def caller_clip(path: Path) -> Pcm:
    """A recording at 8 kHz, levelled to -20 dBFS (a caller as loud as Jiesu's prompts)."""
    pcm, rate = read_wav(path)
    return normalise_loudness(resample(pcm, rate, 8000))


def voiced_span_s(pcm: Pcm, within_db: float = 30.0) -> tuple[float, float]:
    """First and last 20 ms frame (8 kHz) within ``within_db`` of the loudest, in seconds."""
    frames = pcm[: len(pcm) // 160 * 160].astype(np.float64).reshape(-1, 160)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    loud = np.flatnonzero(rms >= rms.max() * 10 ** (-within_db / 20))
    return float(loud[0]) * 0.02, float(loud[-1] + 1) * 0.02


@contextlib.asynccontextmanager
async def voice_call(
    folder: Path,
    dialog: Dialog,
    voice: Synthesizer,
    *,
    speech: SpeechConfig | None = None,
    echo_db: float | None = 12.0,
) -> AsyncIterator[VoiceCall]:
    """See the module doc. ``speech=None``: the speech core is off (no transcripts)."""
    sip = SipConfig(
        enabled=True,
        sip_port=0,
        rtp_port_start=sipp.free_udp_port(64),
        rtp_ports_per_worker=16,
        routing=SipRoutingConfig(ivr_numbers=(IVR_NUMBER,)),
    )
    config = offline_config(folder, sip=sip, assist=AssistConfig(enabled=False))
    config = dataclasses.replace(
        config,
        speech=speech if speech is not None else SpeechConfig(enabled=False),
        voice=dataclasses.replace(config.voice, enabled=False),  # the benchmark's dialog instead
    )
    runtime = Runtime(config)
    await runtime.start()
    assert runtime.sip is not None
    service = VoiceService(runtime.sip, voice, runtime.event_log, runtime.metrics, dialog)
    service.start()
    runtime.sip.answered_listener = service
    phone = RtpPhone(echo_db=echo_db)
    caller: asyncio.Task[sipp.SippResult] | None = None
    try:
        port = await phone.start()
        caller = asyncio.create_task(
            sipp.run_sipp(
                sipp.uac_phone_scenario(port),
                folder,
                f"127.0.0.1:{runtime.sip.ports[0]}",
                service=IVR_NUMBER,
                sip_port=sipp.free_udp_port(),
                timeout_s=3600,
            )
        )
        await phone.wait_audio(15)
        call = VoiceCall(runtime, service, phone, caller)
        yield call
        for call_id in list(service.channels):
            runtime.sip.hangup(call_id)
        result = await asyncio.wait_for(caller, 30)
        if result.rc != 0:
            raise RuntimeError(f"sipp failed: {result.output[-2000:]}")
    finally:
        if caller is not None and not caller.done():
            caller.cancel()  # run_sipp kills sipp when cancelled
            await asyncio.gather(caller, return_exceptions=True)
        await phone.close()
        await service.close()
        await runtime.close()
