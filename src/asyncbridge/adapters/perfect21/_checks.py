"""Argument checks shared by the adapters: one message style, one place.

(asyncbridge's own checks are private; an adapter, like any user, writes its own.)
"""

from __future__ import annotations

import math
from typing import TypeVar

__all__ = ["check_instance", "check_int", "check_seconds"]

T = TypeVar("T")


def check_instance(value: object, cls: type[T], func: str, param: str) -> T:
    """Return *value* if it is a *cls*, else raise a TypeError naming *param*."""
    if not isinstance(value, cls):
        msg = f"{func} {param} must be a {cls.__name__}, got {type(value).__name__}"
        raise TypeError(msg)
    return value


def check_int(value: object, func: str, param: str, *, minimum: int) -> int:
    """Return *value* if it is an int >= *minimum* (TypeError / ValueError otherwise)."""
    if isinstance(value, bool) or not isinstance(value, int):
        msg = f"{func} {param} must be an int, got {value!r}"
        raise TypeError(msg)
    if value < minimum:
        msg = f"{func} {param} must be >= {minimum}, got {value}"
        raise ValueError(msg)
    return value


def check_seconds(value: object, func: str, param: str) -> float:
    """Return *value* as a float if it is a finite number of seconds >= 0."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        msg = f"{func} {param} must be a number of seconds, got {value!r}"
        raise TypeError(msg)
    if not math.isfinite(value) or value < 0:
        msg = f"{func} {param} must be a finite number >= 0, got {value!r}"
        raise ValueError(msg)
    return float(value)
