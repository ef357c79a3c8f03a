"""Instrumentation across the layers: every bridge path emits its events.

The registry itself is tested in tests/core/test_hooks.py, the built-in hooks in
tests/tools/test_loghook.py and tests/tools/test_prometheus.py.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any

import anyio
import pytest

import asyncbridge as ab
from asyncbridge._core import _hooks
from asyncbridge._engine import _offload, _sync
from asyncbridge.instrumentation import (
    BridgeHop,
    Event,
    PoolSlotLent,
    RetryGivenUp,
    RetryScheduled,
)

pytestmark = pytest.mark.anyio


def hops(events: list[Event]) -> list[BridgeHop]:
    return [e for e in events if isinstance(e, BridgeHop)]


async def where() -> str:
    await anyio.sleep(0)
    return threading.current_thread().name


async def fail() -> None:
    await anyio.sleep(0)
    raise ValueError("from the coroutine")


def thread_name() -> str:
    return threading.current_thread().name


# ------------------------------------------------------------------ bridge hops


def test_run_sync_hop_to_the_portal(events: list[Event]) -> None:
    """run_sync from a plain thread: one hop, route portal, with both threads."""
    ran_on = ab.run_sync(where)
    [hop] = hops(events)
    assert (hop.api, hop.route, hop.path) == ("run_sync", "portal", "run_sync:portal")
    assert hop.target == f"{__name__}.where"
    assert hop.caller_thread == threading.current_thread().name
    assert hop.runner_thread == ran_on == "asyncbridge-portal-asyncio"
    assert 0 <= hop.queued <= hop.duration
    assert hop.error is None
    assert str(hop).startswith(f"run_sync:portal {__name__}.where from 'MainThread'")
    assert str(hop).endswith(", ok")


def test_run_sync_of_an_awaitable_and_syncify(events: list[Event]) -> None:
    """A coroutine object and a syncify wrapper are reported the same way."""
    ab.run_sync(where())
    ab.syncify(where)()
    assert [h.target for h in hops(events)] == ["where", f"{__name__}.where"]


def test_own_loop_is_the_same_thread(events: list[Event]) -> None:
    """Under sync_loop="thread" the coroutine runs in the caller's thread."""
    ab.configure(sync_loop="thread")  # restored by conftest
    done = threading.Event()

    def in_a_thread() -> None:
        ab.run_sync(where)
        done.set()

    thread = threading.Thread(target=in_a_thread, name="caller")
    thread.start()
    thread.join()
    assert done.is_set()
    [hop] = hops(events)
    assert (hop.route, hop.caller_thread, hop.runner_thread) == (
        "same_thread",
        "caller",
        "caller",
    )


async def test_nested_hops_on_every_backend(
    anyio_backend: object, events: list[Event]
) -> None:
    """run_in_thread → run_sync back to the parent loop: two hops, routes and threads."""

    def sync_part() -> str:
        return ab.run_sync(where)

    loop_thread = threading.current_thread().name
    assert await ab.run_in_thread(sync_part) == loop_thread
    inner, outer = hops(events)  # the inner hop ends first
    assert (inner.api, inner.route, inner.runner_thread) == (
        "run_sync",
        "parent_loop",
        loop_thread,
    )
    assert (outer.api, outer.route, outer.caller_thread) == (
        "run_in_thread",
        "thread_pool",
        loop_thread,
    )
    assert inner.caller_thread == outer.runner_thread
    assert outer.target.endswith("sync_part")
    assert outer.duration >= inner.duration


async def test_depth_three_chain(anyio_backend: object, events: list[Event]) -> None:
    """sync→async→sync→async three deep: every hop reported, innermost first."""

    async def deepest() -> int:
        return 3

    async def middle() -> int:
        return await ab.run_in_thread(lambda: ab.run_sync(deepest))

    def top() -> int:
        return ab.run_sync(middle)

    assert await ab.run_in_thread(top) == 3
    assert [h.path for h in hops(events)] == [
        "run_sync:parent_loop",
        "run_in_thread:thread_pool",
        "run_sync:parent_loop",
        "run_in_thread:thread_pool",
    ]


def test_errors_and_cancellation_are_in_the_hop(events: list[Event]) -> None:
    """What the bridged code raised, a timeout's cancellation included, is reported."""
    with pytest.raises(ValueError, match="from the coroutine"):
        ab.run_sync(fail)

    async def forever() -> None:
        await asyncio.Event().wait()

    with pytest.raises(TimeoutError):
        ab.run_sync(forever, timeout=0.01)

    async def offload_failure() -> None:
        await ab.run_in_thread(int, "not a number")

    with pytest.raises(ValueError, match="invalid literal"):
        asyncio.run(offload_failure())
    raised, cancelled, offloaded = hops(events)
    assert isinstance(raised.error, ValueError)
    assert str(raised).endswith("raised ValueError")
    assert isinstance(cancelled.error, asyncio.CancelledError)
    assert isinstance(offloaded.error, ValueError)
    assert offloaded.target == "builtins.int"


def test_foreign_executors_are_not_reported(events: list[Event]) -> None:
    """An executor that may leave the process (not a thread pool) gets no hop."""

    class Inline(concurrent.futures.Executor):
        def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
            future: concurrent.futures.Future[Any] = concurrent.futures.Future()
            future.set_result(fn(*args, **kwargs))
            return future

    async def main() -> int:
        return await ab.run_in_thread(abs, -2, executor=Inline())

    assert asyncio.run(main()) == 2
    assert hops(events) == []


