"""asyncbridge.executors: the registry, dedicated executors, shutdown, stats."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import TYPE_CHECKING, Any

import anyio
import pytest

import asyncbridge as ab

if TYPE_CHECKING:
    from collections.abc import Callable


@pytest.fixture(autouse=True)
def _fresh_bridge() -> object:
    """Each test starts and ends with a fresh bridge (no leftover executors)."""
    ab.executors.shutdown()
    yield
    ab.executors.shutdown()


def test_default_pool_is_lazy_and_shared() -> None:
    """get() creates the default pool on first use and returns the same one after."""
    assert "default" not in ab.executors.stats()
    pool = ab.executors.get()
    assert pool is ab.executors.get("default")
    assert isinstance(pool, concurrent.futures.Executor)
    assert pool.submit(sum, [1, 2]).result() == 3
    assert "default" in ab.executors.stats()


def test_default_workers_sizes_the_pool() -> None:
    """configure(default_workers=N) caps the default pool at N threads."""
    ab.configure(default_workers=2)
    pool = ab.executors.get()
    running = threading.Semaphore(0)
    release = threading.Event()

    def hold() -> None:
        running.release()
        release.wait()

    futures = [pool.submit(hold) for _ in range(4)]
    try:
        running.acquire()  # two run at once
        running.acquire()
        snapshot = ab.executors.stats()["default"]
    finally:
        release.set()
    assert snapshot == ab.executors.ExecutorStats(
        workers=2, busy=2, queued=2, completed=0
    )
    concurrent.futures.wait(futures)


def test_unknown_name_lists_known_names() -> None:
    """An unknown name is a ValueError naming the known ones."""
    ab.executors.register("io", concurrent.futures.ThreadPoolExecutor(1))
    with pytest.raises(ValueError, match=r"known names: 'default', 'io'"):
        ab.executors.get("missing")


def test_register_validates() -> None:
    """register() checks its arguments."""
    with pytest.raises(TypeError, match="name"):
        ab.executors.register("", concurrent.futures.ThreadPoolExecutor(1))
    with pytest.raises(TypeError, match="executor"):
        ab.executors.register("x", object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="shutdown_with_bridge"):
        ab.executors.register(
            "x",
            concurrent.futures.ThreadPoolExecutor(1),
            shutdown_with_bridge="yes",  # type: ignore[arg-type]
        )
    with pytest.raises(TypeError, match="name"):
        ab.executors.get(3)  # type: ignore[arg-type]


def test_register_replaces_default() -> None:
    """Registering 'default' makes every default call use that executor."""
    mine = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="custom")
    ab.executors.register("default", mine)

    async def main() -> str:
        return await ab.run_in_thread(lambda: threading.current_thread().name)

    assert anyio.run(main).startswith("custom")
    assert ab.executors.get() is mine


def test_replacing_an_owned_executor_shuts_it_down() -> None:
    """A dedicated executor replaced by register() is shut down."""
    old = ab.executors.dedicated("db")
    ab.executors.register("db", concurrent.futures.ThreadPoolExecutor(1))
    with pytest.raises(ab.ExecutorShutdownError):
        old.submit(int)


def test_dedicated_runs_everything_on_one_thread() -> None:
    """A dedicated executor is one thread, the same for every call and every lookup."""
    db = ab.executors.dedicated("db")
    assert db is ab.executors.dedicated("db")
    assert db is ab.executors.get("db")
    idents = {db.submit(threading.get_ident).result() for _ in range(20)}
    assert len(idents) == 1


def test_dedicated_name_clash() -> None:
    """dedicated() refuses a name already used by a non-dedicated executor."""
    ab.executors.register("io", concurrent.futures.ThreadPoolExecutor(1))
    with pytest.raises(ValueError, match="not a dedicated executor"):
        ab.executors.dedicated("io")
    with pytest.raises(TypeError, match="name"):
        ab.executors.dedicated("")


def test_shutdown_keeps_bridge_usable() -> None:
    """After shutdown() old pools refuse work; new calls get fresh pools and portal."""

    async def where() -> object:
        return asyncio.get_running_loop()

    old_pool = ab.executors.get()
    old_portal = ab.run_sync(where)
    ab.executors.shutdown()
    with pytest.raises(ab.ExecutorShutdownError, match="shut down"):
        old_pool.submit(int)
    assert ab.executors.get() is not old_pool
    assert ab.run_sync(where) is not old_portal

    async def main() -> int:
        return await ab.run_in_thread(abs, -3)

    assert anyio.run(main) == 3


def test_shutdown_respects_shutdown_with_bridge() -> None:
    """Executors registered with shutdown_with_bridge=False survive shutdown()."""
    keep = concurrent.futures.ThreadPoolExecutor(1)
    drop = concurrent.futures.ThreadPoolExecutor(1)
    ab.executors.register("keep", keep, shutdown_with_bridge=False)
    ab.executors.register("drop", drop)
    ab.executors.shutdown()
    assert ab.executors.get("keep") is keep
    assert keep.submit(int).result() == 0
    with pytest.raises(RuntimeError):
        drop.submit(int)
    with pytest.raises(ValueError, match="drop"):
        ab.executors.get("drop")
    keep.shutdown()


def test_shutdown_cancels_queued_work() -> None:
    """shutdown(cancel_futures=True) fails queued work instead of running it."""
    pool = ab.executors.dedicated("slow")
    release = threading.Event()
    started = threading.Event()

    def hold() -> None:
        started.set()
        release.wait()

    running = pool.submit(hold)
    queued = pool.submit(int)
    queued.add_done_callback(lambda _: release.set())  # failed by the shutdown
    started.wait()
    ab.executors.shutdown(wait=True, cancel_futures=True)
    assert running.result() is None
    with pytest.raises(ab.ExecutorShutdownError):
        queued.result()


def test_shutdown_fails_calls_in_flight_on_the_portal() -> None:
    """A call still running on the portal when it is shut down gets ExecutorShutdownError."""
    ab.configure(exit_grace=0.05)
    started = threading.Event()
    errors: list[BaseException] = []

    def caller() -> None:
        async def forever() -> None:
            started.set()
            await anyio.sleep_forever()

        try:
            ab.run_sync(forever)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=caller)
    thread.start()
    started.wait()
    ab.executors.shutdown()
    thread.join()
    assert isinstance(errors[0], ab.ExecutorShutdownError)


def test_run_in_thread_on_shut_down_executor() -> None:
    """Submitting to a shut-down executor raises ExecutorShutdownError."""
    pool = concurrent.futures.ThreadPoolExecutor(1)
    pool.shutdown()

    async def main() -> None:
        await ab.run_in_thread(int, executor=pool)

    with pytest.raises(ab.ExecutorShutdownError):
        anyio.run(main)


def test_stats_counts_foreign_executors() -> None:
    """stats() reports work asyncbridge ran on a registered foreign executor."""
    ab.executors.register("io", concurrent.futures.ThreadPoolExecutor(2))

    async def main() -> None:
        for _ in range(3):
            await ab.run_in_thread(int, executor="io")

    anyio.run(main)
    snapshot = ab.executors.stats()["io"]
    assert snapshot == ab.executors.ExecutorStats(
        workers=None, busy=0, queued=0, completed=3
    )


class _InlineSubmitter:
    """Not an Executor: just a submit() that runs the call at once, into a Future."""

    def __init__(self) -> None:
        self.calls = 0

    def submit(self, fn: Any, /, *args: Any) -> concurrent.futures.Future[Any]:
        self.calls += 1
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        try:
            future.set_result(fn(*args))
        except BaseException as exc:
            future.set_exception(exc)
        return future


@pytest.mark.anyio
async def test_any_object_with_submit_is_an_executor(anyio_backend: object) -> None:
    """An object with a submit() returning a Future works as executor=, and registered."""
    submitter = _InlineSubmitter()
    assert await ab.run_in_thread(abs, -3, executor=submitter) == 3  # type: ignore[arg-type]
    ab.executors.register("inline", submitter)  # type: ignore[arg-type]
    try:
        assert await ab.asyncify(abs, executor="inline")(-4) == 4
    finally:
        ab.executors.register("inline", concurrent.futures.ThreadPoolExecutor(1))
        ab.executors.get("inline").shutdown()
    assert submitter.calls == 2


class _DeliversFirst(concurrent.futures.ThreadPoolExecutor):
    """A thread pool whose job delivers before submit() hands back its future."""

    def __init__(self) -> None:
        super().__init__(1)
        self.futures: list[concurrent.futures.Future[object]] = []

    def submit(  # type: ignore[override]
        self, fn: Callable[..., object], /, *args: object
    ) -> concurrent.futures.Future[object]:
        future: concurrent.futures.Future[object] = concurrent.futures.Future()
        fn(*args)  # the job runs and delivers at once; its future ends later
        self.futures.append(future)
        return future


def test_stats_counts_a_job_that_delivers_before_submit_returns() -> None:
    """A fast worker's job counts as completed even before its future ends."""
    pool = _DeliversFirst()
    ab.executors.register("fast", pool)

    async def main() -> None:
        assert await ab.run_in_thread(int, "7", executor="fast") == 7

    anyio.run(main)
    assert ab.executors.stats()["fast"] == ab.executors.ExecutorStats(
        workers=None, busy=0, queued=0, completed=1
    )
    for future in pool.futures:
        future.set_result(None)
    assert ab.executors.stats()["fast"].completed == 1


