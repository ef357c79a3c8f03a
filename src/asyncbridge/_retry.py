"""Retry sync and async callables: `async_retry`, `retrying`, `retry_testing`.

A tool module: it imports `_backoff` (the pure policy: settings, wait schedule,
budget) and `_errors`, and the engine's `_sync` lazily, only to run an async hook
from a sync wrapper.

The success path of a decorated call is a plain ``try: return fn(...)`` (or
``await``): the per-call state (`_Run`), the testing switch, the clock and the budget
accounting come into play only after the first failure. The exceptions are the
budget's per-call deposit (only when a budget is given) and one clock read at the
start of the call when a total ``timeout`` is set (so the deadline covers the first
attempt too).
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import logging
import random
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import (
    TYPE_CHECKING,
    Any,
    Final,
    NoReturn,
    ParamSpec,
    Protocol,
    Self,
    TypeVar,
    cast,
    overload,
)

import anyio

from ._backoff import (
    Hook,
    Policy,
    RetryBudget,
    RetryOn,
    WaitFn,
    check_attempts,
    is_async_fn,
)
from ._errors import AsyncBridgeError
from ._wrapping import PLAIN_TYPES, is_awaitable, wraps

if TYPE_CHECKING:
    from types import TracebackType

__all__ = [
    "Attempt",
    "RetryBudget",
    "RetryDecorator",
    "RetryError",
    "RetryState",
    "RetryTesting",
    "Retrying",
    "async_retry",
    "retry_testing",
    "retrying",
]

P = ParamSpec("P")
T = TypeVar("T")
C = TypeVar("C")

_log: Final = logging.getLogger("asyncbridge.retry")
_NOTE: Final = "asyncbridge.retry: "


# --------------------------------------------------------------------- public data


@dataclass(frozen=True, slots=True)
class RetryState:
    """What a hook learns about a failed attempt.

    Attributes:
        fn_name: the qualified name of the retried function (``module.qualname``),
            or of the function containing a ``retrying()`` block.
        attempt: the number of the attempt that just failed, counting from 1.
        exception: the exception it raised, or None when ``retry_if_result``
            rejected its value.
        wait: seconds to sleep before the next attempt (0.0 when giving up).
        elapsed: seconds since the retry clock started: at the start of the call
            when ``timeout`` is set, otherwise when the first attempt failed (the
            success path reads no clock).
        result: the rejected value when ``exception`` is None, else None.
    """

    fn_name: str
    attempt: int
    exception: Exception | None
    wait: float
    elapsed: float
    result: Any = None


class RetryError(AsyncBridgeError):
    """Raised when `async_retry` or `retrying` gives up and ``reraise=False`` was set.

    Raised ``from`` the last exception (``from None`` when a rejected result ended
    the retries). `attempts` holds one `RetryState` per attempt, in order: its
    `exception`, or its rejected `result`.
    """

    def __init__(self, message: str, attempts: tuple[RetryState, ...] = ()) -> None:
        super().__init__(message)
        self.attempts: tuple[RetryState, ...] = attempts

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.attempts))

    @property
    def last(self) -> RetryState | None:
        """The last attempt's outcome (None only if `attempts` is empty)."""
        return self.attempts[-1] if self.attempts else None


# -------------------------------------------------------------- seams and switch


@dataclass(frozen=True, slots=True)
class _Env:
    """The clock, sleeps and randomness retries use; tests swap them (`_env`)."""

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], object] = time.sleep
    async_sleep: Callable[[float], Awaitable[object]] = anyio.sleep
    rand: Callable[[], float] = random.random


# The default is immutable (a frozen dataclass), so sharing it is safe.
_env: Final[contextvars.ContextVar[_Env]] = contextvars.ContextVar(
    "asyncbridge_retry_env",
    default=_Env(),  # noqa: B039
)


@dataclass(frozen=True, slots=True)
class _Testing:
    attempts: int
    wait: bool


_testing: Final[contextvars.ContextVar[_Testing | None]] = contextvars.ContextVar(
    "asyncbridge_retry_testing", default=None
)


