"""What the three bounded helpers share: checks, how an item runs, the workers.

Every item is classified before anything starts (`classify`): an awaitable is
awaited, an async callable called and awaited on the loop, a sync one called in a
worker thread (an awaitable it returns is awaited too). `Workers` runs
``min(limit, len(items))`` worker tasks in one anyio task group; each takes the next
index when it has finished one.
"""

from __future__ import annotations

import asyncio
import inspect
import warnings
from typing import TYPE_CHECKING, Any, Final, cast

import anyio

from asyncbridge._core._detect import is_async_callable, user_stacklevel
from asyncbridge._core._validate import check_callable, describe, reject_coroutine
from asyncbridge._engine._offload import run_in_thread

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Iterable

__all__ = [
    "ASYNC",
    "AWAIT",
    "DEFAULT_LIMIT",
    "SYNC",
    "Workers",
    "as_list",
    "check_fn",
    "classify",
    "close_all",
    "execute",
    "the_limit",
]

DEFAULT_LIMIT: Final = 10

# How an item runs (see `classify`).
AWAIT: Final = 0  # an awaitable: await it
ASYNC: Final = 1  # an async callable: call it on the loop, await the result
SYNC: Final = 2  # a sync callable: call it in a worker thread (await what it returns)


def the_limit(limit: object, concurrency: object, func: str) -> object:
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
            stacklevel=user_stacklevel(),
        )
        return concurrency
    return limit


def close_all(items: Iterable[object]) -> None:
    """Close coroutine objects and cancel futures that will never be awaited."""
    for item in items:
        if inspect.iscoroutine(item):
            item.close()
        elif asyncio.isfuture(item):
            item.cancel()


def classify(
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
                runners.append((AWAIT, item))
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
                runners.append((ASYNC if is_async_callable(item) else SYNC, item))
                continue
        else:
            problem = describe(item)
        close_all(items)  # none of them will run
        raise TypeError(
            f"{func}() expected awaitables or zero-argument callables (sync or async) "
            f"for {param}, but {param}[{index}] is {problem}"
        )
    return runners


def as_list(items: object, func: str, param: str) -> list[Any]:
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


def check_fn(fn: object, func: str, param: str) -> None:
    reject_coroutine(fn, func, param, "Pass the function itself.")
    check_callable(fn, param, func=func)


async def execute(kind: int, item: Any, *args: Any) -> Any:
    """Run one item as its kind says (a callable with *args*), and return its value."""
    if kind == AWAIT:
        return await item
    if kind == ASYNC:
        return await item(*args)
    value = await run_in_thread(item, *args)
    if inspect.isawaitable(value):  # e.g. `lambda: fetch(url)`
        value = await value
    return value


class Workers:
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
