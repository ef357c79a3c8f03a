"""async_retry, retrying and retry_testing: what is retried, when, and how it ends.

Nothing here sleeps for real or asserts on wall-clock time: `fake_time()` swaps in a
clock that moves only when the retry loop "sleeps" (or when a test moves it), and
`retry_testing()` removes waits where time does not matter.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import functools
import inspect
import logging
import pickle
import re
import threading
import traceback
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import asyncbridge as ab
from asyncbridge import _retry


class FakeTime:
    """A monotonic clock moved only by the retry loop's sleeps and by `advance`."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await anyio.lowlevel.checkpoint()


@contextmanager
def fake_time(rand: Callable[[], float] = lambda: 0.0) -> Iterator[FakeTime]:
    """Swap the retry clock, sleeps and randomness for the current context."""
    fake = FakeTime()
    env = _retry._Env(
        clock=fake.clock, sleep=fake.sleep, async_sleep=fake.async_sleep, rand=rand
    )
    token = _retry._env.set(env)
    try:
        yield fake
    finally:
        _retry._env.reset(token)


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
    def __init__(self) -> None:
        self.calls = 0


# ------------------------------------------------------------------ kind and shape


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
    assert "3 attempts" in repr(ab.async_retry(max_attempts=3))


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


class Service:
    """Methods of every kind, each failing once before succeeding."""

    def __init__(self) -> None:
        self.calls = 0

    def _step(self) -> int:
        self.calls += 1
        if self.calls % 2:
            raise OSError
        return self.calls

    @ab.async_retry(wait=0)
    def method(self, x: int) -> tuple[int, int]:
        return x, self._step()

    @ab.async_retry(wait=0)
    async def amethod(self, x: int) -> tuple[int, int]:
        await anyio.lowlevel.checkpoint()
        return x, self._step()

    shared = Counter()

    @classmethod
    @ab.async_retry(wait=0)
    def cls_outer(cls, x: int) -> tuple[type, int]:
        cls.shared.calls += 1
        if cls.shared.calls % 2:
            raise OSError
        return cls, x

    @ab.async_retry(wait=0)
    @classmethod
    def cls_inner(cls, x: int) -> tuple[type, int]:
        cls.shared.calls += 1
        if cls.shared.calls % 2:
            raise OSError
        return cls, x

    @ab.async_retry(wait=0)
    @staticmethod
    async def static_inner(x: int) -> int:
        Service.shared.calls += 1
        if Service.shared.calls % 2:
            raise OSError
        return x


def test_methods_classmethods_and_staticmethods() -> None:
    """Methods, classmethods (either order) and staticmethods retry and bind."""
    Service.shared.calls = 0
    service = Service()
    assert service.method(7) == (7, 2)
    assert Service.cls_outer(1) == (Service, 1)
    assert Service.cls_inner(2) == (Service, 2)
    assert service.cls_inner(3) == (Service, 3)
    assert inspect.iscoroutinefunction(Service.static_inner)
    assert asyncio.run(Service.static_inner(4)) == 4


@pytest.mark.anyio
async def test_async_method_retries() -> None:
    """An async method keeps its kind and binds self."""
    service = Service()
    assert inspect.iscoroutinefunction(service.amethod)
    assert await service.amethod(5) == (5, 2)


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


# -------------------------------------------------------------------------- stops


def test_gives_up_after_max_attempts_reraising_the_same_exception() -> None:
    """The last exception is re-raised: same object, original frames, a note added."""
    errors = [OSError("a"), OSError("b"), OSError("c")]

    @ab.async_retry(max_attempts=3, wait=0)
    def fn() -> None:
        raise errors.pop(0)

    last = None
    try:
        fn()
    except OSError as exc:
        last = exc
    assert last is not None
    assert str(last) == "c"
    frames = [frame.name for frame in traceback.extract_tb(last.__traceback__)]
    assert frames[-1] == "fn"
    assert last.__context__ is None
    assert last.__cause__ is None
    assert len(last.__notes__) == 1
    note = last.__notes__[0]
    assert note.startswith("asyncbridge.retry: gave up on ")
    assert "fn after 3 attempts in " in note
    assert "max_attempts=3 reached" in note


def test_one_attempt_means_no_retry() -> None:
    """max_attempts=1 calls once and re-raises with a note."""
    counter = Counter()

    @ab.async_retry(max_attempts=1)
    def fn() -> None:
        counter.calls += 1
        raise OSError

    with pytest.raises(OSError) as info:
        fn()
    assert counter.calls == 1
    assert "after 1 attempt in" in info.value.__notes__[0]


def test_total_timeout_counts_the_first_attempt_and_stops_new_attempts() -> None:
    """No attempt starts after the deadline, which includes the first attempt."""
    starts: list[float] = []
    with fake_time() as clock:

        @ab.async_retry(max_attempts=10, timeout=1.0, wait=0.3)
        def slow() -> None:
            starts.append(clock.now)
            clock.advance(0.4)
            raise OSError

        with pytest.raises(OSError) as info:
            slow()
    assert starts == pytest.approx([0.0, 0.7])
    assert (
        "after 2 attempts in 1.100 s (timeout=1 s reached)" in info.value.__notes__[0]
    )


def test_each_sleep_is_clamped_to_the_time_left() -> None:
    """A wait longer than the time left is cut to it; then one last attempt runs."""
    counter = Counter()
    with fake_time() as clock:

        @ab.async_retry(max_attempts=10, timeout=1.0, wait=5)
        def fn() -> None:
            counter.calls += 1
            raise OSError

        with pytest.raises(OSError):
            fn()
    assert clock.sleeps == [1.0]
    assert counter.calls == 2


def test_success_path_reads_no_clock_without_timeout() -> None:
    """Without a timeout, a successful call never reads the retry clock."""

    def exploding_clock() -> float:
        raise AssertionError("clock read on the success path")

    token = _retry._env.set(_retry._Env(clock=exploding_clock))
    try:
        assert ab.async_retry(lambda: 5)() == 5
    finally:
        _retry._env.reset(token)


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


# -------------------------------------------------------------------------- waits


