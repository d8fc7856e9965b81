"""The speech core end to end: real Mandarin speech over the websocket ingest, through VAD,
endpointing and the shared Whisper batcher, into transcript events in the durable log."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from shared_data import MANDARIN_SPEECH

from jiesu.bench.cer import char_errors
from jiesu.bench.nonspeech import line_noise, ring_back
from jiesu.engine.audio import Leg
from jiesu.engine.auth import Role
from jiesu.engine.config import AuthConfig, GatewayConfig, IngestConfig, JiesuConfig, StorageConfig
from jiesu.engine.events import CallEnded, TranscriptFinal, TranscriptPartial
from jiesu.engine.ingest.client import IngestClient, read_wav
from jiesu.engine.runtime import Runtime
from jiesu.engine.speech.textnorm import normalize_for_scoring

CLIP = "firered_BAC009S0764W0121.wav"


def reference(name: str) -> str:
    for line in (MANDARIN_SPEECH / "trans.tsv").read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if parts[0] == name:
            return parts[1]
    raise KeyError(name)


def voiced_span_ms(pcm: np.ndarray, rate: int) -> tuple[int, int]:  # type: ignore[type-arg]
    """First and last 20 ms frame louder than a fifth of the loudest (a plain energy VAD)."""
    frame = rate // 50
    frames = pcm[: len(pcm) // frame * frame].astype(np.float64).reshape(-1, frame)
    rms = np.sqrt((frames**2).mean(axis=1))
    loud = np.flatnonzero(rms > 0.2 * rms.max())
    return int(loud[0]) * 20, int(loud[-1] + 1) * 20


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    if not (MANDARIN_SPEECH / CLIP).is_file():
        pytest.skip(f"needs the shared Mandarin recordings in {MANDARIN_SPEECH}")
    config = JiesuConfig(
        gateway=GatewayConfig(port=0),
        ingest=IngestConfig(port=0),
        auth=AuthConfig(token_secret_file=tmp_path / "secret"),
        storage=StorageConfig(event_log=tmp_path / "events.sqlite3"),
    )
    rt = Runtime(config)
    await rt.start()
    try:
        yield rt
    finally:
        await rt.close()


async def test_real_call_gives_ordered_partials_and_an_accurate_final(runtime: Runtime) -> None:
    speech, rate = read_wav(MANDARIN_SPEECH / CLIP)
    pause = np.zeros(rate, dtype=np.int16)
    caller = np.concatenate([pause, speech, pause])
    seconds = len(caller) / rate
    # The agent's leg carries only ring-back and line noise: it must stay empty.
    agent = (ring_back(seconds) // 2 + line_noise(seconds)).astype(np.int16)[: len(caller)]
    token = runtime.signer.mint("test", Role.INGEST, "12345", 600, time.time())
    async with IngestClient(f"ws://127.0.0.1:{runtime.ingest.port}/", token) as client:
        stats = await client.stream_call(
            "call-asr", {Leg.CALLER: caller, Leg.AGENT: agent}, rate, codec="pcmu", realtime=True
        )
    assert stats is not None and stats.lost == 0

    events = await runtime.event_log.read("call-asr")
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    ended = [e.seq for e in events if isinstance(e.payload, CallEnded)]
    assert len(ended) == 1
    transcript = [e for e in events if isinstance(e.payload, TranscriptPartial | TranscriptFinal)]
    assert transcript, "no transcript for a real utterance"
    # The transcript is complete before the call is marked ended. The work-order stages follow
    # the log and may still add ticket fields after it (seen once on a fresh clone: the
    # summary came after call.ended).
    assert transcript[-1].seq < ended[0]
    assert all(e.payload.leg is Leg.CALLER for e in transcript)  # type: ignore[union-attr]

    finals = [e.payload for e in transcript if isinstance(e.payload, TranscriptFinal)]
    partials = [e.payload for e in transcript if isinstance(e.payload, TranscriptPartial)]
    assert len(finals) == 1
    final = finals[0]
    assert partials and all(p.utterance_id == final.utterance_id for p in partials)
    assert transcript[-1].payload is final  # partials come before their final
    # timing: the utterance sits where the voice is (after 1 s of pause), within 0.3 s
    onset_ms, offset_ms = voiced_span_ms(speech, rate)
    assert abs(final.t_start - (1000 + onset_ms)) <= 300
    assert 1000 + offset_ms <= final.t_end <= 1000 + offset_ms + 1000
    errors = char_errors(normalize_for_scoring(reference(CLIP)), normalize_for_scoring(final.text))
    print(f"final {final.text!r}: CER {errors.cer:.3f}")
    assert errors.cer <= 0.3
    # per-character times from the model's alignment: every character, in order, in the turn
    assert "".join(t.text for t in final.tokens) == final.text
    starts = [t.t_start for t in final.tokens]
    assert starts == sorted(starts)
    assert all(final.t_start - 300 <= t.t_start <= t.t_end <= final.t_end for t in final.tokens)
    spoken = [t for t in final.tokens if t.t_end > t.t_start]
    assert len(spoken) >= len(final.text) // 2, "most characters take time to say"
    # the characters span the voice, not the window: last one ends near the voice's end
    assert abs(final.tokens[-1].t_end - (1000 + offset_ms)) <= 600
    assert runtime.metrics.value("asr_finals_total") == 1
