"""gather_limited, map_async and batch_execute: bounded, ordered, structured."""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import asyncbridge as ab

BACKENDS = ["asyncio", "trio"]


class Gauge:
    """Counts what runs at once (from tasks and threads alike)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0

    def enter(self) -> None:
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)

    def leave(self) -> None:
        with self.lock:
            self.running -= 1


# ------------------------------------------------------------ gather_limited


@pytest.mark.anyio
async def test_gather_keeps_order_across_kinds(anyio_backend: object) -> None:
    """Coroutines, async callables and sync callables all run; results keep order."""
    loop_thread = threading.current_thread().name
    threads: dict[str, str] = {}

    async def coro(n: int) -> int:
        await anyio.sleep(0)
        return n

    async def async_call() -> str:
        threads["async"] = threading.current_thread().name
        return "async"

    def sync_call() -> str:
        threads["sync"] = threading.current_thread().name
        return "sync"

    results = await ab.gather_limited(
        coro(1), async_call, sync_call, lambda: coro(4), coro(5), limit=2
    )
    assert results == [1, "async", "sync", 4, 5]
    assert threads["async"] == loop_thread
    assert threads["sync"] != loop_thread


@pytest.mark.anyio
async def test_gather_uses_exactly_the_limit(anyio_backend: object) -> None:
    """`limit` items run at once (they wait for each other), never more."""
    gauge = Gauge()
    full = anyio.Event()
    limit = 3

    async def item() -> None:
        gauge.enter()
        if gauge.running == limit:
            full.set()
        await full.wait()
        await anyio.sleep(0)
        gauge.leave()

    await ab.gather_limited(*[item() for _ in range(10)], limit=limit)
    assert gauge.peak == limit


@pytest.mark.anyio
async def test_gather_first_error_cancels_the_rest(anyio_backend: object) -> None:
    """The first exception is raised unchanged; the others stop; unstarted ones close."""
    error = ValueError("first failure")
    cancelled: list[int] = []

    async def waits(i: int) -> None:
        try:
            await anyio.sleep_forever()
        finally:
            cancelled.append(i)

    async def fails() -> None:
        await anyio.sleep(0)
        raise error

    never = waits(99)
    with pytest.raises(ValueError) as info:
        await ab.gather_limited(waits(0), waits(1), fails(), never, limit=3)
    assert info.value is error
    assert sorted(cancelled) == [0, 1]
    assert inspect.getcoroutinestate(never) == inspect.CORO_CLOSED


@pytest.mark.anyio
async def test_gather_return_exceptions(anyio_backend: object) -> None:
    """With return_exceptions, each exception takes its item's place."""
    error = KeyError("k")

    def fails() -> None:
        raise error

    async def ok() -> int:
        return 1

    assert await ab.gather_limited(
        ok, fails, ok(), limit=1, return_exceptions=True
    ) == [
        1,
        error,
        1,
    ]


@pytest.mark.anyio
async def test_gather_bad_input(anyio_backend: object) -> None:
    """Bad items and limits fail before anything starts; given coroutines are closed."""
    started: list[int] = []

    async def record() -> None:
        started.append(1)

    pending = record()
    with pytest.raises(TypeError, match=r"awaitables_or_calls\[1\] is int"):
        await ab.gather_limited(pending, 42, record)  # type: ignore[call-overload]
    assert inspect.getcoroutinestate(pending) == inspect.CORO_CLOSED
    with pytest.raises(ValueError, match="limit must be at least 1"):
        await ab.gather_limited(record, limit=0)
    with pytest.raises(TypeError, match="limit"):
        await ab.gather_limited(record, limit=2.5)  # type: ignore[arg-type]
    assert started == []
    assert await ab.gather_limited() == []


# ----------------------------------------------------------------- map_async