def test_default_waits_grow_and_cap() -> None:
    """Default waits: 0.1 s doubling, capped at wait_max, jitter in (0.5, 1]."""
    with fake_time(rand=lambda: 0.0) as clock:
        fn = ab.async_retry(max_attempts=8, wait_max=1.0)(flaky([OSError()] * 8))
        with pytest.raises(OSError):
            fn()
    assert clock.sleeps == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0])


def test_jitter_spreads_waits_down_to_half() -> None:
    """With the largest jitter draw, every wait is just over half its nominal."""
    with fake_time(rand=lambda: 0.999999) as clock:
        fn = ab.async_retry(max_attempts=4, wait_initial=1, wait_max=3)(
            flaky([OSError()] * 4)
        )
        with pytest.raises(OSError):
            fn()
    assert clock.sleeps == pytest.approx([0.5, 1.0, 1.5], rel=1e-5)


def test_no_jitter_and_custom_base() -> None:
    """wait_jitter=False and wait_exp_base=3 give exact powers of three."""
    with fake_time(rand=lambda: 0.7) as clock:
        fn = ab.async_retry(
            max_attempts=4,
            wait_initial=1,
            wait_exp_base=3,
            wait_max=100,
            wait_jitter=False,
        )(flaky([OSError()] * 4))
        with pytest.raises(OSError):
            fn()
    assert clock.sleeps == [1.0, 3.0, 9.0]


def test_fixed_wait_replaces_the_schedule() -> None:
    """wait=0.2 waits exactly 0.2 s between attempts (no jitter, no growth)."""
    with fake_time(rand=lambda: 0.9) as clock:
        fn = ab.async_retry(max_attempts=4, wait=0.2)(flaky([OSError()] * 4))
        with pytest.raises(OSError):
            fn()
    assert clock.sleeps == [0.2, 0.2, 0.2]


def test_custom_wait_gets_attempt_and_exception() -> None:
    """wait=f calls f(attempt, exception); a zero wait does not sleep."""
    seen: list[tuple[int, str | None]] = []

    def wait(attempt: int, exc: Exception | None) -> float:
        seen.append((attempt, str(exc) if exc else None))
        return 0 if attempt == 1 else 0.5

    with fake_time() as clock:
        fn = ab.async_retry(max_attempts=3, wait=wait)(
            flaky([OSError("x"), OSError("y"), "ok"])
        )
        assert fn() == "ok"
    assert seen == [(1, "x"), (2, "y")]
    assert clock.sleeps == [0.5]


def test_custom_wait_sees_none_for_a_rejected_result() -> None:
    """When a result drove the retry, the custom wait gets exception=None."""
    seen: list[Exception | None] = []

    def wait(_attempt: int, exc: Exception | None) -> float:
        seen.append(exc)
        return 0

    fn = ab.async_retry(retry_if_result=lambda v: v < 2, wait=wait)(flaky([1, 2]))
    assert fn() == 2
    assert seen == [None]


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (-1, ValueError, "must be >= 0"),
        (float("inf"), ValueError, "must be finite"),
        ("1", TypeError, "expected a number"),
    ],
)
def test_custom_wait_returning_nonsense_fails_loudly(
    value: object, error: type[Exception], match: str
) -> None:
    """A custom wait returning a bad value raises, naming the parameter."""
    fn = ab.async_retry(wait=lambda _n, _e: value)(flaky([OSError(), "ok"]))  # type: ignore[arg-type, return-value]
    with pytest.raises(error, match=match):
        fn()


def test_wait_hint_overrides_the_schedule() -> None:
    """A wait hint (Retry-After) is used as is: uncapped, unjittered; None falls back."""

    class RateLimitedError(Exception):
        def __init__(self, retry_after: float | None) -> None:
            self.retry_after = retry_after

    with fake_time(rand=lambda: 0.0) as clock:
        fn = ab.async_retry(
            max_attempts=4,
            wait_max=1,
            wait_hint=lambda exc: getattr(exc, "retry_after", None),
        )(
            flaky(
                [
                    RateLimitedError(7.5),
                    RateLimitedError(None),
                    RateLimitedError(-3),
                    "ok",
                ]
            )
        )
        assert fn() == "ok"
    assert clock.sleeps == [7.5, 0.2]  # a zero wait does not sleep


def test_wait_hint_past_the_deadline_gives_up_at_once() -> None:
    """A hint that ends past the deadline stops retrying instead of waiting."""
    with fake_time() as clock:
        fn = ab.async_retry(max_attempts=5, timeout=10, wait_hint=lambda _e: 30)(
            flaky([OSError("busy"), "ok"])
        )
        with pytest.raises(OSError) as info:
            fn()
    assert clock.sleeps == []
    assert "wait hint of 30 s ends past timeout=10 s" in info.value.__notes__[0]


def test_wait_hint_within_the_deadline_is_honoured() -> None:
    """A hint that fits in the time left is waited in full."""
    with fake_time() as clock:
        fn = ab.async_retry(timeout=10, wait_hint=lambda _e: 4)(
            flaky([OSError(), "ok"])
        )
        assert fn() == "ok"
    assert clock.sleeps == [4.0]


# -------------------------------------------------------------- what is retried


def test_on_type_retries_only_matching_exceptions() -> None:
    """An error `on` does not match propagates at once, untouched (no note)."""
    counter = Counter()

    @ab.async_retry(on=OSError, wait=0)
    def fn() -> None:
        counter.calls += 1
        raise KeyError("not transient")

    with pytest.raises(KeyError) as info:
        fn()
    assert counter.calls == 1
    assert not hasattr(info.value, "__notes__")


def test_on_tuple_and_subclasses() -> None:
    """A tuple of types matches any of them, subclasses included."""
    fn = ab.async_retry(on=(KeyError, OSError), wait=0)(
        flaky([ConnectionResetError(), KeyError(), "ok"])
    )
    assert fn() == "ok"


