"""The SIP door: pjsua2 workers (one Endpoint per process) under a supervisor in ``jiesu serve``.

Modules: :mod:`.wire` (msgpack frames worker <-> main), :mod:`.routing` (dialled number -> mode),
:mod:`.rtpfile` (G.711 RTP / pcap writer for test peers), :mod:`.sanity` (a request check before
a call is answered), :mod:`.worker` (the pjsua2 process), :mod:`.supervisor` (starts, watches and
restarts workers, feeds the ingest sink), :mod:`.recorder` (optional per-leg WAV recording).
"""
