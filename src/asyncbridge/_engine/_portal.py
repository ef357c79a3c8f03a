"""Portals: long-lived background event loops that sync code runs coroutines on.

One portal per backend, started lazily by the first call that needs it, reused by
every later call (so a resource a coroutine creates stays valid in the next call),
stopped by `asyncbridge.executors.shutdown()` or at interpreter exit, forgotten in
a forked child. The asyncio portal runs on uvloop where it is installed (set
``ASYNCBRIDGE_PORTAL_LOOP=asyncio`` in the environment to opt out).
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from asyncbridge._backends import LoopHandle, SyncJob, named
from asyncbridge._core._errors import ExecutorShutdownError
from asyncbridge._core._state import state

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "Portal",
    "close_portals_for_exit",
    "portal_for",
    "running_portals",
    "stop_portals",
]


class Portal:
    """A daemon thread running one event loop for sync callers."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.handle: LoopHandle | None = None
        self.inflight: set[SyncJob[Any]] = set()  # calls being waited for
        self._ready = threading.Event()
        self._stop: Callable[[], None] | None = None
        self.cleanup_timeout = 1.0
        self.stopping = False  # set once stop() began: cancellations are ours
        self.thread = threading.Thread(
            target=self._main, name=f"asyncbridge-portal-{backend}", daemon=True
        )

    def start(self) -> LoopHandle:
        """Start the thread and return the loop's handle once it is running."""
        self.thread.start()
        self._ready.wait()
        if self.handle is None:  # pragma: no cover - the loop failed to start
            raise RuntimeError(f"the asyncbridge {self.backend} portal failed to start")
        return self.handle

    def started(self, handle: LoopHandle, stop: Callable[[], None]) -> None:
        """The loop runs: publish its handle and how to stop it (`LoopHost`)."""
        self.handle = handle
        self._stop = stop
        self._ready.set()

    def _main(self) -> None:
        state.is_portal = True
        try:
            named(self.backend).run_loop(self)
        finally:
            self._ready.set()
            with _lock:  # stopped by shutdown or by a stray `loop.stop()`: forget it
                if _portals.get(self.backend) is self:
                    del _portals[self.backend]

    def drain(self, deadline: float) -> bool:
        """Wait until no call is in flight, or *deadline* (monotonic) passes."""
        while self.inflight:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    def stop(self, timeout: float) -> bool:
        """Cancel what still runs, stop the loop, join within *timeout* seconds.

        Returns:
            True if the thread ended in time (False: it is left behind, a daemon).
        """
        self.stopping = True
        self.cleanup_timeout = max(0.0, timeout)
        stop = self._stop
        if stop is not None and self.thread.is_alive():
            try:
                stop()
            except RuntimeError:  # its loop already closed or finished
                pass
        if self.thread is threading.current_thread():
            return False
        self.thread.join(timeout)
        return not self.thread.is_alive()


_portals: dict[str, Portal] = {}
_lock = threading.Lock()
_exiting = False


def portal_for(backend: str) -> Portal:
    """Return the running portal for *backend*, starting it on first use.

    A portal is published to other threads only once its loop runs (so its handle
    is set): any number of threads may ask at once.

    Raises:
        ExecutorShutdownError: the interpreter is exiting (no portal starts then).
    """
    portal = _portals.get(backend)
    if portal is not None:
        return portal
    with _lock:
        portal = _portals.get(backend)
        if portal is None:
            if _exiting:
                raise ExecutorShutdownError(
                    f"the asyncbridge {backend} portal cannot start: the interpreter "
                    "is exiting"
                )
            portal = Portal(backend)
            portal.start()
            _portals[backend] = portal
        return portal


def running_portals() -> dict[str, Portal]:
    """The portals running now, by backend (never starts one)."""
    return dict(_portals)


def close_portals_for_exit() -> None:
    """At interpreter exit: no portal starts any more."""
    global _exiting  # noqa: PLW0603
    _exiting = True


def stop_portals(deadline: float) -> None:
    """Stop every portal by *deadline* (monotonic).

    Calls in flight may finish until shortly before it; what still runs then is
    cancelled, and its cleanup gets the time left (a quarter of the grace, at most
    one second, kept back for that).
    """
    with _lock:
        portals = list(_portals.values())
        _portals.clear()
    reserve = min(1.0, max(0.0, deadline - time.monotonic()) / 4)
    me = threading.current_thread()
    for portal in portals:
        if portal.thread is not me:  # called on a portal: its loop waits for us
            portal.drain(deadline - reserve)
    for portal in portals:
        portal.stop(max(0.0, deadline - time.monotonic()))


def forget_portals_after_fork() -> list[Portal]:
    """In a forked child: drop the parent's portals (their threads do not exist)."""
    global _lock  # noqa: PLW0603
    _lock = threading.Lock()
    inherited = list(_portals.values())
    _portals.clear()
    return inherited
