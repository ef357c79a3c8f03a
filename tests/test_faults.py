"""Faults that used to hang, spin or give wrong results: each now ends, correctly.

One test per defect found by fault injection (issue 7, "What was seen"). Scenarios
that could hang the whole process run in a subprocess (see test_process.py); the
rest rely on pytest-timeout as the backstop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import inspect
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import pytest

import asyncbridge as ab
from asyncbridge._engine._pool import BridgePool

pytestmark = pytest.mark.filterwarnings("ignore::asyncbridge.LoopBlockedWarning")


@pytest.fixture
def fresh_bridge() -> Iterator[None]:
    """Shut the bridge down after the test (it restarts lazily for the next)."""
    yield
    ab.executors.shutdown()


# ------------------------------------------------------------ item 4: sessions


class _Recorder:
    """An async context manager that records the task of each enter and exit."""

    def __init__(self) -> None:
        self.entered: dict[int, object] = {}
        self.exited: dict[int, object] = {}

    async def __aenter__(self) -> object:
        return asyncio.current_task()

    async def __aexit__(
        self, tp: object, exc: BaseException | None, tb: object
    ) -> bool:
        assert isinstance(exc, _Marker)
        self.exited[exc.args[0]] = asyncio.current_task()
        return True  # suppress the marker


class _Marker(Exception):
    """Raised in a block to tell __aexit__ which thread's block it is."""


