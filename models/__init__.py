"""One adapter per model family, and the registry of what to load, from where, with checksums.

Modules:
- ``registry``: ``ModelSpec``, ``MODEL_REGISTRY`` (whisper-base-ct2, silero-vad-v6, webrtcvad),
  ``ModelUnavailable`` (names the pip package to install); never touches the network.
- ``whisper_ct2``: ``prepare_whisper_base`` (join and sha256-check the model folder) and
  ``WhisperCt2`` (batched CTranslate2 ``encode``/``generate`` over bucketed feature windows,
  a prompt per request; ``transcribe_plain`` for faster-whisper's own ``transcribe()``).
- ``vad``: ``WebRtcVadGate`` (per-frame gate) and Silero VAD over onnxruntime
  (``SileroVadModel`` shared session, ``SileroVad`` per-stream state).
"""
