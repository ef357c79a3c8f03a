"""`async_retry`: the decorator form, and the wrappers it makes.

The success path of a decorated call is a plain ``try: return fn(...)`` (or
``await``): the per-call state (`RetryRun`), the testing switch, the clock and the
budget accounting come into play only after the first failure. The exceptions are
the budget's per-call deposit (only when a budget is given) and one clock read at
the start of the call when a total ``timeout`` is set (so the deadline covers the
first attempt too).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import inspect
from typing import (
    TYPE_CHECKING,
    Any,
    Final,
    ParamSpec,
    Protocol,
    TypeVar,
    cast,
    overload,
)

import anyio

from asyncbridge._core._detect import is_async_callable
from asyncbridge._core._validate import qualified_name
from asyncbridge._core._wrapping import PLAIN_TYPES, is_awaitable, wraps
from asyncbridge._tools._binding import Decorator, check_target, decorate

from ._drivers import await_first, current_env, first_decision, retry_async, retry_sync
from ._policy import OPTIONS, RetryPolicy

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from ._budget import RetryBudget
    from ._policy import RetryHook, RetryOn, WaitFn, WaitHint

__all__ = ["async_retry"]

P = ParamSpec("P")
T = TypeVar("T")
C = TypeVar("C")

_API: Final = "async_retry"
_UNSET: Final[Any] = object()


def _wrap_async(
    fn: Callable[..., Awaitable[Any]], policy: RetryPolicy, name: str
) -> Callable[..., Any]:
    """The ``async def`` wrapper of an async callable."""
    budget = policy.budget
    check = policy.retry_if_result
    timed = policy.timeout is not None
    limit = policy.attempt_timeout
    call = fn
    if limit is not None:

        async def limited(*args: Any, **kwargs: Any) -> Any:
            with anyio.fail_after(limit):
                return await fn(*args, **kwargs)

        call = limited

    @wraps(fn)
    async def async_retry_wrapper(*args: Any, **kwargs: Any) -> Any:
        if budget is not None:
            budget.deposit()
        started = current_env().clock() if timed else None
        result: Any = None
        try:
            result = await call(*args, **kwargs)
        except Exception as exc:
            error: Exception | None = exc
        else:
            if check is None or not check(result):
                return result
            error = None
        run, env, decision = first_decision(policy, name, started, error, result)
        attempt = functools.partial(call, *args, **kwargs)
        return await retry_async(attempt, run, env, decision)

    return async_retry_wrapper


def _wrap_sync(
    fn: Callable[..., Any], policy: RetryPolicy, name: str
) -> Callable[..., Any]:
    """The sync wrapper of a sync callable (which may return awaitables)."""
    if policy.attempt_timeout is not None:
        raise TypeError(
            f"{policy.api}(): attempt_timeout needs an async function (it cancels "
            f"the attempt at an await); {name} is sync. Use timeout= for a total "
            "deadline, or make the function async."
        )
    budget = policy.budget
    check = policy.retry_if_result
    timed = policy.timeout is not None
    plain = PLAIN_TYPES

    @wraps(fn)
    def sync_retry_wrapper(*args: Any, **kwargs: Any) -> Any:
        if budget is not None:
            budget.deposit()
        started = current_env().clock() if timed else None
        result: Any = None
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            error: Exception | None = exc
        else:
            # The sync success path: one set lookup says "not awaitable" for a
            # type seen before; `is_awaitable` learns new types.
            if type(result) not in plain and is_awaitable(result):
                call = functools.partial(fn, *args, **kwargs)
                retried = await_first(result, call, policy, name, started, None)
                if asyncio.isfuture(result):  # a Task or Future: started already,
                    # so the retrying one is a Task too (the type it declares)
                    return result.get_loop().create_task(retried)
                return retried
            if check is None or not check(result):
                return result
            error = None
        # Outside the `except` block, so later attempts' errors do not chain to it.
        call = functools.partial(fn, *args, **kwargs)
        return retry_sync(call, policy, name, started, error, result)

    return sync_retry_wrapper


class RetryDecorator(Protocol):
    """What ``async_retry(...)`` returns: apply it to a function or method.

    The decorated callable keeps its type. A sync callable that returns an
    awaitable gets a wrapper returning one that retries when awaited: a coroutine,
    or a `Task` where the callable returned an asyncio `Task` or `Future` (already
    running, as the one it replaces).
    """

    @overload
    def __call__(self, fn: classmethod[C, P, T], /) -> classmethod[C, P, T]: ...
    @overload
    def __call__(self, fn: staticmethod[P, T], /) -> staticmethod[P, T]: ...
    @overload
    def __call__(self, fn: Callable[P, T], /) -> Callable[P, T]: ...


_GENERATORS: Final = (
    "calling it only creates a generator, so there is nothing to retry. Retry the "
    "code that consumes it (a retrying() block fits)."
)


def _wrap(fn: object, policy: RetryPolicy) -> Any:
    check_target(fn, _API, generators=_GENERATORS)
    function = cast("Callable[..., Any]", fn)  # checked just above
    name = qualified_name(function)
    if is_async_callable(function):
        return _wrap_async(function, policy, name)
    return _wrap_sync(function, policy, name)


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
    wait_hint: WaitHint | None = None,
    before_sleep: RetryHook | None = None,
    on_giveup: RetryHook | None = None,
    reraise: bool = True,
    budget: RetryBudget | None = None,
) -> RetryDecorator: ...
# `max_attempts=` given by keyword arrives in **options: the positional-only slot
# tells a function to decorate (the bare form) from an int.
def async_retry(max_attempts: object = _UNSET, /, **options: Any) -> Any:  # pyright: ignore[reportInconsistentOverload]
    """Retry a sync or async callable when it fails; keep its kind and signature.

    ``@async_retry`` (bare) or ``@async_retry(max_attempts=3, ...)``. An
    ``async def`` function gets an ``async def`` wrapper; a sync one a sync wrapper
    that sleeps with `time.sleep` between attempts (and warns
    `LoopBlockedWarning` when that sleep blocks a running event loop). A sync
    callable that returns an awaitable gets a sync wrapper returning an awaitable
    that retries when awaited: each retry calls the callable again for a fresh
    awaitable (so a callable typed as returning a `Task` or a `Future` comes back
    typed as returning an `Awaitable`: a coroutine, at run time).

    What is retried: only `Exception` instances that *on* matches, and values that
    *retry_if_result* rejects. Cancellation (asyncio, trio, anyio),
    `KeyboardInterrupt`, `SystemExit`, `GeneratorExit` and every other
    non-`Exception` pass straight through: never retried, never shown to *on*, a
    predicate or a hook. An error *on* does not match propagates at once.

    When retrying stops: after *max_attempts* attempts; or at the total *timeout*
    (a monotonic clock, counted from the start of the call): no attempt starts at
    or after the deadline, so a wait that would end past it ends the retries at
    once; or when the shared *budget* is spent. Then the last exception is
    re-raised unchanged (same object and traceback), with a note saying how many
    attempts ran and for how long (an exception type that refuses new attributes
    goes without the note, never replaced); or, with ``reraise=False``, a
    `RetryError` holding every attempt is raised from it. If a rejected value
    ended the retries, that value is returned (with ``reraise=False``: a
    `RetryError`). An error raised by *on*, a wait function or a hook propagates
    with the attempt's exception as its ``__context__``.

    Waits: ``wait_initial * wait_exp_base ** (attempt - 1)`` capped at *wait_max*,
    then, with *wait_jitter*, multiplied by a random factor in (0.5, 1], so
    every wait lies in [0, wait_max], none is near zero, and clients at the cap
    stay spread out. ``wait=0.2`` waits a fixed 0.2 s instead; ``wait=f`` calls
    ``f(attempt, exception_or_None)`` for the seconds (0 allowed). A *wait_hint*
    that returns seconds for an exception (a Retry-After value) overrides the
    schedule for that retry, uncapped. Async waits use `anyio.sleep`:
    cancellable, on asyncio and trio.

    Each retry logs one WARNING on the ``asyncbridge.retry`` logger naming the
    function (``module.qualname``), the attempt and the wait: never argument
    values. State is per call: concurrent calls never share attempt counts.

    Args:
        max_attempts: attempts in all, the first included (an int >= 1; 3).
        options: the settings below, each keyword-only.
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
        TypeError: a setting of the wrong type (naming it), an *on* that is not
            an exception type, a tuple of them or a predicate, or that can never
            match (``on=KeyboardInterrupt``: control flow is never retried); a
            non-callable, a coroutine object or a generator function decorated;
            *attempt_timeout* given for a sync callable.
        ValueError: a setting out of range: ``max_attempts < 1``, a wait or
            timeout that is negative, NaN, infinite or too large,
            ``wait_exp_base < 1``, an empty *on* tuple.

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
    fn: object = None
    if max_attempts is not _UNSET:
        if callable(max_attempts) or inspect.iscoroutine(max_attempts):
            fn = max_attempts
        elif "max_attempts" in options:
            raise TypeError("async_retry() got multiple values for 'max_attempts'")
        else:
            options["max_attempts"] = max_attempts
    policy = RetryPolicy.build(_API, options, OPTIONS)
    wrap = functools.partial(_wrap, policy=policy)
    if fn is not None:
        return decorate(fn, wrap)
    return Decorator(_API, wrap, f"max_attempts={policy.max_attempts}", _GENERATORS)


def _signature() -> inspect.Signature:
    """The real signature of `async_retry`, from the options' fields."""
    kinds = {"max_attempts": inspect.Parameter.POSITIONAL_OR_KEYWORD}
    return inspect.Signature(
        [
            inspect.Parameter(
                f.name,
                kinds.get(f.name, inspect.Parameter.KEYWORD_ONLY),
                default=f.default,
                annotation=f.type,
            )
            for f in dataclasses.fields(RetryPolicy)
            if f.name in OPTIONS
        ],
        return_annotation="RetryDecorator",
    )


async_retry.__signature__ = _signature()  # type: ignore[attr-defined]
