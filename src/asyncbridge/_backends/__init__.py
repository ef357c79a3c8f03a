"""The one place where asyncio and trio differ: one backend module per library.

* `_base`: what both share: the jobs that cross threads (`SyncJob`, `ThreadJob`),
  the `LoopHandle` protocol (a loop seen from another thread) and the `Backend`
  protocol (everything the engine needs of one library);
* `_asyncio` (uvloop included) and `_trio`: one `Backend` each;
* `_greenlet`: re-entry into the running loop from a prepared task.

The engine asks here: which backend runs in this thread (`running`), the token of
the running loop (`current_token`), a handle for a token (`handle_for`), a backend
by name (`named`), and awaits thread jobs through `await_thread_job`. Nothing
outside this package branches on the library.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Final, TypeVar

from asyncbridge._core._detect import running_asyncio_loop, trio_running
from asyncbridge._core._state import state
from asyncbridge._core._waits import Wait

from . import _asyncio, _trio
from ._base import (
    Backend,
    LoopHandle,
    LoopHost,
    SyncJob,
    ThreadJob,
    discard,
    executor_gone,
    forget_handles_after_fork,
)

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "BACKENDS",
    "DEFAULT",
    "Backend",
    "LoopHandle",
    "LoopHost",
    "SyncJob",
    "ThreadJob",
    "await_thread_job",
    "current_token",
    "discard",
    "executor_gone",
    "forget_handles_after_fork",
    "handle_for",
    "named",
    "running",
]

T = TypeVar("T")

DEFAULT: Final = "asyncio"  # the portal (and own loops) when no backend is named
BACKENDS: Final[dict[str, Backend]] = {
    "asyncio": _asyncio.BACKEND,
    "trio": _trio.BACKEND,
}


def named(name: str) -> Backend:
    """The backend called *name* (``"asyncio"`` or ``"trio"``)."""
    return BACKENDS[name]


def running() -> Backend | None:
    """The backend whose loop runs in this thread, or None."""
    if running_asyncio_loop() is not None:
        return _asyncio.BACKEND
    if trio_running():
        return _trio.BACKEND
    return None


def current_token() -> object | None:
    """The token of the loop running in this thread (None: no loop runs here)."""
    loop = running_asyncio_loop()
    if loop is not None:
        return loop
    if trio_running():
        return _trio.current_token()
    return None


def handle_for(token: object) -> LoopHandle:
    """The handle of the loop of *token* (an asyncio loop or a trio token)."""
    if isinstance(token, asyncio.AbstractEventLoop):
        return _asyncio.AsyncioLoop(token)
    return _trio.TrioLoop(token)  # type: ignore[arg-type]


async def await_thread_job(
    job: ThreadJob[T],
    submit: Callable[[ThreadJob[T]], None],
    cancellable: bool,
) -> T:
    """Hand *job* to *submit* (which queues it for a worker) and await its outcome.

    Cancellation: a job not yet started is withdrawn at once. A running one is waited
    for unless *cancellable*; then the cancellation propagates (what the thread raised
    is chained as its ``__context__``). With *cancellable*, the caller is released at
    once and the thread's outcome is discarded.

    When this thread works in a pool, its loop awaiting the job is a wait of that
    pool's thread (see `_waits`): the thread lends its slot meanwhile, and the job
    belongs to the chain.
    """
    backend = _asyncio.BACKEND if running_asyncio_loop() is not None else _trio.BACKEND
    waits = state.waits
    if waits is None or waits.pool is None:  # the common case: no pool thread here
        job.join(None)
        return await backend.await_job(job, submit, cancellable)
    what = f"{job.fn!r} in a worker thread"
    wait = Wait(waits, what, sync=False, loop=backend.current_token())
    wait.begin()
    try:
        job.join(wait)
        return await backend.await_job(job, submit, cancellable)
    finally:
        wait.end()
