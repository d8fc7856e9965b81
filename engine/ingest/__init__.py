"""Websocket audio ingest: the second door for call audio besides SIP.

Clients (tests, web/app channels, other PBXs) stream per-leg audio frames over a websocket; the
ingest checks their order, decodes, resamples to 16 kHz and hands :class:`AudioChunk`\\ s to an
:class:`IngestSink`, exactly as the SIP door does. Protocol: ``docs/audio-ingest.md``.

* :mod:`.protocol` — the wire frames and their msgpack form;
* :mod:`.stream` — sans-I/O per-call, per-leg state (ordering, gaps, decoding, framing);
* :mod:`.server` — :class:`IngestServer`, the websocket edge;
* :mod:`.client` — :class:`IngestClient`, streams a WAV file or PCM as a call;
* :mod:`.sink` — the output contract (:class:`IngestSink`, :class:`IngestCall`).
"""

from __future__ import annotations

from jiesu.engine.ingest.protocol import CallStats, LegStats
from jiesu.engine.ingest.sink import IngestCall, IngestSink

__all__ = ["CallStats", "IngestCall", "IngestSink", "LegStats"]