def test_on_predicate_decides() -> None:
    """A predicate on the exception decides what is retried."""
    seen: list[Exception] = []

    def transient(exc: Exception) -> bool:
        seen.append(exc)
        return "retry" in str(exc)

    fn = ab.async_retry(on=transient, wait=0)(
        flaky([ValueError("retry me"), ValueError("fatal"), "never"])
    )
    with pytest.raises(ValueError, match="fatal") as info:
        fn()
    assert len(seen) == 2
    note = info.value.__notes__[0]
    assert "raised this on attempt 2" in note
    assert "not retried" in note


def test_retry_if_result_retries_and_returns_the_last_value() -> None:
    """A rejected value is retried; when attempts run out the last value returns."""
    fn = ab.async_retry(max_attempts=3, retry_if_result=lambda v: v is None, wait=0)
    assert fn(flaky([None, None, 3]))() == 3
    assert fn(flaky([None, None, None, 4]))() is None


@pytest.mark.anyio
async def test_retry_if_result_async() -> None:
    """retry_if_result works on async callables too."""
    fn = ab.async_retry(max_attempts=3, retry_if_result=lambda v: v < 0, wait=0)
    assert await fn(aflaky([-1, OSError(), 5]))() == 5
    assert await fn(aflaky([-1, -2, -3]))() == -3


class Escape(BaseException):
    """A non-Exception BaseException of the user's own."""


@pytest.mark.parametrize(
    "exc",
    [
        KeyboardInterrupt(),
        SystemExit(1),
        GeneratorExit(),
        asyncio.CancelledError(),
        Escape(),
    ],
    ids=lambda e: type(e).__name__,
)
def test_control_flow_is_never_retried_nor_shown(exc: BaseException) -> None:
    """Non-Exception errors pass straight through: no retry, no predicate, no hook."""
    shown: list[object] = []
    counter = Counter()

    @ab.async_retry(
        max_attempts=5,
        on=lambda e: shown.append(e) or True,
        before_sleep=shown.append,
        on_giveup=shown.append,
        wait=0,
    )
    def fn() -> None:
        counter.calls += 1
        raise exc

    with pytest.raises(type(exc)) as info:
        fn()
    assert info.value is exc
    assert counter.calls == 1
    assert shown == []
    assert not hasattr(exc, "__notes__")


@pytest.mark.asyncio
async def test_asyncio_wait_for_timeout_runs_exactly_one_attempt() -> None:
    """wait_for's cancellation is not retried, even by an accept-all predicate."""
    counter = Counter()

    @ab.async_retry(max_attempts=5, on=lambda _e: True, wait=0)
    async def retried_slow() -> None:
        counter.calls += 1
        await asyncio.Event().wait()

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(retried_slow(), 0.05)
    assert counter.calls == 1


@pytest.mark.anyio
async def test_cancelled_attempt_is_not_retried() -> None:
    """Cancelling the caller (any backend) cancels the attempt; nothing is retried."""
    counter = Counter()
    shown: list[object] = []
    started = anyio.Event()

    @ab.async_retry(
        max_attempts=5, on=lambda e: shown.append(e) or True, on_giveup=shown.append
    )
    async def fn() -> None:
        counter.calls += 1
        started.set()
        await anyio.sleep_forever()

    async with anyio.create_task_group() as tg:
        tg.start_soon(fn)
        await started.wait()
        tg.cancel_scope.cancel()
    assert counter.calls == 1
    assert shown == []


@pytest.mark.anyio
async def test_the_wait_between_attempts_is_cancellable() -> None:
    """A cancel during the (real, hour-long) wait ends the call at once."""
    sleeping = anyio.Event()
    counter = Counter()

    @ab.async_retry(wait=3600, before_sleep=lambda _s: sleeping.set())
    async def fn() -> None:
        counter.calls += 1
        raise OSError

    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as tg:
            tg.start_soon(fn)
            await sleeping.wait()
            scope.cancel()
    assert scope.cancelled_caught
    assert counter.calls == 1


# ---------------------------------------------------------------------- giving up


def test_reraise_false_raises_retry_error_with_every_attempt() -> None:
    """reraise=False: RetryError from the last error, holding each attempt's outcome."""
    last = OSError("third")
    fn = ab.async_retry(
        max_attempts=3, retry_if_result=lambda v: v == "bad", reraise=False, wait=0
    )(flaky([OSError("first"), "bad", last]))
    with pytest.raises(ab.RetryError) as info:
        fn()
    error = info.value
    assert isinstance(error, ab.AsyncBridgeError)
    assert error.__cause__ is last
    assert [state.attempt for state in error.attempts] == [1, 2, 3]
    assert str(error.attempts[0].exception) == "first"
    assert error.attempts[1].exception is None
    assert error.attempts[1].result == "bad"
    assert error.last is not None
    assert error.last.exception is last
    assert "after 3 attempts" in str(error)
    assert "the last attempt raised OSError" in str(error)


def test_reraise_false_with_a_rejected_last_value() -> None:
    """reraise=False and a rejected last value: RetryError from None."""
    fn = ab.async_retry(max_attempts=2, retry_if_result=bool, reraise=False, wait=0)(
        flaky([1, 2])
    )
    with pytest.raises(ab.RetryError, match="rejected the last value") as info:
        fn()
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__
    assert [s.result for s in info.value.attempts] == [1, 2]


def test_retry_error_pickles_with_its_attempts() -> None:
    """RetryError survives pickling (process pools) with its attempts."""
    error = ab.RetryError("gave up", (ab.RetryState("m.f", 1, OSError("x"), 0.0, 0.1),))
    clone = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert str(clone) == "gave up"
    assert clone.attempts[0].fn_name == "m.f"
    assert ab.RetryError("empty").last is None


# -------------------------------------------------------------------------- hooks


