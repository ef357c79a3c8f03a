"""`get_context()`: what runs in the calling thread, for logs and debugging."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from asyncbridge._core._detect import BackendName, current_backend
from asyncbridge._core._state import state

from ._route import parent_loop

__all__ = ["ExecutionContext", "get_context"]


@dataclass(frozen=True, slots=True)
class ExecutionContext:
    """A snapshot of what runs in the calling thread, for logs and debugging.

    Attributes:
        thread_name: the calling thread's name.
        backend: the async library running in this thread (None: none).
        loop_running: an event loop is running in this thread.
        is_worker: this thread is doing work for a loop (an asyncbridge or anyio/trio
            worker thread).
        parent_loop: the loop that worker works for (an asyncio loop or a trio
            token), or None.
        is_portal: this is an asyncbridge portal thread.
    """

    thread_name: str
    backend: BackendName | None
    loop_running: bool
    is_worker: bool
    parent_loop: object | None
    is_portal: bool


def get_context() -> ExecutionContext:
    """Describe the calling thread: backend, running loop, worker status, portal.

    Example:
        >>> import asyncbridge as ab
        >>> ctx = ab.get_context()
        >>> ctx.loop_running, ctx.is_worker, ctx.is_portal
        (False, False, False)
    """
    backend = current_backend()
    parent = parent_loop()
    return ExecutionContext(
        thread_name=threading.current_thread().name,
        backend=backend,
        loop_running=backend is not None,
        is_worker=parent is not None,
        parent_loop=parent,
        is_portal=state.is_portal,
    )
