"""Sync → async: `run_sync`, `syncify`, and `run_job`, the one sync→async wait.

Where a call runs is decided by `_route.route`. A loop whose thread is blocked
waiting for the caller (found in the chain of waits, see `_core._waits`) is refused
with `LoopConflictError` instead of waited for forever. The waiting thread blocks on its inbox, where the loop wakes it when the coroutine
ends and where work addressed to it arrives meanwhile (it runs that work); it wakes
every `POLL` seconds to notice a target loop that closed under it.
"""

from __future__ import annotations

import contextvars
import inspect
import logging
import sys
import threading
import traceback
from typing import TYPE_CHECKING, Any, TypeVar, cast, overload

from typing_extensions import ParamSpec, TypeVarTuple

from asyncbridge._backends import DEFAULT, LoopHandle, SyncJob, current_token, named
from asyncbridge._backends._greenlet import ReentryLoop
from asyncbridge._core._config import ConflictPolicy, check_conflict_policy, settings
from asyncbridge._core._errors import ExecutorShutdownError, LoopConflictError
from asyncbridge._core._hooks import HOOKS, trace_run_sync
from asyncbridge._core._state import state
from asyncbridge._core._validate import (
    check_async_target,
    check_backend,
    check_timeout,
    describe,
    qualified_name,
)
from asyncbridge._core._waits import CHAIN, Wait, chain, describe_chain, serve_until
from asyncbridge._core._wrapping import wraps

from ._route import check_not_blocked, route

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from asyncbridge._backends._base import OwnLoop
    from asyncbridge._core._detect import BackendName

    from ._portal import Portal

__all__ = ["run_job", "run_sync", "run_sync_internal", "syncify"]

T = TypeVar("T")
P = ParamSpec("P")
Ts = TypeVarTuple("Ts")

POLL = 1.0  # seconds between checks that the target loop still exists
logger = logging.getLogger("asyncbridge")


# ------------------------------------------------------------------ waiting


def _diagnose(job: SyncJob[Any], handle: LoopHandle, waited: float, wait: Wait) -> None:
    """Log the chain of waits this one closes, every thread's stack, the loop's tasks."""
    me = threading.get_ident()
    names = {t.ident: t.name for t in threading.enumerate()}
    stacks = [
        f"--- thread {names.get(ident, ident)!r}:\n"
        + "".join(traceback.format_stack(frame))
        # documented API (as faulthandler's dump); pyright: private by its name
        for ident, frame in sys._current_frames().items()  # noqa: SLF001  # pyright: ignore[reportPrivateUsage]
        if ident != me
    ]
    logger.warning(
        "asyncbridge: thread %r has waited %.1f s for %r on %r. If that loop is "
        "blocked waiting for this thread, this is a deadlock. Chain of waits: %s. "
        "Tasks of that loop:\n%s\nThe other threads are at:\n%s",
        threading.current_thread().name,
        waited,
        job.target,
        handle,
        describe_chain((*chain(), wait), "(this wait)"),
        named(handle.backend).describe_tasks(handle.token),
        "\n".join(stacks),
    )


def _block(
    job: SyncJob[Any], handle: LoopHandle, timeout: float | None, wait: Wait
) -> bool:
    """Wait for *job*, serving this thread's inbox; False if *timeout* passed first.

    Raises:
        LoopConflictError: the target loop closed before running the job.
    """

    def check() -> None:
        if not job.finished and handle.is_closed():
            raise LoopConflictError(
                f"{handle!r} closed before it ran {job.target!r}; the call was lost"
            )

    owner = job.owner
    threshold = settings.debug_wait_threshold
    if threshold is None or (timeout is not None and timeout <= threshold):
        return serve_until(job, owner, timeout, check, POLL)
    if serve_until(job, owner, threshold, check, POLL):
        return True
    _diagnose(job, handle, threshold, wait)
    left = None if timeout is None else timeout - threshold
    return serve_until(job, owner, left, check, POLL)