@pytest.mark.anyio
async def test_map_async_sync_and_async(anyio_backend: object) -> None:
    """Async fn runs on the loop, sync fn in threads; order is kept."""
    loop_thread = threading.current_thread().name
    seen: set[str] = set()

    def blocking(n: int) -> int:
        seen.add(threading.current_thread().name)
        return n * n

    async def double(n: int) -> int:
        await anyio.sleep(0)
        return n * 2

    assert await ab.map_async(blocking, range(6), limit=3) == [0, 1, 4, 9, 16, 25]
    assert loop_thread not in seen
    assert await ab.map_async(double, [3, 1, 2]) == [6, 2, 4]


@pytest.mark.anyio
async def test_map_async_failure(anyio_backend: object) -> None:
    """The first exception stops the other calls and comes out unchanged."""
    error = ZeroDivisionError("bad item")

    async def fn(n: int) -> float:
        await anyio.sleep(0)
        if n == 3:
            raise error
        return 1 / (n + 1)

    with pytest.raises(ZeroDivisionError) as info:
        await ab.map_async(fn, range(20), limit=4)
    assert info.value is error


@pytest.mark.anyio
async def test_map_async_bad_input(anyio_backend: object) -> None:
    """Non-callables, non-iterables, async iterables and bad limits: clear errors."""
    calls: list[int] = []

    async def fn(n: int) -> int:
        calls.append(n)
        return n

    async def agen() -> AsyncIterator[int]:
        yield 1

    with pytest.raises(TypeError, match="fn must be callable"):
        await ab.map_async(42, [1])  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="expected an iterable for items"):
        await ab.map_async(fn, 42)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="async iterable"):
        await ab.map_async(fn, agen())  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="limit must be at least 1"):
        await ab.map_async(fn, [1], limit=0)
    assert calls == []


# ------------------------------------------------------------- hypothesis


def run_on(backend: str, fn: Callable[[], Awaitable[Any]]) -> Any:
    return anyio.run(fn, backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    items=st.lists(st.integers(-1000, 1000), max_size=25),
    limit=st.integers(1, 8),
    use_async=st.booleans(),
)
def test_map_async_matches_map(
    backend: str, items: list[int], limit: int, use_async: bool
) -> None:
    """map_async equals the built-in map, and never runs more than the limit at once."""
    gauge = Gauge()

    def square(n: int) -> int:
        gauge.enter()
        gauge.leave()
        return n * n

    async def async_square(n: int) -> int:
        gauge.enter()
        await anyio.sleep(0)
        gauge.leave()
        return n * n

    fn: Any = async_square if use_async else square

    async def main() -> list[int]:
        return await ab.map_async(fn, items, limit=limit)

    assert run_on(backend, main) == list(map(lambda n: n * n, items))  # noqa: C417
    assert gauge.peak <= limit


@dataclass
class Plan:
    """What one generated task does, and what it was seen doing."""

    outcome: str  # "ok", "fail" or "hang"
    is_async: bool
    runs: int = 0
    returned: bool = False
    raised: BaseException | None = None
    saw_cancel: bool = False
    errors: list[BaseException] = field(default_factory=list)


def make_task(index: int, plan: Plan, gauge: Gauge, yields: bool) -> Callable[[], Any]:
    def record_start() -> None:
        plan.runs += 1
        gauge.enter()

    def finish() -> int:
        gauge.leave()
        if plan.outcome == "fail":
            plan.raised = RuntimeError(f"task {index}")
            raise plan.raised
        plan.returned = True
        return index * 10

    if not plan.is_async:

        def sync_task() -> int:
            record_start()
            return finish()

        return sync_task

    async def async_task() -> int:
        record_start()
        try:
            if plan.outcome == "hang":
                await anyio.sleep_forever()
            if yields:
                await anyio.sleep(0)
        except BaseException:
            plan.saw_cancel = True
            gauge.leave()
            raise
        return finish()

    return async_task