def test_hooks_get_frozen_states() -> None:
    """before_sleep sees each failed attempt; on_giveup the last; states are frozen."""
    before: list[ab.RetryState] = []
    giveup: list[ab.RetryState] = []
    with fake_time(rand=lambda: 0.0):
        fn = ab.async_retry(
            max_attempts=3, before_sleep=before.append, on_giveup=giveup.append
        )(flaky([OSError("1"), OSError("2"), OSError("3")]))
        with pytest.raises(OSError):
            fn()
    assert [(s.attempt, str(s.exception), s.wait) for s in before] == [
        (1, "1", 0.1),
        (2, "2", 0.2),
    ]
    assert [s.elapsed for s in before] == pytest.approx([0.0, 0.1])
    assert len(giveup) == 1
    assert (giveup[0].attempt, giveup[0].wait) == (3, 0.0)
    assert giveup[0].fn_name.endswith("flaky.<locals>.fn")
    with pytest.raises(dataclasses.FrozenInstanceError):
        giveup[0].attempt = 9  # type: ignore[misc]


def test_on_giveup_is_not_called_on_success_or_unmatched_errors() -> None:
    """on_giveup runs only when retrying stops on a retryable failure."""
    giveup: list[ab.RetryState] = []
    retry = ab.async_retry(on=OSError, on_giveup=giveup.append, wait=0)
    assert retry(flaky([OSError(), "ok"]))() == "ok"
    with pytest.raises(KeyError):
        retry(flaky([OSError(), KeyError()]))()
    assert giveup == []


def test_hook_errors_propagate() -> None:
    """An exception raised by a hook is not swallowed."""

    def broken(_state: ab.RetryState) -> None:
        raise RuntimeError("hook broke")

    fn = ab.async_retry(before_sleep=broken, wait=0)(flaky([OSError(), "ok"]))
    with pytest.raises(RuntimeError, match="hook broke"):
        fn()


@pytest.mark.anyio
async def test_async_wrapper_awaits_async_hooks() -> None:
    """In an async wrapper, async hooks are awaited (and sync ones called)."""
    events: list[str] = []

    async def before(state: ab.RetryState) -> None:
        await anyio.lowlevel.checkpoint()
        events.append(f"before {state.attempt}")

    def giveup(state: ab.RetryState) -> None:
        events.append(f"giveup {state.attempt}")

    fn = ab.async_retry(before_sleep=before, on_giveup=giveup, wait=0)(
        aflaky([OSError()] * 3)
    )
    with pytest.raises(OSError):
        await fn()
    assert events == ["before 1", "before 2", "giveup 3"]


def test_sync_wrapper_runs_async_hooks_through_run_sync() -> None:
    """In a sync wrapper, an async hook (or one returning a coroutine) still runs."""
    events: list[tuple[str, int, bool]] = []

    async def before(state: ab.RetryState) -> None:
        await anyio.lowlevel.checkpoint()
        events.append(("before", state.attempt, ab.in_async_context()))

    def giveup(state: ab.RetryState) -> Awaitable[None]:
        async def record() -> None:
            events.append(("giveup", state.attempt, ab.in_async_context()))

        return record()

    fn = ab.async_retry(before_sleep=before, on_giveup=giveup, wait=0)(
        flaky([OSError()] * 3)
    )
    with pytest.raises(OSError):
        fn()
    assert events == [
        ("before", 1, True),
        ("before", 2, True),
        ("giveup", 3, True),
    ]


# ------------------------------------------------------------------------ logging