def _wait(
    job: SyncJob[Any], handle: LoopHandle, timeout: float | None, wait: Wait
) -> bool:
    """Wait for *job*; cancel it on timeout or KeyboardInterrupt and wait for that.

    The cancelled coroutine's cleanup is waited for only while its loop runs: a
    stopped loop (between two ``run_until_complete`` calls) runs it if it resumes.

    Returns:
        True if the job was cancelled because *timeout* passed.
    """
    try:
        if _block(job, handle, timeout, wait):
            return False
        handle.cancel(job)
        if handle.is_running():
            _block(job, handle, None, wait)  # let its cleanup run
    except KeyboardInterrupt:
        handle.cancel(job)
        try:
            if handle.is_running():
                _block(job, handle, None, wait)  # let its cleanup run
        except KeyboardInterrupt:  # a second Ctrl-C: stop waiting for the cleanup
            pass
        raise
    return True


def _outcome(
    job: SyncJob[T], timed_out: bool, timeout: float | None, portal: Portal | None
) -> T:
    if timed_out and not job.finished:
        raise TimeoutError(
            f"run_sync() timed out after {timeout} s; the target loop is not running, "
            "so the coroutine is cancelled when (if) that loop runs again"
        )
    error = job.error
    if error is None and not job.cancelled:
        return job.value  # type: ignore[return-value]
    job.error = None  # the job must not keep the traceback alive
    try:
        if job.cancelled and timed_out:
            raise TimeoutError(
                f"run_sync() timed out after {timeout} s; the coroutine was cancelled "
                "and its cleanup has run"
            ) from None
        if job.cancelled and portal is not None and portal.stopping:
            raise ExecutorShutdownError(
                "the asyncbridge portal was shut down while this call was running"
            ) from error
        raise error  # type: ignore[misc]
    finally:
        del error


# ------------------------------------------------------------------ routing


def _close(target: object, args: tuple[Any, ...] | None) -> None:
    if args is None and inspect.iscoroutine(target):
        target.close()


def run_job(
    job: SyncJob[T],
    handle: LoopHandle,
    portal: Portal | None = None,
    timeout: float | None = None,
    submit: Callable[[SyncJob[T]], None] | None = None,
    what: str = "run_sync()",
) -> T:
    """Start *job* on the loop of *handle* and wait for it, as `run_sync` waits.

    The one sync→async wait: `run_sync` and the tools that pick their loop
    themselves (a `DualInterface` instance's home loop, the one task an iterator or
    context-manager bridge runs in) use it. The wait is recorded in the chain (see
    `_waits`): it lends this thread's pool slot, this thread serves work addressed
    to it meanwhile, and a loop whose thread is blocked in the chain is refused.
    *portal*, when *handle* is a portal's, counts the call as in flight for
    shutdown. *submit* replaces ``handle.submit`` (to hand the job to a task that
    already runs).

    Raises:
        LoopConflictError: the loop's thread is blocked waiting for this call.
    """
    check_not_blocked(handle, what)
    parent_job = state.job  # the run_in_thread call this thread runs, if any
    if parent_job is not None:
        parent_job.adopt(job, handle)  # its cancellation reaches this call
    # A re-entry (greenlet policy) runs the job inline while the loop runs on: not
    # a wait that blocks this thread's loop.
    blocks = type(handle) is not ReentryLoop
    wait = Wait(job.owner, repr(handle), sync=blocks, loop=current_token())
    try:
        waits = wait.begin()
    except BaseException:
        if parent_job is not None:
            parent_job.disown(job, handle)
        raise
    inflight = None if portal is None else portal.inflight
    try:
        job.context.run(CHAIN.set, waits)
        if inflight is not None:
            inflight.add(job)
        (handle.submit if submit is None else submit)(job)
        timed_out = _wait(job, handle, timeout, wait)
    finally:
        if inflight is not None:
            inflight.discard(job)
        wait.end()
        if parent_job is not None:
            parent_job.disown(job, handle)
    return _outcome(job, timed_out, timeout, portal)


