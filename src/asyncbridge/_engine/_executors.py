"""The executor registry, and the bridge's lifecycle: exit, fork, shutdown.

Every `executor=` argument resolves here to an outlet with one method, `put(job)`,
that hands a `ThreadJob` to a thread:

* asyncbridge's own `BridgePool` (the default pool, dedicated executors): queued
  directly, no `Future` created;
* a `concurrent.futures.ThreadPoolExecutor`: ``submit(job.run)``, so contextvars and
  the worker-thread marker still apply;
* any other `Executor` (a process pool, Dask's ``client.get_executor()``):
  ``submit(fn, *args)`` as is, since the work may leave this process.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import functools
import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeVar

from asyncbridge._backends import executor_gone, forget_handles_after_fork
from asyncbridge._core._config import settings, when_default_workers_change
from asyncbridge._core._errors import ExecutorShutdownError, LoopConflictError
from asyncbridge._core._state import state
from asyncbridge._core._validate import check_bool, is_executor
from asyncbridge._core._waits import chain, describe_chain, nearest_sync_wait

from ._pool import BridgePool, FutureItem, forget_pools_after_fork
from ._portal import close_portals_for_exit, forget_portals_after_fork, stop_portals

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from asyncbridge._backends import ThreadJob

T = TypeVar("T")

__all__ = [
    "SYNC_CALLER",
    "ExecutorStats",
    "Outlet",
    "dedicated",
    "get",
    "register",
    "resolve",
    "shutdown",
    "stats",
]


@dataclass(frozen=True, slots=True)
class ExecutorStats:
    """A snapshot of one executor, as `asyncbridge.executors.stats()` reports it.

    Attributes:
        workers: threads it has now (None where the executor does not say, e.g. a
            process pool or a foreign thread pool).
        busy: work items running now.
        queued: work items waiting for a worker.
        completed: work items finished since it was created.

    For executors asyncbridge did not create, the counts cover the work submitted
    through asyncbridge only.
    """

    workers: int | None
    busy: int
    queued: int
    completed: int


class Outlet:
    """How asyncbridge hands a `ThreadJob` to one executor."""

    __slots__ = (
        "_completed",
        "_inflight",
        "_lock",
        "counts",
        "executor",
        "marks_threads",
        "owned",
    )

    def __init__(
        self,
        executor: concurrent.futures.Executor,
        *,
        owned: bool,
        in_process: bool = False,
        counts: bool = True,
    ) -> None:
        self.executor = executor
        self.owned = owned  # created by asyncbridge (default pool, dedicated)
        # Count the work for `stats()`: registered executors only (an unregistered
        # one gets a fresh outlet per call, whose counts nobody can read).
        self.counts = counts
        # Thread pools run `job.run` (contextvars, worker marker); others get the
        # bare function, since it may be pickled off to another process.
        self.marks_threads = in_process or isinstance(
            executor, BridgePool | concurrent.futures.ThreadPoolExecutor
        )
        self._inflight: set[concurrent.futures.Future[Any]] = set()
        self._completed = 0
        self._lock = threading.Lock()

    def put(self, job: ThreadJob[Any]) -> None:
        """Hand *job* to the executor.

        Raises:
            ExecutorShutdownError: the executor no longer accepts work.
            LoopConflictError: the job needs a one-thread lane whose thread waits
                for it in a way that cannot serve it.
        """
        executor = self.executor
        if type(executor) is BridgePool:
            waits = job.waits
            if not waits:
                executor.put(job)
            elif executor.lends or not _serve_on_lane(executor, job):
                # Nested: a pool thread (of any pool) waits for it; running it
                # frees that thread's slot, so it may take a slot lent meanwhile.
                nested = any(w.active and w.owner.pool is not None for w in waits)
                executor.put(job, nested=nested)
            return
        self._submit(job)

    def _submit(self, job: ThreadJob[Any]) -> None:
        """Submit *job* to a foreign executor (counted done exactly once)."""
        if not self.counts:
            self._follow(job, self._hand_over(job))
            return
        # `submitted` holds the future once submit() returns, or None when the
        # job delivered first (a fast worker): counted once either way, under
        # the lock, before its caller can see stats().
        submitted: list[concurrent.futures.Future[Any] | None] = []
        lock = self._lock
        if self.marks_threads:
            deliver = job.deliver

            def counted(value: object, error: BaseException | None) -> None:
                with lock:
                    if submitted and (future := submitted[0]) is not None:
                        self._count(future)
                    else:
                        submitted.append(None)
                deliver(value, error)

            job.deliver = counted
        future = self._hand_over(job)
        with lock:
            if submitted:  # delivered already
                self._completed += 1
            else:
                submitted.append(future)
                self._inflight.add(future)
        future.add_done_callback(self._finished)
        self._follow(job, future)

    def _hand_over(self, job: ThreadJob[Any]) -> concurrent.futures.Future[Any]:
        """``executor.submit()`` the job: all of it, or its bare call elsewhere."""
        executor = self.executor
        try:
            if self.marks_threads:
                return executor.submit(job.run)
            return executor.submit(job.fn, *job.args)
        except RuntimeError as exc:  # "cannot schedule new futures after shutdown"
            raise ExecutorShutdownError(
                f"{executor!r} does not accept work any more: {exc}"
            ) from exc

    def _follow(
        self, job: ThreadJob[Any], future: concurrent.futures.Future[Any]
    ) -> None:
        """Tie *job* to the executor's *future* (a job that never ran fails)."""
        if self.marks_threads:
            future.add_done_callback(functools.partial(_dropped, job))
        else:
            job.follow(future)

    def _finished(self, future: concurrent.futures.Future[Any]) -> None:
        with self._lock:
            self._count(future)

    def _count(self, future: concurrent.futures.Future[Any]) -> None:
        """Count *future* done once (the first caller counts); hold the lock."""
        try:
            self._inflight.remove(future)
        except KeyError:
            return
        self._completed += 1

    def stats(self) -> ExecutorStats:
        """Return a snapshot of the executor's load."""
        executor = self.executor
        if isinstance(executor, BridgePool):
            return ExecutorStats(*executor.stats())
        inflight = list(self._inflight)
        busy = sum(1 for f in inflight if f.running())
        return ExecutorStats(
            workers=None,
            busy=busy,
            queued=len(inflight) - busy,
            completed=self._completed,
        )


