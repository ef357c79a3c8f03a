"""Helpers shared by the retry tests: a fake clock, flaky functions, block loops.

Nothing in the retry tests sleeps for real or asserts on wall-clock time:
`fake_time()` swaps in a clock that moves only when the retry loop "sleeps" (or
when a test moves it), and `retry_testing()` removes waits where time does not
matter.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import anyio.lowlevel

import asyncbridge as ab
from asyncbridge._tools._retry import _drivers
from asyncbridge._tools._retry._block import Attempt


class FakeTime:
    """A monotonic clock moved only by the retry loop's sleeps and by `advance`.

    *overrun* is added to every sleep, as an overloaded machine wakes up late.
    """

    def __init__(self, overrun: float = 0.0) -> None:
        self.now = 0.0
        self.overrun = overrun
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds + self.overrun

    async def async_sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds + self.overrun
        await anyio.lowlevel.checkpoint()


@contextmanager
def fake_time(
    rand: Callable[[], float] = lambda: 0.0, overrun: float = 0.0
) -> Iterator[FakeTime]:
    """Swap the retry clock, sleeps and randomness for the current context."""
    fake = FakeTime(overrun)
    env = _drivers.Env(
        clock=fake.clock, sleep=fake.sleep, async_sleep=fake.async_sleep, rand=rand
    )
    token = _drivers.env_var.set(env)
    try:
        yield fake
    finally:
        _drivers.env_var.reset(token)


def flaky(outcomes: list[Any]) -> Callable[..., Any]:
    """A sync function that raises or returns the next outcome on each call."""
    it = iter(outcomes)

    def fn(*_args: Any, **_kwargs: Any) -> Any:
        outcome = next(it)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    return fn


def aflaky(outcomes: list[Any]) -> Callable[..., Awaitable[Any]]:
    """An async function that raises or returns the next outcome on each call."""
    sync = flaky(outcomes)

    async def fn(*args: Any, **kwargs: Any) -> Any:
        await anyio.lowlevel.checkpoint()
        return sync(*args, **kwargs)

    return fn


class Counter:
    """A mutable call count."""

    def __init__(self) -> None:
        self.calls = 0


def run_block(body: Callable[[Attempt], object], **options: Any) -> None:
    """Run *body* in a sync `retrying(**options)` loop."""
    for attempt in ab.retrying(**options):
        with attempt:
            body(attempt)


async def run_async_block(body: Callable[[Attempt], object], **options: Any) -> None:
    """Run *body* in an async `retrying(**options)` loop."""
    async for attempt in ab.retrying(**options):
        with attempt:
            body(attempt)


def raise_(exc: BaseException) -> None:
    """Raise *exc* (for lambdas)."""
    raise exc