def _on_own_loop(
    target: Any,
    args: tuple[Any, ...] | None,
    kwargs: dict[str, Any] | None,
    timeout: float | None,
) -> Any:
    own = cast("OwnLoop | None", state.own_loop)
    if own is None:
        own = named(DEFAULT).new_own_loop()
        assert own is not None  # noqa: S101  (route() chose it: the default has them)
        state.own_loop = own
    aw = target if args is None else target(*args, **(kwargs or {}))
    return own.run(aw, timeout)


def run_sync_internal(
    target: Any,
    args: tuple[Any, ...] | None,
    kwargs: dict[str, Any] | None,
    timeout: float | None,
    on_loop_conflict: ConflictPolicy | None,
    backend: str | None,
    what: str = "run_sync()",
) -> Any:
    """Run an already validated target by the rules in this module's docstring.

    *args* None means *target* is an awaitable; otherwise it is an async function
    called on the target loop with *args* and *kwargs*. *what* names the call in
    warnings and errors (the user's decorated function, where there is one).
    """
    try:
        chosen = route(what, backend, on_loop_conflict, own_loop=True)
        if HOOKS:  # asyncbridge.instrumentation: report this hop to the hooks
            target, args, kwargs = trace_run_sync(target, args, kwargs)
        if chosen is None:
            return _on_own_loop(target, args, kwargs, timeout)
        handle = chosen.handle
        if type(handle) is ReentryLoop:
            return handle.run(target, args, kwargs, timeout)
        job: SyncJob[Any] = SyncJob(target, args, kwargs, contextvars.copy_context())
        return run_job(job, handle, chosen.portal, timeout, what=what)
    except LoopConflictError:
        _close(target, args)
        raise


# ------------------------------------------------------------------- public


@overload
def run_sync(
    fn_or_awaitable: Callable[[*Ts], Awaitable[T]],
    /,
    *args: *Ts,
    timeout: float | None = None,
    on_loop_conflict: ConflictPolicy | None = None,
    backend: BackendName | None = None,
) -> T: ...


@overload
def run_sync(
    fn_or_awaitable: Awaitable[T],
    /,
    *,
    timeout: float | None = None,
    on_loop_conflict: ConflictPolicy | None = None,
    backend: BackendName | None = None,
) -> T: ...


def run_sync(
    fn_or_awaitable: Callable[..., Awaitable[T]] | Awaitable[T],
    /,
    *args: object,
    timeout: float | None = None,
    on_loop_conflict: ConflictPolicy | None = None,
    backend: BackendName | None = None,
    **unexpected: object,
) -> T:
    """Run async code from sync code, anywhere, and return its result.

    From a plain thread the coroutine runs on the shared portal loop (started on
    first use, reused by every call, so loop-bound objects such as connection pools
    stay valid from one call to the next). From a worker thread of
    `run_in_thread` (or of anyio/trio), it runs on the loop that thread works for.
    From a thread whose own loop is running, ``on_loop_conflict`` decides:
    ``"thread"`` runs it on the portal while this thread (and its loop) waits, with a
    `LoopBlockedWarning`; ``"raise"`` raises `LoopConflictError`; ``"greenlet"``
    runs it on the running loop itself, in the calling task, without blocking the
    loop, where that task was prepared (`run_in_greenlet`, `greenlet_task_factory`,
    `GreenletInstrument`), and falls back to ``"thread"`` elsewhere. The coroutine
    sees a copy of the caller's contextvars.

    Cancellation: on *timeout*, or KeyboardInterrupt while waiting, the coroutine is
    cancelled and its cleanup runs before `TimeoutError` / KeyboardInterrupt is
    raised here.

    Args:
        fn_or_awaitable: an async function (called with *args* on the target loop)
            or an awaitable such as a coroutine object.
        *args: positional arguments for the function. Use `syncify` or
            `functools.partial` for keyword arguments.
        timeout: seconds before the coroutine is cancelled (None: no limit).
        on_loop_conflict: ``"thread"``, ``"raise"`` or ``"greenlet"``; default
            from `configure`.
        backend: ``"asyncio"`` (default) or ``"trio"``: the portal to use. In a
            worker of a loop, the call goes back to that loop unless *backend*
            names the other library (whose code that loop cannot run).
        **unexpected: refused: keyword arguments for the function go through
            `syncify` or `functools.partial` (the TypeError says how).

    Returns:
        What the coroutine returned.

    Raises:
        TypeError: a sync function, a coroutine already awaited, or neither a
            function nor an awaitable.
        TimeoutError: *timeout* passed.
        LoopConflictError: the call would wait on its own loop, the target loop is
            gone, or ``on_loop_conflict="raise"`` in a thread with a running loop.
        Exception: whatever the coroutine raised, unchanged, with its traceback.

    Example:
        >>> import asyncio, asyncbridge as ab
        >>> async def add(a: int, b: int) -> int:
        ...     await asyncio.sleep(0)
        ...     return a + b
        >>> ab.run_sync(add, 1, 2)
        3
    """
    if unexpected:
        _close(fn_or_awaitable, None)
        raise _keywords_error("run_sync", "syncify", fn_or_awaitable, unexpected)
    awaitable = check_async_target(fn_or_awaitable, "run_sync", "fn_or_awaitable")
    if awaitable and args:
        _close(fn_or_awaitable, None)
        raise TypeError(
            "run_sync() got positional arguments for an awaitable; pass the async "
            "function and its arguments, run_sync(fn, *args), instead"
        )
    if timeout is not None:
        timeout = check_timeout(timeout)
    if on_loop_conflict is not None:
        check_conflict_policy(on_loop_conflict)
    if backend is not None:
        check_backend(backend)
    return run_sync_internal(  # type: ignore[no-any-return]
        fn_or_awaitable,
        None if awaitable else args,
        None,
        timeout,
        on_loop_conflict,
        backend,
    )


