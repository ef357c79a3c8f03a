"""Who waits for what: the record behind slot lending, serving and cycle detection.

Every bridge wait is a `Wait`, valid while it lasts: a thread blocked until a
coroutine or a thread job ends (a *sync* wait), or a pool thread's own event loop
awaiting a thread job. The waits that led to the code running now form its *chain*,
a tuple carried in a context variable across every bridge hop (each hop runs the
next step in a copy of the caller's context, with its own wait appended). Three
decisions read the chain:

* slot lending: a pool thread in a wait lends its slot to the pool, and work whose
  chain holds a wait of that pool is *nested* work, which a lent slot may run;
* serving: work addressed to a thread that waits in the chain (a one-thread lane's
  thread, or the sync caller) is handed to that thread's inbox, and the thread runs
  it in the gap while it waits;
* cycle detection: a wait for a loop whose thread is blocked in the chain could
  never end, so it raises `LoopConflictError` with the chain instead.

A thread's side of its waits is one `ThreadWaits` (its inbox, how many waits it is
in, the pool it works in). A sync wait blocks on the inbox: completions arrive there
as wake-ups (`None`), work addressed to the thread as runnable items.
"""

from __future__ import annotations

import contextvars
import queue
import threading
import time
from typing import TYPE_CHECKING, Any, Final, Protocol

from ._state import state

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "CHAIN",
    "Finishable",
    "Lender",
    "ThreadWaits",
    "Wait",
    "blocked_loop_wait",
    "chain",
    "describe_chain",
    "here",
    "live",
    "nearest_sync_wait",
    "serve_until",
]

# The chain of waits the running code is part of (set where a bridge hands it on).
CHAIN: Final[contextvars.ContextVar[tuple[Wait, ...]]] = contextvars.ContextVar(
    "asyncbridge_waits", default=()
)
chain: Final = CHAIN.get  # the chain of the running code


class Lender(Protocol):
    """A pool that lends a waiting thread's slot (see `_pool.BridgePool`)."""

    name: str

    def lend(self, wait: Wait) -> None:
        """Lend the calling thread's slot for the length of *wait* (may raise)."""

    def reclaim(self) -> None:
        """Take the slot back."""


class Finishable(Protocol):
    """Something a sync wait waits for: its producer sets `finished`, then wakes."""

    finished: bool


class ThreadWaits:
    """One thread's side of its bridge waits."""

    __slots__ = ("depth", "ident", "inbox", "lock", "name", "pool", "sync_depth")

    def __init__(self) -> None:
        thread = threading.current_thread()
        self.ident = thread.ident
        self.name = thread.name
        self.inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.lock = threading.Lock()  # orders deliveries against the end of waits
        self.depth = 0  # waits in progress in this thread
        self.sync_depth = 0  # of which sync waits (the thread serves its inbox)
        self.pool: Lender | None = None  # the pool this thread works in

    def wake(self) -> None:
        """Wake the thread's innermost sync wait (a completion has arrived)."""
        self.inbox.put(None)


def here() -> ThreadWaits:
    """The calling thread's `ThreadWaits`, created on first use."""
    waits: ThreadWaits | None = state.waits
    if waits is None:
        waits = state.waits = ThreadWaits()
    return waits


