"""Websocket audio ingest: the second door for call audio besides SIP (``docs/audio-ingest.md``).

Clients stream per-leg audio frames over a websocket; the ingest checks, decodes and resamples
them to 16 kHz and hands chunks to the door contract of :mod:`jiesu.engine.calls`, as SIP does.
:mod:`.protocol` holds the wire frames, :mod:`.stream` a call's sans-I/O state, :mod:`.server`
the websocket edge, :mod:`.client` a client, :mod:`.recording` a test sink.
"""
