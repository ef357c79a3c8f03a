"""Greenlet re-entry: sync code inside a task runs async code on that task's loop.

``on_loop_conflict="greenlet"`` lets sync code called from a coroutine await a
coroutine *on the running loop itself*, in the calling task, while every other
task of that loop keeps running. It works for *prepared* tasks only.

Vocabulary:

* A *prepared* task runs its coroutine inside a `Runner` greenlet. The greenlet
  that steps the task (the loop's own, normally the thread's main greenlet) is
  the runner's *parent*: each time the task's coroutine yields to its loop (an
  asyncio future, a trio trap), the runner switches to its parent with what was
  yielded; the parent yields it to the loop, then switches back in with what the
  loop sent (or throws in what it threw).
* *Re-entry*: sync code running in a runner (directly, or in a greenlet started
  there) steps a new coroutine itself, and hands each of its yields to the
  runner's parent the same way. The loop cannot tell the difference: to it, the
  task is awaiting something as usual. Nested chains (sync → async → sync →
  async) are re-entries inside re-entries on the same runner.

Ways to prepare a task, each on public asyncio/trio API: `run_in_greenlet`
(an entry point: awaits one async function in a runner), `greenlet_task_factory`
(``loop.set_task_factory``: every task of an asyncio or uvloop loop), and
`GreenletInstrument` (a trio instrument: every task spawned in a run).

greenlet is imported lazily, when one of these is first used.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import threading
import types
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar, cast

from typing_extensions import TypeVarTuple

from asyncbridge._core._errors import LoopConflictError
from asyncbridge._core._optional import require

from . import current_token, handle_for

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Coroutine, Generator

    from trio.abc import Instrument as _InstrumentBase
    from trio.lowlevel import Task as TrioTask

    from ._base import LoopHandle, SyncJob
else:
    _InstrumentBase = object

__all__ = [
    "GREENLET_POLICY",
    "GreenletInstrument",
    "ReentryLoop",
    "current_runner",
    "greenlet_task_factory",
    "install_task_factory",
    "interrupt",
    "prepare",
    "reentry_handle",
    "require_greenlet",
    "run_in_greenlet",
]

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

GREENLET_POLICY: Final = "on_loop_conflict='greenlet'"


class _Greenlet(Protocol):
    """What asyncbridge uses of a `greenlet.greenlet` (greenlet ships no types)."""

    parent: _Greenlet | None
    gr_context: contextvars.Context | None

    @property
    def dead(self) -> bool: ...
    def switch(self, *args: Any) -> Any: ...
    def throw(self, exc: BaseException, /) -> Any: ...


class _Runner(_Greenlet, Protocol):
    """A greenlet that runs one prepared task's coroutine (see the module doc)."""

    resume: _Greenlet  # the greenlet the parent switches into at the next step
    handle: ReentryLoop | None  # cached by `reentry_handle`
    interrupt: bool  # turn the next cancellation into KeyboardInterrupt


class _GreenletModule(Protocol):
    def getcurrent(self) -> _Greenlet: ...


_module: _GreenletModule | None = None
# The `_Runner` class, made with the module. Published last: whoever sees it set
# also sees `_module`.
_runner_class: type | None = None
_load_lock = threading.Lock()


def require_greenlet() -> _GreenletModule:
    """Return the greenlet module, imported now if needed.

    Raises:
        ModuleNotFoundError: greenlet is not installed (names the extra).
    """
    if _runner_class is not None:
        return _module  # type: ignore[return-value]  # set before _runner_class
    with _load_lock:  # one Runner class, even for simultaneous first uses
        if _runner_class is None:
            _load()
    return _module  # type: ignore[return-value]


def _load() -> None:
    global _module, _runner_class  # noqa: PLW0603  (published once, complete)
    greenlet: Any = require("greenlet", "greenlet", GREENLET_POLICY)

    class Runner(greenlet.greenlet):  # type: ignore[misc]
        """Runs one prepared task's coroutine."""

        __slots__ = ("handle", "interrupt", "resume")

    _module = cast("_GreenletModule", greenlet)
    _runner_class = Runner