def _keywords_error(
    api: str, wrapper: str, fn: object, unexpected: dict[str, object]
) -> TypeError:
    """The error for keyword arguments given to a direct-call form."""
    names = ", ".join(sorted(unexpected))
    return TypeError(
        f"{api}() passes only positional arguments to the function (its own "
        f"options, such as timeout, are keyword-only), but got {names}=... . To "
        f"pass keyword arguments to {describe(fn)}, wrap it: "
        f"asyncbridge.{wrapper}(fn)(*args, {names}=...), or "
        f"functools.partial(fn, {names}=...)"
    )


def syncify(
    async_fn: Callable[P, Awaitable[T]],
    *,
    timeout: float | None = None,
    on_loop_conflict: ConflictPolicy | None = None,
    backend: BackendName | None = None,
) -> Callable[P, T]:
    """Wrap an async function into a sync one that runs it by `run_sync`'s rules.

    The wrapper forwards ``*args, **kwargs`` untouched and keeps the name, docstring,
    signature and ``__wrapped__`` of *async_fn*.

    Args:
        async_fn: the async function to wrap.
        timeout: per call, as for `run_sync`.
        on_loop_conflict: as for `run_sync`.
        backend: as for `run_sync`.

    Returns:
        A sync function with *async_fn*'s parameters, returning its result.

    Raises:
        TypeError: *async_fn* is not an async function (raised here, at wrap time).

    Example:
        >>> import asyncbridge as ab
        >>> async def greet(name: str, *, punct: str = "!") -> str:
        ...     return f"hello {name}{punct}"
        >>> ab.syncify(greet)("bob", punct="?")
        'hello bob?'
    """
    if check_async_target(async_fn, "syncify", "async_fn"):
        _close(async_fn, None)
        raise TypeError(
            "syncify() expected an async function for async_fn, but got the "
            f"awaitable {describe(async_fn)}; to run an awaitable once, use "
            "run_sync(awaitable)"
        )
    timeout = check_timeout(timeout)
    if on_loop_conflict is not None:
        check_conflict_policy(on_loop_conflict)
    check_backend(backend)

    what = f"{qualified_name(async_fn)}() (syncify)"

    @wraps(async_fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        return run_sync_internal(  # type: ignore[no-any-return]
            async_fn, args, kwargs, timeout, on_loop_conflict, backend, what
        )

    return wrapper