def test_one_warning_per_retry_naming_function_attempt_and_wait(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each retry logs one WARNING on asyncbridge.retry, never the arguments."""
    caplog.set_level(logging.DEBUG, logger="asyncbridge.retry")

    @ab.async_retry(max_attempts=3, wait=0.25)
    def login(user: str, password: str) -> str:
        raise PermissionError(f"denied for {user}")

    with fake_time(), pytest.raises(PermissionError):
        login("alice", password="hunter2")  # noqa: S106 - must not be logged
    records = [r for r in caplog.records if r.name == "asyncbridge.retry"]
    assert [r.levelno for r in records] == [logging.WARNING, logging.WARNING]
    messages = [r.getMessage() for r in records]
    qualname = f"{__name__}.test_one_warning_per_retry_naming_function_attempt_and_wait.<locals>.login"
    assert messages == [
        f"retrying {qualname} in 0.250 s: attempt 1 failed (PermissionError)",
        f"retrying {qualname} in 0.250 s: attempt 2 failed (PermissionError)",
    ]
    assert all("hunter2" not in m and "alice" not in m for m in caplog.messages)
    assert records[0].retry_attempt == 1  # type: ignore[attr-defined]
    assert records[1].retry_wait == 0.25  # type: ignore[attr-defined]


# ----------------------------------------------------------------- per-call state


def test_concurrent_threads_never_share_attempt_counts() -> None:
    """Many threads calling one function each get their own attempt count."""
    lock = threading.Lock()
    calls: dict[int, int] = {}
    barrier = threading.Barrier(16)

    @ab.async_retry(max_attempts=3, wait=0)
    def fn(key: int) -> int:
        with lock:
            calls[key] = calls.get(key, 0) + 1
            count = calls[key]
        if count == 1:
            barrier.wait()  # every call has failed once before any retries
        if count < 3:
            raise OSError
        return key

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(fn, range(16)))
    assert results == list(range(16))
    assert calls == dict.fromkeys(range(16), 3)


@pytest.mark.anyio
async def test_concurrent_tasks_never_share_attempt_counts() -> None:
    """Many tasks calling one async function each get their own attempt count."""
    calls: dict[int, int] = {}
    attempts_seen: dict[int, list[int]] = {}
    results: dict[int, int] = {}
    all_failed_once = anyio.Event()

    async def body(key: int) -> int:
        calls[key] = calls.get(key, 0) + 1
        if len(calls) == 50:
            all_failed_once.set()
        await all_failed_once.wait()
        if calls[key] < 3:
            raise OSError(key)
        return key

    def before(state: ab.RetryState) -> None:
        key = state.exception.args[0]  # type: ignore[union-attr]
        attempts_seen.setdefault(key, []).append(state.attempt)

    fn = ab.async_retry(max_attempts=3, before_sleep=before, wait=0)(body)

    async def run(key: int) -> None:
        results[key] = await fn(key)

    async with anyio.create_task_group() as tg:
        for key in range(50):
            tg.start_soon(run, key)
    assert results == {k: k for k in range(50)}
    assert attempts_seen == {k: [1, 2] for k in range(50)}


# ------------------------------------------------------------------------- budget


def test_budget_fails_fast_when_spent() -> None:
    """A spent budget ends retrying at once, with a note saying so."""
    budget = ab.RetryBudget(ratio=0.5, min_per_second=0, clock=lambda: 0.0)
    counter = Counter()

    @ab.async_retry(max_attempts=3, budget=budget, wait=0)
    def fn() -> None:
        counter.calls += 1
        raise OSError

    with pytest.raises(OSError) as first:
        fn()  # deposits 0.5: not enough for a retry
    assert counter.calls == 1
    assert "after 1 attempt" in first.value.__notes__[0]
    assert "the retry budget was exhausted" in first.value.__notes__[0]
    with pytest.raises(OSError) as second:
        fn()  # deposits another 0.5: one retry, then spent
    assert counter.calls == 3
    assert "after 2 attempts" in second.value.__notes__[0]
    assert "budget was exhausted" in second.value.__notes__[0]


def test_budget_is_shared_between_functions_and_deposits_per_call() -> None:
    """Successful calls of one function earn retries for another sharing the budget."""
    budget = ab.RetryBudget(ratio=0.25, min_per_second=0, clock=lambda: 0.0)
    ok = ab.async_retry(budget=budget)(lambda: "ok")
    for _ in range(8):
        ok()
    fn = ab.async_retry(max_attempts=10, budget=budget, wait=0)(flaky([OSError()] * 10))
    with pytest.raises(OSError) as info:
        fn()  # 8 + 1 calls at 0.25 = 2.25 tokens: two retries
    assert "after 3 attempts" in info.value.__notes__[0]


def test_budget_floor_lets_retries_through_after_time_passes() -> None:
    """The per-second floor refills with the budget's clock."""
    with fake_time() as clock:
        budget = ab.RetryBudget(ratio=0, min_per_second=1, clock=clock.clock)
        fn = ab.async_retry(max_attempts=3, budget=budget, wait=0)
        assert fn(flaky([OSError(), "ok"]))() == "ok"  # the floor's one token
        with pytest.raises(OSError):
            fn(flaky([OSError(), "never"]))()
        clock.advance(1.0)
        assert fn(flaky([OSError(), "again"]))() == "again"


@pytest.mark.anyio
async def test_budget_applies_to_async_calls() -> None:
    """Async wrappers deposit and withdraw from the same budget."""
    budget = ab.RetryBudget(ratio=1.0, min_per_second=0, clock=lambda: 0.0)
    fn = ab.async_retry(max_attempts=5, budget=budget, wait=0)
    assert await fn(aflaky([OSError(), "ok"]))() == "ok"
    with pytest.raises(OSError) as info:
        await fn(aflaky([OSError(), OSError(), "never"]))()
    assert "after 2 attempts" in info.value.__notes__[0]


# --------------------------------------------------------------------- block form


def test_block_form_retries_until_the_block_succeeds() -> None:
    """`for attempt in retrying(): with attempt:` retries the block; numbers from 1."""
    outcome = flaky([OSError(), OSError(), "done"])
    numbers = []
    for attempt in ab.retrying(max_attempts=3, wait=0):
        with attempt:
            numbers.append(attempt.number)
            value = outcome()
    assert value == "done"
    assert numbers == [1, 2, 3]


def run_block(body: Callable[[_retry.Attempt], object], **options: Any) -> None:
    """Run *body* in a sync `retrying(**options)` loop."""
    for attempt in ab.retrying(**options):
        with attempt:
            body(attempt)


async def run_async_block(
    body: Callable[[_retry.Attempt], object], **options: Any
) -> None:
    """Run *body* in an async `retrying(**options)` loop."""
    async for attempt in ab.retrying(**options):
        with attempt:
            body(attempt)


def raise_(exc: BaseException) -> None:
    raise exc


def test_block_form_gives_up_with_the_last_exception() -> None:
    """Giving up raises the block's last exception, with a note."""
    errors = [OSError("1"), OSError("2")]
    with pytest.raises(OSError, match="2") as info:
        run_block(lambda _a: raise_(errors.pop(0)), max_attempts=2, wait=0)
    assert "after 2 attempts" in info.value.__notes__[0]
    assert "run_block" in info.value.__notes__[0]  # the function with the loop


def test_block_form_lets_unmatched_errors_and_control_flow_through() -> None:
    """Errors `on` does not match and control flow leave the `with` at once."""
    numbers: list[int] = []

    def body(exc: BaseException) -> Callable[[_retry.Attempt], None]:
        def run(attempt: _retry.Attempt) -> None:
            numbers.append(attempt.number)
            raise exc

        return run

    with pytest.raises(KeyError):
        run_block(body(KeyError()), on=OSError, wait=0)
    with pytest.raises(KeyboardInterrupt):
        run_block(body(KeyboardInterrupt()), on=lambda _e: True, wait=0)
    assert numbers == [1, 1]


def test_block_form_notes_an_unmatched_error_after_retries() -> None:
    """An unmatched error after retries carries a note naming the attempt."""
    errors = [OSError(), KeyError("k")]
    with pytest.raises(KeyError) as info:
        run_block(lambda _a: raise_(errors.pop(0)), on=OSError, wait=0)
    assert "raised this on attempt 2" in info.value.__notes__[0]


def test_block_form_reraise_false_and_hooks() -> None:
    """The block form raises RetryError and calls hooks like the decorator."""
    states: list[tuple[str, int]] = []
    with pytest.raises(ab.RetryError) as info:
        run_block(
            lambda a: raise_(OSError(a.number)),
            max_attempts=2,
            reraise=False,
            wait=0,
            before_sleep=lambda s: states.append(("before", s.attempt)),
            on_giveup=lambda s: states.append(("giveup", s.attempt)),
        )
    assert len(info.value.attempts) == 2
    assert states == [("before", 1), ("giveup", 2)]


def test_block_form_waits_and_times_out() -> None:
    """Block waits follow the schedule and the total deadline."""

    def body(clock: FakeTime) -> None:
        clock.advance(0.1)
        raise OSError

    with fake_time(rand=lambda: 0.0) as clock:
        with pytest.raises(OSError):
            run_block(lambda _a: body(clock), max_attempts=10, timeout=0.5)
        assert clock.sleeps == pytest.approx([0.1, 0.2])


def test_block_form_object_is_reusable_with_fresh_counts() -> None:
    """Each loop over one retrying() object starts again from attempt 1."""
    retry = ab.retrying(max_attempts=2, wait=0)
    for _ in range(2):
        numbers = []
        outcome = flaky([OSError(), "ok"])
        for attempt in retry:
            with attempt:
                numbers.append(attempt.number)
                outcome()
        assert numbers == [1, 2]
    assert "2 attempts" in repr(retry)
    assert repr(attempt) == "<Attempt 2>"


def test_block_form_stops_when_the_block_is_not_entered() -> None:
    """A loop body that never enters `with attempt` counts as a success."""
    assert [a.number for a in ab.retrying()] == [1]


def test_block_form_turns_a_leaking_stop_iteration_into_runtime_error() -> None:
    """StopIteration from the block cannot silently end the loop (as PEP 479)."""
    with pytest.raises(RuntimeError, match="StopIteration"):
        run_block(lambda _a: next(iter([])), max_attempts=2, wait=0)


def test_block_form_budget_deposits_once_per_loop() -> None:
    """A retrying() loop deposits into its budget once, like one call."""
    budget = ab.RetryBudget(ratio=0.5, min_per_second=0, clock=lambda: 0.0)
    numbers: list[int] = []

    def body(attempt: _retry.Attempt) -> None:
        numbers.append(attempt.number)
        raise OSError

    for _ in range(2):
        with pytest.raises(OSError):
            run_block(body, max_attempts=5, budget=budget, wait=0)
    assert numbers == [1, 1, 2]


def test_block_form_iterator_stays_exhausted() -> None:
    """After the loop ends, its iterator keeps raising StopIteration."""
    iterator = iter(ab.retrying())
    assert next(iterator).number == 1
    for _ in range(2):
        with pytest.raises(StopIteration):
            next(iterator)


@pytest.mark.anyio
async def test_async_block_form_iterator_stays_exhausted() -> None:
    """After the async loop ends, its iterator keeps raising StopAsyncIteration."""
    iterator = aiter(ab.retrying())
    assert (await anext(iterator)).number == 1
    for _ in range(2):
        with pytest.raises(StopAsyncIteration):
            await anext(iterator)


def test_block_form_rejects_result_predicate_and_attempt_timeout() -> None:
    """retrying() does not take retry_if_result or attempt_timeout (TypeError)."""
    with pytest.raises(TypeError, match="retry_if_result is not supported"):
        ab.retrying(retry_if_result=bool)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="attempt_timeout is not supported"):
        ab.retrying(attempt_timeout=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="retrying\\(\\): max_attempts"):
        ab.retrying(max_attempts=0)


