# pyright: standard
# pyright: reportUnnecessaryTypeIgnoreComment=true
"""Type-checked, never run: what the twins, iterator, context and batch APIs keep.

A line ending in ``# type: ignore[<code>]`` must be an error: with mypy's
``warn_unused_ignores`` (part of --strict), an ignore that is not needed fails.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Generator,
    Iterator,
)
from typing import Any, assert_type

import asyncbridge as ab
from asyncbridge.typing import AsyncTwin, SyncTwin


class Client(ab.DualInterface, suffix="_async", generate=True):
    async def fetch_async(self, url: str, *, retries: int = 0) -> bytes:
        return url.encode() * (retries + 1)

    fetch = ab.sync_twin(fetch_async)

    async def stream_async(self, n: int) -> AsyncIterator[int]:
        for i in range(n):
            yield i

    stream = ab.sync_twin(stream_async)

    def compute(self, x: int) -> float:
        return x / 2

    compute_async = ab.async_twin(compute)
    compute_in_pool = ab.async_twin(compute, executor="default", cancellable=True)


class Sub(Client, loop_bound=False, backend="trio"):
    pass


client = Client()
assert_type(client.fetch("https://example.org"), bytes)
assert_type(client.fetch("u", retries=2), bytes)
assert_type(client.stream(3), Generator[int, None, None])
# (`.close()` uses each coroutine, which mypy insists on.)
assert_type(client.compute_async(4), Coroutine[Any, Any, float]).close()
assert_type(client.compute_in_pool(4), Coroutine[Any, Any, float]).close()
assert_type(Sub().fetch("u"), bytes)

# On the class: the descriptor itself, callable with the instance first.
assert_type(Client.fetch(client, "u"), bytes)
assert_type(Client.compute_async(client, 1), Coroutine[Any, Any, float]).close()
assert isinstance(Client.fetch, SyncTwin)
assert isinstance(Client.compute_async, AsyncTwin)

# Twins keep parameters.
client.fetch(42)  # type: ignore[arg-type]
client.fetch("u", tries=1)  # type: ignore[call-arg]
_ = client.compute_async("x")  # type: ignore[arg-type]


def plain(self: object) -> int:
    return 1


ab.sync_twin(plain)  # type: ignore[arg-type]


# --------------------------------------------------- iterators and contexts


def lines() -> Iterator[str]:
    yield "a"


async def numbers() -> AsyncIterator[int]:
    yield 1


async def iterate() -> None:
    async for line in ab.iterate_in_thread(lines()):
        assert_type(line, str)
    async with ab.iterate_in_thread([1, 2]) as it:
        assert_type(await it.__anext__(), int)
    async with ab.async_context(threading.Lock()) as locked:
        assert_type(locked, bool)


for number in ab.iterate_sync(numbers()):
    assert_type(number, int)
assert_type(ab.iterate_sync(numbers(), backend="trio"), Generator[int, None, None])


@contextlib.asynccontextmanager
async def session() -> AsyncIterator[str]:
    yield "s"


with ab.sync_context(session()) as state:
    assert_type(state, str)

ab.iterate_in_thread(42)  # type: ignore[arg-type]
ab.iterate_sync([1, 2])  # type: ignore[arg-type]


# ------------------------------------------------------------------- batches


async def double(n: int) -> int:
    return n * 2


def blocking_double(n: int) -> int:
    return n * 2


async def text() -> str:
    return ""


def blocking_text() -> str:
    return ""


async def zero() -> int:
    return 0


async def identity(n: int) -> int:
    return n


def blocking_zero() -> int:
    return 0


async def gather_forms() -> None:
    # async callables alone (each is also "a callable returning an awaitable")
    assert_type(await ab.gather_limited(zero, zero), list[int])
    assert_type(await ab.gather_limited(zero(), zero), list[int])
    assert_type(await ab.gather_limited(functools.partial(identity, 1)), list[int])
    partials = [functools.partial(identity, i) for i in range(3)]
    assert_type(await ab.gather_limited(*partials, limit=2), list[int])
    calls: list[Callable[[], Awaitable[int]]] = [zero, zero]
    assert_type(await ab.gather_limited(*calls), list[int])
    assert_type(
        await ab.gather_limited(zero, zero, return_exceptions=True),
        list[int | Exception],
    )
    # sync callables, and both kinds mixed
    assert_type(await ab.gather_limited(blocking_zero, blocking_zero), list[int])
    assert_type(await ab.gather_limited(blocking_zero, zero, zero()), list[int])
    assert_type(
        await ab.gather_limited(blocking_zero, zero, return_exceptions=True),
        list[int | Exception],
    )
    await ab.gather_limited(42)  # type: ignore[call-overload]


async def batches() -> None:
    assert_type(await ab.map_async(double, [1, 2]), list[int])
    assert_type(await ab.map_async(blocking_double, range(3), limit=2), list[int])
    assert_type(await ab.gather_limited(text(), text, limit=2), list[str])
    assert_type(await ab.gather_limited(blocking_text, limit=2), list[str])
    assert_type(
        await ab.gather_limited(text(), return_exceptions=True),
        list[str | Exception],
    )
    outcomes = await ab.batch_execute([text, text], limit=4, timeout=1.0)
    assert_type(outcomes, list[ab.TaskOutcome[str]])
    assert_type(outcomes[0].value, str | None)
    assert_type(outcomes[0].status, ab.OutcomeStatus)
    assert_type(outcomes[0].error, BaseException | None)
    assert_type(outcomes[0].duration, float)
    assert_type(await ab.batch_execute([text()]), list[ab.TaskOutcome[str]])
    assert_type(await ab.batch_execute([blocking_text]), list[ab.TaskOutcome[str]])
    await ab.batch_execute([text], retry=ab.async_retry(max_attempts=3))
    await ab.batch_execute([text], on_progress=lambda _done, _total: None)
    await ab.map_async(double, ["x"])  # type: ignore[arg-type]
    await ab.batch_execute([text], limit="4")  # type: ignore[call-overload]
