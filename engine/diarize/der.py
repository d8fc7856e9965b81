"""Diarization error rate (DER) with a forgiveness collar and an optimal speaker mapping.

Scored on a 10 ms grid. Frames within ``collar`` seconds of any reference turn boundary are not
scored (the NIST convention: a 0.25 s collar forgives 0.25 s either side). Per scored frame with
``n_ref`` reference and ``n_hyp`` system speakers: missed ``max(0, n_ref - n_hyp)``, false alarm
``max(0, n_hyp - n_ref)``, confusion ``min(n_ref, n_hyp) - correct`` where ``correct`` counts
reference speakers whose mapped system speaker is also talking. The one-to-one mapping
maximises total overlap (Hungarian algorithm via SciPy; brute force when SciPy is absent).
Overlapped speech is scored. DER = (missed + false alarm + confusion) / reference speech.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["DerResult", "Segment", "diarization_error", "optimal_mapping", "parse_rttm"]

STEP_S = 0.01


@dataclass(frozen=True, slots=True)
class Segment:
    """One speaker talking from ``start`` to ``end`` seconds."""

    speaker: str
    start: float
    end: float

    def __post_init__(self) -> None:
        if not self.end >= self.start >= 0:
            raise ValueError(f"segment needs 0 <= start <= end, got {self.start}..{self.end}")


@dataclass(frozen=True, slots=True)
class DerResult:
    """Seconds of each error kind over ``scored_s`` seconds of reference speech."""

    der: float
    missed: float
    false_alarm: float
    confusion: float
    scored_s: float
    mapping: dict[str, str]


def parse_rttm(text: str) -> list[Segment]:
    """``SPEAKER`` lines of an RTTM file (start, duration, speaker name)."""
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields or fields[0] != "SPEAKER":
            continue
        if len(fields) < 8:
            raise ValueError(f"RTTM line {number}: expected at least 8 fields, got {len(fields)}")
        start, duration = float(fields[3]), float(fields[4])
        out.append(Segment(fields[7], start, start + duration))
    return out


def _activity(segments: Sequence[Segment], n: int) -> tuple[list[str], npt.NDArray[np.bool_]]:
    names = sorted({s.speaker for s in segments})
    act = np.zeros((len(names), n), dtype=bool)
    index = {name: i for i, name in enumerate(names)}
    for s in segments:
        a, b = round(s.start / STEP_S), min(n, round(s.end / STEP_S))
        act[index[s.speaker], a:b] = True
    return names, act


def optimal_mapping(overlap: npt.NDArray[np.floating]) -> list[tuple[int, int]]:
    """One-to-one (row, column) pairs maximising the summed ``overlap`` (rows = reference)."""
    rows, cols = overlap.shape
    if rows == 0 or cols == 0:
        return []
    try:
        from scipy.optimize import linear_sum_assignment  # type: ignore[import-untyped]
    except ImportError:
        return _brute_force_mapping(overlap)
    r, c = linear_sum_assignment(-np.asarray(overlap, dtype=np.float64))
    return [(int(i), int(j)) for i, j in zip(r, c, strict=True)]


def _brute_force_mapping(overlap: npt.NDArray[np.floating]) -> list[tuple[int, int]]:
    rows, cols = overlap.shape
    if min(rows, cols) > 6:
        raise ValueError("brute-force mapping is for at most 6 speakers; install scipy")
    best: tuple[float, list[tuple[int, int]]] = (-1.0, [])
    if rows <= cols:
        for perm in itertools.permutations(range(cols), rows):
            pairs = list(enumerate(perm))
            total = float(sum(overlap[i, j] for i, j in pairs))
            if total > best[0]:
                best = (total, pairs)
    else:
        for perm in itertools.permutations(range(rows), cols):
            pairs = [(i, j) for j, i in enumerate(perm)]
            total = float(sum(overlap[i, j] for i, j in pairs))
            if total > best[0]:
                best = (total, sorted(pairs))
    return best[1]


def diarization_error(
    reference: Iterable[Segment], hypothesis: Iterable[Segment], collar: float = 0.25
) -> DerResult:
    """DER of ``hypothesis`` against ``reference`` (see the module docstring)."""
    ref, hyp = list(reference), list(hypothesis)
    end = max([s.end for s in ref + hyp], default=0.0)
    n = round(end / STEP_S) + 1
    scored = np.ones(n, dtype=bool)
    c = round(collar / STEP_S)
    if c > 0:
        for s in ref:
            for t in (round(s.start / STEP_S), round(s.end / STEP_S)):
                scored[max(0, t - c) : min(n, t + c)] = False
    ref_names, ref_act = _activity(ref, n)
    hyp_names, hyp_act = _activity(hyp, n)
    ref_act, hyp_act = ref_act[:, scored], hyp_act[:, scored]
    overlap = ref_act.astype(np.float64) @ hyp_act.T.astype(np.float64)
    pairs = optimal_mapping(overlap) if ref_names and hyp_names else []
    n_ref = ref_act.sum(axis=0)
    n_hyp = hyp_act.sum(axis=0)
    correct = np.zeros_like(n_ref)
    for i, j in pairs:
        correct += ref_act[i] & hyp_act[j]
    missed = float(np.maximum(0, n_ref - n_hyp).sum()) * STEP_S
    false_alarm = float(np.maximum(0, n_hyp - n_ref).sum()) * STEP_S
    confusion = float((np.minimum(n_ref, n_hyp) - correct).sum()) * STEP_S
    total = float(n_ref.sum()) * STEP_S
    der = (missed + false_alarm + confusion) / total if total > 0 else 0.0
    mapping = {hyp_names[j]: ref_names[i] for i, j in pairs}
    return DerResult(der, missed, false_alarm, confusion, total, mapping)
