"""The thread pool behind `run_in_thread`: lean, bounded, reusable, fork-aware.

`BridgePool` is a real `concurrent.futures.Executor` (so it can be handed to
`loop.run_in_executor` or anything else), with a faster internal entry, `put()`,
that queues a job object without creating a `Future`.

Accounting is exact with one lock: ``_idle`` is (workers waiting for a job) minus
(jobs in the queue). A submitter takes one from it and starts a worker when it goes
negative and the pool is below its size; a worker adds one before it waits; a worker
whose wait times out may leave only while ``_idle`` is positive (more waiting
workers than queued jobs), so no queued job is ever stranded.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import queue
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ._errors import ExecutorShutdownError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["BridgePool", "Runnable", "forget_pools_after_fork"]

T = TypeVar("T")

# Idle workers of a shared pool leave after this many seconds without work.
IDLE_TIMEOUT = 30.0

_all_pools: weakref.WeakSet[BridgePool] = weakref.WeakSet()


class Runnable(Protocol):
    """What a pool runs: `run()` in a worker, `abandon()` if it never will."""

    def run(self, finished: Callable[[], None] = ...) -> None:
        """Run in the worker thread, call *finished*, then deliver; never raise.

        *finished* tells the pool the worker is free again. It is called before the
        outcome is delivered, so a caller that submits its next job as soon as it
        has the result finds that worker idle instead of starting another one.
        """

    def abandon(self, error: BaseException) -> None:
        """Fail without running (the pool shut down)."""


def _nothing() -> None:
    pass


class _FutureItem:
    """`Executor.submit` work: runs a callable into a `concurrent.futures.Future`."""

    __slots__ = ("args", "fn", "future", "kwargs")

    def __init__(
        self,
        future: concurrent.futures.Future[Any],
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        self.future = future
        self.fn = fn
        self.args = args
        self.kwargs = kwargs

    def run(self, finished: Callable[[], None] = _nothing) -> None:
        if not self.future.set_running_or_notify_cancel():
            finished()
            return
        try:
            result = self.fn(*self.args, **self.kwargs)
        except BaseException as exc:
            finished()
            self.future.set_exception(exc)
        else:
            finished()
            self.future.set_result(result)

    def abandon(self, error: BaseException) -> None:
        if self.future.set_running_or_notify_cancel():
            self.future.set_exception(error)


_pool_numbers = itertools.count(1)


class BridgePool(concurrent.futures.Executor):
    """A bounded thread pool whose threads start on demand.

    Args:
        max_workers: the most threads it runs at once (>= 1).
        name: used in thread names and error messages.
        idle_timeout: seconds an idle worker waits for work before it leaves
            (None: workers stay until shutdown, as a dedicated executor needs).
    """

    def __init__(
        self,
        max_workers: int,
        name: str = "",
        *,
        idle_timeout: float | None = IDLE_TIMEOUT,
    ) -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {max_workers!r}")
        self.name = name or f"pool-{next(_pool_numbers)}"
        self._max_workers = max_workers
        self._idle_timeout = idle_timeout
        self._queue: queue.SimpleQueue[Runnable | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._threads: set[threading.Thread] = set()
        self._completed = 0  # by workers that have left
        self._done_counts: dict[threading.Thread, int] = {}  # by workers still here
        self._shutdown = False
        self._forked = False
        self._numbers = itertools.count(1)
        _all_pools.add(self)

    # --------------------------------------------------------------- submitting

    def put(self, item: Runnable) -> None:
        """Queue *item* for a worker, starting one if none is free.

        Raises:
            ExecutorShutdownError: the pool was shut down, or belongs to the parent
                of a forked process.
        """
        with self._lock:
            if self._shutdown or self._forked:
                raise self._closed_error()
            self._idle -= 1
            spawn = self._idle < 0 and len(self._threads) < self._max_workers
            if spawn:
                self._idle += 1
                thread = threading.Thread(
                    target=self._work,
                    name=f"asyncbridge-{self.name}-{next(self._numbers)}",
                    daemon=True,
                )
                self._threads.add(thread)
        self._queue.put(item)
        if spawn:
            thread.start()

    def submit(
        self, fn: Callable[..., T], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[T]:
        """Schedule ``fn(*args, **kwargs)``; return a `concurrent.futures.Future`."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self.put(_FutureItem(future, fn, args, kwargs))
        return future

    def _closed_error(self) -> ExecutorShutdownError:
        if self._forked:
            return ExecutorShutdownError(
                f"executor {self.name!r} was created before os.fork() and cannot run "
                "work in the child; ask asyncbridge.executors for it again by name"
            )
        return ExecutorShutdownError(
            f"executor {self.name!r} has been shut down; "
            "asyncbridge.executors.get() gives a fresh default pool"
        )

    # ----------------------------------------------------------------- workers

    def _work(self) -> None:
        me = threading.current_thread()
        get = self._queue.get
        timeout = self._idle_timeout
        lock = self._lock
        done = 0

        def finished() -> None:
            nonlocal done
            done += 1
            self._done_counts[me] = done
            with lock:
                self._idle += 1

        try:
            while True:
                try:
                    item = get(timeout=timeout)
                except queue.Empty:
                    with self._lock:
                        if self._idle > 0:
                            self._idle -= 1
                            return
                    continue
                if item is None:  # shutdown
                    return
                item.run(finished)
                del item  # an idle worker must not keep the last job's objects alive
        finally:
            with self._lock:
                self._threads.discard(me)
                self._completed += done
                self._done_counts.pop(me, None)

    # ---------------------------------------------------------------- lifecycle

    def set_max_workers(self, max_workers: int) -> None:
        """Resize the pool; extra workers leave as they become idle."""
        with self._lock:
            self._max_workers = max_workers

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop accepting work; let queued work finish (or fail it); stop the threads.

        Args:
            wait: join the worker threads before returning (never the calling one).
            cancel_futures: fail queued, not yet started work with
                `ExecutorShutdownError` instead of running it.
        """
        self.close(cancel_queued=cancel_futures)
        if wait:
            self.join(timeout=None)

    def close(self, *, cancel_queued: bool) -> None:
        """Stop accepting work and tell the workers to leave once the queue drains."""
        with self._lock:
            if self._shutdown:
                return
            self._shutdown = True
            workers = len(self._threads)
        if cancel_queued:
            error = self._closed_error()
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    item.abandon(error)
        for _ in range(workers):
            self._queue.put(None)

    def join(self, timeout: float | None) -> bool:
        """Wait for the workers to leave; True if they all did within *timeout*."""
        deadline = None if timeout is None else time.monotonic() + timeout
        me = threading.current_thread()
        for thread in list(self._threads):
            if thread is me:
                continue
            remaining = (
                None if deadline is None else max(0.0, deadline - time.monotonic())
            )
            thread.join(remaining)
            if thread.is_alive():
                return False
        return True

    @property
    def is_shutdown(self) -> bool:
        """True once the pool no longer accepts work."""
        return self._shutdown or self._forked

    def stats(self) -> tuple[int, int, int, int]:
        """Return (workers, busy, queued, completed), a best-effort snapshot."""
        with self._lock:
            workers = len(self._threads)
            queued = self._queue.qsize()
            waiting = max(0, self._idle + queued)
            completed = self._completed + sum(self._done_counts.values())
        return workers, max(0, workers - waiting), max(0, queued), completed

    def __repr__(self) -> str:
        workers, busy, queued, completed = self.stats()
        state = "shut down" if self.is_shutdown else "running"
        return (
            f"<BridgePool {self.name!r} {state} workers={workers}/{self._max_workers} "
            f"busy={busy} queued={queued} completed={completed}>"
        )


def forget_pools_after_fork() -> None:
    """In a forked child: mark every pool inherited from the parent unusable."""
    for pool in list(_all_pools):
        pool._forked = True
        pool._lock = threading.Lock()
