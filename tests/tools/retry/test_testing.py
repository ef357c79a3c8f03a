"""retry_testing(): the testing switch, scoped by contextvars."""

from __future__ import annotations

import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor

import anyio
import anyio.lowlevel
import pytest
from retry_helpers import (
    Counter,
    fake_time,
    flaky,
)

import asyncbridge as ab
from asyncbridge._tools._retry._testing import current_testing


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
        config = current_testing()
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


def test_one_retry_testing_object_entered_by_32_threads_at_once() -> None:
    """32 threads released together enter and leave one switch: each sees its own."""
    threads = 32
    switch = ab.retry_testing(attempts=2)
    inside = threading.Barrier(threads)
    seen: list[tuple[object, object]] = []
    lock = threading.Lock()

    def worker() -> None:
        inside.wait()
        with switch:
            during = current_testing()
            inside.wait()  # everyone is inside at once, then everyone leaves
        after = current_testing()
        with lock:
            seen.append((during.attempts if during else None, after))

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert seen == [(2, None)] * threads
