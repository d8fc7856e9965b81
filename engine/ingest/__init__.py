"""Websocket audio ingest: the second door for call audio besides SIP.

Clients (tests, web/app channels, other PBXs) stream per-leg audio frames over a websocket; the
ingest checks their order, decodes, resamples to 16 kHz and hands :class:`AudioChunk`\\ s to an
:class:`~jiesu.engine.calls.IngestSink`, exactly as the SIP door does. Protocol:
``docs/audio-ingest.md``.

* :mod:`.protocol` — the wire frames and their msgpack form;
* :mod:`.stream` — sans-I/O per-call state (each leg a :class:`~jiesu.engine.legstream.LegStream`);
* :mod:`.server` — :class:`IngestServer`, the websocket edge;
* :mod:`.client` — :class:`IngestClient`, streams a WAV file or PCM as a call.

The output contract (:class:`~jiesu.engine.calls.IngestSink`, ``IngestCall``, ``CallStats``)
lives in :mod:`jiesu.engine.calls`, shared with the SIP door.
"""
