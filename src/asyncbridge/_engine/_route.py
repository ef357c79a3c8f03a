"""Routing: which loop runs a sync caller's coroutine. One object, one function.

`route()` chooses, by these rules, in order:

1. a loop runs in this thread: the ``on_loop_conflict`` policy — block this thread
   on the portal with a `LoopBlockedWarning` (``"thread"``), raise
   `LoopConflictError` (``"raise"``), or re-enter the running loop from a task
   prepared for it (``"greenlet"``; `_backends._greenlet`);
2. this thread works for a loop (an asyncbridge, anyio or trio worker): that loop,
   its *parent loop* (unless *backend* names the other library: then its portal);
3. otherwise the shared portal, or this thread's own loop under
   ``sync_loop="thread"`` (or where the portal is blocked waiting for this thread).

The result is a `Route`: the loop's handle, and the portal it belongs to if it is
one. `run_sync`, the `DualInterface` home loops and the iterator and
context-manager bridges all route here; `Route` also carries the checks that turn a
call that could never finish into a `LoopConflictError` (`check_usable`,
`check_not_blocked`).
"""

from __future__ import annotations

import threading
import warnings
from typing import TYPE_CHECKING, Final

from asyncbridge._backends import BACKENDS, DEFAULT, LoopHandle, handle_for, running
from asyncbridge._backends._greenlet import reentry_handle
from asyncbridge._core._config import ConflictPolicy, settings
from asyncbridge._core._detect import user_stacklevel
from asyncbridge._core._errors import LoopBlockedWarning, LoopConflictError
from asyncbridge._core._optional import require
from asyncbridge._core._state import state
from asyncbridge._core._waits import blocked_loop_wait, chain, describe_chain

from ._portal import Portal, portal_for, running_portals

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "BLOCKED_WARNING_HANDLERS",
    "Route",
    "check_conflict",
    "check_not_blocked",
    "parent_loop",
    "route",
    "route_to",
    "warn_blocking",
]


class Route:
    """A loop that sync code sends coroutines to: its handle, and its portal if any."""

    __slots__ = ("handle", "portal")

    def __init__(self, handle: LoopHandle, portal: Portal | None = None) -> None:
        self.handle = handle
        self.portal = portal  # set when this is a portal's loop

    @property
    def token(self) -> object:
        """What identifies the loop (an asyncio loop or a trio token)."""
        return self.handle.token

    def describe(self) -> str:
        """Name this loop for error messages, telling loops of one type apart."""
        text = self.handle.describe()
        if self.portal is not None:
            text = f"the asyncbridge {self.portal.backend} portal ({text[4:]})"
        return text

    def self_wait_error(self, what: str, role: str = "") -> LoopConflictError:
        """The error for a caller on this loop's own thread (it would wait forever)."""
        return LoopConflictError(
            f"{what} was called from the thread that runs {self.describe()}{role}, "
            "and needs that loop, so it would wait for itself forever; from async "
            "code on that loop, await the async API instead (or move the blocking "
            "caller to a thread with asyncbridge.run_in_thread())"
        )

    def check_running(self, what: str, role: str = "") -> None:
        """Raise LoopConflictError if this loop is closed, paused or forked away."""
        handle = self.handle
        if handle.forked:
            raise LoopConflictError(
                f"{what} needs {self.describe()}{role}, which belongs to the parent "
                "process: it was in use before os.fork(), and its thread does not "
                "exist here; create the object again in the child"
            )
        if not handle.is_running():
            how = "is not running"
            if handle.is_closed():
                how = handle.ended
            raise LoopConflictError(
                f"{what} needs {self.describe()}{role}, but that loop {how}, so "
                "nothing would ever run the call"
            )

    def check_usable(self, what: str, role: str = "") -> None:
        """Raise LoopConflictError if a sync caller here could never get an answer.

        Args:
            what: the API being called, for the message (``"Client.fetch()"``).
            role: what this loop is to the caller, for the message.
        """
        if self.handle.runs_here():
            raise self.self_wait_error(what, role)
        self.check_running(what, role)


def route_to(token: object) -> Route:
    """The `Route` of a running loop given by its token (keeps a portal a portal)."""
    if state.is_portal:  # this thread is a portal: keep its shutdown bookkeeping
        for portal in running_portals().values():  # never starts one
            if portal.handle is not None and portal.handle.token is token:
                return Route(portal.handle, portal)
    return Route(handle_for(token))


def _portal_route(backend: str) -> Route:
    portal = portal_for(backend)
    assert portal.handle is not None  # noqa: S101  (set before portal_for returns)
    return Route(portal.handle, portal)


# ------------------------------------------------------------------ rule 1


def check_conflict(what: str, policy: ConflictPolicy | None) -> str | None:
    """Rule 1's policy check: the backend running in this thread (None: none).

    Under ``"greenlet"`` it answers as under ``"thread"``: `route` re-enters the
    loop where this task allows it, and falls back to the portal otherwise.

    Raises:
        LoopConflictError: a loop runs here and the policy is ``"raise"``.
        ModuleNotFoundError: the policy is ``"greenlet"`` and greenlet is missing.
    """
    backend = running()
    if backend is None:
        return None
    here = backend.name
    policy = policy or settings.on_loop_conflict
    if policy == "raise":
        raise LoopConflictError(
            f"{what} was called from a thread whose {here} event loop is running "
            "(on_loop_conflict='raise'); from async code, await the async API "
            "directly; from sync code called by async code, move that sync code to a "
            "thread with asyncbridge.run_in_thread()"
        )
    if policy == "greenlet":
        require("greenlet", "greenlet", "on_loop_conflict='greenlet'")
    return here