def current_runner() -> _Runner | None:
    """Return the runner of the task running here, or None if it was not prepared.

    Also found from a greenlet started inside the runner (by a library such as
    SQLAlchemy's asyncio layer): the search follows the parents.
    """
    cls = _runner_class
    if cls is None:  # greenlet never loaded: nothing was prepared
        return None
    g: _Greenlet | None = _module.getcurrent()  # type: ignore[union-attr]
    while g is not None:
        if type(g) is cls:
            return cast("_Runner", g)
        g = g.parent
    return None


# ------------------------------------------------------------ running tasks


def _run_task(coro: Coroutine[Any, Any, T]) -> T:
    """The body of a runner: step *coro*, handing each yield to the parent."""
    runner = cast("_Runner", _module.getcurrent())  # type: ignore[union-attr]
    return cast("T", _forward(runner, runner, coro.send, coro.throw))


def _forward(
    runner: _Runner,
    me: _Greenlet,
    send: Callable[[Any], Any],
    throw: Callable[[BaseException], Any],
) -> Any:
    """Step a coroutine by *send* / *throw*; hand each yield to the runner's parent.

    *me* is the greenlet this runs in (the runner, or one started inside it): the
    parent resumes it with what the loop sent, or throws in what the loop threw.
    """
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            trap = send(value) if error is None else throw(error)
        except StopIteration as stop:
            return stop.value
        error = None
        runner.resume = me
        try:
            value = runner.parent.switch(trap)  # type: ignore[union-attr]
        except BaseException as exc:  # thrown in by the loop: into the coroutine
            value, error = None, exc


@types.coroutine
def _drive(coro: Coroutine[Any, Any, T]) -> Generator[Any, Any, T]:
    """Step *coro* in a new runner; yield what it yields to the loop stepping us."""
    getcurrent = require_greenlet().getcurrent
    here = getcurrent()
    runner = cast("_Runner", _runner_class(_run_task))  # type: ignore[misc]
    runner.handle = None
    runner.interrupt = False
    runner.resume = runner
    context = runner.gr_context = here.gr_context
    message = runner.switch(coro)
    while not runner.dead:
        error: BaseException | None = None
        try:
            sent = yield message
        except BaseException as exc:  # thrown in by the loop (a cancellation...)
            sent, error = None, exc
            if runner.interrupt and isinstance(exc, asyncio.CancelledError):
                error = _interrupted(runner)
        now = getcurrent()
        if now is not here:  # stepped from another greenlet than before (eager start)
            runner.parent = here = now
        # The task's contextvars context is the one current here: give it to the
        # runner, unless the runner entered another one itself (Context.run).
        current = here.gr_context
        if current is not context and runner.gr_context is context:
            context = runner.gr_context = current
        if error is None:
            message = runner.resume.switch(sent)
        else:
            message = runner.resume.throw(error)
            error = None
    return cast("T", message)


def interrupt(task: asyncio.Task[Any], runner: _Runner) -> None:
    """Raise KeyboardInterrupt in the prepared asyncio *task* where it awaits.

    For a SIGINT handler (main thread) while the loop runs: the task is cancelled,
    and the cancellation reaches its coroutine (or the coroutine it re-entered) as
    KeyboardInterrupt, so cleanups run and the interrupt reaches sync code as
    Ctrl-C would. The loop is woken, as `asyncio.Runner` does on SIGINT.
    """
    runner.interrupt = True
    task.cancel()
    task.get_loop().call_soon_threadsafe(_noop)


def _interrupted(runner: _Runner) -> KeyboardInterrupt:
    runner.interrupt = False
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()  # delivered as KeyboardInterrupt, not as a cancellation
    return KeyboardInterrupt()


