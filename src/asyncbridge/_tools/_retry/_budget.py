"""`RetryBudget`: a limit on retries shared between calls (a thread-safe token bucket)."""

from __future__ import annotations

import itertools
import threading
import time
from typing import TYPE_CHECKING, Final

from asyncbridge._core._validate import check_callable, check_number

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["RetryBudget"]

# Float sums drift (ten deposits of 0.1 make 0.9999999999999999): a token counts as
# whole when it is this close to 1.
_EPSILON: Final = 1e-9
# Credit earned by calls is capped at what this many calls earn, so that a long
# healthy stretch cannot bank a retry storm for the next outage.
_CREDIT_CALLS: Final = 100


class RetryBudget:
    """Share a limit on retries between calls: a thread-safe token bucket.

    Retries are allowed up to *ratio* of the calls made plus *min_per_second*
    retries per second; once the budget is spent, a failing call gives up at once
    instead of retrying (its exception gets a note saying the budget was
    exhausted). Share one budget between every function that calls the same
    service: when that service is down, retries stop multiplying its load.

    How it counts: every call through a decorator (or ``retrying()`` loop) given
    the budget deposits *ratio* of a token (``deposit()``, lock-free); every retry
    withdraws one (``try_withdraw()``, False when spent). Credit from calls is capped at what 100 calls earn. A second
    bucket, refilled at *min_per_second* tokens per second and holding at most one
    second's worth (at least one token), lets a lightly used function retry now and
    then; it starts full. Retries spend call credit first. Both methods may be
    called from any thread; use them to put a budget on retry loops of your own.

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
        "_floor",
        "_last",
        "_lock",
        "_max_credit",
        "_max_floor",
        "_next",
        "_reads",
        "deposit",
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
        self.ratio: Final = check_number(ratio, "ratio", func="RetryBudget")
        self.min_per_second: Final = check_number(
            min_per_second, "min_per_second", func="RetryBudget"
        )
        check_callable(clock, "clock", func="RetryBudget")
        self._clock = clock
        self._lock = threading.Lock()
        self._max_credit = max(1.0, self.ratio * _CREDIT_CALLS) if self.ratio else 0.0
        self._max_floor = max(1.0, self.min_per_second) if self.min_per_second else 0.0
        self._credit = 0.0
        self._floor = self._max_floor
        self._last = clock()
        self._counted = 0  # calls already turned into credit
        self._reads = 0  # times try_withdraw advanced the counter to read it
        # `deposit()` records one call, on the success path of every decorated
        # call, so it takes no lock: `count.__next__` is one C call (atomic under
        # the GIL), and `try_withdraw` turns the count into credit under the lock.
        self._next: Final = itertools.count().__next__
        self.deposit: Final[Callable[[], object]] = self._next

    def __repr__(self) -> str:
        return (
            f"RetryBudget(ratio={self.ratio!r}, min_per_second={self.min_per_second!r})"
        )

    def try_withdraw(self) -> bool:
        """Take one token for a retry; return False when the budget is spent."""
        with self._lock:
            # Reading the counter advances it by one: count those reads out.
            calls = self._next() - self._reads
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
