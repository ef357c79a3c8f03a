"""The thread pool behind `run_in_thread`: bounded, lending, reusable, fork-aware.

`BridgePool` is a real `concurrent.futures.Executor` (so it can be handed to
`loop.run_in_executor` or anything else), with a faster internal entry, `put()`,
that queues a job object without creating a `Future`.

Scheduling (all under one lock):

* ``busy``: items running on a thread that is not lending its slot. An item starts
  only while ``busy < max_workers``.
* Top-level work additionally needs ``running_top < max_workers``: at most
  *max_workers* top-level items are ever in progress, blocked or not.
* Slot lending: a pool thread that enters a bridge wait (blocked until a coroutine
  or a thread job ends, or its own loop awaiting a thread job) lends its slot
  (``busy`` drops, ``lent`` grows) until the wait ends. Only *nested* work — work
  whose chain of waits holds a wait of a pool thread, this pool's or another's
  (see `_waits`) — can use a lent slot, since top-level work is still bounded by
  ``running_top``; so nesting never deadlocks a saturated pool (nor two pools
  waiting for each other) and never lets more top-level work in. Nested work goes
  first. Lending stops at a ceiling (`max_lent`); the wait that would
  pass it raises `LoopConflictError` naming the pool and the chain.
* Idle threads park on a lock of their own; a submitter hands an item straight to
  the most recently parked thread, or starts a thread when none is parked. Parked
  threads leave after *idle_timeout* seconds.

A one-thread lane (`lends=False`) never lends: a lane thread that waits keeps its
slot, and work for the lane that such a wait needs is served by the waiting thread
itself (`_executors` hands it to the thread's inbox) or refused.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import threading
import weakref
from _thread import allocate_lock
from collections import deque
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

from asyncbridge._core._errors import ExecutorShutdownError, LoopConflictError
from asyncbridge._core._hooks import (
    HOOKS,
    emit_pool_ceiling_reached,
    emit_pool_slot_lent,
)
from asyncbridge._core._waits import Wait, chain, describe_chain, here

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["BridgePool", "FutureItem", "Runnable", "forget_pools_after_fork"]

T = TypeVar("T")

# Idle threads of a shared pool leave after this many seconds without work.
IDLE_TIMEOUT: Final = 30.0
# The most slots a pool lends at once (see `BridgePool`): the larger of this and
# four times its size.
MIN_LENDING_CEILING: Final = 256

_all_pools: weakref.WeakSet[BridgePool] = weakref.WeakSet()


class Runnable(Protocol):
    """What a pool runs: `run()` in a thread, `abandon()` if it never will."""

    def run(self, finished: Callable[[], None] = ...) -> None:
        """Run in the thread, call *finished*, then deliver; never raise.

        *finished* tells the pool the thread is free again. It is called before the
        outcome is delivered, so a caller that submits its next item as soon as it
        has the result finds that thread ready instead of starting another one.
        """

    def abandon(self, error: BaseException) -> None:
        """Fail without running (the pool shut down)."""


def _nothing() -> None:
    pass


class FutureItem:
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


class _PoolFuture(concurrent.futures.Future[T]):
    """A future of `BridgePool.submit`: waiting on it from a pool thread lends."""

    def __init__(self, pool: BridgePool) -> None:
        super().__init__()
        self._ab_pool = pool

    def result(self, timeout: float | None = None) -> T:
        waits = here()
        if waits.pool is not self._ab_pool or self.done():
            return super().result(timeout)
        wait = Wait(
            waits, f"a future of the pool {self._ab_pool.name!r}", sync=True, loop=None
        )
        wait.begin()
        try:
            return super().result(timeout)
        finally:
            wait.end()


class _Thread:
    """One pool thread's hand-off slot: it parks on `wake` until given an item."""

    __slots__ = ("finished", "item", "parked", "pool", "top", "wake", "woken")

    def __init__(self, pool: BridgePool) -> None:
        self.pool = pool
        self.wake = allocate_lock()
        self.wake.acquire()
        self.item: Runnable | None = None  # the next item, given while parked
        self.parked = False  # in the pool's parked list (under the pool's lock)
        self.woken = False  # parked by `done`: `wake` will be released for it
        self.top = False  # the running item is top-level work
        self.finished = False  # the running item has called `done`

    def done(self) -> None:
        """The running item has ended (the `finished` callback of `Runnable.run`)."""
        self.finished = True
        self.pool.item_ended(self)


_STOP: Final[Any] = object()  # handed to a parked thread: leave

_pool_numbers = itertools.count(1)


