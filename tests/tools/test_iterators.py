"""iterate_in_thread / iterate_sync and async_context / sync_context."""

from __future__ import annotations

import _thread
import asyncio
import contextlib
import inspect
import threading
import traceback
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import pytest
import trio

import asyncbridge as ab


def native_loop() -> object:
    """The running asyncio loop or trio token."""
    if ab.current_backend() == "trio":
        return trio.lowlevel.current_trio_token()
    return asyncio.get_running_loop()


async def portal_tasks() -> int:
    """How many tasks run on the asyncio portal (this one included)."""
    return len(asyncio.all_tasks())


# ------------------------------------------------------- iterate_in_thread


class Source:
    """A blocking generator that records what happened to it."""

    def __init__(self, n: int = 5) -> None:
        self.n = n
        self.produced = 0
        self.threads: set[str] = set()
        self.closed = threading.Event()

    def items(self) -> Iterator[int]:
        try:
            for i in range(self.n):
                self.threads.add(threading.current_thread().name)
                self.produced += 1
                yield i
        finally:
            self.closed.set()


@pytest.mark.anyio
async def test_in_thread_items_in_order_from_workers(anyio_backend: object) -> None:
    """Items come in order, each pulled in a worker thread, never on the loop."""
    source = Source()
    assert [i async for i in ab.iterate_in_thread(source.items())] == [0, 1, 2, 3, 4]
    assert threading.current_thread().name not in source.threads
    assert source.closed.is_set()


@pytest.mark.anyio
async def test_in_thread_no_read_ahead(anyio_backend: object) -> None:
    """Nothing is pulled before it is asked for."""
    source = Source()
    received = 0
    async for _ in ab.iterate_in_thread(source.items()):
        received += 1
        assert source.produced == received


@pytest.mark.anyio
async def test_in_thread_break_closes_generator(anyio_backend: object) -> None:
    """Breaking out of `async for` closes the generator right away (in a thread)."""
    source = Source(n=100)
    async for item in ab.iterate_in_thread(source.items()):
        if item == 1:
            break
    assert await ab.run_in_thread(source.closed.wait, 30)
    assert source.produced == 2


@pytest.mark.anyio
async def test_in_thread_aclose_waits_for_the_close(anyio_backend: object) -> None:
    """aclose() and `async with` return once the generator's finally has run."""
    source = Source(n=100)
    iterator = ab.iterate_in_thread(source.items())
    assert await iterator.__anext__() == 0
    await iterator.aclose()
    assert source.closed.is_set()
    with pytest.raises(StopAsyncIteration):
        await iterator.__anext__()
    await iterator.aclose()  # twice is fine
    other = Source(n=100)
    async with ab.iterate_in_thread(other.items()) as it:
        assert await it.__anext__() == 0
    assert other.closed.is_set()


def failing() -> Iterator[int]:
    yield 1
    raise LookupError("from the generator")


@pytest.mark.anyio
async def test_in_thread_exception_unchanged(anyio_backend: object) -> None:
    """The iterator's exception comes out of __anext__ unchanged, with its frame."""
    iterator = ab.iterate_in_thread(failing())
    assert await iterator.__anext__() == 1
    with pytest.raises(LookupError, match="from the generator") as info:
        await iterator.__anext__()
    frames = [f.name for f in traceback.extract_tb(info.value.__traceback__)]
    assert frames[-1] == "failing"


@pytest.mark.anyio
async def test_in_thread_cancelled_pull_keeps_item(anyio_backend: object) -> None:
    """A caller cancelled mid-pull waits for the thread; the item is not lost."""
    started, release = threading.Event(), threading.Event()

    def slow() -> Iterator[str]:
        started.set()
        release.wait(30)
        yield "first"
        yield "second"

    iterator = ab.iterate_in_thread(slow())
    scopes: list[anyio.CancelScope] = []

    async def consume() -> None:
        with anyio.CancelScope() as scope:
            scopes.append(scope)
            await iterator.__anext__()
        assert scope.cancelled_caught

    async with anyio.create_task_group() as tg:
        tg.start_soon(consume)
        assert await ab.run_in_thread(started.wait, 30)
        scopes[0].cancel()
        release.set()
    assert [i async for i in iterator] == ["first", "second"]


