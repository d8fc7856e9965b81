"""Small statistics the benchmarks share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt


def percentile(
    values: Sequence[float] | npt.NDArray[Any], q: float, digits: int = 1
) -> float | None:
    """The ``q``-th percentile of ``values`` rounded to ``digits``; None when there are none."""
    if not len(values):
        return None
    return round(float(np.percentile(values, q)), digits)
