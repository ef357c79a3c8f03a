"""Retry policy as pure logic: validated settings, the wait schedule, the budget.

No event loop, no sleeping, no global state: `_retry` runs calls and loops on top
of this module and injects the clock and randomness.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import math
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, TypeAlias, cast

if TYPE_CHECKING:
    from ._retry import RetryState

__all__ = [
    "Hook",
    "Policy",
    "RetryBudget",
    "RetryOn",
    "WaitFn",
    "backoff_wait",
    "is_async_fn",
]

#: What `on` accepts: an exception type, a tuple of them, or a predicate.
RetryOn: TypeAlias = (
    type[BaseException]
    | tuple[type[BaseException], ...]
    | Callable[[Exception], object]
)
#: A custom wait: ``(attempt, exception or None) -> seconds``.
WaitFn: TypeAlias = Callable[[int, Exception | None], float]
#: A hook: sync or async, given the `RetryState`.
Hook: TypeAlias = Callable[["RetryState"], object]

# Float sums drift (ten deposits of 0.1 make 0.9999999999999999): a token counts as
# whole when it is this close to 1.
_EPSILON: Final = 1e-9
# Credit earned by calls is capped at what this many calls earn, so that a long
# healthy stretch cannot bank a retry storm for the next outage.
_CREDIT_CALLS: Final = 100


# ------------------------------------------------------------------ wait schedule


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


# ------------------------------------------------------------------------ budget


class RetryBudget:
    """Share a limit on retries between calls: a thread-safe token bucket.

    Retries are allowed up to *ratio* of the calls made plus *min_per_second*
    retries per second; once the budget is spent, a failing call gives up at once
    instead of retrying (its exception gets a note saying the budget was
    exhausted). Share one budget between every function that calls the same
    service: when that service is down, retries stop multiplying its load.

    How it counts: every call through a decorator (or ``retrying()`` loop) given
    the budget deposits *ratio* of a token; every retry withdraws one. Credit from
    calls is capped at what 100 calls earn. A second bucket, refilled at
    *min_per_second* tokens per second and holding at most one second's worth
    (at least one token), lets a lightly used function retry now and then; it
    starts full. Retries spend call credit first.

    Args:
        ratio: retries allowed per call made (0.2: one retry per five calls).
        min_per_second: retries allowed per second regardless of the call count.
        clock: the monotonic clock the floor refills by (inject one in tests).

    Raises:
        TypeError: a parameter is not a number (or *clock* not callable).
        ValueError: a parameter is negative or not finite.

    Example:
        >>> import asyncbridge as ab
        >>> budget = ab.RetryBudget(ratio=0.1, min_per_second=5)
        >>> @ab.async_retry(max_attempts=4, budget=budget)
        ... def fetch() -> str:
        ...     return "ok"
        >>> fetch()
        'ok'
    """

    __slots__ = (
        "_clock",
        "_counted",
        "_credit",
        "_deposit",
        "_floor",
        "_last",
        "_lock",
        "_max_credit",
        "_max_floor",
        "_reads",
        "min_per_second",
        "ratio",
    )

    def __init__(
        self,
        ratio: float = 0.2,
        min_per_second: float = 10.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ratio: Final = _finite("ratio", ratio)
        self.min_per_second: Final = _finite("min_per_second", min_per_second)
        if not callable(clock):
            raise TypeError(f"RetryBudget(): clock must be callable, got {clock!r}")
        self._clock = clock
        self._lock = threading.Lock()
        self._max_credit = max(1.0, self.ratio * _CREDIT_CALLS) if self.ratio else 0.0
        self._max_floor = max(1.0, self.min_per_second) if self.min_per_second else 0.0
        self._credit = 0.0
        self._floor = self._max_floor
        self._last = clock()
        # Record one call: called once per decorated call, on the success path, so
        # it takes no lock. `count.__next__` is atomic (one C call), and the
        # withdrawing side turns the count into credit under the lock.
        self._deposit: Callable[[], int] = itertools.count().__next__
        self._counted = 0  # calls already turned into credit
        self._reads = 0  # times _try_withdraw advanced the counter to read it

    def __repr__(self) -> str:
        return (
            f"RetryBudget(ratio={self.ratio!r}, min_per_second={self.min_per_second!r})"
        )

    def _try_withdraw(self) -> bool:
        """Take one token for a retry; False when the budget is spent."""
        with self._lock:
            calls = self._deposit() - self._reads  # reading advances it by one
            self._reads += 1
            if calls > self._counted:
                self._credit = min(
                    self._max_credit,
                    self._credit + (calls - self._counted) * self.ratio,
                )
                self._counted = calls
            now = self._clock()
            elapsed = max(0.0, now - self._last)
            self._last = now
            self._floor = min(
                self._max_floor, self._floor + elapsed * self.min_per_second
            )
            if self._credit >= 1.0 - _EPSILON:
                self._credit = max(0.0, self._credit - 1.0)
                return True
            if self._floor >= 1.0 - _EPSILON:
                self._floor = max(0.0, self._floor - 1.0)
                return True
            return False


def _finite(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"RetryBudget(): {name} must be a number, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(
            f"RetryBudget(): {name} must be a finite number >= 0, got {value!r}"
        )
    return float(value)


# ---------------------------------------------------------------------- settings


def is_async_fn(fn: object) -> bool:
    """True when calling *fn* gives a coroutine by construction (``async def``).

    Covers `functools.partial` objects and instances whose ``__call__`` is
    ``async def``; a sync function that happens to return an awaitable is False.
    """
    while isinstance(fn, functools.partial):
        fn = fn.func
    if inspect.iscoroutinefunction(fn):
        return True
    if fn is None or inspect.isroutine(fn) or isinstance(fn, type):
        return False
    return inspect.iscoroutinefunction(getattr(type(fn), "__call__", None))  # noqa: B004


def _always(_exc: Exception) -> bool:
    return True


class Policy:
    """Validated settings shared by every call of one decorated function.

    Built at decoration time, so a bad setting fails there with a message naming
    it (and *api*, the public function it was given to).
    """

    __slots__ = (
        "api",
        "attempt_timeout",
        "before_sleep",
        "before_sleep_async",
        "budget",
        "check_result",
        "max_attempts",
        "on_giveup",
        "on_giveup_async",
        "reraise",
        "retryable",
        "timeout",
        "wait_exp_base",
        "wait_fixed",
        "wait_fn",
        "wait_hint",
        "wait_initial",
        "wait_jitter",
        "wait_max",
    )

    def __init__(
        self,
        api: str,
        *,
        max_attempts: object,
        on: object,
        retry_if_result: object,
        timeout: object,
        attempt_timeout: object,
        wait_initial: object,
        wait_max: object,
        wait_exp_base: object,
        wait_jitter: object,
        wait: object,
        wait_hint: object,
        before_sleep: object,
        on_giveup: object,
        reraise: object,
        budget: object,
    ) -> None:
        self.api = api
        self.max_attempts = check_attempts(api, "max_attempts", max_attempts)
        self.retryable = _exception_filter(api, on)
        self.check_result = cast(
            "Callable[[Any], object] | None",
            _optional_callable(api, "retry_if_result", retry_if_result),
        )
        self.timeout = _seconds(api, "timeout", timeout, allow_none=True)
        self.attempt_timeout = _seconds(
            api, "attempt_timeout", attempt_timeout, allow_none=True
        )
        self.wait_initial = _seconds(api, "wait_initial", wait_initial) or 0.0
        self.wait_max = _seconds(api, "wait_max", wait_max) or 0.0
        base = _seconds(api, "wait_exp_base", wait_exp_base, what="a number") or 0.0
        if base < 1:
            raise ValueError(f"{api}(): wait_exp_base must be >= 1, got {base!r}")
        self.wait_exp_base = base
        self.wait_jitter = check_bool(api, "wait_jitter", wait_jitter)
        self.wait_fixed: float | None = None
        self.wait_fn: WaitFn | None = None
        if callable(wait):
            self.wait_fn = cast("WaitFn", wait)
        elif wait is not None:
            self.wait_fixed = _seconds(
                api, "wait", wait, what="a number of seconds or a callable"
            )
        self.wait_hint = cast(
            "Callable[[Exception], object] | None",
            _optional_callable(api, "wait_hint", wait_hint),
        )
        self.before_sleep = cast(
            "Hook | None", _optional_callable(api, "before_sleep", before_sleep)
        )
        self.before_sleep_async = is_async_fn(before_sleep)
        self.on_giveup = cast(
            "Hook | None", _optional_callable(api, "on_giveup", on_giveup)
        )
        self.on_giveup_async = is_async_fn(on_giveup)
        self.reraise = check_bool(api, "reraise", reraise)
        if budget is not None and not isinstance(budget, RetryBudget):
            raise TypeError(
                f"{api}(): budget must be an asyncbridge.RetryBudget or None, "
                f"got {budget!r}"
            )
        self.budget = budget

    def wait_after(
        self, attempt: int, error: Exception | None, random: Callable[[], float]
    ) -> tuple[float, bool]:
        """The wait after failed *attempt*, and whether a wait hint chose it.

        A hint (clamped at 0: a Retry-After date in the past means "now") beats
        a custom or fixed wait, which beats the exponential schedule.
        """
        if self.wait_hint is not None and error is not None:
            hint = self.wait_hint(error)
            if hint is not None:
                return max(0.0, _returned_wait(self.api, "wait_hint", hint)), True
        if self.wait_fn is not None:
            wait = _returned_wait(self.api, "wait", self.wait_fn(attempt, error))
            if wait < 0:
                raise ValueError(
                    f"{self.api}(): the wait function returned {wait!r} for attempt "
                    f"{attempt}; a wait must be >= 0"
                )
            return wait, False
        if self.wait_fixed is not None:
            return self.wait_fixed, False
        return backoff_wait(
            attempt,
            initial=self.wait_initial,
            maximum=self.wait_max,
            base=self.wait_exp_base,
            jitter=self.wait_jitter,
            random=random,
        ), False


def check_attempts(api: str, name: str, value: object) -> int:
    """Return *value* if it is an int >= 1, else raise naming *name*."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{api}(): {name} must be an int >= 1, got {value!r}")
    if value < 1:
        raise ValueError(f"{api}(): {name} must be an int >= 1, got {value!r}")
    return value


