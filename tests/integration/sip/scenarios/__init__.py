"""sipp scenarios for the call-feature tests (hold, early media, DTMF, registration).

Each ``*.xml`` beside this file is a sipp scenario; ``@@NAME@@`` markers are filled in by
:func:`load` (sipp's own ``[keyword]`` and ``[$variable]`` syntax is left alone)."""

from __future__ import annotations

import re
from pathlib import Path

HERE = Path(__file__).resolve().parent


def load(name: str, **values: object) -> str:
    """The scenario ``name``.xml with every ``@@KEY@@`` replaced by ``values[key]``."""
    text = (HERE / f"{name}.xml").read_text(encoding="ascii")
    for key, value in values.items():
        text = text.replace(f"@@{key.upper()}@@", str(value))
    left = sorted(set(re.findall(r"@@([A-Z_0-9]+)@@", text)))
    if left:
        raise KeyError(f"scenario {name}: no value for {', '.join(left)}")
    return text
