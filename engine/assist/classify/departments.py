"""Department recommendation (承办单位) from a category prediction; the mapping is data.

``sip_config/departments.toml`` maps level-1 (and optionally ``"一级/二级"``) categories to
weighted departments. A department's probability is the sum over level-1 labels of
P(label) x weight(department | label), where the predicted path's level-2 map, when present,
replaces the level-1 map for the best label. Above ``[threshold] auto_dispatch`` the best
department is marked ready to dispatch; below it the agent chooses from the ranked list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from jiesu.engine.assist.classify.category import CategoryPrediction, ScoredLabel


class DepartmentConfigError(ValueError):
    """The departments file is malformed; the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class DepartmentRecommendation:
    top3: tuple[ScoredLabel, ...]
    ready_to_dispatch: bool
    threshold: float


Weights = Mapping[str, float]


def _weights(path: Path, key: str, table: object) -> Weights:
    if not isinstance(table, dict) or not table:
        raise DepartmentConfigError(f"{path}: {key}: expected a table of department = weight")
    out: dict[str, float] = {}
    for dept, weight in table.items():
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
            raise DepartmentConfigError(f"{path}: {key}.{dept}: expected a positive number")
        out[str(dept)] = float(weight)
    total = sum(out.values())
    return MappingProxyType({d: w / total for d, w in out.items()})


@dataclass(frozen=True)
class DepartmentRouter:
    level1: Mapping[str, Weights]
    level2: Mapping[str, Weights]
    threshold: float

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], path: Path) -> DepartmentRouter:
        """Validate the departments file's tables (``path`` names it in errors)."""
        threshold = data.get("threshold", {}).get("auto_dispatch", 0.6)
        if (
            isinstance(threshold, bool)
            or not isinstance(threshold, int | float)
            or not 0 < threshold <= 1
        ):
            raise DepartmentConfigError(
                f"{path}: threshold.auto_dispatch: expected a number in (0, 1]"
            )
        l1 = data.get("level1", {})
        if not isinstance(l1, dict) or not l1:
            raise DepartmentConfigError(f"{path}: level1: expected at least one category table")
        l2 = data.get("level2", {})
        if not isinstance(l2, dict):
            raise DepartmentConfigError(f"{path}: level2: expected tables")
        for key in l2:
            if "/" not in key:
                raise DepartmentConfigError(f'{path}: level2.{key}: expected "一级/二级"')
        return cls(
            MappingProxyType({k: _weights(path, f"level1.{k}", v) for k, v in l1.items()}),
            MappingProxyType({k: _weights(path, f"level2.{k}", v) for k, v in l2.items()}),
            float(threshold),
        )

    def route(self, prediction: CategoryPrediction) -> DepartmentRecommendation:
        scores: dict[str, float] = {}
        refined = (
            self.level2.get("/".join(prediction.path[:2])) if len(prediction.path) >= 2 else None
        )
        for rank, scored in enumerate(prediction.level1):
            weights = (
                refined if rank == 0 and refined is not None else self.level1.get(scored.label)
            )
            if weights is None:
                continue
            for dept, w in weights.items():
                scores[dept] = scores.get(dept, 0.0) + scored.probability * w
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        top3 = tuple(ScoredLabel(d, round(p, 4)) for d, p in ranked)
        ready = bool(top3) and top3[0].probability >= self.threshold
        return DepartmentRecommendation(top3, ready, self.threshold)