def check_bool(api: str, name: str, value: object) -> bool:
    """Return *value* if it is a bool, else raise naming *name*."""
    if not isinstance(value, bool):
        raise TypeError(f"{api}(): {name} must be a bool, got {value!r}")
    return value


def _seconds(
    api: str,
    name: str,
    value: object,
    *,
    allow_none: bool = False,
    what: str = "a number of seconds",
) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        orn = " or None" if allow_none else ""
        raise TypeError(f"{api}(): {name} must be {what}{orn}, got {value!r}")
    if math.isnan(value) or value < 0:
        raise ValueError(f"{api}(): {name} must be >= 0, got {value!r}")
    return float(value)


def _returned_wait(api: str, name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(
            f"{api}(): {name} returned {value!r}; expected a number of seconds"
        )
    if not math.isfinite(value):
        raise ValueError(f"{api}(): {name} returned {value!r}; a wait must be finite")
    return float(value)


def _optional_callable(api: str, name: str, value: object) -> object:
    if value is not None and not callable(value):
        raise TypeError(f"{api}(): {name} must be callable or None, got {value!r}")
    return value


def _exception_filter(api: str, on: object) -> Callable[[Exception], object]:
    """Turn `on` into a predicate on the exception, checking it on the way."""
    if isinstance(on, type):
        _check_exception_type(api, on)
        if issubclass(Exception, on):  # Exception itself, or BaseException
            return _always
        return lambda exc: isinstance(exc, on)
    if isinstance(on, tuple):
        if not on:
            raise ValueError(f"{api}(): on must not be an empty tuple")
        for item in on:
            if not isinstance(item, type):
                raise TypeError(
                    f"{api}(): on must be an exception type, a tuple of them or a "
                    f"predicate; the tuple holds {item!r}"
                )
            _check_exception_type(api, item)
        types = cast("tuple[type[BaseException], ...]", on)
        return lambda exc: isinstance(exc, types)
    if callable(on):
        return cast("Callable[[Exception], object]", on)
    raise TypeError(
        f"{api}(): on must be an exception type, a tuple of them or a predicate "
        f"on the exception, got {on!r}"
    )


def _check_exception_type(api: str, tp: type) -> None:
    if not issubclass(tp, BaseException):
        raise TypeError(
            f"{api}(): on must be an exception type, a tuple of them or a predicate; "
            f"{tp.__qualname__} is not an exception type"
        )
    if not issubclass(tp, Exception) and not issubclass(Exception, tp):
        raise TypeError(
            f"{api}(): on={tp.__qualname__} can never match: only Exception "
            "subclasses are retried; control flow (cancellation, KeyboardInterrupt, "
            "SystemExit, GeneratorExit) never is"
        )
