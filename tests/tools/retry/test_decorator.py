"""async_retry, the decorator form: what it wraps, the kind and shape it keeps."""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from retry_helpers import (
    Counter,
    aflaky,
    flaky,
)

import asyncbridge as ab
from asyncbridge._tools._retry import _drivers


def test_sync_function_stays_sync_and_retries() -> None:
    """A sync function gets a sync wrapper that retries until it succeeds."""
    fn = ab.async_retry(wait=0)(flaky([OSError(), OSError(), "ok"]))
    assert not inspect.iscoroutinefunction(fn)
    assert fn() == "ok"


@pytest.mark.anyio
async def test_async_function_stays_async_and_retries() -> None:
    """An async function gets an async wrapper that retries until it succeeds."""
    fn = ab.async_retry(wait=0)(aflaky([OSError(), OSError(), "ok"]))
    assert inspect.iscoroutinefunction(fn)
    assert await fn() == "ok"


def test_seed_form_and_bare_form_both_work() -> None:
    """`@async_retry(max_attempts=3)` (the seed) and bare `@async_retry` both work."""
    counter = Counter()

    @ab.async_retry(max_attempts=3)
    def seed() -> int:
        counter.calls += 1
        return 1

    @ab.async_retry
    def bare() -> int:
        return 2

    assert (seed(), bare(), counter.calls) == (1, 2, 1)
    assert "max_attempts=3" in repr(ab.async_retry(max_attempts=3))


def test_bare_form_uses_three_attempts() -> None:
    """Bare `@async_retry` makes 3 attempts by default."""
    counter = Counter()

    @ab.async_retry
    def always_fails() -> None:
        counter.calls += 1
        raise OSError

    with ab.retry_testing(attempts=10), pytest.raises(OSError):
        always_fails()
    assert counter.calls == 3


def test_metadata_and_signature_are_kept() -> None:
    """functools.wraps metadata, __wrapped__ and inspect.signature are preserved."""

    def original(x: int, /, y: str = "a", *, z: float = 1.0) -> str:
        """Doc of the original."""
        return f"{x}{y}{z}"

    async def aoriginal(x: int, *, z: float = 1.0) -> float:
        """Async doc."""
        return x + z

    for fn in (original, aoriginal):
        wrapped = ab.async_retry(fn)
        assert wrapped.__name__ == fn.__name__
        assert wrapped.__qualname__ == fn.__qualname__
        assert wrapped.__doc__ == fn.__doc__
        assert wrapped.__module__ == fn.__module__
        assert wrapped.__wrapped__ is fn  # type: ignore[attr-defined]
        assert inspect.signature(wrapped) == inspect.signature(fn)


class SyncCallable:
    def __init__(self) -> None:
        self.fn = flaky([OSError(), "sync-ok"])

    def __call__(self, x: int) -> str:
        return f"{self.fn()}{x}"


class AsyncCallable:
    def __init__(self) -> None:
        self.fn = aflaky([OSError(), "async-ok"])

    async def __call__(self, x: int) -> str:
        return f"{await self.fn()}{x}"


@pytest.mark.anyio
async def test_callable_objects_and_partials() -> None:
    """Callable objects and functools.partial keep their kind (sync or async)."""
    sync_wrapped = ab.async_retry(wait=0)(SyncCallable())
    async_wrapped = ab.async_retry(wait=0)(AsyncCallable())
    partial_wrapped = ab.async_retry(wait=0)(
        functools.partial(aflaky([OSError(), "p"]), 1)
    )
    assert not inspect.iscoroutinefunction(sync_wrapped)
    assert inspect.iscoroutinefunction(async_wrapped)
    assert inspect.iscoroutinefunction(partial_wrapped)
    assert sync_wrapped(1) == "sync-ok1"
    assert await async_wrapped(2) == "async-ok2"
    assert await partial_wrapped() == "p"


@pytest.mark.anyio
async def test_sync_callable_returning_awaitables_retries_when_awaited() -> None:
    """A sync callable returning awaitables: sync wrapper, fresh awaitable per retry."""
    made: list[Awaitable[Any]] = []
    inner = aflaky([OSError("1"), OSError("2"), "done"])

    def make(x: int) -> Awaitable[Any]:
        awaitable = inner(x)
        made.append(awaitable)
        return awaitable

    wrapped = ab.async_retry(wait=0)(make)
    assert not inspect.iscoroutinefunction(wrapped)
    result = wrapped(1)
    assert inspect.isawaitable(result)
    assert len(made) == 1  # nothing more happens until it is awaited
    assert await result == "done"
    assert len(made) == 3
    assert len(set(map(id, made))) == 3


@pytest.mark.anyio
async def test_sync_callable_failing_then_returning_an_awaitable() -> None:
    """A sync failure followed by an awaitable: retrying goes on when awaited."""
    steps: list[str] = []
    plan = iter(["sync error", "async error", "done"])

    async def fails() -> str:
        raise OSError("async")

    async def succeeds() -> str:
        return "done"

    def make() -> Awaitable[str]:
        step = next(plan)
        steps.append(step)
        if step == "sync error":
            raise OSError("sync")
        return fails() if step == "async error" else succeeds()

    wrapped = ab.async_retry(max_attempts=3, wait=0)(make)
    assert await wrapped() == "done"
    assert steps == ["sync error", "async error", "done"]


@pytest.mark.anyio
async def test_sync_callable_returning_an_awaitable_that_succeeds() -> None:
    """An awaitable that succeeds at once is awaited once, its value returned."""
    inner = aflaky(["first"])

    def make() -> Awaitable[Any]:
        return inner()

    assert await ab.async_retry(make)() == "first"