def _noop() -> None:
    pass


async def _prepared(coro: Coroutine[Any, Any, T]) -> T:
    return await _drive(coro)


def prepare(coro: Coroutine[Any, Any, T]) -> types.CoroutineType[Any, Any, T]:
    """Return a coroutine that runs *coro* in a runner (named as *coro* is)."""
    require_greenlet()
    # mypy types an `async def` call as Coroutine, pyright as CoroutineType already
    prepared = cast("types.CoroutineType[Any, Any, T]", _prepared(coro))  # pyright: ignore[reportUnnecessaryCast]
    if isinstance(coro, types.CoroutineType):  # a task's repr shows the user's name
        prepared.__name__ = coro.__name__
        prepared.__qualname__ = coro.__qualname__
    return prepared


async def run_in_greenlet(async_fn: Callable[[*Ts], Awaitable[T]], /, *args: *Ts) -> T:
    """Await ``async_fn(*args)`` in a task prepared for greenlet re-entry.

    Sync code that ``async_fn`` calls, directly or deeper, can then run async code
    on this very loop with ``on_loop_conflict="greenlet"`` (`run_sync`, `syncify`,
    `async_safe` functions, `DualInterface` sync twins, `iterate_sync`,
    `sync_context`): the coroutine is stepped in this task while the loop goes on
    serving its other tasks, so objects bound to this loop work. This is the entry
    point form; `greenlet_task_factory` and `GreenletInstrument` prepare every task
    of a loop instead. Inside a task that is already prepared it simply awaits.

    Cancellation: cancelling the task cancels whatever it awaits at that moment,
    re-entered coroutines included; their cleanup runs before the cancellation
    reaches the sync code and, through it, ``async_fn``.

    Args:
        async_fn: the async function to run.
        *args: positional arguments for it (``functools.partial`` for keywords).

    Returns:
        What ``async_fn`` returned.

    Raises:
        ModuleNotFoundError: greenlet is not installed (``pip install
            'asyncbridge[greenlet]'``).
        Exception: whatever ``async_fn`` raised, unchanged.

    Example:
        >>> import asyncio, asyncbridge as ab
        >>> async def double(x: int) -> int:
        ...     return 2 * x
        >>> def legacy() -> int:  # sync code, called from a coroutine
        ...     return ab.run_sync(double, 21, on_loop_conflict="greenlet")
        >>> async def main() -> int:
        ...     return legacy()
        >>> asyncio.run(ab.run_in_greenlet(main))
        42
    """
    require_greenlet()
    aw = async_fn(*args)
    if current_runner() is not None:  # already prepared: no second runner
        return await aw
    return await _drive(_as_coroutine(aw))


def _as_coroutine(aw: Awaitable[T]) -> Coroutine[Any, Any, T]:
    """*aw* itself if it is a coroutine, else a coroutine awaiting it."""
    if isinstance(aw, types.CoroutineType):
        return cast("Coroutine[Any, Any, T]", aw)
    return _awaiting(aw)


async def _awaiting(aw: Awaitable[T]) -> T:
    return await aw


# ----------------------------------------------------------- task factories