_NOT_PREPARED: Final = (
    " (on_loop_conflict='greenlet' could not re-enter it: this task was not "
    "prepared; run it with asyncbridge.run_in_greenlet(), or prepare every task "
    "with asyncbridge.greenlet_task_factory on asyncio, "
    "asyncbridge.GreenletInstrument() on trio)"
)
_ADVICE: Final = (
    "await the async API instead, or offload the blocking caller with run_in_thread()"
)

# Callables that may show a `LoopBlockedWarning` their own way (and say so by
# returning True): the IPython extension registers one (once per session).
BLOCKED_WARNING_HANDLERS: Final[list[Callable[[str], bool]]] = []


def warn_blocking(
    what: str, here: str, not_prepared: bool = False, advice: str = _ADVICE
) -> None:
    """Warn `LoopBlockedWarning` at the user's call: the *here* loop waits for *what*.

    *not_prepared*: the greenlet policy applied, but this task could not re-enter.
    *advice*: what to do instead. In an IPython session the warning is shown once
    per session (see `_tools._ipython`).
    """
    message = (
        f"{what} blocks the running {here} event loop of thread "
        f"{threading.current_thread().name!r} until it returns"
        f"{_NOT_PREPARED if not_prepared else ''}; {advice}"
    )
    for handler in BLOCKED_WARNING_HANDLERS:
        if handler(message):
            return
    warnings.warn(message, LoopBlockedWarning, stacklevel=user_stacklevel())


def _conflict_route(
    what: str, backend: str | None, policy: ConflictPolicy | None, here: str
) -> Route:
    """Rule 1: a *here* loop runs in this thread and the policy is not "raise"."""
    greenlet = (policy or settings.on_loop_conflict) == "greenlet"
    if greenlet and (backend is None or backend == here):
        reentry = reentry_handle()  # None: this task was not prepared for re-entry
        if reentry is not None:
            return Route(reentry)
    chosen = _portal_route(backend or here)
    if chosen.handle.runs_here():
        raise LoopConflictError(
            f"{what} was called by sync code running on the asyncbridge portal "
            "loop itself, which would wait for itself forever; make that caller "
            "async and await directly, or offload it with run_in_thread()"
        )
    warn_blocking(what, here, greenlet)
    return chosen


# ------------------------------------------------------------------ rule 2


def parent_loop() -> object | None:
    """Return the token of the loop this thread works for, or None.

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
    parent = _anyio_parent()
    for backend in BACKENDS.values():
        if parent is not None:
            break
        parent = backend.worker_parent()
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


# ---------------------------------------------------------------- the rules


def _blocked(handle: LoopHandle) -> bool:
    waits = chain()
    return bool(waits) and blocked_loop_wait(handle.token, waits) is not None


def route(
    what: str, backend: str | None, policy: ConflictPolicy | None, *, own_loop: bool
) -> Route | None:
    """Choose the loop for a sync caller in this thread, by the module's rules.

    Args:
        what: the API being called, for messages (``"run_sync()"``).
        backend: the portal's backend where a portal is chosen (None: the blocked
            loop's own backend in rule 1, asyncio otherwise).
        policy: ``on_loop_conflict`` for this call (None: the configured default).
        own_loop: this thread's own loop is acceptable (single calls, not objects
            that other threads will reach): under ``sync_loop="thread"``, and where
            the portal waits for this very thread (see below).

    Returns:
        The route, or None for this thread's own loop of the default backend (only
        with *own_loop*).

    A portal whose thread is blocked waiting for this thread (sync code such as a
    `mixed_execution_safe` function called by a coroutine on the portal) cannot run
    the call: a single asyncio call then runs on this thread's own loop instead;
    anything else raises (in `check_not_blocked`).

    Raises:
        LoopConflictError: the call could never be answered (it would wait for its
            own loop, or its loop has finished), or the policy is ``"raise"``.
    """
    here = check_conflict(what, policy)
    if here is not None:
        return _conflict_route(what, backend, policy, here)
    parent = parent_loop()
    if parent is not None:
        handle = handle_for(parent)
        if backend is None or backend == handle.backend:
            return Route(handle)
        # The parent loop cannot run code of the other library: its portal can.
    own_loop = own_loop and backend in (None, DEFAULT)  # only its loops can be owned
    backend = backend or DEFAULT
    if own_loop and settings.sync_loop == "thread":
        return None
    chosen = _portal_route(backend)
    if own_loop and _blocked(chosen.handle):
        return None
    return chosen


def check_not_blocked(handle: LoopHandle, what: str) -> None:
    """Raise LoopConflictError if the loop of *handle* waits for the calling code.

    That is, if a thread of the chain of waits that led here is blocked (in a sync
    wait) while it runs that loop: the loop cannot turn until this code returns.
    """
    waits = chain()
    if not waits:
        return
    if blocked_loop_wait(handle.token, waits) is not None:
        raise LoopConflictError(
            f"{what} needs {handle!r}, but the thread that runs it is blocked waiting "
            "for this very call, so it would wait forever: "
            + describe_chain(waits, f"{what} here")
            + ". Make the blocking caller await instead (e.g. the .aio() form of a "
            "decorated function), or run it with run_in_thread()."
        )