def test_stats_counts_each_job_once_from_threads_released_together() -> None:
    """32 threads at once through a 4-thread foreign pool: every job counted once."""
    ab.executors.register("shared", concurrent.futures.ThreadPoolExecutor(4))
    barrier = threading.Barrier(32)

    async def calls() -> None:
        for _ in range(3):
            await ab.run_in_thread(int, executor="shared")

    def caller() -> None:
        barrier.wait()
        anyio.run(calls)

    threads = [threading.Thread(target=caller) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert ab.executors.stats()["shared"] == ab.executors.ExecutorStats(
        workers=None, busy=0, queued=0, completed=96
    )


def test_an_unregistered_pool_from_threads_released_together_with_faults() -> None:
    """12 threads at once through a 4-thread pool passed as executor=, with faults.

    Three calls per thread, one in three raising: each call gets its own outcome.
    """
    pool = concurrent.futures.ThreadPoolExecutor(4)
    n = 12
    barrier = threading.Barrier(n)
    outcomes: list[object] = [None] * (3 * n)

    def work(i: int) -> int:
        if i % 3 == 2:
            raise LookupError(i)
        return i

    async def calls(t: int) -> None:
        for i in range(3 * t, 3 * t + 3):
            try:
                outcomes[i] = await ab.run_in_thread(work, i, executor=pool)
            except LookupError as exc:
                outcomes[i] = exc

    def caller(t: int) -> None:
        barrier.wait()
        anyio.run(calls, t)

    threads = [threading.Thread(target=caller, args=(t,)) for t in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    raised = {i: o.args for i, o in enumerate(outcomes) if isinstance(o, LookupError)}
    assert raised == {i: (i,) for i in range(2, 3 * n, 3)}
    returned = [o for i, o in enumerate(outcomes) if i % 3 != 2]
    assert returned == [i for i in range(3 * n) if i % 3 != 2]
    pool.shutdown()


def test_an_unregistered_pool_shut_down_under_load() -> None:
    """12 calls on a 4-thread pool passed as executor=, shut down mid-way.

    The 4 running calls finish; the 8 queued ones raise ExecutorShutdownError; a
    later call raises it at once. Nothing hangs.
    """
    pool = concurrent.futures.ThreadPoolExecutor(4)
    release = threading.Event()
    started = threading.Barrier(5)  # the 4 workers and the test

    def blocker() -> str:
        started.wait()
        release.wait()
        return "ran"

    async def main() -> list[object]:
        results: list[object] = []

        async def one() -> None:
            try:
                results.append(await ab.run_in_thread(blocker, executor=pool))
            except ab.ExecutorShutdownError as exc:
                results.append(exc)

        async with anyio.create_task_group() as tg:
            for _ in range(12):
                tg.start_soon(one)
            await anyio.to_thread.run_sync(started.wait)  # 4 running, 8 queued
            pool.shutdown(wait=False, cancel_futures=True)
            release.set()
        return results

    results = anyio.run(main)
    assert results.count("ran") == 4
    assert sum(isinstance(r, ab.ExecutorShutdownError) for r in results) == 8

    async def after() -> str:
        return await ab.run_in_thread(blocker, executor=pool)

    with pytest.raises(ab.ExecutorShutdownError):
        anyio.run(after)
