"""Bounded concurrency: `gather_limited`, `map_async`, `batch_execute`.

All three run their items with ``min(limit, len(items))`` worker tasks in one anyio
task group: a worker takes the next item when it has finished one, so no more than
``limit`` items ever run at once, no item waits in a semaphore queue, and no task is
created per item. Results land at their input index. Async callables are awaited on
the loop; sync ones run in worker threads (`run_in_thread`), and an awaitable a sync
callable returns is awaited too. The task group makes it structured: cancelling the
caller cancels every item, and nothing started outlives the call (a thread still
running is waited for); coroutines never started are closed, futures cancelled.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import time
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Generic, Literal, TypeVar, cast, overload

import anyio

from asyncbridge._core._detect import is_async_callable
from asyncbridge._core._validate import (
    check_bool,
    check_callable,
    check_int,
    check_timeout,
    describe,
    reject_coroutine,
)
from asyncbridge._engine._offload import run_in_thread

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Coroutine, Iterable

__all__ = [
    "DEFAULT_LIMIT",
    "OutcomeStatus",
    "TaskOutcome",
    "batch_execute",
    "gather_limited",
    "map_async",
]

T = TypeVar("T")
A = TypeVar("A")

DEFAULT_LIMIT: Final = 10

# How an item runs (see `_prepare`).
_AWAIT: Final = 0  # an awaitable: await it
_ASYNC: Final = 1  # an async callable: call it on the loop, await the result
_SYNC: Final = 2  # a sync callable: call it in a worker thread (await what it returns)


class OutcomeStatus(enum.StrEnum):
    """How a task of `batch_execute` ended (a `str`: ``status == "ok"`` works)."""

    OK = "ok"
    """It returned a value."""
    FAILED = "failed"
    """It raised an exception (in ``TaskOutcome.error``)."""
    TIMED_OUT = "timed_out"
    """It ran past the per-task timeout and was cancelled (error: a TimeoutError)."""
    CANCELLED = "cancelled"
    """``fail_fast=True`` cancelled it (or it never started) after another failed."""


@dataclass(frozen=True, slots=True)
class TaskOutcome(Generic[T]):
    """What happened to one task of `batch_execute`.

    Attributes:
        index: the task's position in the input.
        status: how it ended.
        value: what it returned (None unless ``status`` is ``ok``).
        error: what it raised; a `TimeoutError` when timed out; None when ``ok``
            or ``cancelled``.
        duration: seconds from its start to its end (0.0 if it never started).
    """

    index: int
    status: OutcomeStatus
    value: T | None
    error: BaseException | None
    duration: float


# ------------------------------------------------------------------ checks


def _the_limit(limit: object, concurrency: object, func: str) -> object:
    """The bound given to a call: ``limit=``, or the deprecated ``concurrency=``."""
    if concurrency is not None:
        if limit != DEFAULT_LIMIT:
            raise TypeError(
                f"{func}() got both limit= and concurrency=; concurrency= is the old "
                "name of limit=: give limit= only"
            )
        warnings.warn(
            f"{func}(concurrency=...) is deprecated: the bound is called limit= in "
            "gather_limited(), map_async() and batch_execute() alike",
            DeprecationWarning,
            stacklevel=3,
        )
        return concurrency
    return limit


def _close_all(items: Iterable[object]) -> None:
    """Close coroutine objects and cancel futures that will never be awaited."""
    for item in items:
        if inspect.iscoroutine(item):
            item.close()
        elif asyncio.isfuture(item):
            item.cancel()


def _prepare(
    items: list[object], func: str, param: str, *, allow_awaitables: bool = True
) -> list[tuple[int, Any]]:
    """Classify every item before anything starts; TypeError names the first bad one."""
    runners: list[tuple[int, Any]] = []
    for index, item in enumerate(items):
        if (
            inspect.iscoroutine(item)
            and inspect.getcoroutinestate(item) != "CORO_CREATED"
        ):
            problem = "a coroutine that has already been awaited or closed"
        elif inspect.isawaitable(item):
            if allow_awaitables:
                runners.append((_AWAIT, item))
                continue
            problem = (
                f"an awaitable ({describe(item)}), which can run only once, so it "
                "cannot be retried; pass a zero-argument callable instead, e.g. "
                "functools.partial(fn, arg)"
            )
        elif callable(item):
            if inspect.isasyncgenfunction(item):
                problem = f"the async generator function {describe(item)}"
            else:
                runners.append((_ASYNC if is_async_callable(item) else _SYNC, item))
                continue
        else:
            problem = describe(item)
        _close_all(items)  # none of them will run
        raise TypeError(
            f"{func}() expected awaitables or zero-argument callables (sync or async) "
            f"for {param}, but {param}[{index}] is {problem}"
        )
    return runners


def _as_list(items: object, func: str, param: str) -> list[Any]:
    reject_coroutine(items, func, param, "Await it first.", expected="an iterable")
    if not hasattr(type(items), "__iter__") and hasattr(type(items), "__aiter__"):
        raise TypeError(
            f"{func}() expected an iterable for {param}, but {describe(items)} is an "
            "async iterable; collect it first: [x async for x in it]"
        )
    try:
        return list(cast("Iterable[Any]", items))
    except TypeError:
        if hasattr(type(items), "__iter__"):
            raise  # raised by the iteration itself: the user's error
        raise TypeError(
            f"{func}() expected an iterable for {param}, got {describe(items)}"
        ) from None


def _check_callable(fn: object, func: str, param: str) -> None:
    reject_coroutine(fn, func, param, "Pass the function itself.")
    check_callable(fn, param, func=func)


async def _execute(kind: int, item: Any) -> Any:
    if kind == _AWAIT:
        return await item
    if kind == _ASYNC:
        return await item()
    value = await run_in_thread(item)
    if inspect.isawaitable(value):  # e.g. `lambda: fetch(url)`
        value = await value
    return value


async def _attempt(
    index: int,
    kind: int,
    item: Any,
    timeout: float | None,  # noqa: ASYNC109 - the per-task limit, applied inside
) -> tuple[OutcomeStatus, Any, BaseException | None]:
    """Run one task of a batch; an `Exception` or the timeout becomes its outcome."""
    try:
        if timeout is None:
            return OutcomeStatus.OK, await _execute(kind, item), None
        with anyio.move_on_after(timeout):  # past here only when it timed out
            return OutcomeStatus.OK, await _execute(kind, item), None
    except Exception as exc:
        return OutcomeStatus.FAILED, None, exc
    error = TimeoutError(f"batch_execute(): task {index} timed out after {timeout} s")
    return OutcomeStatus.TIMED_OUT, None, error


class _Workers:
    """The worker tasks of one call: its task group, and the first fatal error."""

    __slots__ = ("failure", "indices", "scope", "stopped")

    def __init__(self, count: int) -> None:
        self.indices = iter(range(count))  # shared: each worker takes the next
        self.failure: BaseException | None = None
        self.scope: anyio.CancelScope | None = None
        self.stopped = False  # no worker takes another item

    def take(self) -> int | None:
        """The next index to run, or None when all are taken or the run stopped."""
        if self.stopped:
            return None
        return next(self.indices, None)

    def stop(self) -> None:
        """Cancel every worker; none takes another item."""
        self.stopped = True
        assert self.scope is not None  # noqa: S101
        self.scope.cancel()

    def fail(self, exc: BaseException) -> None:
        """Record the first failure and stop."""
        if self.failure is None:
            self.failure = exc
        self.stop()

    async def run(
        self, workers: int, worker: Callable[[], Coroutine[Any, Any, None]]
    ) -> None:
        """Run *workers* copies of *worker*; re-raise the first recorded failure."""
        try:
            async with anyio.create_task_group() as tg:
                self.scope = tg.cancel_scope
                for _ in range(workers):
                    tg.start_soon(worker)
        except BaseException:
            failure = self.failure
            # KeyboardInterrupt or SystemExit in an item beats the caller's cancel.
            if failure is not None and not isinstance(failure, Exception):
                self.failure = None
                raise failure from None
            raise
        failure, self.failure = self.failure, None
        if failure is not None:
            raise failure

    def unstarted(self) -> list[int]:
        """The indices no worker took (after `run`)."""
        return list(self.indices)


def _prepare_batch(
    tasks: object,
    limit: object,
    concurrency: object,
    timeout: object,
    retry: object,
    on_progress: object,
    fail_fast: object,
) -> tuple[int, list[tuple[int, Any]]]:
    """Check `batch_execute`'s arguments: its limit, and its tasks classified."""
    try:
        bound = _the_limit(limit, concurrency, "batch_execute")
        size = check_int(bound, "limit", func="batch_execute")
        check_timeout(timeout)
        if retry is not None:
            _check_callable(retry, "batch_execute", "retry")
        if on_progress is not None:
            _check_callable(on_progress, "batch_execute", "on_progress")
        check_bool(fail_fast, "fail_fast", func="batch_execute")
    except (TypeError, ValueError):
        if isinstance(tasks, list | tuple):
            _close_all(cast("Iterable[object]", tasks))  # none of them will run
        raise
    items = _as_list(tasks, "batch_execute", "tasks")
    runners = _prepare(items, "batch_execute", "tasks", allow_awaitables=retry is None)
    if retry is None:
        return size, runners
    decorate = cast("Callable[[Callable[..., Any]], Callable[..., Any]]", retry)
    decorated = [decorate(item) for _, item in runners]
    return size, [(_ASYNC if is_async_callable(fn) else _SYNC, fn) for fn in decorated]


