"""The numbers a user gives colorlab, checked in one place with one message each.

Every option that is a number (the command line's, the API's, a checkpoint's fields, the apps'
sliders) goes through these functions, so ``--temperature nan``, ``temperature=0`` in the API and
a checkpoint that says ``temperature: nan`` get the same one-line refusal instead of a black
picture. Each returns the value (as the right type) or raises ``ValueError``.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "MIN_TEMPERATURE",
    "MAX_TEMPERATURE",
    "MAX_SATURATION",
    "check_temperature",
    "check_saturation",
    "check_size",
]

#: Far below this the annealed mean breaks down (1e-40 gave black pictures); 0.001 is already the mode.
MIN_TEMPERATURE = 0.001
MAX_TEMPERATURE = 10.0
MAX_SATURATION = 10.0


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a number, got {value!r}") from None
    return float(value)


def check_temperature(value: Any, name: str = "temperature") -> float:
    """A classification head's decoding temperature: finite, from 0.01 (the mode) to 10."""
    t = _number(value, name)
    if not (math.isfinite(t) and MIN_TEMPERATURE <= t <= MAX_TEMPERATURE):
        raise ValueError(
            f"{name} must be a number from {MIN_TEMPERATURE} (the most likely colour) to {MAX_TEMPERATURE:g}; "
            f"0.38 is the paper's, got {value!r}"
        )
    return t


def check_saturation(value: Any, name: str = "saturation") -> float:
    """The factor on the predicted colour: finite, from 0 (gray) to 10."""
    s = _number(value, name)
    if not (math.isfinite(s) and 0 <= s <= MAX_SATURATION):
        raise ValueError(f"{name} must be a number from 0 (gray) to {MAX_SATURATION:g}, got {value!r}")
    return s


def check_size(value: Any, name: str = "size") -> int:
    """The short side the network sees: a whole multiple of 8 (the network's stride), at least 8."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 8 or value % 8:
        raise ValueError(f"{name} must be a multiple of 8 and at least 8 (the network's stride), got {value!r}")
    return value
