"""The testing switch, `retry_testing`: fewer attempts and no waits, per context."""

from __future__ import annotations

import contextvars
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, ParamSpec, Self, TypeVar, cast

from asyncbridge._core._detect import is_async_callable
from asyncbridge._core._validate import check_bool, check_int
from asyncbridge._core._wrapping import wraps

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from types import TracebackType

__all__ = ["RetryTesting", "SwitchConfig", "current_testing", "retry_testing"]

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SwitchConfig:
    """What `retry_testing` set: at most *attempts* attempts; keep waits if *wait*."""

    attempts: int
    wait: bool


_testing: Final[contextvars.ContextVar[SwitchConfig | None]] = contextvars.ContextVar(
    "asyncbridge_retry_testing", default=None
)

#: The switch in force here, or None.
current_testing: Final = _testing.get


class RetryTesting:
    """The testing switch `retry_testing` returns: a context manager and decorator.

    One object may be entered by several threads or tasks at once: each exit resets
    the setting its own context made.
    """

    __slots__ = ("_config", "_lock", "_tokens")

    def __init__(self, attempts: int, wait: bool) -> None:
        self._config = SwitchConfig(attempts, wait)
        self._lock = threading.Lock()
        self._tokens: list[contextvars.Token[SwitchConfig | None]] = []

    def __repr__(self) -> str:
        c = self._config
        return f"retry_testing(attempts={c.attempts!r}, wait={c.wait!r})"

    def __enter__(self) -> Self:
        token = _testing.set(self._config)
        with self._lock:
            self._tokens.append(token)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Newest first; a token set by a concurrent thread or task sharing this
        # object belongs to that one's context, where it must be reset.
        with self._lock:
            for index in range(len(self._tokens) - 1, -1, -1):
                try:
                    _testing.reset(self._tokens[index])
                except ValueError:
                    continue
                del self._tokens[index]
                return

    def __call__(self, fn: Callable[P, T]) -> Callable[P, T]:
        """Apply the switch for every call of *fn* (sync or async)."""
        config = self._config
        if is_async_callable(fn):
            afn = cast("Callable[P, Awaitable[Any]]", fn)

            @wraps(fn)
            async def async_testing(*args: P.args, **kwargs: P.kwargs) -> Any:
                token = _testing.set(config)
                try:
                    return await afn(*args, **kwargs)
                finally:
                    _testing.reset(token)

            return cast("Callable[P, T]", async_testing)

        @wraps(fn)
        def sync_testing(*args: P.args, **kwargs: P.kwargs) -> T:
            token = _testing.set(config)
            try:
                return fn(*args, **kwargs)
            finally:
                _testing.reset(token)

        return sync_testing


def retry_testing(attempts: int = 1, *, wait: bool = False) -> RetryTesting:
    """Cap retry attempts and remove waits, for tests; scoped by `contextvars`.

    Inside the scope every `async_retry` function and `retrying` block makes at
    most *attempts* attempts (the smaller of that and its own ``max_attempts``)
    and, unless *wait* is true, never sleeps between them. The switch lives in a
    context variable, so it covers the current thread or task and the tasks it
    starts, and parallel tests do not see each other's setting. Threads started
    without copying the context (a plain `ThreadPoolExecutor`) do not see it.

    Use it as a context manager (``with ab.retry_testing(): ...``) or as a
    decorator on a test function, sync or async.

    Args:
        attempts: the most attempts any retried call makes (an int >= 1). The
            default 1 turns retries off, so failures surface at once.
        wait: keep the real waits (True) or skip them (False, the default).

    Returns:
        A context manager that is also a decorator.

    Raises:
        TypeError: *attempts* is not an int or *wait* not a bool.
        ValueError: *attempts* is below 1.

    Example:
        >>> import asyncbridge as ab
        >>> calls = []
        >>> @ab.async_retry(max_attempts=5, wait=60)
        ... def flaky() -> None:
        ...     calls.append(1)
        ...     raise ConnectionError
        >>> with ab.retry_testing(attempts=3):
        ...     try:
        ...         flaky()
        ...     except ConnectionError:
        ...         pass
        >>> len(calls)  # three attempts, no 60 s waits
        3
    """
    check_int(attempts, "attempts", func="retry_testing", minimum=1)
    check_bool(wait, "wait", func="retry_testing")
    return RetryTesting(attempts, wait)