plans = st.tuples(st.sampled_from(["ok", "fail"]), st.booleans())


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), limit=st.integers(1, 6), with_timeouts=st.booleans())
def test_batch_reports_what_happened(
    backend: str, data: st.DataObject, limit: int, with_timeouts: bool
) -> None:
    """batch_execute's outcomes are exactly what each task did, in order, bounded."""
    if with_timeouts:  # tasks that never yield, and tasks that hang until timed out
        specs = data.draw(
            st.lists(st.sampled_from(["ok", "fail", "hang"]), max_size=12)
        )
        task_plans = [Plan(outcome, is_async=True) for outcome in specs]
        fail_fast = False
    else:
        specs2 = data.draw(st.lists(plans, max_size=16))
        task_plans = [Plan(outcome, is_async) for outcome, is_async in specs2]
        fail_fast = data.draw(st.booleans())
    gauge = Gauge()
    tasks = [
        make_task(i, plan, gauge, yields=not with_timeouts)
        for i, plan in enumerate(task_plans)
    ]

    async def main() -> list[ab.TaskOutcome[Any]]:
        return await ab.batch_execute(
            tasks,
            limit=limit,
            timeout=0.01 if with_timeouts else None,
            fail_fast=fail_fast,
        )

    outcomes = run_on(backend, main)
    assert [o.index for o in outcomes] == list(range(len(tasks)))
    assert gauge.peak <= limit
    assert all(plan.runs <= 1 for plan in task_plans)
    stopped = any(o.status != "ok" for o in outcomes)
    for outcome, plan in zip(outcomes, task_plans, strict=True):
        assert outcome.duration >= 0
        if outcome.status == ab.OutcomeStatus.OK:
            assert (plan.runs, plan.returned, outcome.error) == (1, True, None)
            assert outcome.value == outcome.index * 10
        elif outcome.status == ab.OutcomeStatus.FAILED:
            assert outcome.error is plan.raised is not None
            assert outcome.value is None
        elif outcome.status == ab.OutcomeStatus.TIMED_OUT:
            assert plan.outcome == "hang"
            assert plan.saw_cancel
            assert isinstance(outcome.error, TimeoutError)
        else:
            assert outcome.status == ab.OutcomeStatus.CANCELLED
            assert fail_fast
            assert stopped
            # never started, interrupted, or a thread that could not be interrupted
            assert plan.runs == 0 or plan.saw_cancel or not plan.is_async
            assert (outcome.value, outcome.error) == (None, None)
    if not fail_fast:
        assert all(plan.runs == 1 for plan in task_plans)


# -------------------------------------------------------------- batch_execute


@pytest.mark.anyio
async def test_batch_empty(anyio_backend: object) -> None:
    """An empty batch returns an empty list."""
    assert await ab.batch_execute([]) == []


@pytest.mark.anyio
async def test_batch_kinds_run_on_the_right_side(anyio_backend: object) -> None:
    """Async callables are awaited on the loop; sync ones run in threads."""
    loop_thread = threading.current_thread().name

    async def on_loop() -> str:
        return threading.current_thread().name

    def in_thread() -> str:
        return threading.current_thread().name

    async def coro() -> str:
        return "awaited"

    returns_coroutine = lambda: coro()  # noqa: E731, PLW0108 - sync, returns a coroutine
    outcomes = await ab.batch_execute([on_loop, in_thread, coro(), returns_coroutine])
    assert [o.status for o in outcomes] == ["ok"] * 4
    assert outcomes[0].value == loop_thread
    assert outcomes[1].value != loop_thread
    assert [o.value for o in outcomes[2:]] == ["awaited", "awaited"]


