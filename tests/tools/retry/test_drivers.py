"""The drivers: hooks, the log line, sleeping and cancellation, per-call state."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import warnings
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from retry_helpers import (
    Counter,
    aflaky,
    fake_time,
    flaky,
    raise_,
    run_block,
)

import asyncbridge as ab


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


# ------------------------------------------------------------ hook errors, chained


@pytest.mark.parametrize("hook", ["before_sleep", "on_giveup"])
@pytest.mark.parametrize("colour", ["sync hook", "async hook"])
def test_a_hook_error_chains_the_attempts_error(hook: str, colour: str) -> None:
    """An error raised by a hook (sync or async) shows the attempt's error as context."""
    attempt_error = OSError("the attempt's")

    def sync_hook(_state: ab.RetryState) -> None:
        raise LookupError("the hook broke")

    async def async_hook(_state: ab.RetryState) -> None:
        await anyio.lowlevel.checkpoint()
        raise LookupError("the hook broke")

    options: dict[str, Any] = {
        "max_attempts": 2,
        "wait": 0,
        hook: sync_hook if colour == "sync hook" else async_hook,
    }

    async def afn() -> None:
        raise attempt_error

    with pytest.raises(LookupError) as sync_info:
        ab.async_retry(**options)(lambda: raise_(attempt_error))()
    assert sync_info.value.__context__ is attempt_error
    with pytest.raises(LookupError) as async_info:
        anyio.run(ab.async_retry(**options)(afn))
    assert async_info.value.__context__ is attempt_error
    assert attempt_error.__context__ is None


# -------------------------------------------------- sync waits in a running loop


@pytest.mark.anyio
async def test_a_sync_retry_waiting_in_a_running_loop_warns_naming_the_function() -> (
    None
):
    """A sync async_retry function sleeping on a running loop warns LoopBlockedWarning."""
    with fake_time():

        @ab.async_retry(max_attempts=3, wait=0.25)
        def fetch_inventory() -> str:
            raise OSError

        with pytest.warns(ab.LoopBlockedWarning) as record, pytest.raises(OSError):
            fetch_inventory()  # called from a coroutine: its waits block this loop
    messages = [str(w.message) for w in record]
    assert len(messages) == 2  # one per wait, here from one call site
    assert "async_retry's wait between attempts of " in messages[0]
    assert "fetch_inventory blocks the running " in messages[0]
    assert all(w.filename == __file__ for w in record)  # the user's line


@pytest.mark.anyio
async def test_a_sync_retrying_loop_waiting_in_a_running_loop_warns() -> None:
    """A sync `for` over retrying() inside a coroutine warns when it sleeps."""
    warned = pytest.warns(ab.LoopBlockedWarning, match="the retrying\\(\\) loop in ")
    with fake_time(), warned, pytest.raises(OSError):
        run_block(lambda _a: raise_(OSError()), max_attempts=2, wait=0.1)


@pytest.mark.anyio
async def test_no_loop_warning_when_a_sync_retry_does_not_sleep() -> None:
    """Zero waits and retry_testing() waits do not block the loop: no warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ab.LoopBlockedWarning)
        with pytest.raises(OSError):
            ab.async_retry(max_attempts=2, wait=0)(lambda: raise_(OSError()))()
        with ab.retry_testing(attempts=2), pytest.raises(OSError):
            ab.async_retry(max_attempts=2, wait=60)(lambda: raise_(OSError()))()


def test_no_loop_warning_outside_a_running_loop() -> None:
    """A sync retry sleeping in a thread without a running loop does not warn."""
    with warnings.catch_warnings(), fake_time() as clock:
        warnings.simplefilter("error", ab.LoopBlockedWarning)
        assert ab.async_retry(wait=0.5)(flaky([OSError(), "ok"]))() == "ok"
    assert clock.sleeps == [0.5]


@pytest.mark.anyio
async def test_a_loop_warning_turned_into_an_error_chains_the_attempts_error() -> None:
    """Under -W error the warning replaces the wait, with the attempt's error as context."""
    attempt_error = OSError("the attempt's")
    with warnings.catch_warnings(), fake_time():
        warnings.simplefilter("error", ab.LoopBlockedWarning)
        with pytest.raises(ab.LoopBlockedWarning) as info:
            ab.async_retry(wait=0.1)(lambda: raise_(attempt_error))()
    assert info.value.__context__ is attempt_error
