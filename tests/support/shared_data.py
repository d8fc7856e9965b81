"""Where the shared development data is: ``../shared/data`` beside the checkout.

``JIESU_SHARED_DATA`` overrides the location. Tests read files by path (never copy them) and
skip with a message naming the missing folder when the data is not on the machine.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("JIESU_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
MANDARIN_SPEECH = SHARED_DATA / "speech" / "mandarin"