@pytest.mark.anyio
async def test_async_block_form() -> None:
    """`async for attempt in retrying(): with attempt:` retries and awaits hooks."""
    outcome = aflaky([OSError(), OSError(), "done"])
    events: list[int] = []

    async def before(state: ab.RetryState) -> None:
        await anyio.lowlevel.checkpoint()
        events.append(state.attempt)

    with fake_time(rand=lambda: 0.0) as clock:
        async for attempt in ab.retrying(max_attempts=3, before_sleep=before):
            with attempt:
                value = await outcome()
    assert value == "done"
    assert attempt.number == 3
    assert events == [1, 2]
    assert clock.sleeps == pytest.approx([0.1, 0.2])


@pytest.mark.anyio
async def test_async_block_form_gives_up_and_awaits_on_giveup() -> None:
    """The async block form gives up with the last error after an async on_giveup."""
    events: list[int] = []

    async def giveup(state: ab.RetryState) -> None:
        events.append(state.attempt)

    with pytest.raises(OSError, match="2"):
        await run_async_block(
            lambda a: raise_(OSError(a.number)),
            max_attempts=2,
            on_giveup=giveup,
            wait=0,
        )
    assert events == [2]


@pytest.mark.anyio
async def test_async_block_form_is_cancellable_in_the_wait() -> None:
    """A cancel during the async block's (real, hour-long) wait ends it at once."""
    sleeping = anyio.Event()
    numbers = []
    with anyio.CancelScope() as scope:

        async def loop() -> None:
            async for attempt in ab.retrying(
                wait=3600, before_sleep=lambda _s: sleeping.set()
            ):
                with attempt:
                    numbers.append(attempt.number)
                    raise OSError

        async with anyio.create_task_group() as tg:
            tg.start_soon(loop)
            await sleeping.wait()
            scope.cancel()
    assert numbers == [1]


# ---------------------------------------------------------------- testing switch


def test_retry_testing_caps_attempts_and_removes_waits() -> None:
    """retry_testing() caps attempts (default 1) and never sleeps."""
    counter = Counter()

    @ab.async_retry(max_attempts=5, wait=10)
    def fn() -> None:
        counter.calls += 1
        raise OSError

    with fake_time() as clock:
        with ab.retry_testing(), pytest.raises(OSError) as info:
            fn()
        assert counter.calls == 1
        assert "capped by retry_testing()" in info.value.__notes__[0]
        with ab.retry_testing(attempts=3), pytest.raises(OSError):
            fn()
        assert counter.calls == 4
        with ab.retry_testing(attempts=50), pytest.raises(OSError):
            fn()  # a cap, never a raise: still max_attempts=5
        assert counter.calls == 9
    assert clock.sleeps == []


def test_retry_testing_wait_true_keeps_real_waits() -> None:
    """retry_testing(wait=True) keeps the waits while capping attempts."""
    with fake_time() as clock, ab.retry_testing(attempts=2, wait=True):
        fn = ab.async_retry(max_attempts=5, wait=0.5)(flaky([OSError()] * 5))
        with pytest.raises(OSError):
            fn()
    assert clock.sleeps == [0.5]