class _Batch(_Workers):
    """One `batch_execute` call: its workers record an outcome per task."""

    __slots__ = (
        "done",
        "fail_fast",
        "on_progress",
        "outcomes",
        "progress_lock",
        "runners",
        "timeout",
    )

    def __init__(
        self,
        runners: list[tuple[int, Any]],
        timeout: float | None,
        on_progress: Callable[[int, int], object] | None,
        *,
        fail_fast: bool,
    ) -> None:
        super().__init__(len(runners))
        self.runners = runners
        self.timeout = timeout
        self.on_progress = on_progress
        self.fail_fast = fail_fast
        self.outcomes: list[TaskOutcome[Any] | None] = [None] * len(runners)
        self.done = 0
        # async progress callbacks are made one at a time, in order
        self.progress_lock = (
            anyio.Lock()
            if on_progress is not None and is_async_callable(on_progress)
            else None
        )

    async def report(self) -> None:
        """Tell `on_progress` that one more task has ended."""
        on_progress = self.on_progress
        assert on_progress is not None  # noqa: S101
        if self.progress_lock is None:
            self.done += 1
            on_progress(self.done, len(self.runners))
            return
        async with self.progress_lock:
            self.done += 1
            await on_progress(self.done, len(self.runners))  # type: ignore[misc]

    async def worker(self) -> None:
        """Take tasks one by one until none is left or the batch stops."""
        cancelled = anyio.get_cancelled_exc_class()
        while (i := self.take()) is not None:
            start = time.perf_counter()
            try:
                status, value, error = await _attempt(i, *self.runners[i], self.timeout)
            except cancelled:
                if self.stopped:  # by fail_fast, or by a fatal error elsewhere
                    elapsed = time.perf_counter() - start
                    self.outcomes[i] = TaskOutcome(
                        i, OutcomeStatus.CANCELLED, None, None, elapsed
                    )
                raise
            except BaseException as exc:  # KeyboardInterrupt, SystemExit: propagate
                self.fail(exc)
                return
            elapsed = time.perf_counter() - start
            self.outcomes[i] = TaskOutcome(i, status, value, error, elapsed)
            if self.fail_fast and status is not OutcomeStatus.OK:
                self.stop()
                return
            if self.on_progress is not None:
                try:
                    await self.report()
                except cancelled:
                    raise
                except BaseException as exc:
                    self.fail(exc)
                    return