@pytest.mark.anyio
async def test_in_thread_dedicated_executor(anyio_backend: object) -> None:
    """With a one-thread executor every pull runs on the same thread."""
    source = Source()
    executor = ab.executors.dedicated("test-iterate-in-thread")
    items = [i async for i in ab.iterate_in_thread(source.items(), executor=executor)]
    assert items == [0, 1, 2, 3, 4]
    assert len(source.threads) == 1


def test_in_thread_bad_input() -> None:
    """Non-iterables, async iterables, coroutines and bad executors are TypeErrors."""

    async def agen() -> AsyncIterator[int]:
        yield 1

    async def coro_fn() -> list[int]:
        return [1]

    with pytest.raises(TypeError, match="expected an iterable for iterable"):
        ab.iterate_in_thread(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="async for"):
        ab.iterate_in_thread(agen())  # type: ignore[arg-type]
    coro = coro_fn()
    with pytest.raises(TypeError, match="coroutine"):
        ab.iterate_in_thread(coro)  # type: ignore[arg-type]
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED
    with pytest.raises(TypeError, match="executor"):
        ab.iterate_in_thread([1], executor=5)  # type: ignore[arg-type]


# ------------------------------------------------------------- iterate_sync


class AsyncSource:
    """An async generator that records the task and loop of each step."""

    def __init__(self, n: int = 5) -> None:
        self.n = n
        self.tasks: set[int] = set()
        self.loops: set[int] = set()
        self.finished = False

    async def items(self) -> AsyncIterator[int]:
        try:
            for i in range(self.n):
                await anyio.sleep(0)
                self.tasks.add(anyio.get_current_task().id)
                self.loops.add(id(native_loop()))
                yield i
        finally:
            self.finished = True


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_sync_items_in_one_task(backend: str) -> None:
    """Every step runs in one task on one loop, as an `async for` would."""
    source = AsyncSource()
    assert list(ab.iterate_sync(source.items(), backend=backend)) == [0, 1, 2, 3, 4]
    assert len(source.tasks) == 1
    assert len(source.loops) == 1
    assert source.finished


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_sync_break_and_close_run_finally_at_once(backend: str) -> None:
    """Breaking out, or close(), runs the async generator's finally before returning."""
    source = AsyncSource(n=100)
    for item in ab.iterate_sync(source.items(), backend=backend):
        if item == 1:
            break
    assert source.finished
    other = AsyncSource(n=100)
    iterator = ab.iterate_sync(other.items(), backend=backend)
    assert next(iterator) == 0
    iterator.close()
    assert other.finished


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_sync_exception_unchanged(backend: str) -> None:
    """The async iterator's exception reaches the for loop unchanged."""
    error = RuntimeError("async failure")

    async def broken() -> AsyncIterator[int]:
        yield 1
        raise error

    iterator = ab.iterate_sync(broken(), backend=backend)
    assert next(iterator) == 1
    with pytest.raises(RuntimeError) as info:
        next(iterator)
    assert info.value is error


def test_sync_plain_async_iterator_class() -> None:
    """An async iterator that is not a generator (no aclose) works too."""

    class Countdown:
        def __init__(self) -> None:
            self.n = 3

        def __aiter__(self) -> Countdown:
            return self

        async def __anext__(self) -> int:
            if self.n == 0:
                raise StopAsyncIteration
            self.n -= 1
            return self.n

    assert list(ab.iterate_sync(Countdown())) == [2, 1, 0]
    for _ in ab.iterate_sync(Countdown()):
        break


@pytest.mark.anyio
async def test_sync_in_worker_thread_runs_on_its_loop(anyio_backend: object) -> None:
    """From a worker thread of a loop, the steps run on that loop."""
    source = AsyncSource()
    items = await ab.run_in_thread(lambda: list(ab.iterate_sync(source.items())))
    assert items == [0, 1, 2, 3, 4]
    assert source.loops == {id(native_loop())}