@ab.retry_testing(attempts=2)
def test_retry_testing_as_a_sync_decorator() -> None:
    """As a decorator on a sync test, retry_testing applies inside it."""
    counter = Counter()

    @ab.async_retry(max_attempts=5, wait=100)
    def fn() -> None:
        counter.calls += 1
        raise OSError

    with pytest.raises(OSError):
        fn()
    assert counter.calls == 2


@pytest.mark.anyio
@ab.retry_testing(attempts=2)
async def test_retry_testing_as_an_async_decorator() -> None:
    """As a decorator on an async test, retry_testing applies inside it."""
    counter = Counter()

    @ab.async_retry(max_attempts=5, wait=100)
    async def fn() -> None:
        counter.calls += 1
        raise OSError

    with pytest.raises(OSError):
        await fn()
    assert counter.calls == 2
    assert repr(ab.retry_testing(3)) == "retry_testing(attempts=3, wait=False)"


@pytest.mark.anyio
async def test_retry_testing_is_scoped_to_its_context() -> None:
    """A task under retry_testing does not change a concurrent task's retries."""
    counts: dict[str, int] = {"capped": 0, "free": 0}
    both_started = anyio.Event()
    started: set[str] = set()

    async def body(name: str) -> None:
        counts[name] += 1
        started.add(name)
        if len(started) == 2:
            both_started.set()
        await both_started.wait()
        raise OSError

    fn = ab.async_retry(max_attempts=4, wait=0)(body)

    async def capped() -> None:
        with ab.retry_testing(attempts=1), pytest.raises(OSError):
            await fn("capped")

    async def free() -> None:
        with pytest.raises(OSError):
            await fn("free")

    async with anyio.create_task_group() as tg:
        tg.start_soon(capped)
        tg.start_soon(free)
    assert counts == {"capped": 1, "free": 4}


@pytest.mark.anyio
async def test_one_retry_testing_object_shared_by_concurrent_tasks() -> None:
    """One retry_testing() object entered by overlapping tasks exits cleanly in each."""
    switch = ab.retry_testing(attempts=2)
    first_inside, second_inside, first_done = (
        anyio.Event(),
        anyio.Event(),
        anyio.Event(),
    )
    seen: list[tuple[str, object]] = []

    def current() -> object:
        config = _retry._testing.get()
        return None if config is None else config.attempts

    async def first() -> None:
        with switch:
            first_inside.set()
            await second_inside.wait()
            seen.append(("first in", current()))
        seen.append(("first out", current()))  # exits while second is still inside
        first_done.set()

    async def second() -> None:
        await first_inside.wait()
        with switch:
            second_inside.set()
            await first_done.wait()
            seen.append(("second in", current()))
        seen.append(("second out", current()))

    async with anyio.create_task_group() as tg:
        tg.start_soon(first)
        tg.start_soon(second)
    assert seen == [
        ("first in", 2),
        ("first out", None),
        ("second in", 2),
        ("second out", None),
    ]


def test_retry_testing_reaches_threads_only_with_the_context() -> None:
    """A thread sees the switch when run in a copy of the context, else not."""
    counts: list[int] = []

    def run() -> None:
        counter = Counter()

        @ab.async_retry(max_attempts=3, wait=0)
        def fn() -> None:
            counter.calls += 1
            raise OSError

        with pytest.raises(OSError):
            fn()
        counts.append(counter.calls)

    with ab.retry_testing():
        ctx = contextvars.copy_context()
        with ThreadPoolExecutor(1) as pool:
            pool.submit(ctx.run, run).result()
            pool.submit(run).result()
    assert counts == [1, 3]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"attempts": 0}, ValueError),
        ({"attempts": 1.5}, TypeError),
        ({"attempts": True}, TypeError),
        ({"wait": 1}, TypeError),
    ],
)
def test_retry_testing_rejects_bad_settings(
    kwargs: dict[str, object], error: type[Exception]
) -> None:
    """retry_testing() checks its arguments, naming them."""
    name = next(iter(kwargs))
    with pytest.raises(error, match=f"retry_testing\\(\\): {name}"):
        ab.retry_testing(**kwargs)  # type: ignore[arg-type]