class RetryTesting:
    """The testing switch `retry_testing` returns: a context manager and decorator."""

    __slots__ = ("_config", "_tokens")

    def __init__(self, attempts: int, wait: bool) -> None:
        self._config = _Testing(attempts, wait)
        self._tokens: list[contextvars.Token[_Testing | None]] = []

    def __repr__(self) -> str:
        c = self._config
        return f"retry_testing(attempts={c.attempts!r}, wait={c.wait!r})"

    def __enter__(self) -> Self:
        self._tokens.append(_testing.set(self._config))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Newest first; a token set by a concurrent task sharing this object belongs
        # to that task's context, where it must be reset.
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
        if is_async_fn(fn):
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
    check_attempts("retry_testing", "attempts", attempts)
    if not isinstance(wait, bool):
        raise TypeError(f"retry_testing(): wait must be a bool, got {wait!r}")
    return RetryTesting(attempts, wait)


# Whether values of a type are awaitable, learnt once per type: a dict lookup costs a
# fraction of `inspect.isawaitable` on the sync success path.
def _describe(fn: object) -> str:
    """``module.qualname`` of *fn*, for logs and notes (never its arguments)."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    qualname = getattr(fn, "__qualname__", None)
    module = getattr(fn, "__module__", None)
    if not isinstance(qualname, str):
        qualname = type(fn).__qualname__
        module = type(fn).__module__
    return f"{module}.{qualname}" if isinstance(module, str) else qualname


def _caller_name(depth: int) -> str:
    frame = sys._getframe(depth + 1)
    module = frame.f_globals.get("__name__", "?")
    return f"{module}.{frame.f_code.co_qualname}"


# ------------------------------------------------------------------ one call's run


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


class _Run:
    """The retry state of one call, created at its first failure."""

    __slots__ = (
        "attempt",
        "deadline",
        "env",
        "history",
        "max_attempts",
        "name",
        "policy",
        "start",
        "testing_cap",
        "waits",
    )

    def __init__(self, policy: Policy, name: str, started: float | None) -> None:
        self.policy = policy
        self.name = name
        self.env = env = _env.get()
        testing = _testing.get()
        self.max_attempts = policy.max_attempts
        self.testing_cap = False
        self.waits = True
        if testing is not None:
            self.waits = testing.wait
            if testing.attempts < policy.max_attempts:
                self.max_attempts = testing.attempts
                self.testing_cap = True
        self.start = env.clock() if started is None else started
        self.deadline = None if policy.timeout is None else self.start + policy.timeout
        self.history: list[RetryState] | None = None if policy.reraise else []
        self.attempt = 1

    def decide(
        self, error: Exception | None, result: object
    ) -> tuple[RetryState, str | None]:
        """After a retryable failure: the state, and why to give up (None: retry)."""
        policy = self.policy
        now = self.env.clock()
        wait = 0.0
        reason: str | None = None
        if self.attempt >= self.max_attempts:
            reason = (
                "attempts capped by retry_testing()"
                if self.testing_cap
                else f"max_attempts={policy.max_attempts} reached"
            )
        else:
            hinted = False
            if self.waits:
                wait, hinted = policy.wait_after(self.attempt, error, self.env.rand)
            if self.deadline is not None:
                left = self.deadline - now
                if left <= 0:
                    reason = f"timeout={policy.timeout:g} s reached"
                elif hinted and wait > left:
                    reason = (
                        f"the wait hint of {wait:g} s ends past "
                        f"timeout={policy.timeout:g} s"
                    )
                else:
                    wait = min(wait, left)
            if (
                reason is None
                and policy.budget is not None
                and not policy.budget._try_withdraw()
            ):
                reason = "the retry budget was exhausted, so it failed fast"
        state = RetryState(
            self.name,
            self.attempt,
            error,
            0.0 if reason is not None else wait,
            now - self.start,
            None if error is not None else result,
        )
        if self.history is not None:
            self.history.append(state)
        return state, reason

    def log(self, state: RetryState) -> None:
        """The one WARNING line per retry: function, attempt, wait; no arguments."""
        cause = (
            type(state.exception).__qualname__
            if state.exception is not None
            else "a result rejected by retry_if_result"
        )
        _log.warning(
            "retrying %s in %.3f s: attempt %d failed (%s)",
            self.name,
            state.wait,
            state.attempt,
            cause,
            extra={
                "retry_fn": self.name,
                "retry_attempt": state.attempt,
                "retry_wait": state.wait,
            },
        )

    def not_retried(self, error: Exception) -> Exception:
        """Note on an error `on` rejects after earlier retries; return it to raise.

        Only called once a retry has happened: an error `on` rejects on the first
        attempt propagates untouched, with no note.
        """
        error.add_note(
            f"{_NOTE}{self.name} raised this on attempt {self.attempt} "
            f"(elapsed {self.env.clock() - self.start:.3f} s); "
            "not retried: `on` does not match it"
        )
        return error

    def give_up(
        self, state: RetryState, reason: str, error: Exception | None, result: T
    ) -> T:
        """Return the last value, or raise the last error (or a RetryError)."""
        summary = (
            f"gave up on {self.name} after {_plural(state.attempt, 'attempt')} "
            f"in {state.elapsed:.3f} s ({reason})"
        )
        history = tuple(self.history or ())
        if error is None:
            if self.policy.reraise:
                return result
            raise RetryError(
                f"{summary}; retry_if_result rejected the last value", history
            ) from None
        if self.policy.reraise:
            error.add_note(_NOTE + summary)
            raise error
        raise RetryError(
            f"{summary}; the last attempt raised {type(error).__qualname__}", history
        ) from error


def _hook_sync(hook: Hook, is_async: bool, state: RetryState) -> None:
    """Run a hook from sync code; an async one runs through `run_sync`.

    The engine is imported here, lazily: only an async hook given to sync code
    needs it.
    """
    if is_async:
        from ._sync import run_sync  # noqa: PLC0415

        run_sync(cast("Callable[[RetryState], Awaitable[object]]", hook), state)
        return
    outcome = hook(state)
    if is_awaitable(outcome):  # a sync callable that returned a coroutine
        from ._sync import run_sync  # noqa: PLC0415

        run_sync(cast("Awaitable[object]", outcome))


async def _hook_async(hook: Hook, state: RetryState) -> None:
    outcome = hook(state)
    if is_awaitable(outcome):
        await cast("Awaitable[object]", outcome)


# ------------------------------------------------------------------- retry loops


def _retry_sync(  # noqa: C901 - one loop, read top to bottom
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    policy: Policy,
    name: str,
    started: float | None,
    error: Exception | None,
    result: Any,
) -> Any:
    """Retry a sync call after its first failure (raised *error* or *result*)."""
    run: _Run | None = None
    check = policy.check_result
    while True:
        if error is not None and not policy.retryable(error):
            raise error if run is None else run.not_retried(error)
        if run is None:
            run = _Run(policy, name, started)
        state, reason = run.decide(error, result)
        if reason is not None:
            if policy.on_giveup is not None:
                _hook_sync(policy.on_giveup, policy.on_giveup_async, state)
            return run.give_up(state, reason, error, result)
        run.log(state)
        if policy.before_sleep is not None:
            _hook_sync(policy.before_sleep, policy.before_sleep_async, state)
        if state.wait > 0:
            run.env.sleep(state.wait)
        run.attempt += 1
        error = None
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            error = exc
        else:
            if is_awaitable(result):
                # Switched to returning awaitables: go on retrying when awaited.
                return _await_first(
                    result, fn, args, kwargs, policy, name, started, run
                )
            if check is None or not check(result):
                return result


async def _retry_async(
    attempt_fn: Callable[[], Awaitable[Any]],
    policy: Policy,
    name: str,
    started: float | None,
    error: Exception | None,
    result: Any,
    run: _Run | None = None,
) -> Any:
    """Retry an async call after a failure (raised *error* or rejected *result*)."""
    check = policy.check_result
    while True:
        if error is not None and not policy.retryable(error):
            raise error if run is None else run.not_retried(error)
        if run is None:
            run = _Run(policy, name, started)
        state, reason = run.decide(error, result)
        if reason is not None:
            if policy.on_giveup is not None:
                await _hook_async(policy.on_giveup, state)
            return run.give_up(state, reason, error, result)
        run.log(state)
        if policy.before_sleep is not None:
            await _hook_async(policy.before_sleep, state)
        # Always a checkpoint (anyio.sleep(0) too), so the wait is cancellable.
        await run.env.async_sleep(state.wait)
        run.attempt += 1
        error = None
        try:
            result = await attempt_fn()
        except Exception as exc:
            error = exc
        else:
            if check is None or not check(result):
                return result


async def _call_and_await(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    value = fn(*args, **kwargs)
    return (await value) if is_awaitable(value) else value


async def _await_first(
    awaitable: Awaitable[Any],
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    policy: Policy,
    name: str,
    started: float | None,
    run: _Run | None,
) -> Any:
    """Await what a sync callable returned; on failure, call it again and retry."""
    error: Exception | None = None
    result: Any = None
    try:
        result = await awaitable
    except Exception as exc:
        error = exc
    else:
        if policy.check_result is None or not policy.check_result(result):
            return result
    return await _retry_async(
        functools.partial(_call_and_await, fn, args, kwargs),
        policy,
        name,
        started,
        error,
        result,
        run,
    )


# -------------------------------------------------------------------- decorating


def _wrap_async(
    fn: Callable[..., Awaitable[Any]], policy: Policy, name: str
) -> Callable[..., Any]:
    """The ``async def`` wrapper of an async callable."""
    budget = policy.budget
    check = policy.check_result
    timed = policy.timeout is not None
    limit = policy.attempt_timeout
    call = fn
    if limit is not None:

        async def call(*args: Any, **kwargs: Any) -> Any:
            with anyio.fail_after(limit):
                return await fn(*args, **kwargs)

    @wraps(fn)
    async def async_retry_wrapper(*args: Any, **kwargs: Any) -> Any:
        if budget is not None:
            budget._deposit()
        started = _env.get().clock() if timed else None
        result: Any = None
        try:
            result = await call(*args, **kwargs)
        except Exception as exc:
            error: Exception | None = exc
        else:
            if check is None or not check(result):
                return result
            error = None
        return await _retry_async(
            functools.partial(call, *args, **kwargs),
            policy,
            name,
            started,
            error,
            result,
        )

    return async_retry_wrapper


def _wrap_sync(fn: Callable[..., Any], policy: Policy, name: str) -> Callable[..., Any]:
    """The sync wrapper of a sync callable (which may return awaitables)."""
    if policy.attempt_timeout is not None:
        raise TypeError(
            f"{policy.api}(): attempt_timeout needs an async function (it cancels "
            f"the attempt at an await); {name} is sync. Use timeout= for a total "
            "deadline, or make the function async."
        )
    budget = policy.budget
    check = policy.check_result
    timed = policy.timeout is not None
    plain = PLAIN_TYPES

    @wraps(fn)
    def sync_retry_wrapper(*args: Any, **kwargs: Any) -> Any:
        if budget is not None:
            budget._deposit()
        started = _env.get().clock() if timed else None
        result: Any = None
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            error: Exception | None = exc
        else:
            # The sync success path: one set lookup says "not awaitable" for a
            # type seen before; `is_awaitable` learns new types.
            if type(result) not in plain and is_awaitable(result):
                return _await_first(
                    result, fn, args, kwargs, policy, name, started, None
                )
            if check is None or not check(result):
                return result
            error = None
        return _retry_sync(fn, args, kwargs, policy, name, started, error, result)

    return sync_retry_wrapper


def _decorate(fn: object, policy: Policy) -> Any:
    if isinstance(fn, classmethod):
        return classmethod(_decorate(fn.__func__, policy))
    if isinstance(fn, staticmethod):
        return staticmethod(_decorate(fn.__func__, policy))
    api = policy.api
    if inspect.iscoroutine(fn):
        fn.close()  # so Python does not also warn "coroutine was never awaited"
        raise TypeError(
            f"{api}() expected a function to decorate, but got a coroutine object "
            f"{fn.__qualname__!r}: notice the parentheses? Decorate the function "
            "itself (f), not the result of calling it (f())."
        )
    if not callable(fn):
        raise TypeError(f"{api}() can only decorate a callable, got {fn!r}")
    target: object = fn
    while isinstance(target, functools.partial):
        target = target.func
    if inspect.isgeneratorfunction(target) or inspect.isasyncgenfunction(target):
        raise TypeError(
            f"{api}() cannot retry the generator function {_describe(fn)}: calling "
            "it only creates a generator, so there is nothing to retry. Retry the "
            "code that consumes it (a retrying() block fits)."
        )
    name = _describe(fn)
    if is_async_fn(fn):
        return _wrap_async(fn, policy, name)
    return _wrap_sync(fn, policy, name)


class RetryDecorator(Protocol):
    """What ``async_retry(...)`` returns: apply it to a function or method."""

    @overload
    def __call__(self, fn: classmethod[C, P, T], /) -> classmethod[C, P, T]: ...
    @overload
    def __call__(self, fn: staticmethod[P, T], /) -> staticmethod[P, T]: ...
    @overload
    def __call__(self, fn: Callable[P, T], /) -> Callable[P, T]: ...


class _Decorator:
    __slots__ = ("_policy",)

    def __init__(self, policy: Policy) -> None:
        self._policy = policy

    def __call__(self, fn: object, /) -> Any:
        return _decorate(fn, self._policy)

    def __repr__(self) -> str:
        return f"<asyncbridge.async_retry decorator ({self._policy.max_attempts} attempts)>"


@overload
def async_retry(max_attempts: classmethod[C, P, T], /) -> classmethod[C, P, T]: ...
@overload
def async_retry(max_attempts: staticmethod[P, T], /) -> staticmethod[P, T]: ...
@overload
def async_retry(max_attempts: Callable[P, T], /) -> Callable[P, T]: ...
@overload
def async_retry(
    max_attempts: int = 3,
    *,
    on: RetryOn = Exception,
    retry_if_result: Callable[[Any], object] | None = None,
    timeout: float | None = None,
    attempt_timeout: float | None = None,
    wait_initial: float = 0.1,
    wait_max: float = 5.0,
    wait_exp_base: float = 2.0,
    wait_jitter: bool = True,
    wait: float | WaitFn | None = None,
    wait_hint: Callable[[Exception], float | None] | None = None,
    before_sleep: Hook | None = None,
    on_giveup: Hook | None = None,
    reraise: bool = True,
    budget: RetryBudget | None = None,
) -> RetryDecorator: ...
def async_retry(
    max_attempts: object = 3,
    *,
    on: RetryOn = Exception,
    retry_if_result: Callable[[Any], object] | None = None,
    timeout: float | None = None,
    attempt_timeout: float | None = None,
    wait_initial: float = 0.1,
    wait_max: float = 5.0,
    wait_exp_base: float = 2.0,
    wait_jitter: bool = True,
    wait: float | WaitFn | None = None,
    wait_hint: Callable[[Exception], float | None] | None = None,
    before_sleep: Hook | None = None,
    on_giveup: Hook | None = None,
    reraise: bool = True,
    budget: RetryBudget | None = None,
) -> Any:
    """Retry a sync or async callable when it fails; keep its kind and signature.

    ``@async_retry`` (bare) or ``@async_retry(max_attempts=3, ...)``. An
    ``async def`` function gets an ``async def`` wrapper; a sync one a sync wrapper
    that sleeps with `time.sleep` between attempts. A sync callable that returns
    an awaitable gets a sync wrapper returning an awaitable that retries when
    awaited: each retry calls the callable again for a fresh awaitable.

    What is retried: only `Exception` instances that *on* matches, and values that
    *retry_if_result* rejects. Cancellation (asyncio, trio, anyio),
    `KeyboardInterrupt`, `SystemExit`, `GeneratorExit` and every other
    non-`Exception` pass straight through: never retried, never shown to *on*, a
    predicate or a hook. An error *on* does not match propagates at once.

    When retrying stops: after *max_attempts* attempts; or when the total
    *timeout* has passed (a monotonic clock; no attempt starts after the deadline,
    and each wait is cut to the time left); or when the shared *budget* is spent.
    Then the last exception is re-raised unchanged (same object and traceback),
    with a note saying how many attempts ran and for how long; or, with
    ``reraise=False``, a `RetryError` holding every attempt is raised from it. If
    a rejected value ended the retries, that value is returned (with
    ``reraise=False``: a `RetryError`).

    Waits: ``wait_initial * wait_exp_base ** (attempt - 1)`` capped at *wait_max*,
    then, with *wait_jitter*, multiplied by a random factor in (0.5, 1], so
    every wait lies in [0, wait_max], none is near zero, and clients at the cap
    stay spread out. ``wait=0.2`` waits a fixed 0.2 s instead; ``wait=f`` calls
    ``f(attempt, exception_or_None)`` for the seconds (0 allowed). A *wait_hint*
    that returns seconds for an exception (a Retry-After value) overrides the
    schedule for that retry, uncapped; if it ends past the deadline, retrying
    stops at once. Async waits use `anyio.sleep`: cancellable, on asyncio and trio.

    Each retry logs one WARNING on the ``asyncbridge.retry`` logger naming the
    function (``module.qualname``), the attempt and the wait: never argument
    values. State is per call: concurrent calls never share attempt counts.

    Args:
        max_attempts: attempts in all, the first included (an int >= 1; 3).
        on: what to retry: an exception type (default `Exception`), a tuple of
            them, or a predicate ``exception -> bool``.
        retry_if_result: a predicate on the returned value; true means retry.
        timeout: total deadline in seconds for the whole call, or None (default).
            It stops retrying; it does not interrupt a running attempt.
        attempt_timeout: seconds per attempt (async callables only: it cancels
            the attempt, which raises `TimeoutError`, retried if *on* matches).
        wait_initial: the first wait, in seconds (0.1).
        wait_max: the cap on a scheduled wait, in seconds (5.0).
        wait_exp_base: the growth factor between waits (2.0; >= 1).
        wait_jitter: randomise waits as described above (True).
        wait: a fixed wait in seconds, or ``f(attempt, exception) -> seconds``;
            replaces the schedule (cap and jitter included).
        wait_hint: ``exception -> seconds | None``; a number overrides the wait.
        before_sleep: a sync or async hook called with a `RetryState` before
            each wait (after the log line).
        on_giveup: a sync or async hook called with a `RetryState` when
            retrying stops with a failure. From a sync wrapper an async hook runs
            through `asyncbridge.run_sync`.
        reraise: re-raise the last exception (True) or raise `RetryError`.
        budget: a `RetryBudget` shared with other callers, or None.

    Returns:
        The wrapper (bare use), or a decorator that makes it.

    Raises:
        TypeError: a setting of the wrong type (naming it), a non-callable or a
            coroutine object decorated, a generator function decorated, or
            *attempt_timeout* given for a sync callable.
        ValueError: a setting out of range (``max_attempts < 1``, a negative
            wait or timeout, ``wait_exp_base < 1``, an *on* that can never match).

    Example:
        >>> import asyncbridge as ab
        >>> calls = []
        >>> @ab.async_retry(max_attempts=3, on=ConnectionError, wait=0)
        ... def fetch() -> str:
        ...     calls.append(1)
        ...     if len(calls) < 3:
        ...         raise ConnectionError("flaky")
        ...     return "ok"
        >>> fetch(), len(calls)
        ('ok', 3)
    """
    api = "async_retry"
    fn: object = None
    if callable(max_attempts) or inspect.iscoroutine(max_attempts):
        fn, max_attempts = max_attempts, 3
    policy = Policy(
        api,
        max_attempts=max_attempts,
        on=on,
        retry_if_result=retry_if_result,
        timeout=timeout,
        attempt_timeout=attempt_timeout,
        wait_initial=wait_initial,
        wait_max=wait_max,
        wait_exp_base=wait_exp_base,
        wait_jitter=wait_jitter,
        wait=wait,
        wait_hint=wait_hint,
        before_sleep=before_sleep,
        on_giveup=on_giveup,
        reraise=reraise,
        budget=budget,
    )
    if fn is not None:
        return _decorate(fn, policy)
    return _Decorator(policy)


# -------------------------------------------------------------------- block form


class Attempt:
    """One attempt of a `retrying` loop; use it as ``with attempt:``.

    An exception the loop retries is captured by the ``with`` block and decided
    on by the loop; any other exception (and all control flow) passes through.
    Keep the attempt's whole work inside the block: code after it in the loop
    body also runs after a failed attempt.

    Attributes:
        number: this attempt's number, counting from 1.
    """

    __slots__ = ("_error", "_loop", "number")

    def __init__(self, loop: _AttemptLoop, number: int) -> None:
        self._loop = loop
        self.number = number
        self._error: Exception | None = None

    def __repr__(self) -> str:
        return f"<Attempt {self.number}>"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if not isinstance(exc, Exception):  # no error, or control flow
            return False
        loop = self._loop
        if not loop.policy.retryable(exc):
            if loop.run is not None:
                loop.run.attempt = self.number
                loop.run.not_retried(exc)
            return False
        self._error = exc
        return True


class _AttemptLoop:
    """One pass over a `retrying` block: shared by the sync and async iterators."""

    __slots__ = ("current", "done", "name", "policy", "run", "started")

    def __init__(self, policy: Policy, name: str) -> None:
        self.policy = policy
        self.name = name
        self.run: _Run | None = None
        self.current: Attempt | None = None
        self.done = False
        self.started: float | None = None

    def first(self) -> Attempt:
        if self.policy.budget is not None:
            self.policy.budget._deposit()
        if self.policy.timeout is not None:
            self.started = _env.get().clock()
        self.current = Attempt(self, 1)
        return self.current

    def decide(self) -> tuple[_Run, RetryState, str | None, Exception] | None:
        """After an attempt: None when it succeeded, else the decision."""
        current = cast("Attempt", self.current)
        error = current._error
        if error is None:
            self.done = True
            return None
        if self.run is None:
            self.run = _Run(self.policy, self.name, self.started)
        run = self.run
        run.attempt = current.number
        state, reason = run.decide(error, None)
        if reason is not None:
            self.done = True
        return run, state, reason, error

    def next_attempt(self) -> Attempt:
        self.current = Attempt(self, cast("Attempt", self.current).number + 1)
        return self.current


def _give_up_in_iterator(
    run: _Run, state: RetryState, reason: str, error: Exception
) -> NoReturn:
    try:
        run.give_up(state, reason, error, None)
    except (StopIteration, StopAsyncIteration) as exc:
        # Raised from __next__ these would end the loop silently (PEP 479).
        raise RuntimeError(f"{run.name}: a retrying() block raised {exc!r}") from exc
    raise AssertionError  # pragma: no cover - give_up always raises here


class _SyncAttempts(_AttemptLoop, Iterator[Attempt]):
    __slots__ = ()

    def __next__(self) -> Attempt:
        if self.done:
            raise StopIteration
        if self.current is None:
            return self.first()
        decision = self.decide()
        if decision is None:
            raise StopIteration
        run, state, reason, error = decision
        policy = self.policy
        if reason is not None:
            if policy.on_giveup is not None:
                _hook_sync(policy.on_giveup, policy.on_giveup_async, state)
            _give_up_in_iterator(run, state, reason, error)
        run.log(state)
        if policy.before_sleep is not None:
            _hook_sync(policy.before_sleep, policy.before_sleep_async, state)
        if state.wait > 0:
            run.env.sleep(state.wait)
        return self.next_attempt()


class _AsyncAttempts(_AttemptLoop, AsyncIterator[Attempt]):
    __slots__ = ()

    async def __anext__(self) -> Attempt:
        if self.done:
            raise StopAsyncIteration
        if self.current is None:
            return self.first()
        decision = self.decide()
        if decision is None:
            raise StopAsyncIteration
        run, state, reason, error = decision
        policy = self.policy
        if reason is not None:
            if policy.on_giveup is not None:
                await _hook_async(policy.on_giveup, state)
            _give_up_in_iterator(run, state, reason, error)
        run.log(state)
        if policy.before_sleep is not None:
            await _hook_async(policy.before_sleep, state)
        await run.env.async_sleep(state.wait)
        return self.next_attempt()


class Retrying:
    """The iterable `retrying` returns: iterate it with ``for`` or ``async for``.

    Each iteration (each ``for`` loop over it) is a fresh run with its own attempt
    count, so one `Retrying` object may be kept and reused.
    """

    __slots__ = ("_name", "_policy")

    def __init__(self, policy: Policy, name: str) -> None:
        self._policy = policy
        self._name = name

    def __repr__(self) -> str:
        return f"<asyncbridge.retrying ({self._policy.max_attempts} attempts)>"

    def __iter__(self) -> Iterator[Attempt]:
        return _SyncAttempts(self._policy, self._name)

    def __aiter__(self) -> AsyncIterator[Attempt]:
        return _AsyncAttempts(self._policy, self._name)


def retrying(
    max_attempts: int = 3,
    *,
    on: RetryOn = Exception,
    retry_if_result: None = None,
    timeout: float | None = None,
    attempt_timeout: None = None,
    wait_initial: float = 0.1,
    wait_max: float = 5.0,
    wait_exp_base: float = 2.0,
    wait_jitter: bool = True,
    wait: float | WaitFn | None = None,
    wait_hint: Callable[[Exception], float | None] | None = None,
    before_sleep: Hook | None = None,
    on_giveup: Hook | None = None,
    reraise: bool = True,
    budget: RetryBudget | None = None,
) -> Retrying:
    """Retry a block of code, sync (``for``) or async (``async for``).

    ``for attempt in ab.retrying(...): with attempt: ...``

    The block form of `async_retry`, with the same parameters and semantics,
    for code that is not a function of its own. Iterate with ``for`` in sync code
    (waits use `time.sleep`) or ``async for`` in async code (waits use
    `anyio.sleep`, cancellable; async hooks are awaited). Each ``with attempt:``
    captures an exception that *on* matches; the loop then waits and gives the
    next attempt, or gives up by raising it (with a note), or a `RetryError` when
    ``reraise=False``. A block that completes ends the loop. Other exceptions and
    control flow pass through the ``with`` at once. ``attempt.number`` counts
    from 1. Log lines and `RetryState.fn_name` name the function containing the
    loop.

    Two parameters of `async_retry` do not apply to a block and must stay None:
    *retry_if_result* (check the value inside the block and raise instead) and
    *attempt_timeout* (put ``with anyio.fail_after(t):`` inside the block).

    Args:
        max_attempts: see `async_retry`; likewise every other parameter.
        on: see `async_retry`.
        retry_if_result: not supported; must be None.
        timeout: see `async_retry`.
        attempt_timeout: not supported; must be None.
        wait_initial: see `async_retry`.
        wait_max: see `async_retry`.
        wait_exp_base: see `async_retry`.
        wait_jitter: see `async_retry`.
        wait: see `async_retry`.
        wait_hint: see `async_retry`.
        before_sleep: see `async_retry`.
        on_giveup: see `async_retry`.
        reraise: see `async_retry`.
        budget: see `async_retry`.

    Returns:
        A reusable iterable of `Attempt` objects.

    Raises:
        TypeError, ValueError: bad settings, as for `async_retry`.

    Example:
        >>> import asyncbridge as ab
        >>> outcomes = iter([OSError("down"), OSError("down"), "up"])
        >>> for attempt in ab.retrying(max_attempts=3, on=OSError, wait=0):
        ...     with attempt:
        ...         outcome = next(outcomes)
        ...         if isinstance(outcome, Exception):
        ...             raise outcome
        >>> outcome, attempt.number
        ('up', 3)
    """
    api = "retrying"
    if retry_if_result is not None:
        raise TypeError(
            "retrying(): retry_if_result is not supported by the block form; "
            "check the value inside `with attempt:` and raise to retry"
        )
    if attempt_timeout is not None:
        raise TypeError(
            "retrying(): attempt_timeout is not supported by the block form; "
            "put `with anyio.fail_after(seconds):` inside `with attempt:`"
        )
    policy = Policy(
        api,
        max_attempts=max_attempts,
        on=on,
        retry_if_result=None,
        timeout=timeout,
        attempt_timeout=None,
        wait_initial=wait_initial,
        wait_max=wait_max,
        wait_exp_base=wait_exp_base,
        wait_jitter=wait_jitter,
        wait=wait,
        wait_hint=wait_hint,
        before_sleep=before_sleep,
        on_giveup=on_giveup,
        reraise=reraise,
        budget=budget,
    )
    return Retrying(policy, _caller_name(1))
