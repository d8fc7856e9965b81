"""What one worker process is told at start (JSON on its command line), and the frame format.

Kept apart from :mod:`.worker` so the main process never imports pjsua2.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from jiesu.engine.sip.routing import RoutingRules

FRAME_MS = 20
RATE = 16_000
FRAME_BYTES = RATE * FRAME_MS // 1000 * 2


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """What one worker needs, built by the supervisor from ``[sip]`` (JSON on the command line)."""

    index: int
    socket_path: str
    bind_address: str = "127.0.0.1"
    sip_port: int = 0
    transports: tuple[str, ...] = ("udp",)
    rtp_port_start: int = 20000
    rtp_port_count: int = 200
    max_legs: int = 4
    codecs: tuple[str, ...] = ("PCMA/8000", "PCMU/8000", "G722/16000")
    retry_after_s: int = 5
    frame_queue: int = 2000
    routing: RoutingRules = field(default_factory=RoutingRules)
    agent_uri: str = "sip:agent@127.0.0.1:5090"
    agent_answer_timeout_s: float = 30.0
    registrar: str = ""
    username: str = "jiesu"
    password: str = field(default="", repr=False)
    registration_expires_s: int = 300
    #: Callback names that raise on entry: for tests of the callback guard only.
    faults: tuple[str, ...] = ()
    log_level: str = "INFO"

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> WorkerSettings:
        raw = json.loads(text)
        rules: dict[str, Any] = raw["routing"]
        raw["routing"] = RoutingRules(
            tuple(rules["assist_numbers"]),
            tuple(rules["ivr_numbers"]),
            tuple(rules["after_hours_numbers"]),
            rules["unmatched"],
            rules["office_hours"],
        )
        for key in ("transports", "codecs", "faults"):
            raw[key] = tuple(raw[key])
        return cls(**raw)