def test_a_thread_pool_executor_is_reported(events: list[Event]) -> None:
    """A concurrent.futures thread pool is a thread hop like the default pool."""
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="tpe") as pool:

        async def main() -> str:
            return await ab.run_in_thread(thread_name, executor=pool)

        ran_on = asyncio.run(main())
    [hop] = hops(events)
    assert hop.runner_thread == ran_on
    assert ran_on.startswith("tpe")


def test_many_threads_at_once(events: list[Event]) -> None:
    """Hops from many threads released together are each reported once."""
    n = 12
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def caller() -> None:
        try:
            barrier.wait()
            ab.run_sync(where)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=caller, name=f"caller-{i}") for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(h.caller_thread for h in hops(events)) == sorted(
        t.name for t in threads
    )


def test_no_hook_no_tracing(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no hook registered, the bridges never call the tracing helpers."""

    def refuse(*args: object) -> None:
        raise AssertionError("traced without a hook")

    monkeypatch.setattr(_sync, "trace_run_sync", refuse)
    monkeypatch.setattr(_offload, "trace_run_in_thread", refuse)
    assert _hooks.HOOKS == []

    async def main() -> int:
        return await ab.run_in_thread(lambda: ab.run_sync(one))

    async def one() -> int:
        return 1

    assert ab.run_sync(one) == 1
    assert asyncio.run(main()) == 1


# ------------------------------------------------------------- hook behaviour


def test_a_failing_hook_is_logged_and_skipped(
    events: list[Event], caplog: pytest.LogCaptureFixture
) -> None:
    """A hook that raises is logged; the call and the other hooks are unaffected."""

    def broken(event: Event) -> None:
        raise RuntimeError("hook bug")

    ab.instrumentation.add_hook(broken)
    try:
        assert ab.run_sync(where) == "asyncbridge-portal-asyncio"
    finally:
        ab.instrumentation.remove_hook(broken)
    assert len(hops(events)) == 1
    [record] = [r for r in caplog.records if "hook" in r.getMessage()]
    assert "failed on BridgeHop" in record.getMessage()
    assert record.exc_info is not None
    assert str(record.exc_info[1]) == "hook bug"


def test_a_hook_that_bridges_is_not_fed_its_own_calls(events: list[Event]) -> None:
    """Bridge calls made by a hook (and theirs in turn) are not reported again."""
    seen_by_hook: list[Event] = []

    def bridging_hook(event: Event) -> None:
        seen_by_hook.append(event)
        ab.run_sync(where)  # in the worker thread: back to the parent loop

    async def main() -> str:
        return await ab.run_in_thread(thread_name)

    ab.instrumentation.add_hook(bridging_hook)
    try:
        asyncio.run(main())
    finally:
        ab.instrumentation.remove_hook(bridging_hook)
    assert seen_by_hook == events
    assert [e.path for e in hops(events)] == ["run_in_thread:thread_pool"]


def test_run_in_thread_from_a_hook_is_not_reported(events: list[Event]) -> None:
    """A hook offloading work (run_in_thread from inside a hook) adds no event."""
    seen: list[Event] = []

    def offloading_hook(event: Event) -> None:
        if len(seen) < 3:  # bounded, should the hook be fed its own hops
            seen.append(event)
            asyncio.run(ab.run_in_thread(thread_name))  # in the worker thread

    async def main() -> str:
        return await ab.run_in_thread(thread_name)

    ab.instrumentation.add_hook(offloading_hook)
    try:
        asyncio.run(main())
    finally:
        ab.instrumentation.remove_hook(offloading_hook)
    assert len(seen) == 1
    assert [e.path for e in hops(events)] == ["run_in_thread:thread_pool"]


async def test_greenlet_reentry_is_a_same_thread_hop(
    anyio_backend: object, events: list[Event]
) -> None:
    """Under on_loop_conflict="greenlet" the coroutine runs on the caller's own loop."""

    def sync_part() -> str:
        return ab.run_sync(where, on_loop_conflict="greenlet")

    async def main() -> str:
        return sync_part()

    loop_thread = threading.current_thread().name
    assert await ab.run_in_greenlet(main) == loop_thread
    [hop] = hops(events)
    assert (hop.route, hop.caller_thread, hop.runner_thread) == (
        "same_thread",
        loop_thread,
        loop_thread,
    )


def test_retries_and_give_ups_are_reported() -> None:
    """async_retry emits RetryScheduled per retry and RetryGivenUp at the end."""
    seen: list[object] = []
    calls = [0]

    @ab.async_retry(max_attempts=3, wait=0)
    def flaky() -> None:
        calls[0] += 1
        raise OSError("down")

    ab.instrumentation.add_hook(seen.append)
    try:
        with pytest.raises(OSError):
            flaky()
    finally:
        ab.instrumentation.remove_hook(seen.append)
    retries = [e for e in seen if isinstance(e, RetryScheduled)]
    given_up = [e for e in seen if isinstance(e, RetryGivenUp)]
    assert [e.attempt for e in retries] == [1, 2]
    assert len(given_up) == 1
    assert given_up[0].attempts == 3
    assert calls[0] == 3


def test_pool_lending_is_reported() -> None:
    """A pool thread waiting on nested work reports the slot it lends."""
    seen: list[object] = []

    def inner() -> int:
        return 1

    def outer() -> int:
        async def nested() -> int:
            return await ab.run_in_thread(inner)

        return asyncio.run(nested())  # this pool thread's own loop awaits the pool

    ab.instrumentation.add_hook(seen.append)
    try:
        assert asyncio.run(ab.run_in_thread(outer)) == 1
    finally:
        ab.instrumentation.remove_hook(seen.append)
    lent = [e for e in seen if isinstance(e, PoolSlotLent)]
    assert lent
    assert lent[0].pool == "default"
