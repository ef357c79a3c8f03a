"""BridgePool: asyncbridge's thread pool (threads on demand, idle threads leave)."""

from __future__ import annotations

import threading

import pytest

import asyncbridge as ab
from asyncbridge._engine._pool import BridgePool

# Seconds after which a wait that should have ended fails the test instead of
# hanging it (600 times the idle timeout used: a liveness bound, not a speed check).
HANG_GUARD = 30.0


def test_pool_is_a_full_executor() -> None:
    """BridgePool works with Executor.map and as a context manager."""
    with BridgePool(3, "mapper") as pool:
        assert list(pool.map(abs, [-1, -2, -3])) == [1, 2, 3]
    with pytest.raises(ab.ExecutorShutdownError):
        pool.submit(int)


def test_idle_workers_leave_and_new_work_starts_a_thread_again() -> None:
    """Idle threads leave after idle_timeout (workers drops to 0); new work starts one."""
    pool = BridgePool(4, "idle", idle_timeout=0.05)
    all_running = threading.Barrier(5, timeout=HANG_GUARD)  # four threads and this one
    release = threading.Event()
    started, again = threading.Event(), threading.Event()

    def hold() -> threading.Thread:
        all_running.wait()
        release.wait()
        return threading.current_thread()

    try:
        held = [pool.submit(hold) for _ in range(4)]
        all_running.wait()
        queued = [pool.submit(threading.current_thread) for _ in range(8)]  # 3x
        workers, busy, waiting, _ = pool.stats()
        assert (workers, busy, waiting) == (4, 4, 8)
        release.set()
        threads = {future.result() for future in held}
        assert len(threads) == 4
        assert {future.result() for future in queued} <= threads  # no fifth thread
        for thread in threads:
            thread.join(HANG_GUARD)  # returns once the thread, idle, has left
        assert not [thread for thread in threads if thread.is_alive()]
        assert pool.stats() == (0, 0, 0, 12)

        def hold_again() -> threading.Thread:
            started.set()
            again.wait()
            return threading.current_thread()

        future = pool.submit(hold_again)
        assert started.wait(HANG_GUARD)
        workers, busy, *_ = pool.stats()
        assert (workers, busy) == (1, 1)
        again.set()
        assert future.result().name == "asyncbridge-idle-5"  # a new thread
    finally:
        release.set()
        again.set()
        pool.shutdown()
    assert pool.stats()[0] == 0


def test_pool_rejects_bad_size() -> None:
    """A pool needs at least one worker."""
    with pytest.raises(ValueError, match="max_workers"):
        BridgePool(0)
