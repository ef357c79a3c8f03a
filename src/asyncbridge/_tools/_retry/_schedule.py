"""How long to wait before the next attempt: the backoff schedule, fixed and custom waits.

Pure functions: the caller passes the randomness in.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, cast

from asyncbridge._core._validate import check_seconds

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._policy import RetryPolicy

__all__ = ["backoff_wait", "next_wait"]


def backoff_wait(
    attempt: int,
    *,
    initial: float,
    maximum: float,
    base: float,
    jitter: bool,
    random: Callable[[], float],
) -> float:
    """Return the wait after failed attempt number *attempt* (counting from 1).

    The nominal wait is ``initial * base ** (attempt - 1)``, capped at *maximum*.
    With *jitter*, the capped wait is multiplied by a factor in ``(0.5, 1.0]``
    drawn from *random* (which returns a float in ``[0, 1)``).

    Why "equal jitter" after capping: the wait never drops below half its nominal
    value, so no client hammers the server right after a failure (AWS "full jitter"
    can draw waits near zero); and because jitter comes after the cap, clients that
    reached the cap stay spread over ``(maximum / 2, maximum]`` instead of all
    waking together at ``maximum`` (which is what jitter-then-cap does). Every wait
    lies in ``[0, maximum]``.
    """
    if initial <= 0 or maximum <= 0:
        return 0.0
    try:
        nominal = initial * base ** (attempt - 1)
    except OverflowError:  # a huge attempt number: far beyond any cap
        nominal = math.inf
    capped = min(nominal, maximum)
    if jitter:
        return capped * (1.0 - 0.5 * random())
    return capped


def next_wait(
    policy: RetryPolicy,
    attempt: int,
    error: Exception | None,
    random: Callable[[], float],
) -> tuple[float, bool]:
    """The wait after failed *attempt*, and whether a wait hint chose it.

    A hint (a negative one read as 0: a Retry-After date in the past means "now")
    beats a custom or fixed wait, which beats the exponential schedule. What the
    user's functions return is checked like any duration.

    Raises:
        TypeError, ValueError: *wait* or *wait_hint* returned something that is not
            a duration (negative, NaN, infinite or too large; a hint may be
            negative).
    """
    api = policy.api
    if policy.wait_hint is not None and error is not None:
        hint: object = policy.wait_hint(error)
        if hint is not None:
            if (
                isinstance(hint, int | float)
                and not isinstance(hint, bool)
                and hint < 0
            ):
                hint = 0.0  # (NaN is not < 0: it stays, and is refused below)
            seconds = check_seconds(
                hint, "the value wait_hint returned", func=api, none_ok=False
            )
            return cast("float", seconds), True
    wait = policy.wait
    if callable(wait):
        seconds = check_seconds(
            wait(attempt, error),
            "the value the wait function returned",
            func=api,
            none_ok=False,
        )
        return cast("float", seconds), False
    if wait is not None:
        return wait, False
    return backoff_wait(
        attempt,
        initial=policy.wait_initial,
        maximum=policy.wait_max,
        base=policy.wait_exp_base,
        jitter=policy.wait_jitter,
        random=random,
    ), False
