"""The alerts side's file I/O: the text-emotion artefact read into (and written from) the pure
:class:`~jiesu.engine.alerts.text_emotion.TextEmotionModel`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jiesu.engine.alerts.text_emotion import TextEmotionModel
from jiesu.models.registry import trained_path

#: The shipped artefact (written by ``jiesu train emotion``; provenance beside it).
TEXT_EMOTION_ARTEFACT = trained_path("emotion_text.npz")


def load_text_emotion(path: Path = TEXT_EMOTION_ARTEFACT) -> TextEmotionModel:
    """Read the ``.npz`` artefact (no pickles: plain arrays and a JSON header)."""
    with np.load(path, allow_pickle=False) as data:
        return TextEmotionModel.from_arrays(data)


def save_text_emotion(
    model: TextEmotionModel, path: Path, extra_meta: dict[str, object] | None = None
) -> None:
    """Write the artefact (its folder made if missing); ``extra_meta`` joins the JSON header."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **model.to_arrays(extra_meta))  # type: ignore[arg-type]