def greenlet_task_factory(
    loop: asyncio.AbstractEventLoop,
    coro: Coroutine[Any, Any, T] | Generator[Any, None, T],
    /,
    **kwargs: Any,
) -> asyncio.Task[T]:
    """Create an asyncio task prepared for greenlet re-entry (a task factory).

    Install it with ``loop.set_task_factory(ab.greenlet_task_factory)`` (asyncio
    and uvloop): every task created on that loop afterwards runs its coroutine in
    a greenlet, so sync code it calls can run async code on the loop with
    ``on_loop_conflict="greenlet"``. It makes plain `asyncio.Task` objects; to keep
    another factory, compose them. Each step of a prepared task costs two greenlet
    switches more than a plain task's (measured in benchmarks/bench_greenlet.py).

    Args:
        loop: the loop creating the task (asyncio passes it).
        coro: the task's coroutine.
        **kwargs: what the loop passes on (``name``, ``context``, ...).

    Returns:
        The new task.

    Raises:
        ModuleNotFoundError: greenlet is not installed (``pip install
            'asyncbridge[greenlet]'``).

    Example:
        >>> import asyncio, asyncbridge as ab
        >>> async def answer() -> int:
        ...     return 42
        >>> def legacy() -> int:
        ...     return ab.run_sync(answer, on_loop_conflict="greenlet")
        >>> async def main() -> int:
        ...     return legacy()
        >>> with asyncio.Runner() as runner:
        ...     runner.get_loop().set_task_factory(ab.greenlet_task_factory)
        ...     runner.run(main())
        42
    """
    if isinstance(coro, types.CoroutineType):
        coro = prepare(coro)
    return asyncio.Task(coro, loop=loop, **kwargs)  # a generator: asyncio decides


