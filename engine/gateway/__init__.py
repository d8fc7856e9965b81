"""The screen gateway: streams durable call events to agent and supervisor screens.

See ``docs/screen-protocol.md`` for the protocol and :class:`Gateway` for the server.
"""

from jiesu.engine.gateway.server import Gateway

__all__ = ["Gateway"]