def test_sync_trio_backend() -> None:
    """backend='trio' runs trio-flavoured async iterators on the trio portal."""

    async def ticks() -> AsyncIterator[str | None]:
        await trio.sleep(0)
        yield ab.current_backend()

    assert list(ab.iterate_sync(ticks(), backend="trio")) == ["trio"]


@pytest.mark.anyio
async def test_sync_in_loop_thread_follows_policy(anyio_backend: object) -> None:
    """In a thread whose loop runs: a LoopBlockedWarning, or LoopConflictError."""
    source = AsyncSource(n=2)
    with pytest.warns(ab.LoopBlockedWarning):
        iterator = ab.iterate_sync(source.items())
    assert list(iterator) == [0, 1]
    untouched = AsyncSource()
    with pytest.raises(ab.LoopConflictError, match="on_loop_conflict"):
        ab.iterate_sync(untouched.items(), on_loop_conflict="raise")
    assert not untouched.tasks


def test_sync_in_a_worker_its_portal_waits_for() -> None:
    """iterate_sync in sync code that the portal waits for raises instead of hanging."""

    @ab.mixed_execution_safe
    def legacy() -> list[int]:
        return list(ab.iterate_sync(AsyncSource(n=2).items()))

    async def on_the_portal() -> list[int]:
        return legacy()

    with (
        pytest.warns(ab.LoopBlockedWarning),
        pytest.raises(ab.LoopConflictError, match="blocked waiting for"),
    ):
        ab.run_sync(on_the_portal)

    @ab.mixed_execution_safe
    def uses_the_other_portal() -> list[int]:
        return list(ab.iterate_sync(AsyncSource(n=2).items(), backend="trio"))

    async def on_the_portal_again() -> list[int]:
        return uses_the_other_portal()

    with pytest.warns(ab.LoopBlockedWarning):
        assert ab.run_sync(on_the_portal_again) == [0, 1]


def test_sync_bad_input() -> None:
    """Sync iterables, coroutines and bad options are rejected before anything runs."""

    async def coro_fn() -> None: ...

    with pytest.raises(TypeError, match="iterate it directly"):
        ab.iterate_sync([1, 2])  # type: ignore[arg-type]
    coro = coro_fn()
    with pytest.raises(TypeError, match="coroutine"):
        ab.iterate_sync(coro)  # type: ignore[arg-type]
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED
    source = AsyncSource()
    with pytest.raises(ValueError, match="backend"):
        ab.iterate_sync(source.items(), backend="curio")
    with pytest.raises(ValueError, match="on_loop_conflict"):
        ab.iterate_sync(source.items(), on_loop_conflict="maybe")  # type: ignore[arg-type]


# ------------------------------------------------------------ async_context


class Blocking:
    """A blocking context manager that records its threads and exceptions."""

    def __init__(self, suppress: type[BaseException] | None = None) -> None:
        self.suppress = suppress
        self.threads: list[str] = []
        self.seen: list[BaseException | None] = []

    def __enter__(self) -> str:
        self.threads.append(threading.current_thread().name)
        return "entered"

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> bool:
        self.threads.append(threading.current_thread().name)
        self.seen.append(exc)
        return self.suppress is not None and isinstance(exc, self.suppress)


@pytest.mark.anyio
async def test_async_context_runs_in_threads(anyio_backend: object) -> None:
    """__enter__ and __exit__ run in worker threads; the value comes back."""
    cm = Blocking()
    async with ab.async_context(cm) as value:
        assert value == "entered"
    assert len(cm.threads) == 2
    assert threading.current_thread().name not in cm.threads
    assert cm.seen == [None]


@pytest.mark.anyio
async def test_async_context_exceptions_and_suppression(anyio_backend: object) -> None:
    """The block's exception reaches __exit__; suppression works as the protocol says."""
    error = KeyError("inside")
    cm = Blocking(suppress=KeyError)
    async with ab.async_context(cm):
        raise error
    assert cm.seen == [error]
    kept = ValueError("kept")
    with pytest.raises(ValueError) as info:
        async with ab.async_context(Blocking(suppress=KeyError)):
            raise kept
    assert info.value is kept