def install_task_factory(loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
    """Prepare every task *loop* creates from now on, keeping its own factory.

    Returns:
        A function that restores the previous factory.
    """
    require_greenlet()
    previous = loop.get_task_factory()
    if previous is None:
        loop.set_task_factory(greenlet_task_factory)
    else:

        def chained(
            loop: asyncio.AbstractEventLoop,
            coro: Coroutine[Any, Any, Any] | Generator[Any, None, Any],
            **kwargs: Any,
        ) -> asyncio.Future[Any]:
            if isinstance(coro, types.CoroutineType):
                coro = prepare(coro)
            return previous(loop, coro, **kwargs)

        loop.set_task_factory(chained)
    return lambda: loop.set_task_factory(previous)


class GreenletInstrument(_InstrumentBase):
    """A trio instrument that prepares every task spawned for greenlet re-entry.

    trio has no task factory; an instrument sees each task as it is spawned, before
    its first step, and this one wraps the task's coroutine (trio's public
    `trio.lowlevel.Task.coro`) so that it runs in a greenlet. Pass it to
    ``trio.run(main, instruments=[ab.GreenletInstrument()])`` to prepare every task
    of the run, or add it inside a run with ``trio.lowlevel.add_instrument`` to
    prepare the tasks spawned from then on (the running task: `run_in_greenlet`).

    Raises:
        ModuleNotFoundError: greenlet is not installed (``pip install
            'asyncbridge[greenlet]'``), when created.

    Example:
        >>> import trio, asyncbridge as ab
        >>> async def answer() -> int:
        ...     await trio.sleep(0)
        ...     return 42
        >>> def legacy() -> int:
        ...     return ab.run_sync(answer, on_loop_conflict="greenlet")
        >>> async def child(results: list[int]) -> None:
        ...     results.append(legacy())
        >>> async def main() -> list[int]:
        ...     results: list[int] = []
        ...     async with trio.open_nursery() as nursery:
        ...         nursery.start_soon(child, results)
        ...     return results
        >>> trio.run(main, instruments=[ab.GreenletInstrument()])
        [42]
    """

    __slots__ = ()

    def __init__(self) -> None:
        require_greenlet()

    def task_spawned(self, task: TrioTask) -> None:
        """Wrap the new task's coroutine so that it runs in a greenlet."""
        task.coro = prepare(task.coro)


# ------------------------------------------------------------------ re-entry


def _reenter(runner: _Runner, aw: Awaitable[T], context: contextvars.Context) -> T:
    """Await *aw* here, in the runner's task, each step inside *context*."""
    # a coroutine steps itself; any other awaitable, through its iterator
    steps: Any = aw if inspect.iscoroutine(aw) else aw.__await__()
    run: Any = context.run
    return cast(
        "T",
        _forward(
            runner,
            _module.getcurrent(),  # type: ignore[union-attr]
            functools.partial(run, steps.send),
            functools.partial(run, steps.throw),
        ),
    )


async def _within(aw: Awaitable[T], seconds: float) -> T:
    import anyio  # noqa: PLC0415

    with anyio.move_on_after(seconds) as scope:
        return await aw
    if scope.cancelled_caught:
        raise TimeoutError(
            f"run_sync() timed out after {seconds} s; the coroutine was cancelled "
            "and its cleanup has run"
        )
    raise AssertionError("unreachable")  # pragma: no cover


class ReentryLoop:
    """`LoopHandle` for the running loop, reached by re-entry from a prepared task.

    From the task it was made for (or any prepared task of that loop), a job runs
    inline, by re-entry; from another thread, as *inner* (the loop's plain handle)
    runs it. `runs_here` answers "would a caller here wait for itself": only where
    the loop runs here and re-entry is impossible.
    """

    __slots__ = ("inner", "runner")

    def __init__(self, inner: LoopHandle, runner: _Runner) -> None:
        self.inner = inner
        self.runner = runner  # the runner it was made for (see `run`)

    @property
    def backend(self) -> str:
        return self.inner.backend

    @property
    def token(self) -> object:
        return self.inner.token

    def describe(self) -> str:
        return self.inner.describe()

    def submit(self, job: SyncJob[Any]) -> None:
        runner = current_runner()
        if runner is None or not self.inner.runs_here():
            if self.inner.runs_here():
                raise LoopConflictError(
                    f"cannot re-enter {self.inner!r} from here: this task was not "
                    "prepared for greenlet re-entry, and a blocking wait would wait "
                    "for itself"
                )
            self.inner.submit(job)
            return
        try:
            job.value = _reenter(runner, job.context.run(job.awaitable), job.context)
        except BaseException as exc:  # carried to the caller by run_job, unchanged
            job.error = exc
        finally:
            job.finish()

    def cancel(self, job: SyncJob[Any]) -> None:
        self.inner.cancel(job)

    def is_closed(self) -> bool:
        return self.inner.is_closed()

    def is_running(self) -> bool:
        return self.inner.is_running()

    @property
    def forked(self) -> bool:
        return self.inner.forked

    def runs_here(self) -> bool:
        return self.inner.runs_here() and current_runner() is None

    @property
    def ended(self) -> str:
        return self.inner.ended

    def call_soon(self, callback: Callable[[], object]) -> None:
        self.inner.call_soon(callback)

    def call_every(
        self, interval: float, callback: Callable[[], object]
    ) -> Callable[[], None]:
        return self.inner.call_every(interval, callback)

    def run(
        self,
        target: Any,
        args: tuple[Any, ...] | None,
        kwargs: dict[str, Any] | None,
        timeout: float | None,
    ) -> Any:
        """Run a `run_sync` call inline (in a copy of the context), as it would run.

        Called right after `reentry_handle` chose this handle, in its runner's task.
        *args* None means *target* is an awaitable; otherwise an async function.
        """
        context = contextvars.copy_context()
        if args is None:
            aw = target
        elif kwargs:
            aw = context.run(target, *args, **kwargs)
        else:
            aw = context.run(target, *args)
        if timeout is not None:
            aw = _within(aw, timeout)
        return _reenter(self.runner, aw, context)

    def __repr__(self) -> str:
        return f"<re-entry into {self.inner!r}>"


def reentry_handle(token: object | None = None) -> ReentryLoop | None:
    """The handle that re-enters the running loop from this task, or None.

    None where this task was not prepared (or greenlet was never loaded), or where
    *token* (an asyncio loop or a trio token), when given, is not the loop
    running here.
    """
    runner = current_runner()
    if runner is None:
        return None
    handle = runner.handle
    if handle is None:
        running = current_token()
        if running is None:  # pragma: no cover  (a runner runs inside a loop)
            return None
        handle = runner.handle = ReentryLoop(handle_for(running), runner)
    if token is not None and handle.inner.token is not token:
        return None
    return handle
