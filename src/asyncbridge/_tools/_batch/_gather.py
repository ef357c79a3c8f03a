"""`gather_limited` and `map_async`: a bounded gather, and a bounded map."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

import anyio

from asyncbridge._core._detect import is_async_callable
from asyncbridge._core._validate import check_bool, check_int

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

__all__ = ["gather_limited", "map_async"]

T = TypeVar("T")
A = TypeVar("A")


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
            and the coroutines given are closed); *limit* is not an int, or
            *return_exceptions* not a bool.
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
        close_all(items)  # none of them will run
        raise
    runners = classify(items, "gather_limited", "awaitables_or_calls")
    results: list[Any] = [None] * len(items)
    run = Workers(len(items))
    cancelled = anyio.get_cancelled_exc_class()

    async def worker() -> None:
        while (i := run.take()) is not None:
            kind, item = runners[i]
            try:
                results[i] = await execute(kind, item)
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
        close_all(items[i] for i in run.unstarted())
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
    check_fn(fn, "map_async", "fn")
    bound = the_limit(limit, concurrency, "map_async")
    limit = check_int(bound, "limit", func="map_async")
    values = as_list(items, "map_async", "items")
    results: list[Any] = [None] * len(values)
    run = Workers(len(values))
    cancelled = anyio.get_cancelled_exc_class()
    kind = ASYNC if is_async_callable(fn) else SYNC

    async def worker() -> None:
        while (i := run.take()) is not None:
            try:
                results[i] = await execute(kind, fn, values[i])
            except cancelled:
                raise
            except BaseException as exc:
                run.fail(exc)
                return

    await run.run(min(limit, len(values)), worker)
    return results
