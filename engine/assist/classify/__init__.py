"""Classification for the work order: level-1 category with its 3-level path, the department
recommendation, request type and urgency."""

from jiesu.engine.assist.classify.category import (
    CategoryClassifier,
    CategoryPrediction,
    ScoredLabel,
)
from jiesu.engine.assist.classify.departments import (
    DepartmentConfigError,
    DepartmentRecommendation,
    DepartmentRouter,
)
from jiesu.engine.assist.classify.request import classify_request_type, classify_urgency

__all__ = [
    "CategoryClassifier",
    "CategoryPrediction",
    "DepartmentConfigError",
    "DepartmentRecommendation",
    "DepartmentRouter",
    "ScoredLabel",
    "classify_request_type",
    "classify_urgency",
]