def _dropped(job: ThreadJob[Any], future: concurrent.futures.Future[Any]) -> None:
    """A foreign thread pool's future ended: fail the job if it never ran."""
    if future.cancelled():  # by the executor's shutdown(cancel_futures=True)
        job.abandon(executor_gone(future))


def _serve_on_lane(lane: BridgePool, job: ThreadJob[Any]) -> bool:
    """Hand *job* to the lane's thread if that thread waits in the job's chain.

    Returns:
        True if the lane's thread, blocked in a plain sync wait the job belongs to,
        took it (it runs the job in the gap while it waits).

    Raises:
        LoopConflictError: the lane's thread runs (or is blocked inside) an event
            loop that waits for the job's chain, so the job could never start
            there (running it inside that loop's thread would nest loops).
    """
    for wait in reversed(job.waits):
        if not wait.active or wait.owner.pool is not lane:
            continue
        if wait.sync and wait.loop is None:
            return wait.offer(job)
        how = "is blocked inside" if wait.sync else "runs"
        raise LoopConflictError(
            f"{job.fn!r} needs the one-thread executor {lane.name!r}, whose only "
            f"thread {how} an event loop that waits for this very call, so it could "
            "never start there: "
            + describe_chain(job.waits, f"{job.fn!r} on {lane.name!r}")
            + ". Await it from a loop in another thread, or call it directly there."
        )
    return False


