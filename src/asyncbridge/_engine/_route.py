"""Which loop a worker thread works for: asyncbridge's own marker, anyio's, trio's."""

from __future__ import annotations

import sys
import threading

from asyncbridge._core._errors import LoopConflictError
from asyncbridge._core._state import state

__all__ = ["parent_loop"]


def parent_loop() -> object | None:
    """Return the loop (asyncio loop or trio token) this thread works for, or None.

    Asyncbridge workers say so in a thread-local set around each call. Worker threads
    of anyio (`anyio.to_thread.run_sync`) and trio (`trio.to_thread.run_sync`) are
    asked through their public ``from_thread`` APIs, which answer only there; the
    main thread is never one, so it skips that question.

    Raises:
        LoopConflictError: this is an anyio or trio worker thread whose loop has
            finished.
    """
    parent = state.parent
    if parent is not None:
        return parent
    if (
        state.not_foreign_worker
        or threading.current_thread() is threading.main_thread()
    ):
        return None
    parent = _anyio_parent() or _trio_parent()
    if parent is None:
        # anyio and trio run user code only in threads they create, and only as
        # worker calls: a thread that is not one now never becomes one.
        state.not_foreign_worker = True
    return parent


def _anyio_parent() -> object | None:
    import anyio.from_thread  # noqa: PLC0415
    import anyio.lowlevel  # noqa: PLC0415

    try:
        token = anyio.from_thread.run_sync(anyio.lowlevel.current_token)
    except anyio.RunFinishedError:
        raise LoopConflictError(
            "this anyio worker thread's event loop has finished; "
            "there is no loop left to run the call on"
        ) from None
    except anyio.NoEventLoopError:  # not an anyio worker thread
        return None
    return token.native_token


def _trio_parent() -> object | None:
    if "trio" not in sys.modules:  # never imported: no trio worker threads exist
        return None
    import trio  # noqa: PLC0415  (waits for another thread still importing it)

    try:
        token: object = trio.from_thread.run_sync(trio.lowlevel.current_trio_token)
    except trio.RunFinishedError:
        raise LoopConflictError(
            "this trio worker thread's run has finished; "
            "there is no loop left to run the call on"
        ) from None
    except RuntimeError:  # not a trio worker thread
        return None
    return token
