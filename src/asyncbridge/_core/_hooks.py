"""Instrumentation: the hook registry, the event types and the functions that emit them.

Low in the layer map: it imports nothing of asyncbridge but the detection layer, so
every layer can report events. The public surface is `asyncbridge.instrumentation`.

Zero cost when no hook is registered: `HOOKS` is one list, mutated in place and never
rebound, so a hot path imports it once and tests it with one global read::

    from ._hooks import HOOKS, emit_retry_scheduled

    if HOOKS:
        emit_retry_scheduled(name, attempt, wait, elapsed, error)

Hooks run in the thread where the event happens (an event loop's thread for a
`run_sync` hop, a worker thread for a `run_in_thread` hop, the loop watchdog's thread
for a blocked loop): they must be quick and must not block. A hook that raises is
logged and skipped. Bridge calls that a hook makes (a hook calling `run_sync`), and
the bridge calls those make in turn, are not reported: a hook never feeds itself.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from dataclasses import dataclass
from time import perf_counter
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeAlias

from ._state import state
from ._validate import qualified_name

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "HOOKS",
    "BridgeHop",
    "Event",
    "Hook",
    "LoopBlocked",
    "PoolCeilingReached",
    "PoolSlotLent",
    "RetryGivenUp",
    "RetryScheduled",
    "add_hook",
    "emit",
    "emit_pool_ceiling_reached",
    "emit_pool_slot_lent",
    "emit_retry_given_up",
    "emit_retry_scheduled",
    "get_hooks",
    "remove_hook",
    "trace_run_in_thread",
    "trace_run_sync",
]

logger = logging.getLogger("asyncbridge")


def _error_name(error: BaseException | None) -> str:
    return "ok" if error is None else f"raised {type(error).__name__}"


# ------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class BridgeHop:
    """One bridged call, reported when the bridged code has finished.

    Attributes:
        api: ``"run_sync"`` (sync → async: `run_sync`, `syncify`, `async_safe` and
            the other tools built on it) or ``"run_in_thread"`` (async → sync:
            `run_in_thread`, `asyncify`).
        route: where it ran: ``"portal"`` (the shared background loop),
            ``"parent_loop"`` (the loop a worker thread works for),
            ``"same_thread"`` (a loop in the calling thread itself: under
            ``sync_loop="thread"``, or the running loop re-entered under
            ``on_loop_conflict="greenlet"``) or ``"thread_pool"`` (a worker
            thread).
        target: ``module.qualname`` of the function (never its arguments).
        caller_thread: name of the thread that made the call.
        runner_thread: name of the thread that ran the bridged code.
        queued: seconds from the call until the code started running.
        duration: seconds from the call until the code finished.
        error: what the code raised (cancellation included), or None.
    """

    api: str
    route: str
    target: str
    caller_thread: str
    runner_thread: str
    queued: float
    duration: float
    error: BaseException | None

    @property
    def path(self) -> str:
        """``api:route``, e.g. ``"run_sync:portal"``."""
        return f"{self.api}:{self.route}"

    def __str__(self) -> str:
        return (
            f"{self.path} {self.target} from {self.caller_thread!r} on "
            f"{self.runner_thread!r}: {self.duration * 1e3:.3f} ms "
            f"({self.queued * 1e3:.3f} ms queued), {_error_name(self.error)}"
        )


@dataclass(frozen=True, slots=True)
class RetryScheduled:
    """A retried call failed and will be attempted again after a wait.

    Attributes:
        target: ``module.qualname`` of the retried function.
        attempt: the attempt that just failed, counting from 1.
        wait: seconds before the next attempt.
        elapsed: seconds since the first attempt started.
        error: what the attempt raised (None when a result predicate asked for
            the retry).
    """

    target: str
    attempt: int
    wait: float
    elapsed: float
    error: BaseException | None

    def __str__(self) -> str:
        cause = "result" if self.error is None else type(self.error).__name__
        return (
            f"retry of {self.target} scheduled: attempt {self.attempt} failed "
            f"({cause}), next in {self.wait:.3f} s ({self.elapsed:.3f} s elapsed)"
        )


@dataclass(frozen=True, slots=True)
class RetryGivenUp:
    """A retried call gave up: its last outcome goes to the caller.

    Attributes:
        target: ``module.qualname`` of the retried function.
        attempts: attempts made.
        elapsed: seconds since the first attempt started.
        error: what the last attempt raised (None when a result predicate drove
            the retries).
    """

    target: str
    attempts: int
    elapsed: float
    error: BaseException | None

    def __str__(self) -> str:
        cause = "result" if self.error is None else type(self.error).__name__
        return (
            f"retry of {self.target} gave up after {self.attempts} attempt(s) in "
            f"{self.elapsed:.3f} s ({cause})"
        )


@dataclass(frozen=True, slots=True)
class PoolSlotLent:
    """A pool lent a slot to a thread that waits on work of that same pool.

    Attributes:
        pool: the pool's name (``"default"``, a `dedicated` name, ...).
        lent: slots lent now, this one included.
        ceiling: the most slots the pool lends at once.
    """

    pool: str
    lent: int
    ceiling: int

    def __str__(self) -> str:
        return f"pool {self.pool!r} lent a slot ({self.lent} of {self.ceiling} lent)"


@dataclass(frozen=True, slots=True)
class PoolCeilingReached:
    """A pool could not lend a slot: its ceiling of lent slots is reached.

    Attributes:
        pool: the pool's name.
        ceiling: the most slots the pool lends at once.
    """

    pool: str
    ceiling: int

    def __str__(self) -> str:
        return f"pool {self.pool!r} reached its ceiling of {self.ceiling} lent slots"


@dataclass(frozen=True, slots=True)
class LoopBlocked:
    """An event loop did not turn for longer than a `watch_loop` threshold.

    Attributes:
        backend: ``"asyncio"`` (uvloop included) or ``"trio"``.
        thread: name of the loop's thread.
        duration: seconds the loop had not turned when the stack was taken (at
            least *threshold*; the block may have lasted longer).
        threshold: the watch's threshold, seconds.
        filename: file of the blocking call in async code (the innermost
            coroutine frame), or of the innermost frame if no coroutine runs.
        lineno: its line number.
        function: its function's name.
        stack: the loop thread's stack while it was blocked, formatted as a
            traceback, from the outermost coroutine frame down.
        hint: the fix to apply.
    """

    backend: str
    thread: str
    duration: float
    threshold: float
    filename: str
    lineno: int
    function: str
    stack: str
    hint: str

    @property
    def site(self) -> str:
        """``file:line in function()``: where the blocking call is."""
        return f"{self.filename}:{self.lineno} in {self.function}()"

    def __str__(self) -> str:
        return (
            f"the {self.backend} event loop of thread {self.thread!r} has not turned "
            f"for {self.duration:.3f} s (threshold {self.threshold:g} s); it is "
            f"blocked at {self.site}\nStack of the loop's thread (most recent call "
            f"last):\n{self.stack}\n{self.hint}"
        )


Event: TypeAlias = (
    BridgeHop
    | RetryScheduled
    | RetryGivenUp
    | PoolSlotLent
    | PoolCeilingReached
    | LoopBlocked
)


class Hook(Protocol):
    """A callable that receives every `Event` (one positional argument)."""

    def __call__(self, event: Event, /) -> object: ...


# ----------------------------------------------------------------- registry

# The registered hooks. Mutated in place (never rebound), under `_lock`; emitters
# iterate over a snapshot.
HOOKS: Final[list[Hook]] = []
_lock = threading.Lock()


# Set while hooks run; bridges copy contexts, so it follows a hook's bridge calls.
_in_hook: Final = contextvars.ContextVar("asyncbridge_in_hook", default=False)


def add_hook(hook: Hook) -> Hook:
    """Register *hook* to receive every instrumentation event; return it.

    Hooks are called in the order they were added, in the thread where the event
    happens. Adding a registered hook again does nothing. Returning the hook lets
    `add_hook` decorate a function.

    Args:
        hook: a callable taking one event (see `asyncbridge.instrumentation`).

    Returns:
        *hook*.

    Raises:
        TypeError: *hook* is not callable.

    Example:
        >>> import asyncbridge as ab
        >>> events = []
        >>> hook = ab.instrumentation.add_hook(events.append)
        >>> async def one() -> int:
        ...     return 1
        >>> ab.run_sync(one)
        1
        >>> [e.path for e in events]
        ['run_sync:portal']
        >>> ab.instrumentation.remove_hook(hook)
    """
    if not callable(hook):
        raise TypeError(
            f"add_hook() expected a callable taking one event, got {hook!r}"
        )
    with _lock:
        if hook not in HOOKS:
            HOOKS.append(hook)
    return hook


def remove_hook(hook: Hook) -> None:
    """Unregister *hook*: it receives no further events.

    Args:
        hook: a hook given to `add_hook`.

    Raises:
        ValueError: *hook* is not registered.

    Example:
        >>> import asyncbridge as ab
        >>> hook = ab.instrumentation.add_hook(print)
        >>> ab.instrumentation.remove_hook(hook)
        >>> ab.instrumentation.get_hooks()
        ()
    """
    with _lock:
        try:
            HOOKS.remove(hook)
        except ValueError:
            raise ValueError(f"remove_hook(): {hook!r} is not registered") from None


def get_hooks() -> tuple[Hook, ...]:
    """Return the registered hooks, in the order they are called.

    Example:
        >>> import asyncbridge as ab
        >>> ab.instrumentation.get_hooks()
        ()
    """
    return tuple(HOOKS)


def emit(event: Event) -> None:
    """Call every registered hook with *event*; a failing hook is logged, not raised."""
    if not HOOKS or _in_hook.get():
        return
    token = _in_hook.set(True)
    try:
        for hook in tuple(HOOKS):
            try:
                hook(event)
            except Exception:
                logger.exception(
                    "asyncbridge: instrumentation hook %r failed on %s",
                    hook,
                    type(event).__name__,
                )
    finally:
        _in_hook.reset(token)


def emit_retry_scheduled(
    target: str,
    attempt: int,
    wait: float,
    elapsed: float,
    error: BaseException | None,
) -> None:
    """Report a `RetryScheduled` event (see its attributes for the arguments)."""
    if HOOKS:
        emit(RetryScheduled(target, attempt, wait, elapsed, error))


def emit_retry_given_up(
    target: str, attempts: int, elapsed: float, error: BaseException | None
) -> None:
    """Report a `RetryGivenUp` event (see its attributes for the arguments)."""
    if HOOKS:
        emit(RetryGivenUp(target, attempts, elapsed, error))


def emit_pool_slot_lent(pool: str, lent: int, ceiling: int) -> None:
    """Report a `PoolSlotLent` event (see its attributes for the arguments)."""
    if HOOKS:
        emit(PoolSlotLent(pool, lent, ceiling))


def emit_pool_ceiling_reached(pool: str, ceiling: int) -> None:
    """Report a `PoolCeilingReached` event (see its attributes for the arguments)."""
    if HOOKS:
        emit(PoolCeilingReached(pool, ceiling))


# --------------------------------------------------------------- bridge hops


def trace_run_sync(
    target: Any, args: tuple[Any, ...] | None, kwargs: dict[str, Any] | None
) -> tuple[Any, tuple[Any, ...] | None, dict[str, Any] | None]:
    """Wrap a `run_sync` target so that its hop is reported when it ends.

    *target* and *args* as the engine passes them (*args* None: *target* is an
    awaitable). Returns the replacement target, args and kwargs: an async function
    of no arguments, which runs the original on the target loop, then emits a
    `BridgeHop` there. Unchanged when called from a hook.
    """
    if _in_hook.get():
        return target, args, kwargs
    caller = threading.current_thread()
    start = perf_counter()

    async def hop() -> Any:
        begun = perf_counter()
        runner = threading.current_thread()
        error: BaseException | None = None
        try:
            if args is None:
                return await target
            return await target(*args, **(kwargs or {}))
        except BaseException as exc:
            error = exc
            raise
        finally:
            end = perf_counter()
            if runner is caller:
                route = "same_thread"
            else:
                route = "portal" if state.is_portal else "parent_loop"
            emit(
                BridgeHop(
                    "run_sync",
                    route,
                    qualified_name(target),
                    caller.name,
                    runner.name,
                    begun - start,
                    end - start,
                    error,
                )
            )
            del error

    return hop, (), None


def trace_run_in_thread(sync_fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a `run_in_thread` function so that its hop is reported when it ends.

    The wrapper runs in the worker thread and emits a `BridgeHop` there, once
    *sync_fn* has returned or raised. Unchanged when called from a hook.
    """
    if _in_hook.get():
        return sync_fn
    caller = threading.current_thread()
    start = perf_counter()

    def hop(*args: Any) -> Any:
        begun = perf_counter()
        error: BaseException | None = None
        try:
            return sync_fn(*args)
        except BaseException as exc:
            error = exc
            raise
        finally:
            end = perf_counter()
            emit(
                BridgeHop(
                    "run_in_thread",
                    "thread_pool",
                    qualified_name(sync_fn),
                    caller.name,
                    threading.current_thread().name,
                    begun - start,
                    end - start,
                    error,
                )
            )
            del error

    return hop
