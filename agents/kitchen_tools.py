"""Python tools of the kitchen agent (agents/kitchen.yaml): plain functions, described by their type hints."""

from __future__ import annotations

import threading
import time
from typing import Literal

_timers: dict[str, float] = {}
_lock = threading.Lock()

UNIT_FACTORS = {("g", "oz"): 1 / 28.3495, ("oz", "g"): 28.3495, ("ml", "cup"): 1 / 236.588, ("cup", "ml"): 236.588}


def set_timer(minutes: float, label: str = "timer") -> dict[str, object]:
    """Start a kitchen timer.

    Args:
        minutes: How long the timer runs, in minutes.
        label: What the timer is for, e.g. "pasta".
    """
    if minutes <= 0:
        return {"error": "minutes must be positive"}
    with _lock:
        _timers[label] = time.monotonic() + minutes * 60
    return {"label": label, "minutes": minutes, "status": "started"}


def convert(
    amount: float, from_unit: Literal["g", "oz", "ml", "cup"], to_unit: Literal["g", "oz", "ml", "cup"]
) -> dict[str, object]:
    """Convert a cooking quantity between grams, ounces, millilitres and cups.

    Args:
        amount: The quantity to convert.
        from_unit: The unit of `amount`.
        to_unit: The unit wanted.
    """
    if from_unit == to_unit:
        return {"amount": amount, "unit": to_unit}
    factor = UNIT_FACTORS.get((from_unit, to_unit))
    if factor is None:
        return {"error": f"cannot convert {from_unit} to {to_unit}"}
    return {"amount": round(amount * factor, 2), "unit": to_unit}
