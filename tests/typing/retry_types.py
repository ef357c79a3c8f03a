# pyright: standard
# pyright: reportUnnecessaryTypeIgnoreComment=true
"""Type-checked, never run: what `async_retry` and friends keep through decoration.

A line ending in ``# type: ignore[<code>]`` must be an error: with mypy's
``warn_unused_ignores`` (part of --strict), an ignore that is not needed fails.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine
from typing import Any, assert_type

import asyncbridge as ab


@ab.async_retry
def bare_sync(x: int, *, label: str = "") -> str:
    return f"{label}{x}"


@ab.async_retry(max_attempts=3)
async def seed_form(x: int) -> str:
    return str(x)


@ab.async_retry(
    5,
    on=(OSError, TimeoutError),
    retry_if_result=lambda value: value is None,
    timeout=10,
    attempt_timeout=1.5,
    wait_initial=0.05,
    wait_max=2,
    wait_exp_base=3,
    wait_jitter=False,
    wait_hint=lambda _exc: None,
    before_sleep=lambda _state: None,
    on_giveup=lambda _state: None,
    reraise=False,
    budget=ab.RetryBudget(ratio=0.1, min_per_second=1),
)
async def every_option(x: int) -> str | None:
    return str(x)


@ab.async_retry(on=lambda exc: isinstance(exc, KeyError), wait=lambda n, _exc: 0.1 * n)
def predicate_and_custom_wait() -> int:
    return 1


async def async_hook(state: ab.RetryState) -> None:
    assert_type(state.attempt, int)
    assert_type(state.exception, Exception | None)
    assert_type(state.wait, float)
    assert_type(state.elapsed, float)
    assert_type(state.fn_name, str)


@ab.async_retry(before_sleep=async_hook, on_giveup=async_hook, wait=0.2)
def sync_with_async_hooks(x: int) -> bytes:
    return bytes(x)


def returns_awaitable(x: int) -> Awaitable[int]:
    async def inner() -> int:
        return x

    return inner()


retried_awaitable = ab.async_retry(returns_awaitable)


def starts_a_task(x: int) -> asyncio.Task[int]:
    return asyncio.ensure_future(returns_awaitable(x))


def returns_a_future() -> asyncio.Future[str]:
    return asyncio.get_running_loop().create_future()


# A Task or Future returned by a sync function: the wrapper returns a Task that
# retries (running already, as the one it replaces), so the types stay.
retried_task = ab.async_retry(starts_a_task)
retried_future = ab.async_retry(max_attempts=2)(returns_a_future)


class Client:
    @ab.async_retry
    def method(self, x: int) -> str:
        return str(x)

    @ab.async_retry(max_attempts=2)
    async def amethod(self, x: int) -> list[int]:
        return [x]

    @classmethod
    @ab.async_retry
    def cls_outer(cls, x: int) -> float:
        return float(x)

    @ab.async_retry
    @classmethod
    def cls_inner(cls, x: int) -> float:
        return float(x)

    @ab.async_retry(max_attempts=2)
    @staticmethod
    async def static_inner(x: int) -> int:
        return x


async def check_async() -> None:
    # (an `async def` call is a Coroutine to mypy, a CoroutineType to pyright)
    coro: Coroutine[Any, Any, str] = seed_form(1)
    coro.close()
    assert_type(await seed_form(1), str)
    assert_type(await seed_form(x=1), str)
    assert_type(await every_option(2), str | None)
    assert_type(await Client().amethod(3), list[int])
    assert_type(await Client.static_inner(3), int)
    assert_type(await retried_awaitable(4), int)
    assert_type(retried_awaitable(4), Awaitable[int])
    assert_type(retried_task(4), asyncio.Task[int])
    assert_type(await retried_task(4), int)
    assert_type(retried_future(), asyncio.Future[str])
    retried_task(4).cancel()
    async for attempt in ab.retrying(wait=0):
        with attempt:
            assert_type(attempt.number, int)


def check_sync() -> None:
    assert_type(bare_sync(1), str)
    assert_type(bare_sync(1, label="n"), str)
    assert_type(predicate_and_custom_wait(), int)
    assert_type(sync_with_async_hooks(3), bytes)
    assert_type(Client().method(1), str)
    assert_type(Client.cls_outer(1), float)
    assert_type(Client.cls_inner(1), float)
    for attempt in ab.retrying(3, on=OSError, timeout=5, budget=ab.RetryBudget()):
        with attempt:
            assert_type(attempt.number, int)


def check_errors() -> None:
    bare_sync("1")  # type: ignore[arg-type]
    bare_sync(1, labl="")  # type: ignore[call-arg]
    _ = seed_form()  # type: ignore[call-arg]
    Client().method("x")  # type: ignore[arg-type]
    ab.async_retry(max_attempts="3")  # type: ignore[call-overload]
    ab.async_retry(wait_jitter=1.5)  # type: ignore[call-overload]
    ab.retrying(retry_if_result=lambda _v: True)  # type: ignore[call-arg]
    ab.retrying(attempt_timeout=1.0)  # type: ignore[call-arg]


def check_error_types() -> None:
    try:
        bare_sync(1)
    except ab.RetryError as exc:
        assert_type(exc.attempts, tuple[ab.RetryState, ...])
        assert_type(exc.last, ab.RetryState | None)
        base: ab.AsyncBridgeError = exc  # (the assignment is the check)
        del base


@ab.retry_testing(attempts=2)
def check_testing_decorator(x: int) -> str:
    with ab.retry_testing(wait=True):
        return bare_sync(x)


assert_type(check_testing_decorator(1), str)