class _SyncCallerExecutor(concurrent.futures.Executor):
    """`SYNC_CALLER`: the sync thread that waits for the calling coroutine.

    Work submitted here runs on the thread blocked in `run_sync` (a sync twin,
    `async_safe`...) whose coroutine submits it, in the gap while that thread waits;
    nested to any depth, on the innermost such thread of the chain. Where no sync
    thread waits for the caller, it runs on one process-wide thread (the executor
    ``"sync_caller"``).
    """

    def submit(
        self, fn: Callable[..., T], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[T]:
        """Schedule ``fn(*args, **kwargs)`` on the sync caller; return a Future."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        item = FutureItem(future, fn, args, kwargs)
        wait = nearest_sync_wait(chain())
        if wait is None or not wait.offer(item):
            _sync_caller_lane().put(item)
        return future

    def __repr__(self) -> str:
        return "asyncbridge.executors.SYNC_CALLER"


SYNC_CALLER: Final = _SyncCallerExecutor()


class _SyncCallerOutlet(Outlet):
    """The outlet of `SYNC_CALLER`: to the waiting sync thread, or its lane."""

    __slots__ = ()

    def put(self, job: ThreadJob[Any]) -> None:
        wait = nearest_sync_wait(job.waits)
        if wait is None or not wait.offer(job):
            lane = _sync_caller_lane()
            if not _serve_on_lane(lane, job):
                lane.put(job)


_SYNC_CALLER_OUTLET: Final = _SyncCallerOutlet(
    SYNC_CALLER, owned=False, in_process=True
)


def _sync_caller_lane() -> BridgePool:
    pool = _lookup("sync_caller", create_lane=True).executor
    assert isinstance(pool, BridgePool)  # noqa: S101
    return pool


@dataclass(slots=True)
class _Entry:
    outlet: Outlet
    shutdown_with_bridge: bool
    dedicated: bool = False


_lock = threading.Lock()
_entries: dict[str, _Entry] = {}
_default: Outlet | None = None  # read without the lock on every call
_exiting = False  # set at interpreter exit: nothing new starts


def _known_names() -> str:
    names = sorted({"default", *_entries})
    return ", ".join(repr(n) for n in names)


def _default_outlet() -> Outlet:
    """Return the outlet of the default pool, creating the pool on first use."""
    outlet = _default
    if outlet is not None:
        return outlet
    return _lookup("default")


def _lookup(name: str, *, create_lane: bool = False) -> Outlet:
    """The outlet registered under *name* (the default pool is made on first use).

    With *create_lane*, an unknown name gets a new one-thread lane (`dedicated`).
    """
    global _default  # noqa: PLW0603
    with _lock:
        entry = _entries.get(name)
        if entry is None:
            if _exiting:
                raise ExecutorShutdownError(
                    f"the executor {name!r} cannot start: the interpreter is exiting"
                )
            if name == "default":
                pool = BridgePool(settings.default_workers, "default")
                entry = _Entry(Outlet(pool, owned=True), shutdown_with_bridge=True)
            elif create_lane:
                pool = BridgePool(1, name, idle_timeout=None, lends=False)
                entry = _Entry(
                    Outlet(pool, owned=True), shutdown_with_bridge=True, dedicated=True
                )
            else:
                raise ValueError(
                    f"no executor is registered under the name {name!r}; known names: "
                    f"{_known_names()} (register one with "
                    "asyncbridge.executors.register(), or use dedicated(name))"
                )
            _entries[name] = entry  # published complete, under the lock
        if name == "default":
            _default = entry.outlet
        return entry.outlet


def resolve(executor: object, param: str = "executor") -> Outlet:
    """Turn an ``executor=`` argument (None, a name, an executor) into an outlet.

    An executor is a `concurrent.futures.Executor`, `SYNC_CALLER`, or any object
    with a ``submit(fn, *args)`` method returning a `concurrent.futures.Future`
    (run in this process: it is given the call with its context and thread marker).

    Raises:
        TypeError: neither None, a str nor an executor.
        ValueError: an unknown name (the message lists the known ones).
    """
    if executor is None:
        return _default_outlet()
    if isinstance(executor, str):
        return _lookup(executor)
    if executor is SYNC_CALLER:
        return _SYNC_CALLER_OUTLET
    if is_executor(executor):
        for entry in list(_entries.values()):
            if entry.outlet.executor is executor:
                return entry.outlet
        # Not registered: a fresh outlet per call, not counted. (A cache keyed
        # weakly by the executor would never let go: the outlet refers to it.)
        in_process = not isinstance(executor, concurrent.futures.Executor)
        foreign: Any = executor  # an Executor, or duck-typed like one
        return Outlet(foreign, owned=False, in_process=in_process, counts=False)
    raise TypeError(
        f"{param} must be None, a registered executor name, a "
        f"concurrent.futures.Executor or an object with a submit() method, got "
        f"{executor!r}"
    )


# ----------------------------------------------------------------- public API


def _check_name(name: object) -> None:
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty str, got {name!r}")


def get(name: str = "default") -> concurrent.futures.Executor:
    """Return the executor registered under *name*.

    ``"default"`` always exists: asyncbridge's shared thread pool, created on first
    use with `configure(default_workers=...)` threads at most.

    Raises:
        TypeError: *name* is not a str.
        ValueError: no executor has that name (the message lists the known names).

    Example:
        >>> import asyncbridge as ab
        >>> pool = ab.executors.get()
        >>> pool.submit(sum, [1, 2, 3]).result()
        6
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {name!r}")
    return _lookup(name).executor


def register(
    name: str,
    executor: concurrent.futures.Executor,
    *,
    shutdown_with_bridge: bool = True,
) -> None:
    """Register *executor* under *name*, for ``executor=name`` anywhere.

    Any `concurrent.futures.Executor` works: a thread pool, a
    `~concurrent.futures.ProcessPoolExecutor`, or a distributed engine's executor
    (Dask's ``distributed.Client(...).get_executor()``). Registering a name again
    replaces the executor; one that asyncbridge created itself is then shut down.

    Args:
        name: the name to register it under (``"default"`` replaces the default pool).
        executor: the executor.
        shutdown_with_bridge: shut it down with `shutdown()` and at exit.

    Raises:
        TypeError: *name* is not a non-empty str, or *executor* not an Executor.

    Example:
        >>> import concurrent.futures, asyncbridge as ab
        >>> ab.executors.register("io", concurrent.futures.ThreadPoolExecutor(4))
        >>> ab.executors.get("io").submit(pow, 2, 10).result()
        1024
    """
    global _default  # noqa: PLW0603
    _check_name(name)
    if not is_executor(executor) or executor is SYNC_CALLER:
        raise TypeError(
            "executor must be a concurrent.futures.Executor (or an object with a "
            f"submit() method), got {executor!r}"
        )
    check_bool(shutdown_with_bridge, "shutdown_with_bridge", func="register")
    in_process = not isinstance(executor, concurrent.futures.Executor)
    with _lock:
        previous = _entries.get(name)
        if previous is not None and previous.outlet.executor is executor:
            previous.shutdown_with_bridge = shutdown_with_bridge
            return
        _entries[name] = _Entry(
            Outlet(executor, owned=False, in_process=in_process), shutdown_with_bridge
        )
        if name == "default":
            _default = None
    if previous is not None and previous.outlet.owned:
        previous.outlet.executor.shutdown(wait=False)


def dedicated(name: str) -> concurrent.futures.Executor:
    """Return the one-thread executor registered under *name*, creating it once.

    Every call run with it runs on the same thread, for as long as the executor
    lives: what thread-affine resources need (a `sqlite3` connection, a GUI toolkit).
    The same name always gives the same executor until `shutdown()`.

    Raises:
        TypeError: *name* is not a non-empty str.
        ValueError: *name* is registered to an executor that is not dedicated.

    Example:
        >>> import threading, asyncbridge as ab
        >>> db = ab.executors.dedicated("db")
        >>> db is ab.executors.dedicated("db")
        True
        >>> a = db.submit(threading.get_ident).result()
        >>> a == db.submit(threading.get_ident).result()
        True
    """
    _check_name(name)
    outlet = _lookup(name, create_lane=True)
    if not isinstance(outlet.executor, BridgePool) or outlet.executor.lends:
        raise ValueError(
            f"the name {name!r} is registered to {outlet.executor!r}, which is not "
            "a dedicated executor; choose another name"
        )
    return outlet.executor


def shutdown(wait: bool = True, cancel_futures: bool = False) -> None:
    """Stop the portals and every executor registered with ``shutdown_with_bridge``.

    Calls in flight on a portal get up to ``configure(exit_grace=...)`` seconds to
    finish, then are cancelled (their callers get `ExecutorShutdownError`). The
    bridge stays usable: later calls start a fresh portal and default pool lazily.

    Args:
        wait: wait for the executors' running work and threads to finish.
        cancel_futures: fail queued work that has not started instead of running it.

    Raises:
        TypeError: *wait* or *cancel_futures* is not a bool.

    Example:
        >>> import asyncbridge as ab
        >>> ab.executors.shutdown()
        >>> ab.executors.get().submit(abs, -1).result()  # a fresh default pool
        1
    """
    global _default  # noqa: PLW0603
    check_bool(wait, "wait", func="shutdown")
    check_bool(cancel_futures, "cancel_futures", func="shutdown")
    with _lock:
        closing = {n: e for n, e in _entries.items() if e.shutdown_with_bridge}
        for name in closing:
            del _entries[name]
        _default = None
    stop_portals(time.monotonic() + settings.exit_grace)
    for entry in closing.values():
        _shut(entry.outlet.executor, wait=wait, cancel_futures=cancel_futures)


def _shut(executor: object, *, wait: bool, cancel_futures: bool) -> None:
    shut = getattr(executor, "shutdown", None)
    if shut is not None:
        shut(wait=wait, cancel_futures=cancel_futures)


def stats() -> Mapping[str, ExecutorStats]:
    """Return a snapshot of every registered executor, by name.

    Example:
        >>> import asyncbridge as ab
        >>> ab.executors.get().submit(abs, -1).result()
        1
        >>> ab.executors.stats()["default"].completed >= 1
        True
    """
    with _lock:
        entries = dict(_entries)
    return {name: entry.outlet.stats() for name, entry in sorted(entries.items())}


# ------------------------------------------------------------------ lifecycle


def _resize_default(workers: int) -> None:
    outlet = _default
    if outlet is not None and isinstance(outlet.executor, BridgePool):
        outlet.executor.set_max_workers(workers)


when_default_workers_change(_resize_default)


def _at_exit() -> None:
    """Give running bridge work `exit_grace` seconds, then stop waiting for it.

    Runs when the main thread has finished, before the interpreter joins the
    non-daemon threads (`threading`'s exit hook, which `concurrent.futures` uses
    too): a non-daemon thread waiting in `run_sync` gets its call cancelled
    (`ExecutorShutdownError`) instead of holding exit up. From then on, nothing new
    starts: executors and portals refuse work.
    """
    global _default, _exiting  # noqa: PLW0603
    deadline = time.monotonic() + settings.exit_grace
    with _lock:
        _exiting = True
        closing = [e for e in _entries.values() if e.shutdown_with_bridge]
        _entries.clear()
        _default = None
    close_portals_for_exit()
    pools = [e.outlet.executor for e in closing if e.outlet.owned]
    for pool in pools:
        pool.close(cancel_queued=True)  # type: ignore[attr-defined]
    stop_portals(deadline)
    for pool in pools:
        pool.join(max(0.0, deadline - time.monotonic()))  # type: ignore[attr-defined]
    for entry in closing:
        if not entry.outlet.owned:
            _shut(entry.outlet.executor, wait=False, cancel_futures=True)
    own = state.own_loop
    if own is not None:
        state.own_loop = None
        own.close()  # type: ignore[attr-defined]


def _register_exit_hook() -> None:
    # `threading._register_atexit` runs before non-daemon threads are joined (plain
    # `atexit` runs after, too late for a non-daemon thread waiting on the bridge).
    # It is what `concurrent.futures` uses; fall back to `atexit` where it is gone.
    early = getattr(threading, "_register_atexit", None)
    if early is not None:
        try:
            early(_at_exit)
        except RuntimeError:  # imported while the interpreter shuts down
            return
        return
    atexit.register(_at_exit)  # pragma: no cover - CPython 3.11-3.14 have it


_register_exit_hook()

# Kept alive in a forked child so that their finalizers never touch the parent's
# loops and threads (which the child does not have).
_inherited: list[object] = []


def _before_fork() -> None:
    _lock.acquire()


def _after_fork_in_parent() -> None:
    _lock.release()


def _after_fork_in_child() -> None:
    global _lock, _default  # noqa: PLW0603
    _lock = threading.Lock()
    _inherited.extend(_entries.values())
    _entries.clear()
    _default = None
    forget_pools_after_fork()
    forget_handles_after_fork()
    _inherited.extend(forget_portals_after_fork())
    if state.own_loop is not None:
        _inherited.append(state.own_loop)
        state.own_loop = None
    state.parent = None
    state.is_portal = False
    state.waits = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork,
        after_in_parent=_after_fork_in_parent,
        after_in_child=_after_fork_in_child,
    )
