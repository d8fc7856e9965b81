"""Named counters and gauges, kept per runtime (never module-level) and exported as text.

Bad input anywhere is counted here under a name that says what was wrong (for example
``ingest_frames_dropped_total{reason="duplicate"}``) so that IT staff see it on ``/metrics``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping


def _key(name: str, labels: Mapping[str, str] | None) -> str:
    if not labels:
        return name
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}"


class Metrics:
    """Thread-safe counters (monotonic) and gauges (set to a value), in Prometheus text form."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, float] = {}
        self._gauges: dict[str, float] = {}

    def inc(self, name: str, amount: float = 1.0, labels: Mapping[str, str] | None = None) -> None:
        key = _key(name, labels)
        with self._lock:
            self._counters[key] = self._counters.get(key, 0.0) + amount

    def set_gauge(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        with self._lock:
            self._gauges[_key(name, labels)] = value

    def value(self, name: str, labels: Mapping[str, str] | None = None) -> float:
        key = _key(name, labels)
        with self._lock:
            return self._counters.get(key, self._gauges.get(key, 0.0))

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            return {**self._counters, **self._gauges}

    def render(self) -> str:
        """Prometheus text exposition format (counters and gauges, untyped lines)."""
        lines = [f"{key} {value:g}" for key, value in sorted(self.snapshot().items())]
        return "\n".join(lines) + "\n"
