"""WebRTC gate on synthetic frames and argument checks (no ONNX model loaded)."""

from __future__ import annotations

import numpy as np
import pytest

from jiesu.models.vad import WebRtcVadGate


def test_webrtc_gate_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="aggressiveness"):
        WebRtcVadGate(4)
    with pytest.raises(ValueError, match="rate"):
        WebRtcVadGate(2, rate=22_050)
    with pytest.raises(ValueError, match="frame_ms"):
        WebRtcVadGate(2, frame_ms=25)


def test_webrtc_gate_checks_frame_shape() -> None:
    gate = WebRtcVadGate(2, frame_ms=20)
    assert gate.frame_samples == 320
    with pytest.raises(ValueError, match="320 samples"):
        gate.is_speech(np.zeros(480, dtype=np.int16))
    with pytest.raises(ValueError, match="int16"):
        gate.is_speech(np.zeros(320, dtype=np.float32))  # type: ignore[arg-type]


def test_webrtc_gate_says_no_to_digital_silence() -> None:
    for frame_ms in (20, 30):
        gate = WebRtcVadGate(3, frame_ms=frame_ms)
        assert not gate.is_speech(np.zeros(gate.frame_samples, dtype=np.int16))
