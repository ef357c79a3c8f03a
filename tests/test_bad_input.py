"""Every public callable, given its typical wrong inputs: a clear error, nothing lost.

Each row calls one public function with one wrong argument and expects a TypeError
or ValueError whose message names the parameter. A coroutine object passed where a
function belongs is closed (no "never awaited" warning). After the whole table, the
portal and the pools still work.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import pytest

import asyncbridge as ab


async def coro_fn() -> int:
    return 1


async def agen_fn() -> AsyncIterator[int]:
    yield 1


def sync_fn() -> int:
    return 1


MADE: list[Any] = []  # coroutine objects made for rows; each must end up closed


def C() -> Any:  # noqa: N802  (reads as a value in the table: C())
    """A fresh coroutine object, for rows that pass one where a function belongs."""
    coroutine = coro_fn()
    MADE.append(coroutine)
    return coroutine


BAD_NUMBERS = [-1, math.nan, math.inf, 1e300, "1"]


def _rows() -> list[Any]:  # noqa: PLR0915  (one table, read top to bottom)
    rows: list[tuple[str, Callable[[], Any], str]] = []

    def row(name: str, call: Callable[[], Any], param: str) -> None:
        rows.append((name, call, param))

    # sync -> async
    row("run_sync(None)", lambda: ab.run_sync(None), "fn_or_awaitable")  # type: ignore[call-overload]
    row("run_sync(sync_fn)", lambda: ab.run_sync(sync_fn), "fn_or_awaitable")  # type: ignore[call-overload]
    row("run_sync(agen_fn)", lambda: ab.run_sync(agen_fn), "fn_or_awaitable")  # type: ignore[call-overload]
    row("run_sync(42)", lambda: ab.run_sync(42), "fn_or_awaitable")  # type: ignore[call-overload]
    for bad in BAD_NUMBERS:
        row(
            f"run_sync(timeout={bad!r})",
            lambda b=bad: ab.run_sync(coro_fn, timeout=b),
            "timeout",
        )
        row(
            f"syncify(timeout={bad!r})",
            lambda b=bad: ab.syncify(coro_fn, timeout=b),
            "timeout",
        )
        row(
            f"async_safe(timeout={bad!r})",
            lambda b=bad: ab.async_safe(timeout=b),
            "timeout",
        )
        row(
            f"mixed_execution_safe(timeout={bad!r})",
            lambda b=bad: ab.mixed_execution_safe(timeout=b),
            "timeout",
        )
    row("run_sync(backend=1)", lambda: ab.run_sync(coro_fn, backend=1), "backend")  # type: ignore[call-overload]
    row(
        "run_sync(on_loop_conflict=[])",
        lambda: ab.run_sync(coro_fn, on_loop_conflict=[]),  # type: ignore[call-overload]
        "on_loop_conflict",
    )
    row("syncify(C())", lambda: ab.syncify(C()), "async_fn")
    row("syncify(sync_fn)", lambda: ab.syncify(sync_fn), "async_fn")  # type: ignore[arg-type]
    row("syncify(None)", lambda: ab.syncify(None), "async_fn")  # type: ignore[arg-type]
    # async -> sync (awaited in a loop by the test)
    row("run_in_thread(C())", lambda: ab.run_in_thread(C()), "sync_fn")  # type: ignore[arg-type]
    row("run_in_thread(coro_fn)", lambda: ab.run_in_thread(coro_fn), "sync_fn")  # type: ignore[arg-type]
    row("run_in_thread(agen_fn)", lambda: ab.run_in_thread(agen_fn), "sync_fn")  # type: ignore[arg-type]
    row("run_in_thread(None)", lambda: ab.run_in_thread(None), "sync_fn")  # type: ignore[arg-type]
    row(
        "run_in_thread(executor=1)",
        lambda: ab.run_in_thread(sync_fn, executor=1),
        "executor",
    )  # type: ignore[arg-type]
    row(
        "run_in_thread(executor='nope')",
        lambda: ab.run_in_thread(sync_fn, executor="nope"),
        "nope",
    )
    row(
        "run_in_thread(limiter=0)",
        lambda: ab.run_in_thread(sync_fn, limiter=0),
        "limiter",
    )
    row(
        "run_in_thread(limiter=1.5)",
        lambda: ab.run_in_thread(sync_fn, limiter=1.5),
        "limiter",
    )  # type: ignore[arg-type]
    row(
        "run_in_thread(cancellable=1)",
        lambda: ab.run_in_thread(sync_fn, cancellable=1),
        "cancellable",
    )  # type: ignore[arg-type]
    row("asyncify(C())", lambda: ab.asyncify(C()), "sync_fn")  # type: ignore[arg-type]
    row("asyncify(agen_fn)", lambda: ab.asyncify(agen_fn), "sync_fn")  # type: ignore[arg-type]
    row("asyncify(executor=1)", lambda: ab.asyncify(sync_fn, executor=1), "executor")  # type: ignore[arg-type]
    row("asyncify(limiter=-1)", lambda: ab.asyncify(sync_fn, limiter=-1), "limiter")
    # decorators
    row("async_safe(C())", lambda: ab.async_safe(C()), "fn")
    row("async_safe(42)", lambda: ab.async_safe(42), "async_safe")  # type: ignore[call-overload]
    row("async_safe(agen_fn)", lambda: ab.async_safe(agen_fn), "async generator")  # type: ignore[call-overload]
    row("mixed_execution_safe(C())", lambda: ab.mixed_execution_safe(C()), "fn")
    row(
        "mixed_execution_safe(executor=1)",
        lambda: ab.mixed_execution_safe(executor=1),
        "executor",
    )  # type: ignore[call-overload]
    row("async_retry(0)", lambda: ab.async_retry(0), "max_attempts")
    row("async_retry(on=42)", lambda: ab.async_retry(on=42), "on")  # type: ignore[call-overload]
    row(
        "async_retry(wait_initial=-1)",
        lambda: ab.async_retry(wait_initial=-1),
        "wait_initial",
    )
    row("async_retry(timeout=nan)", lambda: ab.async_retry(timeout=math.nan), "timeout")
    # configure and executors
    row(
        "configure(default_workers=0)",
        lambda: ab.configure(default_workers=0),
        "default_workers",
    )
    row(
        "configure(default_workers='4')",
        lambda: ab.configure(default_workers="4"),  # type: ignore[arg-type]
        "default_workers",
    )
    row("configure(sync_loop=[])", lambda: ab.configure(sync_loop=[]), "sync_loop")  # type: ignore[arg-type]
    row(
        "configure(debug_wait_threshold=0)",
        lambda: ab.configure(debug_wait_threshold=0),
        "debug_wait_threshold",
    )
    row("configure(nope=1)", lambda: ab.configure(nope=1), "nope")  # type: ignore[call-arg]
    for bad in BAD_NUMBERS:
        row(
            f"configure(exit_grace={bad!r})",
            lambda b=bad: ab.configure(exit_grace=b),
            "exit_grace",
        )
    row("executors.get(1)", lambda: ab.executors.get(1), "name")  # type: ignore[arg-type]
    row(
        "executors.register('', pool)",
        lambda: ab.executors.register("", concurrent.futures.ThreadPoolExecutor()),
        "name",
    )
    row("executors.register('x', 1)", lambda: ab.executors.register("x", 1), "executor")  # type: ignore[arg-type]
    row("executors.dedicated(None)", lambda: ab.executors.dedicated(None), "name")  # type: ignore[arg-type]
    row(
        "executors.shutdown(wait='no')",
        lambda: ab.executors.shutdown(wait="no"),
        "wait",
    )  # type: ignore[arg-type]
    row(
        "executors.shutdown(cancel_futures=1)",
        lambda: ab.executors.shutdown(cancel_futures=1),
        "cancel_futures",
    )  # type: ignore[arg-type]
    # dual interface
    row("sync_twin(C())", lambda: ab.sync_twin(C()), "async_fn")  # type: ignore[arg-type]
    row("sync_twin(sync_fn)", lambda: ab.sync_twin(sync_fn), "async_fn")  # type: ignore[arg-type]
    row("async_twin(coro_fn)", lambda: ab.async_twin(coro_fn), "sync_fn")  # type: ignore[arg-type]
    row(
        "async_twin(executor=1)", lambda: ab.async_twin(sync_fn, executor=1), "executor"
    )  # type: ignore[arg-type]
    # iterators and context managers
    row("iterate_in_thread(42)", lambda: ab.iterate_in_thread(42), "iterable")  # type: ignore[arg-type]
    row("iterate_in_thread(C())", lambda: ab.iterate_in_thread(C()), "iterable")  # type: ignore[arg-type]
    row("iterate_sync([1])", lambda: ab.iterate_sync([1]), "async_iterable")  # type: ignore[arg-type]
    row("iterate_sync(C())", lambda: ab.iterate_sync(C()), "async_iterable")  # type: ignore[arg-type]
    row("async_context(42)", lambda: ab.async_context(42), "cm")  # type: ignore[arg-type]
    row("sync_context(42)", lambda: ab.sync_context(42), "acm")  # type: ignore[arg-type]
    row(
        "sync_context(backend='x')",
        lambda: ab.sync_context(_acm(), backend="x"),
        "backend",
    )
    # batches (awaited)
    row("gather_limited(42)", lambda: ab.gather_limited(42), "awaitables_or_calls")  # type: ignore[call-overload]
    row("gather_limited(limit=0)", lambda: ab.gather_limited(C(), limit=0), "limit")
    row("map_async(C(), [])", lambda: ab.map_async(C(), []), "fn")  # type: ignore[call-overload]
    row("map_async(abs, 42)", lambda: ab.map_async(abs, 42), "items")  # type: ignore[call-overload]
    row("map_async(limit=0)", lambda: ab.map_async(abs, [], limit=0), "limit")
    row("batch_execute([42])", lambda: ab.batch_execute([42]), "tasks")  # type: ignore[list-item]
    row(
        "batch_execute(timeout=-1)",
        lambda: ab.batch_execute([sync_fn], timeout=-1),
        "timeout",
    )
    row(
        "batch_execute(fail_fast=1)",
        lambda: ab.batch_execute([sync_fn], fail_fast=1),
        "fail_fast",
    )  # type: ignore[call-overload]
    return [pytest.param(call, param, id=name) for name, call, param in rows]


def _acm() -> Any:
    import contextlib  # noqa: PLC0415

    @contextlib.asynccontextmanager
    async def session() -> AsyncIterator[None]:
        yield

    return session()


async def _call(call: Callable[[], Any]) -> None:
    result = call()
    if inspect.isawaitable(result):
        await result


@pytest.mark.parametrize(("call", "param"), _rows())
def test_wrong_input_is_refused_naming_the_parameter(
    call: Callable[[], Awaitable[Any] | Any], param: str
) -> None:
    """A wrong argument gives TypeError/ValueError naming the parameter at once."""
    with pytest.raises((TypeError, ValueError)) as info:
        asyncio.run(_call(call))
    assert param in str(info.value), str(info.value)


def test_coroutines_given_by_mistake_are_closed() -> None:
    """Every coroutine object passed where a function belongs was closed."""
    assert MADE, "run after the table"
    assert all(inspect.getcoroutinestate(c) == inspect.CORO_CLOSED for c in MADE)


def test_the_bridge_works_after_the_table() -> None:
    """After all the refusals, the portal and the pools still work."""
    assert ab.run_sync(coro_fn) == 1
    assert anyio.run(ab.run_in_thread, abs, -1) == 1
    assert ab.executors.get().submit(abs, -2).result() == 2