@pytest.mark.anyio
async def test_async_context_exit_runs_on_cancel(anyio_backend: object) -> None:
    """A cancelled block still runs __exit__ (shielded), with the cancellation."""
    cm = Blocking()
    with anyio.CancelScope() as scope:
        async with ab.async_context(cm):
            scope.cancel()
            await anyio.sleep_forever()
    assert scope.cancelled_caught
    assert len(cm.seen) == 1
    assert isinstance(cm.seen[0], anyio.get_cancelled_exc_class())


@pytest.mark.anyio
async def test_async_context_cancelled_while_entering(anyio_backend: object) -> None:
    """Cancelled while __enter__ runs: once it has entered, __exit__ runs too."""
    started, release = threading.Event(), threading.Event()

    class SlowEnter(Blocking):
        def __enter__(self) -> str:
            started.set()
            release.wait(30)
            return super().__enter__()

    cm = SlowEnter()
    scopes: list[anyio.CancelScope] = []
    body_ran = False

    async def use() -> None:
        nonlocal body_ran
        with anyio.CancelScope() as scope:
            scopes.append(scope)
            async with ab.async_context(cm):
                body_ran = True

    async with anyio.create_task_group() as tg:
        tg.start_soon(use)
        assert await ab.run_in_thread(started.wait, 30)
        scopes[0].cancel()
        release.set()
    assert not body_ran
    assert len(cm.seen) == 1
    assert isinstance(cm.seen[0], anyio.get_cancelled_exc_class())


def test_async_context_bad_input() -> None:
    """An async context manager or a non-manager is a TypeError naming cm."""

    @contextlib.asynccontextmanager
    async def acm() -> AsyncIterator[None]:
        yield

    manager = acm()
    with pytest.raises(TypeError, match="async with"):
        ab.async_context(manager)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="for cm"):
        ab.async_context(object())  # type: ignore[arg-type]


# ------------------------------------------------------------- sync_context


class AsyncManager:
    """An async context manager bound to its task (it opens a task group)."""

    def __init__(self, suppress: type[BaseException] | None = None) -> None:
        self.suppress = suppress
        self.tasks: list[int] = []
        self.seen: list[BaseException | None] = []
        self.loops: set[int] = set()
        self._group: Any = None

    async def __aenter__(self) -> str:
        self.tasks.append(anyio.get_current_task().id)
        self.loops.add(id(native_loop()))
        self._group = anyio.create_task_group()
        await self._group.__aenter__()
        return "async entered"

    async def __aexit__(
        self, exc_type: object, exc: BaseException | None, tb: object
    ) -> bool:
        self.tasks.append(anyio.get_current_task().id)
        self.seen.append(exc)
        await self._group.__aexit__(None, None, None)
        return self.suppress is not None and isinstance(exc, self.suppress)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_sync_context_enter_and_exit_in_one_task(backend: str) -> None:
    """__aenter__ and __aexit__ run in one task, so a task group inside works."""
    manager = AsyncManager()
    with ab.sync_context(manager, backend=backend) as value:
        assert value == "async entered"
    assert manager.tasks[0] == manager.tasks[1]
    assert manager.seen == [None]


def test_sync_context_exceptions_and_suppression() -> None:
    """The block's exception reaches __aexit__; suppression works as the protocol says."""
    error = KeyError("inside")
    manager = AsyncManager(suppress=KeyError)
    with ab.sync_context(manager):
        raise error
    assert manager.seen == [error]
    kept = ValueError("kept")
    with (
        pytest.raises(ValueError) as info,
        ab.sync_context(AsyncManager(suppress=KeyError)),
    ):
        raise kept
    assert info.value is kept


def test_sync_context_with_asynccontextmanager() -> None:
    """A @contextlib.asynccontextmanager works, reusable sequentially, and cleans up."""
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def connection() -> AsyncIterator[str]:
        events.append("open")
        try:
            yield "conn"
        finally:
            events.append("close")

    with ab.sync_context(connection()) as conn:
        assert conn == "conn"
    bridge = ab.sync_context(AsyncManager())
    with bridge:
        pass
    with bridge:
        pass
    assert events == ["open", "close"]


