"""Audio codecs and RTP helpers: pure functions and sans-I/O classes, no sockets, no threads.

Modules:

* :mod:`.payload` — ``open_decoder`` / ``open_encoder``: codec name -> per-stream coder; the
  one entry point the ingest and SIP doors use.
* :mod:`.g711` — μ-law / A-law by lookup table, bit-exact with ITU-T G.711.
* :mod:`.g722` — G.722 wideband encoder and decoder (stateful, per stream).
* :mod:`.opus` — Opus via libopus/opuslib, optional and imported on first use.
* :mod:`.resample` — streaming and one-shot int16 resampling (libsoxr).
* :mod:`.dtmf` — RFC 4733 telephone-event parsing and a per-stream key-press receiver.
* :mod:`.jitter` — RTP jitter buffer: reorder, drop duplicates and late packets, report losses.
* :mod:`.errors` — ``CodecError`` (a ``ValueError``) and ``CodecUnavailable``.
"""