# ------------------------------------------------------------------ public


# Async items first: an async callable is also a sync callable returning an
# awaitable, and a single union of both forms leaves T unsolved (Never).
@overload
async def gather_limited(
    *awaitables_or_calls: Awaitable[T] | Callable[[], Awaitable[T]],
    limit: int = DEFAULT_LIMIT,
    return_exceptions: Literal[False] = False,
) -> list[T]: ...
@overload
async def gather_limited(
    *awaitables_or_calls: Awaitable[T] | Callable[[], Awaitable[T]],
    limit: int = DEFAULT_LIMIT,
    return_exceptions: bool,
) -> list[T | Exception]: ...
@overload
async def gather_limited(
    *awaitables_or_calls: Awaitable[T] | Callable[[], Awaitable[T]] | Callable[[], T],
    limit: int = DEFAULT_LIMIT,
    return_exceptions: Literal[False] = False,
) -> list[T]: ...
@overload
async def gather_limited(
    *awaitables_or_calls: Awaitable[T] | Callable[[], Awaitable[T]] | Callable[[], T],
    limit: int = DEFAULT_LIMIT,
    return_exceptions: bool,
) -> list[T | Exception]: ...
async def gather_limited(
    *awaitables_or_calls: Any,
    limit: int = DEFAULT_LIMIT,
    return_exceptions: bool = False,
) -> list[Any]:
    """Run awaitables and zero-argument callables with at most *limit* at once.

    Like `asyncio.gather`, with a bound, on asyncio and trio: results come back in
    input order. Coroutine objects start only when a slot is free (futures and
    tasks given are already running: they are only awaited). Async callables are
    called on the loop; sync callables run in worker threads.

    Cancellation: cancelling the caller cancels every item; threads still running
    are waited for; coroutines never started are closed. Without
    *return_exceptions*, the first exception cancels the other items and is raised
    unchanged once they have stopped.

    Args:
        *awaitables_or_calls: coroutine objects or other awaitables, or callables
            taking no argument (sync or async).
        limit: how many run at once (at least 1).
        return_exceptions: put each item's exception (an `Exception`) in its place
            in the result instead of raising; KeyboardInterrupt and other
            non-`Exception` errors still propagate.

    Returns:
        The results, in input order.

    Raises:
        TypeError: an item is neither awaitable nor callable (nothing is started,
            and the coroutines given are closed); *limit* is not an int.
        ValueError: *limit* is below 1.
        Exception: the first exception an item raised, unchanged.

    Example:
        >>> import asyncio, asyncbridge as ab
        >>> async def square(n: int) -> int:
        ...     return n * n
        >>> asyncio.run(ab.gather_limited(square(2), square(3), lambda: 7, limit=2))
        [4, 9, 7]
    """
    items = list(awaitables_or_calls)
    try:
        check_int(limit, "limit", func="gather_limited")
        check_bool(return_exceptions, "return_exceptions", func="gather_limited")
    except (TypeError, ValueError):
        _close_all(items)  # none of them will run
        raise
    runners = _prepare(items, "gather_limited", "awaitables_or_calls")
    results: list[Any] = [None] * len(items)
    run = _Workers(len(items))
    cancelled = anyio.get_cancelled_exc_class()

    async def worker() -> None:
        while (i := run.take()) is not None:
            kind, item = runners[i]
            try:
                results[i] = await _execute(kind, item)
            except cancelled:
                raise
            except BaseException as exc:
                if return_exceptions and isinstance(exc, Exception):
                    results[i] = exc
                else:
                    run.fail(exc)
                    return

    try:
        await run.run(min(limit, len(items)), worker)
    finally:
        _close_all(items[i] for i in run.unstarted())
    return results


