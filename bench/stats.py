"""Percentiles, ratios and the "not available" entry every metric falls back to."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any


def unavailable(reason: str) -> dict[str, Any]:
    """What a metric reports when it could not be measured, so the JSON keeps its shape."""
    return {"available": False, "reason": reason}


def percentiles(samples_ms: Sequence[float]) -> dict[str, Any]:
    """p50/p95/p99 (nearest-rank), rounded to 0.1 ms, plus the sample count."""
    if not samples_ms:
        return {"p50": None, "p95": None, "p99": None, **unavailable("no samples")}
    ordered = sorted(samples_ms)

    def rank(p: float) -> float:
        index = max(0, math.ceil(p / 100 * len(ordered)) - 1)
        return round(ordered[index], 1)

    return {"p50": rank(50), "p95": rank(95), "p99": rank(99), "n": len(ordered)}


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def ratios(runtime: Any, baseline: Any) -> Any:
    """runtime / baseline for every number both sides have, with the same nesting; None where undefined."""
    if isinstance(runtime, Mapping) and isinstance(baseline, Mapping):
        out = {key: ratios(runtime[key], baseline[key]) for key in runtime if key in baseline and key != "n"}
        return {key: value for key, value in out.items() if value is not None} or None
    if is_number(runtime) and is_number(baseline) and baseline != 0:
        return round(float(runtime) / float(baseline), 2)
    return None


def median_and_range(samples: Sequence[float]) -> tuple[float, list[float]]:
    """(median, [min, max]) of repeated measurements of one figure, rounded to 0.1."""
    if not samples:
        raise ValueError("no samples")
    return round(statistics.median(samples), 1), [round(min(samples), 1), round(max(samples), 1)]
