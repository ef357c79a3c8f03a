"""`batch_execute`: run many tasks under a limit and report how each one went."""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast, overload

import anyio

from asyncbridge._core._detect import is_async_callable
from asyncbridge._core._validate import check_bool, check_int, check_timeout

from ._common import (
    ASYNC,
    DEFAULT_LIMIT,
    SYNC,
    Workers,
    as_list,
    check_fn,
    classify,
    close_all,
    execute,
    the_limit,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable

__all__ = ["OutcomeStatus", "TaskOutcome", "batch_execute"]

T = TypeVar("T")


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


async def _attempt(
    index: int,
    kind: int,
    item: Any,
    timeout: float | None,  # noqa: ASYNC109 - the per-task limit, applied inside
) -> tuple[OutcomeStatus, Any, BaseException | None]:
    """Run one task of a batch; an `Exception` or the timeout becomes its outcome."""
    try:
        if timeout is None:
            return OutcomeStatus.OK, await execute(kind, item), None
        with anyio.move_on_after(timeout):  # past here only when it timed out
            return OutcomeStatus.OK, await execute(kind, item), None
    except Exception as exc:
        return OutcomeStatus.FAILED, None, exc
    error = TimeoutError(f"batch_execute(): task {index} timed out after {timeout} s")
    return OutcomeStatus.TIMED_OUT, None, error


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
        bound = the_limit(limit, concurrency, "batch_execute")
        size = check_int(bound, "limit", func="batch_execute")
        check_timeout(timeout)
        if retry is not None:
            check_fn(retry, "batch_execute", "retry")
        if on_progress is not None:
            check_fn(on_progress, "batch_execute", "on_progress")
        check_bool(fail_fast, "fail_fast", func="batch_execute")
    except (TypeError, ValueError):
        if isinstance(tasks, list | tuple):
            close_all(cast("Iterable[object]", tasks))  # none of them will run
        raise
    items = as_list(tasks, "batch_execute", "tasks")
    runners = classify(items, "batch_execute", "tasks", allow_awaitables=retry is None)
    if retry is None:
        return size, runners
    decorate = cast("Callable[[Callable[..., Any]], Callable[..., Any]]", retry)
    decorated = [decorate(item) for _, item in runners]
    return size, [(ASYNC if is_async_callable(fn) else SYNC, fn) for fn in decorated]


class _Batch(Workers):
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
        close_all(item for _, item in (runners[i] for i in batch.unstarted()))
    return [
        outcome
        if outcome is not None
        else TaskOutcome(i, OutcomeStatus.CANCELLED, None, None, 0.0)
        for i, outcome in enumerate(batch.outcomes)
    ]