@overload
async def map_async(
    fn: Callable[[A], Awaitable[T]],
    items: Iterable[A],
    *,
    limit: int = DEFAULT_LIMIT,
) -> list[T]: ...
@overload
async def map_async(
    fn: Callable[[A], T],
    items: Iterable[A],
    *,
    limit: int = DEFAULT_LIMIT,
) -> list[T]: ...
async def map_async(
    fn: Callable[[Any], Any],
    items: Iterable[Any],
    *,
    limit: int = DEFAULT_LIMIT,
    concurrency: int | None = None,
) -> list[Any]:
    """Apply *fn* to every item with at most *limit* calls at once, in order.

    The async counterpart of ``list(map(fn, items))``: an async *fn* is called and
    awaited on the loop; a sync one runs in worker threads (by `run_in_thread`'s
    rules). *items* is read into a list first.

    Cancellation: cancelling the caller cancels every call (threads still running
    are waited for). The first exception cancels the other calls and is raised
    unchanged once they have stopped.

    Args:
        fn: a one-argument callable, sync or async.
        items: any iterable (not an async one).
        limit: how many calls run at once (at least 1).
        concurrency: the deprecated name of *limit* (a `DeprecationWarning`).

    Returns:
        ``[fn(item) for item in items]``, awaited, in input order.

    Raises:
        TypeError: *fn* is not callable, *items* is not iterable, or
            *limit* is not an int (nothing is started).
        ValueError: *limit* is below 1.
        Exception: the first exception a call raised, unchanged.

    Example:
        >>> import asyncio, asyncbridge as ab
        >>> async def double(n: int) -> int:
        ...     return 2 * n
        >>> asyncio.run(ab.map_async(double, range(5), limit=2))
        [0, 2, 4, 6, 8]
    """
    _check_callable(fn, "map_async", "fn")
    bound = _the_limit(limit, concurrency, "map_async")
    limit = check_int(bound, "limit", func="map_async")
    values = _as_list(items, "map_async", "items")
    results: list[Any] = [None] * len(values)
    run = _Workers(len(values))
    cancelled = anyio.get_cancelled_exc_class()
    is_async = is_async_callable(fn)

    async def worker() -> None:
        while (i := run.take()) is not None:
            try:
                if is_async:
                    results[i] = await fn(values[i])
                else:
                    value = await run_in_thread(fn, values[i])
                    if inspect.isawaitable(value):
                        value = await value
                    results[i] = value
            except cancelled:
                raise
            except BaseException as exc:
                run.fail(exc)
                return

    await run.run(min(limit, len(values)), worker)
    return results