@pytest.mark.anyio
async def test_batch_bad_tasks_start_nothing(anyio_backend: object) -> None:
    """An unknown task type is a TypeError before any task starts; coroutines close."""
    started: list[str] = []

    async def task() -> None:
        started.append("task")

    pending = task()
    with pytest.raises(TypeError, match=r"tasks\[1\] is str 'not a task'"):
        await ab.batch_execute([task, "not a task", pending])  # type: ignore[list-item]
    assert inspect.getcoroutinestate(pending) == inspect.CORO_CLOSED
    assert started == []


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"limit": 0}, ValueError, "limit"),
        ({"limit": "4"}, TypeError, "limit"),
        ({"timeout": -1}, ValueError, "timeout"),
        ({"retry": 5}, TypeError, "retry"),
        ({"on_progress": "print"}, TypeError, "on_progress"),
        ({"fail_fast": 1}, TypeError, "fail_fast"),
    ],
)
def test_batch_bad_options(options: dict[str, Any], error: type, match: str) -> None:
    """Bad options fail before anything starts, naming the parameter."""

    async def task() -> None:
        raise AssertionError("must not run")

    pending = task()

    async def main() -> None:
        await ab.batch_execute([task, pending], **options)

    with pytest.raises(error, match=match):
        anyio.run(main)
    assert inspect.getcoroutinestate(pending) == inspect.CORO_CLOSED


def test_concurrency_is_the_deprecated_name_of_limit() -> None:
    """``concurrency=`` still bounds map_async and batch_execute, with a warning."""
    gauge = Gauge()
    pairs = threading.Barrier(2, timeout=30)  # two at a time, never one alone

    def work(n: int) -> int:
        gauge.enter()
        try:
            pairs.wait()
            return n
        finally:
            gauge.leave()

    async def main() -> None:
        with pytest.warns(
            DeprecationWarning, match=r"map_async\(concurrency=...\)"
        ) as caught:
            values = await ab.map_async(work, range(8), concurrency=2)  # type: ignore[call-overload]
        assert caught[0].filename == __file__  # the caller's line
        assert values == list(range(8))
        tasks = [functools.partial(work, n) for n in range(8)]
        with pytest.warns(DeprecationWarning, match="limit=") as caught:
            outcomes = await ab.batch_execute(tasks, concurrency=2)  # type: ignore[call-overload]
        assert caught[0].filename == __file__  # the caller's line
        assert [o.value for o in outcomes] == list(range(8))

    anyio.run(main)
    assert gauge.peak == 2


def test_limit_and_concurrency_together_is_an_error() -> None:
    """Both names at once is a TypeError, raised before anything starts."""

    async def task() -> None:
        raise AssertionError("must not run")

    pending = task()

    async def main() -> None:
        await ab.batch_execute([pending], limit=3, concurrency=2)  # type: ignore[call-overload]

    with pytest.raises(TypeError, match="both limit= and concurrency="):
        anyio.run(main)
    assert inspect.getcoroutinestate(pending) == inspect.CORO_CLOSED


def test_batch_non_iterable_tasks() -> None:
    """A non-iterable `tasks` is a TypeError naming it."""
    with pytest.raises(TypeError, match="expected an iterable for tasks"):
        anyio.run(ab.batch_execute, 42)


@pytest.mark.anyio
async def test_batch_retry(anyio_backend: object) -> None:
    """retry= decorates each task: flaky sync and async tasks end ok."""
    attempts = {"sync": 0, "async": 0}

    def flaky_sync() -> str:
        attempts["sync"] += 1
        if attempts["sync"] < 3:
            raise ConnectionError("flaky")
        return "sync ok"

    async def flaky_async() -> str:
        attempts["async"] += 1
        if attempts["async"] < 2:
            raise ConnectionError("flaky")
        return "async ok"

    with ab.retry_testing(attempts=3):
        outcomes = await ab.batch_execute(
            [flaky_sync, flaky_async], retry=ab.async_retry(max_attempts=3)
        )
    assert [(o.status, o.value) for o in outcomes] == [
        ("ok", "sync ok"),
        ("ok", "async ok"),
    ]
    assert attempts == {"sync": 3, "async": 2}


