"""The executor registry, and the bridge's lifecycle: exit, fork, shutdown.

Every `executor=` argument resolves here to an adapter with one method, `put(job)`,
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
import os
import threading
import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._config import _on_workers_change, settings
from ._detect import state
from ._errors import ExecutorShutdownError
from ._pool import BridgePool, forget_pools_after_fork
from ._portal import forget_portals_after_fork, stop_portals

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ._backends import ThreadJob

__all__ = [
    "Adapter",
    "ExecutorStats",
    "dedicated",
    "default_adapter",
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


class Adapter:
    """How asyncbridge hands a `ThreadJob` to one executor."""

    __slots__ = ("_completed", "_inflight", "executor", "marks_threads", "owned")

    def __init__(self, executor: concurrent.futures.Executor, *, owned: bool) -> None:
        self.executor = executor
        self.owned = owned  # created by asyncbridge (default pool, dedicated)
        # Thread pools run `job.run` (contextvars, worker marker); others get the
        # bare function, since it may be pickled off to another process.
        self.marks_threads = isinstance(
            executor, BridgePool | concurrent.futures.ThreadPoolExecutor
        )
        self._inflight: set[concurrent.futures.Future[Any]] = set()
        self._completed = 0

    def put(self, job: ThreadJob[Any]) -> None:
        """Hand *job* to the executor.

        Raises:
            ExecutorShutdownError: the executor no longer accepts work.
        """
        executor = self.executor
        if type(executor) is BridgePool:
            executor.put(job)
            return
        try:
            if self.marks_threads:
                future = executor.submit(job.run)
            else:
                future = executor.submit(job.fn, *job.args)
        except RuntimeError as exc:  # "cannot schedule new futures after shutdown"
            raise ExecutorShutdownError(
                f"{executor!r} does not accept work any more: {exc}"
            ) from exc
        self._inflight.add(future)
        future.add_done_callback(self._finished)
        if not self.marks_threads:
            job.follow(future)

    def _finished(self, future: concurrent.futures.Future[Any]) -> None:
        self._inflight.discard(future)
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


@dataclass(slots=True)
class _Entry:
    adapter: Adapter
    shutdown_with_bridge: bool
    dedicated: bool = False


_lock = threading.Lock()
_entries: dict[str, _Entry] = {}
_foreign: weakref.WeakKeyDictionary[concurrent.futures.Executor, Adapter] = (
    weakref.WeakKeyDictionary()
)
_default: Adapter | None = None  # read without the lock on every call


def _known_names() -> str:
    names = sorted({"default", *_entries})
    return ", ".join(repr(n) for n in names)


def default_adapter() -> Adapter:
    """Return the adapter of the default pool, creating the pool on first use."""
    adapter = _default
    if adapter is not None:
        return adapter
    return _lookup("default")


def _lookup(name: str) -> Adapter:
    global _default  # noqa: PLW0603
    with _lock:
        entry = _entries.get(name)
        if entry is None:
            if name != "default":
                raise ValueError(
                    f"no executor is registered under the name {name!r}; known names: "
                    f"{_known_names()} (register one with "
                    "asyncbridge.executors.register(), or use dedicated(name))"
                )
            pool = BridgePool(settings.default_workers, "default")
            entry = _entries["default"] = _Entry(
                Adapter(pool, owned=True), shutdown_with_bridge=True
            )
        if name == "default":
            _default = entry.adapter
        return entry.adapter


def resolve(executor: object, param: str = "executor") -> Adapter:
    """Turn an ``executor=`` argument (None, a name, an Executor) into an adapter.

    Raises:
        TypeError: neither None, a str nor a `concurrent.futures.Executor`.
        ValueError: an unknown name (the message lists the known ones).
    """
    if executor is None:
        return default_adapter()
    if isinstance(executor, str):
        return _lookup(executor)
    if isinstance(executor, concurrent.futures.Executor):
        for entry in list(_entries.values()):
            if entry.adapter.executor is executor:
                return entry.adapter
        with _lock:
            adapter = _foreign.get(executor)
            if adapter is None:
                adapter = _foreign[executor] = Adapter(executor, owned=False)
            return adapter
    raise TypeError(
        f"{param} must be None, a registered executor name or a "
        f"concurrent.futures.Executor, got {executor!r}"
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
    if not isinstance(executor, concurrent.futures.Executor):
        raise TypeError(
            f"executor must be a concurrent.futures.Executor, got {executor!r}"
        )
    if not isinstance(shutdown_with_bridge, bool):
        raise TypeError(
            f"shutdown_with_bridge must be True or False, got {shutdown_with_bridge!r}"
        )
    with _lock:
        previous = _entries.get(name)
        if previous is not None and previous.adapter.executor is executor:
            previous.shutdown_with_bridge = shutdown_with_bridge
            return
        _entries[name] = _Entry(Adapter(executor, owned=False), shutdown_with_bridge)
        if name == "default":
            _default = None
    if previous is not None and previous.adapter.owned:
        previous.adapter.executor.shutdown(wait=False)


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
    with _lock:
        entry = _entries.get(name)
        if entry is not None:
            if not entry.dedicated:
                raise ValueError(
                    f"the name {name!r} is registered to {entry.adapter.executor!r}, "
                    "which is not a dedicated executor; choose another name"
                )
            return entry.adapter.executor
        pool = BridgePool(1, name, idle_timeout=None)
        _entries[name] = _Entry(
            Adapter(pool, owned=True), shutdown_with_bridge=True, dedicated=True
        )
        return pool


def shutdown(wait: bool = True, cancel_futures: bool = False) -> None:
    """Stop the portals and every executor registered with ``shutdown_with_bridge``.

    Calls in flight on a portal get up to ``configure(exit_grace=...)`` seconds to
    finish, then are cancelled (their callers get `ExecutorShutdownError`). The
    bridge stays usable: later calls start a fresh portal and default pool lazily.

    Args:
        wait: wait for the executors' running work and threads to finish.
        cancel_futures: fail queued work that has not started instead of running it.

    Example:
        >>> import asyncbridge as ab
        >>> ab.executors.shutdown()
        >>> ab.executors.get().submit(abs, -1).result()  # a fresh default pool
        1
    """
    global _default  # noqa: PLW0603
    with _lock:
        closing = {n: e for n, e in _entries.items() if e.shutdown_with_bridge}
        for name in closing:
            del _entries[name]
        _default = None
    stop_portals(time.monotonic() + settings.exit_grace)
    for entry in closing.values():
        entry.adapter.executor.shutdown(wait=wait, cancel_futures=cancel_futures)


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
    return {name: entry.adapter.stats() for name, entry in sorted(entries.items())}


# ------------------------------------------------------------------ lifecycle


def _resize_default(workers: int) -> None:
    adapter = _default
    if adapter is not None and isinstance(adapter.executor, BridgePool):
        adapter.executor.set_max_workers(workers)


_on_workers_change.append(_resize_default)


def _at_exit() -> None:
    """Give running bridge work `exit_grace` seconds, then stop waiting for it."""
    global _default  # noqa: PLW0603
    deadline = time.monotonic() + settings.exit_grace
    with _lock:
        closing = [e for e in _entries.values() if e.shutdown_with_bridge]
        _entries.clear()
        _default = None
    pools = [e.adapter.executor for e in closing if e.adapter.owned]
    for pool in pools:
        pool.close(cancel_queued=True)  # type: ignore[attr-defined]
    stop_portals(deadline)
    for pool in pools:
        pool.join(max(0.0, deadline - time.monotonic()))  # type: ignore[attr-defined]
    for entry in closing:
        if not entry.adapter.owned:
            entry.adapter.executor.shutdown(wait=False, cancel_futures=True)
    own = state.runner
    if own is not None:
        state.runner = None
        own.close()  # type: ignore[attr-defined]


atexit.register(_at_exit)

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
    _foreign.clear()
    _default = None
    forget_pools_after_fork()
    _inherited.extend(forget_portals_after_fork())
    if state.runner is not None:
        _inherited.append(state.runner)
        state.runner = None
    state.parent = None
    state.is_portal = False


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork,
        after_in_parent=_after_fork_in_parent,
        after_in_child=_after_fork_in_child,
    )