class BridgePool(concurrent.futures.Executor):
    """A bounded thread pool whose threads start on demand and lend their slots.

    Args:
        max_workers: the most items in progress at once (>= 1), not counting
            nested work run on lent slots.
        name: used in thread names and error messages.
        idle_timeout: seconds an idle thread waits for work before it leaves (None:
            threads stay until shutdown, as a one-thread lane needs).
        lends: lend the slot of a thread that waits (False for one-thread lanes).
    """

    def __init__(
        self,
        max_workers: int,
        name: str = "",
        *,
        idle_timeout: float | None = IDLE_TIMEOUT,
        lends: bool = True,
    ) -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {max_workers!r}")
        self.name = name or f"pool-{next(_pool_numbers)}"
        self.lends = lends
        self._max_workers = max_workers
        self._idle_timeout = idle_timeout
        self._lock = threading.Lock()
        self._top: deque[Runnable] = deque()
        self._nested: deque[Runnable] = deque()
        self._parked: list[_Thread] = []
        self._threads: set[threading.Thread] = set()
        self._busy = 0  # items running on threads that do not lend
        self._running_top = 0  # top-level items started and not finished
        self._lent = 0  # slots lent by waiting threads
        self._peak_lent = 0
        self._completed = 0
        self._shutdown = False
        self._forked = False
        self._numbers = itertools.count(1)
        _all_pools.add(self)

    @property
    def max_workers(self) -> int:
        """The most items in progress at once (nested work on lent slots aside)."""
        return self._max_workers

    @property
    def max_lent(self) -> int:
        """The ceiling on slots lent at once."""
        return max(MIN_LENDING_CEILING, 4 * self._max_workers)

    # --------------------------------------------------------------- submitting

    def put(self, item: Runnable, *, nested: bool = False) -> None:
        """Queue *item* for a thread, handing it to a parked one or starting one.

        Args:
            item: the work.
            nested: work a waiting thread of this pool needs (it may use a lent
                slot, and goes before top-level work).

        Raises:
            ExecutorShutdownError: the pool was shut down, or belongs to the parent
                of a forked process.
        """
        with self._lock:
            if self._shutdown or self._forked:
                raise self._closed_error()
            parked = self._parked
            if (  # the common case, handed straight to the last parked thread
                parked
                and not nested
                and not self._top
                and not self._nested
                and self._busy < self._max_workers
                and self._running_top < self._max_workers
            ):
                self._busy += 1
                self._running_top += 1
                thread = parked.pop()
                thread.top = True
                thread.parked = False
                thread.item = item
                thread.wake.release()
                return
            (self._nested if nested else self._top).append(item)
            self._dispatch()

    def submit(
        self, fn: Callable[..., T], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[T]:
        """Schedule ``fn(*args, **kwargs)``; return a `concurrent.futures.Future`.

        Work submitted from one of this pool's own threads counts as nested, and
        waiting for its result there lends the waiting thread's slot.
        """
        future: _PoolFuture[T] = _PoolFuture(self)
        self.put(FutureItem(future, fn, args, kwargs), nested=here().pool is self)
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

    # ---------------------------------------------------------------- scheduling

    def _take(self, thread: _Thread) -> Runnable | None:
        """Under the lock: the next item that may start now, counted as started."""
        if self._busy >= self._max_workers:
            return None
        if self._nested:
            self._busy += 1
            thread.top = False
            return self._nested.popleft()
        if self._top and self._running_top < self._max_workers:
            self._busy += 1
            self._running_top += 1
            thread.top = True
            return self._top.popleft()
        return None

    def _dispatch(self) -> None:
        """Under the lock: start what may start, on parked threads or new ones."""
        while self._nested or self._top:
            thread = self._parked.pop() if self._parked else _Thread(self)
            item = self._take(thread)
            if item is None:
                if thread.parked:
                    self._parked.append(thread)
                return
            if thread.parked:
                thread.parked = False
                thread.item = item
                thread.wake.release()
            else:
                self._spawn(thread, item)

    def _spawn(self, thread: _Thread, item: Runnable) -> None:
        worker = threading.Thread(
            target=self._work,
            args=(thread, item),
            name=f"asyncbridge-{self.name}-{next(self._numbers)}",
            daemon=True,
        )
        self._threads.add(worker)
        worker.start()  # under the lock: join() never sees a thread not started

    def item_ended(self, thread: _Thread) -> None:
        """An item ended on *thread*: count it, then give it the next or park it."""
        with self._lock:
            self._busy -= 1
            if thread.top:
                self._running_top -= 1
            self._completed += 1
            if not (self._nested or self._top):  # the common case: nothing queued
                if self._shutdown:
                    thread.item = _STOP
                else:
                    thread.parked = thread.woken = True
                    self._parked.append(thread)
                return
            nxt = self._take(thread)
            if nxt is not None:
                thread.item = nxt
            elif self._shutdown:
                thread.item = _STOP
            else:
                thread.parked = thread.woken = True
                self._parked.append(thread)
            if self._nested or self._top:
                self._dispatch()  # room may have freed for more than this thread

    def _work(self, thread: _Thread, item: Runnable) -> None:
        here().pool = self
        lock = self._lock
        done = thread.done
        timeout = -1 if self._idle_timeout is None else self._idle_timeout
        try:
            while item is not _STOP:
                thread.finished = False
                try:
                    item.run(done)
                finally:
                    if not thread.finished:  # a Runnable that raised: count it
                        self.item_ended(thread)
                del item  # an idle thread must not keep the last item's objects
                if thread.woken:  # parked by `done`: wait for a hand-off
                    thread.woken = False
                    if not thread.wake.acquire(timeout=timeout):
                        with lock:
                            if thread.parked:  # nobody handed it work: leave
                                self._parked.remove(thread)
                                return
                        thread.wake.acquire()  # a hand-off raced the timeout
                item, thread.item = thread.item, None  # type: ignore[assignment]
        finally:
            with lock:
                self._threads.discard(threading.current_thread())

    # ------------------------------------------------------------------ lending

    def lend(self, wait: Wait) -> None:
        """Lend the calling thread's slot while *wait* lasts (see the module doc).

        Raises:
            LoopConflictError: the pool already lends `max_lent` slots.
        """
        if not self.lends:
            return
        with self._lock:
            lent = self._lent
            full = lent >= self.max_lent
            if not full:
                lent = self._lent = lent + 1
                self._peak_lent = max(self._peak_lent, lent)
                self._busy -= 1
                self._dispatch()
        if full:  # decided under the lock; hooks and the error outside it
            emit_pool_ceiling_reached(self.name, self.max_lent)
            raise LoopConflictError(
                f"the asyncbridge pool {self.name!r} cannot lend another slot: "
                f"{lent} of its threads already wait on nested work (its "
                f"ceiling is {self.max_lent}, for {self._max_workers} workers). "
                "This wait would be one more: "
                + describe_chain((*chain(), wait), "...")
                + ". Nesting this deep and wide usually means blocking calls "
                "that should be awaited: make the outer callers async."
            )
        if HOOKS:
            emit_pool_slot_lent(self.name, lent, self.max_lent)

    def reclaim(self) -> None:
        """Take back the slot lent by the calling thread (its wait has ended)."""
        if not self.lends:
            return
        with self._lock:
            self._lent -= 1
            self._busy += 1

    # ---------------------------------------------------------------- lifecycle

    def set_max_workers(self, max_workers: int) -> None:
        """Resize the pool; the new bound applies to the next item that starts."""
        with self._lock:
            self._max_workers = max_workers
            self._dispatch()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop accepting work; let queued work finish (or fail it); stop the threads.

        Args:
            wait: join the threads before returning (never the calling one).
            cancel_futures: fail queued, not yet started work with
                `ExecutorShutdownError` instead of running it.
        """
        self.close(cancel_queued=cancel_futures)
        if wait:
            self.join(timeout=None)

    def close(self, *, cancel_queued: bool) -> None:
        """Stop accepting work; threads leave once the queues drain."""
        with self._lock:
            if self._shutdown:
                dropped: list[Runnable] = []
            else:
                self._shutdown = True
                dropped = [*self._nested, *self._top] if cancel_queued else []
                if cancel_queued:
                    self._nested.clear()
                    self._top.clear()
            if not (self._nested or self._top):
                for thread in self._parked:
                    thread.parked = False
                    thread.item = _STOP
                    thread.wake.release()
                self._parked.clear()
        if dropped:
            error = self._closed_error()
            for item in dropped:
                item.abandon(error)

    def join(self, timeout: float | None) -> bool:
        """Wait for the threads to leave; True if they all did within *timeout*."""
        deadline = None if timeout is None else _monotonic() + timeout
        me = threading.current_thread()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            if thread is me:
                continue
            remaining = None if deadline is None else max(0.0, deadline - _monotonic())
            thread.join(remaining)
            if thread.is_alive():
                return False
        return True

    def forget_after_fork(self) -> None:
        """In a forked child: refuse work (the parent's threads do not exist here)."""
        self._forked = True
        self._lock = threading.Lock()  # it may have been held by a parent thread

    @property
    def is_shutdown(self) -> bool:
        """True once the pool no longer accepts work."""
        return self._shutdown or self._forked

    def stats(self) -> tuple[int, int, int, int]:
        """Return (workers, busy, queued, completed), a consistent snapshot."""
        with self._lock:
            return (
                len(self._threads),
                self._busy + self._lent,
                len(self._nested) + len(self._top),
                self._completed,
            )

    def lending(self) -> tuple[int, int]:
        """Return (slots lent now, most lent at once so far)."""
        with self._lock:
            return self._lent, self._peak_lent

    def __repr__(self) -> str:
        workers, busy, queued, completed = self.stats()
        state = "shut down" if self.is_shutdown else "running"
        return (
            f"<BridgePool {self.name!r} {state} workers={workers} "
            f"max_workers={self._max_workers} busy={busy} queued={queued} "
            f"completed={completed}>"
        )


def _monotonic() -> float:
    import time  # noqa: PLC0415  (only join() needs it)

    return time.monotonic()


def forget_pools_after_fork() -> None:
    """In a forked child: mark every pool inherited from the parent unusable."""
    for pool in list(_all_pools):
        pool.forget_after_fork()