@pytest.mark.anyio
async def test_awaitable_result_checked_by_retry_if_result() -> None:
    """retry_if_result sees the awaited value, not the awaitable."""
    inner = aflaky([None, None, 3])
    wrapped = ab.async_retry(retry_if_result=lambda v: v is None, wait=0)(inner)
    assert await wrapped() == 3


def test_success_path_reads_no_clock_without_timeout() -> None:
    """Without a timeout, a successful call never reads the retry clock."""

    def exploding_clock() -> float:
        raise AssertionError("clock read on the success path")

    token = _drivers.env_var.set(_drivers.Env(clock=exploding_clock))
    try:
        assert ab.async_retry(lambda: 5)() == 5
    finally:
        _drivers.env_var.reset(token)


@pytest.mark.anyio
async def test_attempt_timeout_cancels_a_slow_attempt_and_retries() -> None:
    """attempt_timeout cancels a stuck attempt (TimeoutError), then retries it."""
    counter = Counter()
    never = anyio.Event()

    @ab.async_retry(attempt_timeout=0.01, wait=0)
    async def fn() -> str:
        counter.calls += 1
        if counter.calls == 1:
            await never.wait()
        return "second"

    assert await fn() == "second"
    assert counter.calls == 2


@pytest.mark.anyio
async def test_attempt_timeout_gives_up_with_timeout_error() -> None:
    """Every attempt timing out ends in the last TimeoutError, with a note."""
    never = anyio.Event()

    @ab.async_retry(max_attempts=2, attempt_timeout=0.001, wait=0)
    async def fn() -> None:
        await never.wait()

    with pytest.raises(TimeoutError) as info:
        await fn()
    assert "after 2 attempts" in info.value.__notes__[0]


def test_attempt_timeout_on_a_sync_callable_is_a_type_error() -> None:
    """attempt_timeout needs an async callable: a sync one fails at decoration."""
    with pytest.raises(TypeError, match="attempt_timeout needs an async function"):
        ab.async_retry(attempt_timeout=1)(lambda: None)


@pytest.mark.parametrize("bad", [42, "name", None])
def test_decorating_a_non_callable_is_a_type_error(bad: object) -> None:
    """Decorating something that is not callable fails at once."""
    with pytest.raises(TypeError, match="can only decorate a callable"):
        ab.async_retry(max_attempts=2)(bad)  # type: ignore[call-overload]


@pytest.mark.parametrize(
    "decorate",
    [ab.async_retry, ab.async_retry(max_attempts=2)],
    ids=["bare", "configured"],
)
def test_decorating_a_coroutine_object_closes_it_and_explains(
    decorate: Callable[[Any], Any],
) -> None:
    """A coroutine object (f() instead of f) is closed and refused, with a hint."""

    async def fetch() -> None:
        pass

    coro = fetch()
    with pytest.raises(TypeError, match="notice the parentheses"):
        decorate(coro)
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED


def test_generator_functions_are_refused() -> None:
    """Generator functions cannot be retried (calling them runs nothing)."""

    def gen() -> Iterator[int]:
        yield 1

    async def agen() -> Any:
        yield 1

    for fn in (gen, agen):
        with pytest.raises(
            TypeError, match=r"cannot decorate the (async )?generator fun"
        ):
            ab.async_retry(fn)


class Bridged:
    """An async method bridged by mixed_execution_safe, retried above it."""

    def __init__(self) -> None:
        self.calls = 0

    @ab.async_retry(wait=0)
    @ab.mixed_execution_safe
    async def fetch(self, x: int) -> int:
        self.calls += 1
        if self.calls == 1:
            raise OSError
        return x


@pytest.mark.anyio
async def test_a_bridged_async_method_gets_an_async_wrapper() -> None:
    """Kind is judged by is_async_callable: an asyncbridge-marked method is async."""
    assert ab.is_async_callable(Bridged.__dict__["fetch"].__wrapped__)
    assert inspect.iscoroutinefunction(Bridged.fetch)
    service = Bridged()
    assert await service.fetch(4) == 4
    assert service.calls == 2


@pytest.mark.asyncio
async def test_a_sync_function_returning_a_task_gives_an_awaitable_that_retries() -> (
    None
):
    """A Task-returning sync function: its wrapper returns a Task that retries.

    So its static type (the function's own, see tests/typing/retry_types.py) holds.
    """
    made: list[asyncio.Task[str]] = []
    outcomes = iter([OSError("first"), "second"])

    async def work() -> str:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def start() -> asyncio.Task[str]:
        task = asyncio.ensure_future(work())
        made.append(task)
        return task

    wrapped = ab.async_retry(wait=0)(start)
    awaitable = wrapped()
    assert isinstance(awaitable, asyncio.Task)
    assert awaitable not in made  # a new task, which retries
    assert await awaitable == "second"
    assert len(made) == 2


def test_argument_defaults_are_readable_on_the_wrapper() -> None:
    """__defaults__ and __kwdefaults__ are the function's (as tenacity keeps them)."""

    def positional(a: int = 1, b: str = "b") -> str:
        return f"{a}{b}"

    def keyword_only(*, a: int = 1) -> int:
        return a

    async def async_positional(a: int = 2) -> int:
        return a

    for fn in (positional, keyword_only, async_positional):
        wrapped = ab.async_retry(fn)
        assert wrapped.__defaults__ == fn.__defaults__  # type: ignore[attr-defined]
        assert wrapped.__kwdefaults__ == fn.__kwdefaults__  # type: ignore[attr-defined]
    assert ab.async_retry(positional)() == "1b"  # still filled in by the function