def test_sync_context_entered_from_two_threads_exits_in_each_own_task() -> None:
    """One sync_context object entered from two threads: each exits its own session."""
    recorder = _Recorder()
    bridge = ab.sync_context(recorder)
    both_in = threading.Barrier(2)
    first_out = threading.Event()
    tasks: dict[int, object] = {}

    def use(i: int) -> None:
        with bridge as task:
            tasks[i] = task
            both_in.wait()
            if i == 1:
                first_out.wait()  # thread 0 leaves first, while 1 is still in
            try:
                raise _Marker(i)
            finally:
                if i == 0:
                    first_out.set()

    threads = [threading.Thread(target=use, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert recorder.exited == tasks


# ------------------------------------------------------- item 5: exceptions


@pytest.mark.anyio
async def test_stop_iteration_in_a_thread_reaches_the_caller(
    anyio_backend: object,
) -> None:
    """A sync function raising StopIteration: RuntimeError chained to it, no hang."""
    with anyio.fail_after(10), pytest.raises(RuntimeError) as info:
        await ab.run_in_thread(next, iter([]))
    assert isinstance(info.value.__cause__, StopIteration)


@pytest.mark.anyio
async def test_stop_iteration_through_every_offload(anyio_backend: object) -> None:
    """asyncify, .aio forms, map_async and gather_limited deliver StopIteration too."""

    def empty() -> object:
        return next(iter([]))

    @ab.mixed_execution_safe
    def mixed() -> object:
        return empty()

    calls: list[Any] = [
        ab.asyncify(empty),
        mixed.aio,
        ab.async_safe(empty).aio,
        functools.partial(ab.map_async, lambda _: empty(), [1, 2]),
        functools.partial(ab.gather_limited, empty),
    ]
    for call in calls:
        with anyio.fail_after(10), pytest.raises(RuntimeError) as info:
            await call()
        assert isinstance(info.value.__cause__, StopIteration), call


def _raise_cancelled() -> None:
    raise asyncio.CancelledError("raised by sync code")


@pytest.mark.anyio
async def test_cancelled_error_from_sync_code_is_not_swallowed(
    anyio_backend: object, backend_name: str
) -> None:
    """A sync function raising CancelledError in map_async and kin: reported, no spin.

    On asyncio it is carried as a RuntimeError (chained to it), since a task that
    raises CancelledError is read as cancelled; on trio it comes out unchanged.
    """
    expected = RuntimeError if backend_name == "asyncio" else asyncio.CancelledError
    calls: list[Any] = [
        functools.partial(ab.map_async, lambda _: _raise_cancelled(), [1, 2]),
        functools.partial(ab.gather_limited, _raise_cancelled, _raise_cancelled),
        functools.partial(ab.run_in_thread, _raise_cancelled),
    ]
    for call in calls:
        with anyio.fail_after(10), pytest.raises(expected) as info:
            await call()
        if expected is RuntimeError:
            assert isinstance(info.value.__cause__, asyncio.CancelledError)


@pytest.mark.anyio
async def test_cancelled_error_in_a_batch_is_a_failed_outcome_on_asyncio(
    anyio_backend: object, backend_name: str
) -> None:
    """batch_execute records a sync task's own CancelledError, never drops it."""
    if backend_name != "asyncio":
        with anyio.fail_after(10), pytest.raises(asyncio.CancelledError):
            await ab.batch_execute([_raise_cancelled])
        return
    with anyio.fail_after(10):
        [outcome] = await ab.batch_execute([_raise_cancelled])
    assert outcome.status is ab.OutcomeStatus.FAILED
    assert isinstance(outcome.error, RuntimeError)


# --------------------------------------------- item 5: executors shut down


def _blocked_executor_call(
    executor: concurrent.futures.Executor, release: threading.Event
) -> None:
    """Occupy the executor's only worker until *release* is set."""
    executor.submit(release.wait)


@pytest.mark.anyio
@pytest.mark.parametrize("by", ["user", "bridge"])
async def test_queued_call_on_a_thread_pool_shut_down_fails(
    anyio_backend: object, by: str
) -> None:
    """A call queued on a ThreadPoolExecutor shut down with cancel_futures raises."""
    pool = concurrent.futures.ThreadPoolExecutor(1)
    ab.executors.register("foreign", pool)
    release = threading.Event()
    _blocked_executor_call(pool, release)
    async with anyio.create_task_group() as tg:
        failures: list[BaseException] = []

        async def queued() -> None:
            try:
                await ab.run_in_thread(abs, -1, executor="foreign")
            except ab.ExecutorShutdownError as exc:
                failures.append(exc)

        tg.start_soon(queued)
        await anyio.wait_all_tasks_blocked()  # queued behind the blocked worker
        if by == "user":
            pool.shutdown(wait=False, cancel_futures=True)
        else:
            ab.executors.shutdown(wait=False, cancel_futures=True)
        release.set()
    assert len(failures) == 1
    pool.shutdown()


@pytest.mark.anyio
async def test_queued_call_on_a_process_pool_shut_down_fails(
    anyio_backend: object,
) -> None:
    """A call queued on a ProcessPoolExecutor shut down with cancel_futures raises."""
    with concurrent.futures.ProcessPoolExecutor(1) as pool:
        busy = pool.submit(pow, 2, 10)  # the worker process starts with this one
        calls = [ab.run_in_thread(pow, 3, 3, executor=pool) for _ in range(4)]
        results: list[object] = []

        async def one(call: Any) -> None:
            try:
                results.append(await call)
            except ab.ExecutorShutdownError as exc:
                results.append(exc)

        async with anyio.create_task_group() as tg:
            for call in calls:
                tg.start_soon(one, call)
            await anyio.wait_all_tasks_blocked()
            pool.shutdown(wait=False, cancel_futures=True)
        assert busy.result() == 1024
    assert len(results) == 4
    assert all(r == 27 or isinstance(r, ab.ExecutorShutdownError) for r in results)


def _race_submits_and_shutdown(pool: BridgePool) -> tuple[list[Any], int]:
    """8 threads submit 20 items each while one shuts the pool down."""
    barrier = threading.Barrier(9)
    accepted: list[concurrent.futures.Future[int]] = []
    refused = [0]
    lock = threading.Lock()

    def submit() -> None:
        barrier.wait()
        for i in range(20):
            try:
                future = pool.submit(abs, -i)
            except ab.ExecutorShutdownError:
                with lock:
                    refused[0] += 1
            else:
                with lock:
                    accepted.append(future)

    def shut() -> None:
        barrier.wait()
        pool.shutdown(wait=True)

    threads = [threading.Thread(target=submit) for _ in range(8)]
    threads.append(threading.Thread(target=shut))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    pool.shutdown(wait=True)
    return accepted, refused[0]


def test_submit_racing_shutdown_strands_nothing() -> None:
    """Submits racing a pool's shutdown: each accepted item runs, shutdown completes."""
    for _ in range(30):
        accepted, refused = _race_submits_and_shutdown(BridgePool(4, "race"))
        assert all(f.done() for f in accepted)
        assert len(accepted) + refused == 160


# --------------------------------------------------- item 5: cycles refused


class _Counter(ab.DualInterface):
    async def bump_async(self) -> int:
        await asyncio.sleep(0)
        return 1


def test_twin_from_a_worker_its_home_loop_waits_for_is_refused() -> None:
    """A sync twin whose home loop is blocked waiting for this worker: an error."""
    counter = _Counter()

    @ab.mixed_execution_safe
    def legacy() -> int:
        return counter.bump()  # type: ignore[attr-defined,no-any-return]

    async def main() -> None:
        await counter.bump_async()  # the running loop is now its home
        with pytest.raises(ab.LoopConflictError, match="blocked waiting"):
            legacy()  # blocks this loop; the twin needs it

    asyncio.run(main())


def test_run_sync_to_a_blocked_portal_uses_the_workers_own_loop() -> None:
    """A worker the portal is blocked on runs run_sync on a loop of its own."""

    async def where() -> int:
        return id(asyncio.get_running_loop())

    @ab.mixed_execution_safe
    def legacy() -> int:
        return ab.run_sync(where)

    async def on_portal() -> tuple[int, int]:
        return id(asyncio.get_running_loop()), legacy()

    portal, inner = ab.run_sync(on_portal)
    assert portal != inner


# ------------------------------------------------ item 5: stopped loops


def test_run_sync_timeout_honoured_when_the_loop_stopped() -> None:
    """run_sync(timeout=...) in a worker whose loop stopped (not closed) times out."""
    loop = asyncio.new_event_loop()
    stopped = threading.Event()
    outcome: list[BaseException | object] = []

    async def nothing() -> None:
        await asyncio.sleep(0)

    def worker() -> None:
        stopped.wait()
        try:
            outcome.append(ab.run_sync(nothing, timeout=0.05))
        except BaseException as exc:
            outcome.append(exc)

    async def start() -> asyncio.Task[None]:
        return asyncio.ensure_future(ab.run_in_thread(worker))

    try:
        task = loop.run_until_complete(start())
        stopped.set()  # the loop is not running now: the worker's call times out
        while not outcome:
            threading.Event().wait(0.01)
        assert isinstance(outcome[0], TimeoutError)
        loop.run_until_complete(task)
    finally:
        loop.close()


@pytest.mark.timeout(30)
def test_shutdown_from_a_coroutine_on_the_portal_returns_at_once() -> None:
    """executors.shutdown() called on the portal does not wait for its own call."""
    ab.configure(exit_grace=3600)

    async def shut() -> str:
        ab.executors.shutdown()
        return "done"

    assert ab.run_sync(shut) == "done"


# --------------------------------------------- item 6: results and leaks


@pytest.mark.anyio
async def test_int_limiter_uses_the_size_of_each_call(anyio_backend: object) -> None:
    """limiter=8 after limiter=1 for the same function allows 8 at once."""
    gate = threading.Barrier(8, timeout=10)

    def meet(_: int) -> None:
        gate.wait()  # breaks (BrokenBarrierError) unless 8 run at once

    await ab.run_in_thread(functools.partial(threading.Event().wait, 0), limiter=1)
    async with anyio.create_task_group() as tg:
        for i in range(8):
            tg.start_soon(functools.partial(ab.run_in_thread, meet, i, limiter=8))


@pytest.mark.anyio
async def test_int_limiter_keys_on_the_function_under_partials(
    anyio_backend: object,
) -> None:
    """A partial made per call shares the limit of its function."""
    inside = [0]
    peak = [0]
    lock = threading.Lock()

    def work(*, n: int) -> int:
        with lock:
            inside[0] += 1
            peak[0] = max(peak[0], inside[0])
        threading.Event().wait(0.005)
        with lock:
            inside[0] -= 1
        return n

    async with anyio.create_task_group() as tg:
        for i in range(12):
            call = functools.partial(work, n=i)
            tg.start_soon(functools.partial(ab.run_in_thread, call, limiter=2))
    assert peak[0] == 2


@pytest.mark.anyio
async def test_int_limiter_refuses_an_unhashable_callable(
    anyio_backend: object,
) -> None:
    """An int limiter for an unhashable callable: a TypeError that says what to do."""

    class Unhashable:
        __hash__ = None  # type: ignore[assignment]

        def __call__(self) -> int:
            return 1

    with pytest.raises(TypeError, match="CapacityLimiter"):
        await ab.run_in_thread(Unhashable(), limiter=2)


def test_default_workers_applies_to_a_warm_pool(fresh_bridge: None) -> None:
    """configure(default_workers=4) bounds a pool that already has 40 threads."""
    warm = threading.Barrier(40, timeout=10)
    inside = [0]
    peak = [0]
    lock = threading.Lock()

    def meet() -> None:
        warm.wait()

    def count() -> None:
        with lock:
            inside[0] += 1
            peak[0] = max(peak[0], inside[0])
        threading.Event().wait(0.005)
        with lock:
            inside[0] -= 1

    async def main() -> None:
        await asyncio.gather(*(ab.run_in_thread(meet) for _ in range(40)))
        ab.configure(default_workers=4)
        await asyncio.gather(*(ab.run_in_thread(count) for _ in range(24)))

    asyncio.run(main())
    assert peak[0] == 4


async def _pending() -> None:
    await asyncio.sleep(3600)


class _Returner:
    """A sync callable that returns a coroutine once released, keeping it."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.made: list[Any] = []

    def __call__(self) -> Any:
        self.started.set()
        self.release.wait()
        self.made.append(_pending())
        return self.made[-1]

    def closed(self) -> bool:
        return bool(self.made) and (
            inspect.getcoroutinestate(self.made[-1]) == inspect.CORO_CLOSED
        )


@pytest.mark.anyio
async def test_coroutine_returned_to_a_cancelled_caller_is_closed(
    anyio_backend: object,
) -> None:
    """gather_limited: a coroutine that arrives after the caller was cancelled is closed."""
    returner = _Returner()
    async with anyio.create_task_group() as tg:
        tg.start_soon(functools.partial(ab.gather_limited, returner))
        await anyio.to_thread.run_sync(returner.started.wait)
        tg.cancel_scope.cancel()  # the caller waits for the running thread...
        returner.release.set()  # ...which then returns a coroutine nobody awaits
    assert returner.closed()


@pytest.mark.anyio
async def test_coroutine_returned_after_an_aio_timeout_is_closed(
    anyio_backend: object,
) -> None:
    """A .aio call that timed out closes the coroutine its thread returns later."""
    returner = _Returner()
    lane = ab.executors.dedicated("faults-lane")

    @ab.mixed_execution_safe(executor=lane, timeout=0.01)
    def decorated() -> Any:
        return returner()

    with pytest.raises(TimeoutError):
        await decorated.aio()
    returner.release.set()
    # The lane runs in order, and delivers in order: once this result is here,
    # the timed-out call's result has been delivered (and dropped) too.
    await ab.run_in_thread(abs, -1, executor=lane)
    assert returner.closed()


@pytest.mark.anyio
async def test_coroutine_returned_by_a_timed_out_batch_task_is_closed(
    anyio_backend: object,
) -> None:
    """batch_execute closes the coroutine a timed-out sync task returns."""
    returner = _Returner()

    async def release_after_timeout() -> None:
        await anyio.to_thread.run_sync(returner.started.wait)
        await anyio.sleep(0.1)  # past the task's timeout: it is waiting to cancel
        returner.release.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(release_after_timeout)
        [outcome] = await ab.batch_execute([returner], timeout=0.01)
    assert outcome.status is ab.OutcomeStatus.TIMED_OUT
    assert returner.closed()


@pytest.mark.anyio
async def test_gather_limited_closes_coroutines_on_bad_options(
    anyio_backend: object,
) -> None:
    """gather_limited with a bad limit or flag closes the coroutines it was given."""
    for options in ({"limit": 0}, {"return_exceptions": "yes"}):
        coroutine = _pending()
        with pytest.raises((ValueError, TypeError)):
            await ab.gather_limited(coroutine, **options)  # type: ignore[arg-type]
        assert inspect.getcoroutinestate(coroutine) == inspect.CORO_CLOSED


# ------------------------------------------------- item 7: options checked


@pytest.mark.parametrize(
    "call",
    [
        lambda: ab.configure(on_loop_conflict="never"),  # type: ignore[typeddict-item]
        lambda: ab.configure(exit_grace=float("inf")),
        lambda: ab.configure(exit_grace=1e300),
        lambda: ab.configure(on_loop_conflict=[]),  # type: ignore[arg-type]
        lambda: ab.executors.shutdown(wait="no"),  # type: ignore[arg-type]
        lambda: ab.syncify(_pending, timeout=float("inf")),
        lambda: ab.async_safe(timeout=1e300),
        lambda: ab.mixed_execution_safe(timeout=float("inf")),
    ],
    ids=[
        "unknown-policy",
        "inf-grace",
        "huge-grace",
        "unhashable-policy",
        "shutdown-wait-str",
        "syncify-inf",
        "async-safe-huge",
        "mixed-inf",
    ],
)
def test_options_fail_where_given(call: Any) -> None:
    """Options that could only fail later are refused where they are given."""
    with pytest.raises((TypeError, ValueError)):
        call()


async def _agen() -> AsyncIterator[int]:
    yield 1


@pytest.mark.anyio
async def test_async_generator_functions_are_refused_by_offload(
    anyio_backend: object,
) -> None:
    """run_in_thread and asyncify refuse async generator functions, naming them."""
    with pytest.raises(TypeError, match="async generator"):
        await ab.run_in_thread(_agen)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="async generator"):
        ab.asyncify(_agen)


class _Methods:
    def __init__(self) -> None:
        self.calls = 0

    def sync(self, n: int) -> int:
        self.calls += 1
        return n + 1

    async def coroutine(self) -> None: ...

    async def generator(self) -> AsyncIterator[int]:
        yield 1


@pytest.mark.anyio
async def test_offload_checks_bound_methods_by_their_function(
    anyio_backend: object,
) -> None:
    """A bound sync method runs; bound async and async-generator methods are refused."""
    obj = _Methods()
    assert await ab.run_in_thread(obj.sync, 1) == 2
    assert obj.calls == 1
    with pytest.raises(TypeError, match="async function"):
        await ab.run_in_thread(obj.coroutine)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="async generator"):
        await ab.run_in_thread(obj.generator)  # type: ignore[arg-type]
    assert obj.calls == 1
