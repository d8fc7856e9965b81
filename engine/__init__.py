"""Jiesu runtime: call sessions, events, the event log, the screen gateway, ingest and the CLI."""
