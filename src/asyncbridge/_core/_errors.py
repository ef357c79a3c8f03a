"""The exception hierarchy and the one warning asyncbridge emits."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the retry tools build it; only its type is needed here
    from asyncbridge._tools._retry._policy import RetryState

__all__ = [
    "AsyncBridgeError",
    "ExecutorShutdownError",
    "LoopBlockedWarning",
    "LoopConflictError",
    "RetryError",
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


class RetryError(AsyncBridgeError):
    """Raised when `async_retry` or `retrying` gives up and ``reraise=False`` was set.

    Raised ``from`` the last exception (``from None`` when a rejected result ended
    the retries). `attempts` holds one `RetryState` per attempt, in order: its
    `exception`, or its rejected `result`.
    """

    def __init__(self, message: str, attempts: tuple[RetryState, ...] = ()) -> None:
        super().__init__(message)
        self.attempts: tuple[RetryState, ...] = attempts

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.attempts))

    @property
    def last(self) -> RetryState | None:
        """The last attempt's outcome (None only if `attempts` is empty)."""
        return self.attempts[-1] if self.attempts else None


class LoopBlockedWarning(RuntimeWarning):
    """Warned when asyncbridge blocks a running event loop while it waits.

    `run_sync` warns it under the default ``on_loop_conflict="thread"`` policy; a
    sync `async_retry` function (or a sync ``for`` loop over `retrying`) warns it
    when it sleeps between attempts in a thread whose event loop is running.
    Emitted through the `warnings` module (once per call site by default): the call
    works, but every other task of the calling loop is stalled until it returns.
    """