@overload
async def batch_execute(
    tasks: Iterable[Callable[[], Awaitable[T]] | Awaitable[T]],
    *,
    limit: int = DEFAULT_LIMIT,
    timeout: float | None = None,  # noqa: ASYNC109 - per task, not for the call
    retry: Callable[[Callable[..., Any]], Callable[..., Any]] | None = None,
    on_progress: Callable[[int, int], object] | None = None,
    fail_fast: bool = False,
) -> list[TaskOutcome[T]]: ...
@overload
async def batch_execute(
    tasks: Iterable[Callable[[], T]],
    *,
    limit: int = DEFAULT_LIMIT,
    timeout: float | None = None,  # noqa: ASYNC109 - per task, not for the call
    retry: Callable[[Callable[..., Any]], Callable[..., Any]] | None = None,
    on_progress: Callable[[int, int], object] | None = None,
    fail_fast: bool = False,
) -> list[TaskOutcome[T]]: ...
async def batch_execute(
    tasks: Iterable[Any],
    *,
    limit: int = DEFAULT_LIMIT,
    timeout: float | None = None,  # noqa: ASYNC109 - per task, not for the call
    retry: Callable[[Callable[..., Any]], Callable[..., Any]] | None = None,
    on_progress: Callable[[int, int], object] | None = None,
    fail_fast: bool = False,
    concurrency: int | None = None,
) -> list[TaskOutcome[Any]]:
    """Run many tasks, at most *limit* at once, and report how each one went.

    Tasks are zero-argument callables (async ones awaited on the loop, sync ones
    run in worker threads) or awaitables. Every task gets a `TaskOutcome`, in input
    order: a task's exception is recorded, not raised. KeyboardInterrupt,
    SystemExit and the caller's cancellation are never recorded: they cancel the
    rest and propagate.

    Timeouts and retries: *timeout* bounds each task (all its attempts, when
    retried); an async task past it is cancelled; a sync task cannot be
    interrupted, so its thread is waited for and then the task is reported as
    timed out. *retry*, such as ``ab.async_retry(max_attempts=3)``, decorates each
    task callable before anything starts.

    Cancellation: cancelling the caller cancels every task (threads still running
    are waited for) and nothing outlives the call. With *fail_fast*, the first task
    that fails or times out cancels the others: running and unstarted ones are
    reported ``cancelled``.

    Args:
        tasks: zero-argument callables (sync or async) or awaitables.
        limit: how many run at once (at least 1).
        timeout: seconds allowed per task (None: no limit).
        retry: a decorator applied to each task callable (awaitables cannot be
            retried: pass callables).
        on_progress: ``on_progress(done, total)``, sync (called on the loop: keep it
            quick) or async, after each task that ends by itself (ok, failed, timed
            out); calls are made one at a time, with ``done`` increasing. An
            exception it raises cancels the batch and propagates.
        fail_fast: cancel the other tasks at the first failure or timeout.
        concurrency: the deprecated name of *limit* (a `DeprecationWarning`).

    Returns:
        One `TaskOutcome` per task, in input order ([] for no tasks).

    Raises:
        TypeError: a task is neither callable nor awaitable, an awaitable is given
            with *retry*, or an option has the wrong type (nothing is started, and
            the coroutines given are closed).
        ValueError: *limit* below 1 or a negative *timeout*.

    Example:
        >>> import asyncio, asyncbridge as ab
        >>> async def ok() -> str:
        ...     return "done"
        >>> def boom() -> str:
        ...     raise ValueError("no")
        >>> outcomes = asyncio.run(ab.batch_execute([ok, boom], limit=2))
        >>> [(str(o.status), o.value, type(o.error).__name__) for o in outcomes]
        [('ok', 'done', 'NoneType'), ('failed', None, 'ValueError')]
    """
    limit, runners = _prepare_batch(
        tasks, limit, concurrency, timeout, retry, on_progress, fail_fast
    )
    if not runners:
        return []
    batch = _Batch(runners, timeout, on_progress, fail_fast=fail_fast)
    try:
        await batch.run(min(limit, len(runners)), batch.worker)
    finally:
        _close_all(item for _, item in (runners[i] for i in batch.unstarted()))
    return [
        outcome
        if outcome is not None
        else TaskOutcome(i, OutcomeStatus.CANCELLED, None, None, 0.0)
        for i, outcome in enumerate(batch.outcomes)
    ]
