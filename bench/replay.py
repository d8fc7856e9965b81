"""Scripted calls replayed into the engine as the speech pipeline feeds it: shared by the
benchmarks and the tests (``tests/support`` is not importable from here, this module is).

* :func:`paced_finals`: ``[leg, text]`` pairs as transcript finals with speech-like timing;
* :func:`replay_finals`: finals appended to a running runtime's event log, the assist stage
  catching up between them as it does on a live call;
* :func:`offline_config`: a runtime on files in one folder, free ports, speech models off.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jiesu.engine.audio import Leg
from jiesu.engine.config import (
    AuthConfig,
    GatewayConfig,
    IngestConfig,
    JiesuConfig,
    SpeechConfig,
    StorageConfig,
)
from jiesu.engine.events import TranscriptFinal

if TYPE_CHECKING:  # the runtime imports every stage: only for the annotation
    from jiesu.engine.runtime import Runtime

#: Speaking pace of a scripted utterance (ms per character) and the pause after it (ms).
MS_PER_CHAR = 250
PAUSE_MS = 500


def paced_finals(
    utterances: Sequence[Sequence[str]], id_prefix: str = "", first: int = 0
) -> list[TranscriptFinal]:
    """One final per ``[leg, text]``, ids ``{id_prefix}u{n}`` counted from ``first``, timed as
    speech from 0 ms: :data:`MS_PER_CHAR` a character, :data:`PAUSE_MS` between utterances."""
    finals: list[TranscriptFinal] = []
    t = 0
    for n, (leg, text) in enumerate(utterances, first):
        duration = MS_PER_CHAR * len(text)
        finals.append(TranscriptFinal(Leg(leg), f"{id_prefix}u{n}", text, t, t + duration))
        t += duration + PAUSE_MS
    return finals


async def replay_finals(runtime: Runtime, call_id: str, finals: Sequence[TranscriptFinal]) -> None:
    """Append ``finals`` to the call's event log, each at its end time, as the speech pipeline
    does. A live call's finals come seconds apart and the work order keeps up; appended at once
    here, so the assist stage (when running) catches up after each, except the last one, which
    comes right before the hang-up (as the speech pipeline flushes it)."""
    for n, final in enumerate(finals):
        await runtime.event_log.append(call_id, final.t_end, final)
        if n < len(finals) - 1 and runtime.assist is not None:
            await runtime.assist.idle()


def offline_config(folder: Path, **settings: Any) -> JiesuConfig:
    """A runtime whose event log, ticket store and secrets are files in ``folder``, listening on
    free ports, speech models off. ``settings`` replace whole sections or top-level settings
    (``assist=AssistConfig(alerts=False)``, ``hotline="12345"``)."""
    defaults: dict[str, Any] = {
        "gateway": GatewayConfig(port=0),
        "ingest": IngestConfig(port=0),
        "auth": AuthConfig(token_secret_file=folder / "token.secret"),
        "storage": StorageConfig(
            event_log=folder / "events.sqlite3",
            synchronous="NORMAL",
            tickets=folder / "tickets.sqlite3",
            caller_key_secret_file=folder / "caller.secret",
        ),
        "speech": SpeechConfig(enabled=False),
    }
    return JiesuConfig(**{**defaults, **settings})