def test_sync_context_enter_failure() -> None:
    """An exception in __aenter__ comes out unchanged and ends the bridge's task."""

    class Refuses:
        async def __aenter__(self) -> None:
            raise ConnectionError("refused")

        async def __aexit__(self, *exc: object) -> None:
            raise AssertionError("never entered")

    with pytest.raises(ConnectionError, match="refused"), ab.sync_context(Refuses()):
        pass


@pytest.mark.anyio
async def test_sync_context_in_worker_thread_runs_on_its_loop(
    anyio_backend: object,
) -> None:
    """From a worker thread of a loop, enter and exit run on that loop."""
    manager = AsyncManager()

    def use() -> None:
        with ab.sync_context(manager):
            pass

    await ab.run_in_thread(use)
    assert manager.loops == {id(native_loop())}
    assert manager.tasks[0] == manager.tasks[1]


def test_sync_context_bad_input() -> None:
    """A sync context manager, a coroutine or a bad option is a TypeError/ValueError."""

    async def coro_fn() -> None: ...

    with pytest.raises(TypeError, match="use `with` directly"):
        ab.sync_context(Blocking())  # type: ignore[arg-type]
    coro = coro_fn()
    with pytest.raises(TypeError, match="coroutine"):
        ab.sync_context(coro)  # type: ignore[arg-type]
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED
    with pytest.raises(ValueError, match="backend"):
        ab.sync_context(AsyncManager(), backend="curio")  # type: ignore[arg-type]


def test_bridges_leave_no_task_on_the_portal() -> None:
    """After iterators and contexts end, only the checking task runs on the portal."""
    for _ in ab.iterate_sync(AsyncSource().items()):
        break
    list(ab.iterate_sync(AsyncSource().items()))
    with ab.sync_context(AsyncManager()):
        pass
    with pytest.raises(KeyError), ab.sync_context(AsyncManager()):
        raise KeyError
    assert ab.run_sync(portal_tasks) == 1


# ------------------------------------------------------ when the loop ends


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_sync_context_portal_shutdown_runs_aexit(backend: str) -> None:
    """Shutting the portal down inside the block runs __aexit__ then; exit says so."""
    manager = AsyncManager()
    with (
        pytest.raises(ab.ExecutorShutdownError, match="__aexit__ ran then"),
        ab.sync_context(manager, backend=backend),
    ):
        ab.executors.shutdown()
    assert len(manager.seen) == 1
    assert isinstance(manager.seen[0], asyncio.CancelledError | trio.Cancelled)
    with ab.sync_context(AsyncManager(), backend=backend):  # a fresh portal
        pass


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_iterate_sync_portal_shutdown_closes_the_iterator(backend: str) -> None:
    """Shutting the portal down mid-iteration runs aclose(); the next step fails."""
    source = AsyncSource(n=100)
    iterator = ab.iterate_sync(source.items(), backend=backend)
    assert next(iterator) == 0
    ab.executors.shutdown()
    assert source.finished
    with pytest.raises(ab.LoopConflictError):
        next(iterator)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_iterate_sync_keyboard_interrupt_cancels_and_cleans_up(backend: str) -> None:
    """Ctrl-C while waiting for a step cancels it, runs aclose(), then propagates."""
    waiting = threading.Event()
    finished: list[str] = []

    async def stalls() -> AsyncIterator[int]:
        try:
            yield 1
            waiting.set()
            await anyio.sleep_forever()
            yield 2
        finally:
            finished.append("finally")

    def interrupt() -> None:
        waiting.wait(30)
        _thread.interrupt_main()

    iterator = ab.iterate_sync(stalls(), backend=backend)
    assert next(iterator) == 1
    helper = threading.Thread(target=interrupt)
    helper.start()
    with pytest.raises(KeyboardInterrupt):
        next(iterator)
    helper.join()
    assert finished == ["finally"]
    if backend == "asyncio":
        assert ab.run_sync(portal_tasks) == 1