class Wait:
    """One bridge wait, valid while `active`.

    Attributes:
        owner: the waiting thread's side.
        sync: the thread itself is blocked (False: its event loop awaits).
        loop: the token of the loop running in that thread (the asyncio loop, or
            trio's token), stalled by a sync wait; None if none runs there.
        target: what it waits for, for messages.
    """

    __slots__ = ("active", "loop", "owner", "sync", "target")

    def __init__(
        self, owner: ThreadWaits, target: object, *, sync: bool, loop: object | None
    ) -> None:
        self.owner = owner
        self.sync = sync
        self.loop = loop
        self.target = target
        self.active = False

    def begin(self) -> tuple[Wait, ...]:
        """Start the wait; return the chain to hand on (the current one plus it).

        Raises:
            LoopConflictError: the thread's pool has lent all the slots it may.
        """
        owner = self.owner
        if owner.depth == 0 and owner.pool is not None:
            owner.pool.lend(self)  # raises past the pool's ceiling
        owner.depth += 1
        if self.sync:
            owner.sync_depth += 1
        self.active = True
        return (*live(), self)

    def end(self) -> None:
        """End the wait; run work delivered too late for it (see `offer`)."""
        owner = self.owner
        leftover: list[Any] = []
        with owner.lock:  # no delivery slips in between the checks and the end
            self.active = False
            owner.depth -= 1
            if self.sync:
                owner.sync_depth -= 1
                if owner.sync_depth == 0:
                    leftover = _take_work(owner)
        for item in leftover:  # addressed to this thread while it waited
            item.run()
        if owner.depth == 0 and owner.pool is not None:
            owner.pool.reclaim()

    def offer(self, item: Any) -> bool:
        """Hand runnable *item* to this sync wait's thread; False if it has ended."""
        owner = self.owner
        with owner.lock:
            if not self.active:
                return False
            owner.inbox.put(item)
        return True

    def describe(self) -> str:
        """One link of a chain, for messages."""
        how = "is blocked waiting for" if self.sync else "runs a loop that awaits"
        return f"thread {self.owner.name!r} {how} {self.target}"


def _take_work(owner: ThreadWaits) -> list[Any]:
    """Empty the inbox of a thread whose last sync wait ends; return the work in it."""
    work: list[Any] = []
    while True:
        try:
            item = owner.inbox.get_nowait()
        except queue.Empty:
            return work
        if item is not None:
            work.append(item)


def serve_until(
    done: Finishable,
    owner: ThreadWaits,
    timeout: float | None,
    check: Callable[[], None] | None = None,
    poll: float = 1.0,
) -> bool:
    """Block until *done* has finished, running work handed to this thread meanwhile.

    Args:
        done: what is waited for; its producer sets ``finished`` and wakes *owner*.
        owner: the calling thread's side.
        timeout: seconds (None: no limit).
        check: called every *poll* seconds while waiting (it raises to give up).
        poll: seconds between calls of *check*.

    Returns:
        False if *timeout* passed first.
    """
    get = owner.inbox.get
    deadline = None if timeout is None else time.monotonic() + timeout
    while not done.finished:
        slice_ = poll
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            slice_ = min(slice_, left)
        try:
            item = get(timeout=slice_)
        except queue.Empty:
            if check is not None:
                check()
            continue
        if item is not None:  # work addressed to this thread: run it here, now
            item.run()
    return True


def live() -> tuple[Wait, ...]:
    """The running code's chain without the waits that have ended.

    A context copied out of a bridge call (some libraries copy a coroutine's context
    back to its caller) carries finished waits; dropped here, so chains never grow
    beyond the waits in progress.
    """
    waits = CHAIN.get()
    if waits and not all(w.active for w in waits):
        return tuple(w for w in waits if w.active)
    return waits


def blocked_loop_wait(token: object, waits: tuple[Wait, ...]) -> Wait | None:
    """The active sync wait in *waits* whose thread runs the loop *token*, if any.

    A call that needs that loop while that wait lasts would wait forever.
    """
    for wait in waits:
        if wait.active and wait.sync and wait.loop is token:
            return wait
    return None


def nearest_sync_wait(waits: tuple[Wait, ...]) -> Wait | None:
    """The innermost active plain sync wait of *waits* (the sync caller), if any.

    Plain: no event loop runs in the waiting thread (a thread blocked inside its
    own loop is async code that blocked, not a sync caller).
    """
    for wait in reversed(waits):
        if wait.active and wait.sync and wait.loop is None:
            return wait
    return None


def describe_chain(waits: tuple[Wait, ...], last: str) -> str:
    """The chain of active waits, outermost first, ending with *last*."""
    links = [w.describe() for w in waits if w.active]
    return " -> ".join([*links, last])