# -------------------------------------------------------------------- bad settings


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"max_attempts": 0}, ValueError, "max_attempts must be an int >= 1"),
        ({"max_attempts": 2.5}, TypeError, "max_attempts must be an int"),
        ({"max_attempts": "3"}, TypeError, "max_attempts must be an int"),
        ({"max_attempts": True}, TypeError, "max_attempts must be an int"),
        ({"on": 42}, TypeError, "on must be an exception type"),
        ({"on": int}, TypeError, "int is not an exception type"),
        ({"on": ()}, ValueError, "on must not be an empty tuple"),
        ({"on": (OSError, "x")}, TypeError, "the tuple holds 'x'"),
        ({"on": KeyboardInterrupt}, TypeError, "on=KeyboardInterrupt can never match"),
        ({"on": (OSError, SystemExit)}, TypeError, "on=SystemExit can never match"),
        ({"retry_if_result": 1}, TypeError, "retry_if_result must be callable"),
        ({"timeout": -1}, ValueError, "timeout must be >= 0"),
        ({"timeout": "5"}, TypeError, "timeout must be a number of seconds or None"),
        ({"timeout": float("nan")}, ValueError, "timeout must be >= 0"),
        ({"attempt_timeout": -0.5}, ValueError, "attempt_timeout must be >= 0"),
        ({"wait_initial": -0.1}, ValueError, "wait_initial must be >= 0"),
        ({"wait_max": "5"}, TypeError, "wait_max must be a number"),
        ({"wait_exp_base": 0.5}, ValueError, "wait_exp_base must be >= 1"),
        ({"wait_jitter": 1}, TypeError, "wait_jitter must be a bool"),
        ({"wait": -1}, ValueError, "wait must be >= 0"),
        ({"wait": "slow"}, TypeError, "wait must be a number of seconds or a callable"),
        ({"wait_hint": 3}, TypeError, "wait_hint must be callable"),
        ({"before_sleep": "log"}, TypeError, "before_sleep must be callable"),
        ({"on_giveup": 1}, TypeError, "on_giveup must be callable"),
        ({"reraise": None}, TypeError, "reraise must be a bool"),
        ({"budget": 0.2}, TypeError, "budget must be an asyncbridge.RetryBudget"),
    ],
)
def test_bad_settings_fail_at_decoration_naming_the_parameter(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    """Bad settings raise at decoration time with a message naming the parameter."""
    with pytest.raises(error, match=rf"^async_retry\(\): .*{re.escape(match)}"):
        ab.async_retry(**kwargs)


def test_on_base_exception_means_every_exception() -> None:
    """on=BaseException is accepted and retries every Exception (never control flow)."""
    fn = ab.async_retry(on=BaseException, wait=0)(flaky([KeyError(), "ok"]))
    assert fn() == "ok"


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
        with pytest.raises(TypeError, match="cannot retry the generator function"):
            ab.async_retry(fn)


# --------------------------------------------------------------------- properties

OUTCOME = st.sampled_from(["ok", "bad", "retry", "fatal"])


def model(outcomes: list[str], max_attempts: int) -> tuple[int, tuple[str, int]]:
    """The expected number of calls and final outcome, by the simplest loop."""
    final = ("none", -1)
    for index, kind in enumerate(outcomes[:max_attempts]):
        final = ("raise" if kind in {"retry", "fatal"} else "value", index)
        if kind in {"ok", "fatal"}:
            return index + 1, final
    return max_attempts, final


def make_outcomes(kinds: list[str]) -> list[Any]:
    table = {
        "ok": lambda i: ("ok", i),
        "bad": lambda i: ("bad", i),
        "retry": OSError,
        "fatal": KeyError,
    }
    return [table[kind](i) for i, kind in enumerate(kinds)]


def observed(call: Callable[[], Any]) -> tuple[str, int]:
    try:
        value = call()
    except (OSError, KeyError) as exc:
        return "raise", exc.args[0]
    return "value", value[1]


KINDS = st.lists(OUTCOME, min_size=8, max_size=8)
ATTEMPTS = st.integers(min_value=1, max_value=8)


@settings(max_examples=150, deadline=None)
@given(kinds=KINDS, max_attempts=ATTEMPTS)
def test_property_calls_and_outcome_match_the_model(
    kinds: list[str], max_attempts: int
) -> None:
    """Property: for any outcomes and max_attempts, calls and result match the model."""
    counter = Counter()
    outcomes = make_outcomes(kinds)

    @ab.async_retry(
        max_attempts=max_attempts,
        on=OSError,
        retry_if_result=lambda v: v[0] == "bad",
        wait=0,
    )
    def fn() -> Any:
        counter.calls += 1
        outcome = outcomes[counter.calls - 1]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    result = observed(fn)
    assert (counter.calls, result) == model(kinds, max_attempts)


@settings(max_examples=60, deadline=None)
@given(kinds=KINDS, max_attempts=ATTEMPTS)
def test_property_async_and_block_forms_match_the_model(
    kinds: list[str], max_attempts: int
) -> None:
    """Property: the async decorator and the block form follow the same model."""
    expected = model(kinds, max_attempts)

    async def run_async() -> tuple[int, tuple[str, int]]:
        counter = Counter()
        outcomes = make_outcomes(kinds)

        @ab.async_retry(
            max_attempts=max_attempts,
            on=OSError,
            retry_if_result=lambda v: v[0] == "bad",
            wait=0,
        )
        async def fn() -> Any:
            counter.calls += 1
            outcome = outcomes[counter.calls - 1]
            if isinstance(outcome, Exception):
                raise outcome
            return outcome

        try:
            value = await fn()
        except (OSError, KeyError) as exc:
            return counter.calls, ("raise", exc.args[0])
        return counter.calls, ("value", value[1])

    assert anyio.run(run_async) == expected

    # The block form has no result predicate: "bad" values count as successes.
    block_kinds = [k if k != "bad" else "ok" for k in kinds]
    outcomes = make_outcomes(block_kinds)
    calls = 0
    final: tuple[str, int] | None = None
    try:
        for attempt in ab.retrying(max_attempts=max_attempts, on=OSError, wait=0):
            with attempt:
                calls += 1
                outcome = outcomes[calls - 1]
                if isinstance(outcome, Exception):
                    raise outcome
                final = ("value", outcome[1])
    except (OSError, KeyError) as exc:
        final = ("raise", exc.args[0])
    assert (calls, final) == model(block_kinds, max_attempts)


@settings(max_examples=200, deadline=None)
@given(
    durations=st.lists(
        st.floats(min_value=0, max_value=3, allow_nan=False), min_size=40, max_size=40
    ),
    timeout=st.floats(min_value=0.01, max_value=20, allow_nan=False),
    wait_initial=st.floats(min_value=0, max_value=2, allow_nan=False),
    wait_max=st.floats(min_value=0, max_value=10, allow_nan=False),
    wait_exp_base=st.floats(min_value=1, max_value=4, allow_nan=False),
    rng=st.randoms(use_true_random=False),
)
def test_property_default_waits_stay_in_bounds_and_within_the_deadline(
    durations: list[float],
    timeout: float,
    wait_initial: float,
    wait_max: float,
    wait_exp_base: float,
    rng: Any,
) -> None:
    """Property: default waits lie in [0, wait_max]; none ends past the deadline."""
    starts: list[float] = []
    with fake_time(rand=rng.random) as clock:

        @ab.async_retry(
            max_attempts=40,
            timeout=timeout,
            wait_initial=wait_initial,
            wait_max=wait_max,
            wait_exp_base=wait_exp_base,
        )
        def fn() -> None:
            starts.append(clock.now)
            clock.advance(durations[len(starts) - 1])
            raise OSError

        with pytest.raises(OSError):
            fn()
    assert all(0.0 <= wait <= wait_max for wait in clock.sleeps)
    assert sum(clock.sleeps) <= timeout + 1e-9
    assert all(start <= timeout + 1e-9 for start in starts)
