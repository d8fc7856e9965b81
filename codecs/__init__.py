"""Audio codecs and RTP helpers: pure functions and sans-I/O classes, no sockets, no threads."""
