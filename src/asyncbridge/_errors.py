"""The exception hierarchy and the one warning asyncbridge emits."""

from __future__ import annotations

__all__ = [
    "AsyncBridgeError",
    "ExecutorShutdownError",
    "LoopBlockedWarning",
    "LoopConflictError",
]


class AsyncBridgeError(Exception):
    """Base class of every error asyncbridge raises itself."""


class LoopConflictError(AsyncBridgeError, RuntimeError):
    """Raised when a bridge call would wait on the event loop it is blocking.

    `run_sync` raises it instead of hanging when the target loop is the caller's own
    loop, when the loop it must route to has stopped, and (under
    ``on_loop_conflict="raise"``) whenever it is called from a thread whose event loop
    is running. `DualInterface` raises it when an instance is used from a loop other
    than its home loop.
    """


class ExecutorShutdownError(AsyncBridgeError, RuntimeError):
    """Raised when work is submitted to an executor that has been shut down.

    Raised by `run_in_thread`, `asyncify` and the executors of `asyncbridge.executors`
    after `asyncbridge.executors.shutdown()`, at interpreter exit, or when an
    executor obtained before `os.fork()` is used in the child process.
    """


class LoopBlockedWarning(RuntimeWarning):
    """Warned when `run_sync` blocks a running event loop while it waits.

    Emitted under the default ``on_loop_conflict="thread"`` policy, through the
    `warnings` module (once per call site by default): the call works, but every other
    task of the calling loop is stalled until it returns.
    """