@pytest.mark.anyio
async def test_batch_retry_refuses_awaitables(anyio_backend: object) -> None:
    """An awaitable cannot be retried: a TypeError that says to pass a callable."""

    async def task() -> None: ...

    pending = task()
    with pytest.raises(TypeError, match=r"functools\.partial"):
        await ab.batch_execute([pending], retry=ab.async_retry(max_attempts=2))
    assert inspect.getcoroutinestate(pending) == inspect.CORO_CLOSED


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_batch_progress(anyio_backend: object, kind: str) -> None:
    """on_progress(done, total) is called after each task, in order, sync or async."""
    calls: list[tuple[int, int]] = []

    def sync_progress(done: int, total: int) -> None:
        calls.append((done, total))

    async def async_progress(done: int, total: int) -> None:
        await anyio.sleep(0)
        calls.append((done, total))

    async def task() -> None:
        await anyio.sleep(0)

    progress = sync_progress if kind == "sync" else async_progress
    await ab.batch_execute([task] * 5, limit=2, on_progress=progress)
    assert calls == [(i, 5) for i in range(1, 6)]


@pytest.mark.anyio
async def test_batch_progress_error_propagates(anyio_backend: object) -> None:
    """An exception from on_progress cancels the batch and comes out unchanged."""
    error = OSError("progress bar broke")

    def progress(done: int, total: int) -> None:
        raise error

    async def task() -> None:
        await anyio.sleep(0)

    with pytest.raises(OSError) as info:
        await ab.batch_execute([task] * 3, on_progress=progress)
    assert info.value is error


@pytest.mark.anyio
async def test_batch_system_exit_propagates_unchanged(anyio_backend: object) -> None:
    """SystemExit in a task is not recorded: it cancels the rest and propagates as is."""

    async def quits() -> None:
        raise SystemExit(3)

    async def waits() -> None:
        await anyio.sleep_forever()

    with pytest.raises(SystemExit) as info:
        await ab.batch_execute([waits, quits, waits], limit=3)
    assert info.value.code == 3


@pytest.mark.anyio
async def test_batch_caller_cancel_stops_everything(anyio_backend: object) -> None:
    """Cancelling the caller cancels every task; started threads finish first."""
    async_started = 0
    both_async_started = anyio.Event()
    threads_started = threading.Semaphore(0)
    release = threading.Event()
    async_cancelled: list[int] = []
    threads_done: list[int] = []

    async def async_task(i: int) -> None:
        nonlocal async_started
        async_started += 1
        if async_started == 2:
            both_async_started.set()
        try:
            await anyio.sleep_forever()
        finally:
            async_cancelled.append(i)

    def sync_task(i: int) -> None:
        threads_started.release()
        release.wait(30)
        threads_done.append(i)

    def wait_for_threads() -> bool:
        return threads_started.acquire(timeout=30) and threads_started.acquire(
            timeout=30
        )

    never_started = async_task(99)
    tasks: list[Any] = [
        functools.partial(async_task, 0),
        functools.partial(sync_task, 1),
        functools.partial(async_task, 2),
        functools.partial(sync_task, 3),
        never_started,
    ]
    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as tg:
            tg.start_soon(functools.partial(ab.batch_execute, tasks, limit=4))
            await both_async_started.wait()
            assert await ab.run_in_thread(wait_for_threads)
            scope.cancel()
            release.set()
    assert sorted(async_cancelled) == [0, 2]
    assert sorted(threads_done) == [1, 3]
    assert inspect.getcoroutinestate(never_started) == inspect.CORO_CLOSED


@pytest.mark.anyio
async def test_batch_fail_fast_and_timeout(anyio_backend: object) -> None:
    """fail_fast cancels the others at the first failure; a timeout is its own status."""

    async def hangs() -> None:
        await anyio.sleep_forever()

    async def fails() -> None:
        await anyio.sleep(0)
        raise ValueError("boom")

    outcomes = await ab.batch_execute([hangs, fails, hangs], fail_fast=True)
    assert [o.status for o in outcomes] == ["cancelled", "failed", "cancelled"]
    outcomes = await ab.batch_execute([hangs], timeout=0.01)
    assert outcomes[0].status == ab.OutcomeStatus.TIMED_OUT
    assert isinstance(outcomes[0].error, TimeoutError)
    assert "task 0" in str(outcomes[0].error)
