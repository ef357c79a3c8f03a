"""on_loop_conflict="greenlet": sync code in a task re-enters the running loop."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import sys
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import greenlet
import pytest
import trio

import asyncbridge as ab
from asyncbridge import _backends
from asyncbridge._backends import _greenlet
from subprocesses import interrupt_when_started, run_script

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("rid", default="-")


def native_loop() -> object:
    """The running asyncio loop or trio token."""
    if ab.current_backend() == "trio":
        return trio.lowlevel.current_trio_token()
    return asyncio.get_running_loop()


def current_task() -> object:
    if ab.current_backend() == "trio":
        return trio.lowlevel.current_task()
    return asyncio.current_task()


async def where() -> tuple[int, object, object]:
    await anyio.sleep(0)
    return threading.get_ident(), native_loop(), current_task()


def in_greenlet(fn: Callable[..., Any], *args: Any) -> Any:
    """Run the sync fn(*args) in a task prepared for re-entry; awaitable."""

    async def body() -> Any:
        return fn(*args)

    return ab.run_in_greenlet(body)


@pytest.fixture(autouse=True)
def greenlet_policy() -> None:
    """Every test here runs under the greenlet policy."""
    ab.configure(on_loop_conflict="greenlet")


# ----------------------------------------------------------------- basics


@pytest.mark.anyio
async def test_runs_on_running_loop_in_calling_task(anyio_backend: object) -> None:
    """run_sync in a prepared task runs on this loop, in this task, without warning."""
    here = (threading.get_ident(), native_loop(), current_task())
    seen = await in_greenlet(ab.run_sync, where)
    assert seen[:2] == here[:2]
    assert seen[2] is not None


@pytest.mark.anyio
async def test_loop_serves_other_tasks_during_reentry(anyio_backend: object) -> None:
    """While sync code waits in a re-entry, other tasks of the loop keep running."""
    started = anyio.Event()
    answered = anyio.Event()
    ticks: list[int] = []

    async def other() -> None:
        await started.wait()
        for i in range(3):
            ticks.append(i)
            await anyio.sleep(0)
        answered.set()

    async def waits_for_other() -> str:
        started.set()
        await answered.wait()  # set by the other task: the loop must run it
        return "answered"

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(other)
            assert await in_greenlet(ab.run_sync, waits_for_other) == "answered"
    assert ticks == [0, 1, 2]


@pytest.mark.anyio
async def test_nested_chains_reenter_same_loop(anyio_backend: object) -> None:
    """sync→async→sync→async… four levels deep all run on the one loop and task."""
    seen: list[tuple[object, object]] = []

    async def level(n: int) -> int:
        await anyio.sleep(0)
        seen.append((native_loop(), current_task()))
        if n == 0:
            return 0
        return sync_level(n - 1) + 1

    def sync_level(n: int) -> int:
        return ab.run_sync(level, n)

    assert await in_greenlet(sync_level, 4) == 4
    assert len(seen) == 5
    assert len(set(map(id, (s[0] for s in seen)))) == 1
    assert all(s == (native_loop(), seen[0][1]) for s in seen)


@pytest.mark.anyio
async def test_loop_bound_object_made_by_await_works(anyio_backend: object) -> None:
    """A memory stream made on this loop is used from sync code through run_sync."""
    send, receive = anyio.create_memory_object_stream[int](1)

    async def producer() -> None:
        for i in range(5):
            await send.send(i)
        await send.aclose()

    async def drain() -> list[int]:
        async with receive:
            return [item async for item in receive]

    async with anyio.create_task_group() as tg:
        tg.start_soon(producer)
        assert await in_greenlet(ab.run_sync, drain) == [0, 1, 2, 3, 4]


@pytest.mark.anyio
async def test_many_tasks_reenter_at_once(anyio_backend: object) -> None:
    """12 prepared tasks waiting in re-entries at once are all released by one event."""
    gate = anyio.Event()
    waiting: list[int] = []
    done: list[int] = []

    async def wait_gate(i: int) -> int:
        waiting.append(i)
        if len(waiting) == 12:
            gate.set()
        await gate.wait()
        return i

    def sync_part(i: int) -> None:
        done.append(ab.run_sync(wait_gate, i))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            for i in range(12):
                tg.start_soon(in_greenlet, sync_part, i)
    assert sorted(done) == list(range(12))


@pytest.mark.anyio
async def test_contextvars_are_copied_in(anyio_backend: object) -> None:
    """The coroutine sees the caller's context; what it sets stays in its copy."""

    async def read_and_set() -> str:
        await anyio.sleep(0)
        value = request_id.get()
        request_id.set("inner")
        return value

    def sync_part() -> tuple[str, str]:
        request_id.set("outer")
        return ab.run_sync(read_and_set), request_id.get()

    assert await in_greenlet(sync_part) == ("outer", "outer")


@pytest.mark.anyio
async def test_awaitable_objects_and_coroutines(anyio_backend: object) -> None:
    """A coroutine object and any object with __await__ are run by re-entry too."""

    class Answer:
        def __await__(self):  # type: ignore[no-untyped-def]
            return where().__await__()

    def sync_part() -> tuple[object, object]:
        return ab.run_sync(where())[1], ab.run_sync(Answer())[1]  # type: ignore[arg-type]

    assert await in_greenlet(sync_part) == (native_loop(), native_loop())


@pytest.mark.anyio
async def test_already_prepared_task_is_not_wrapped_again(
    anyio_backend: object,
) -> None:
    """run_in_greenlet inside a prepared task runs in the same runner."""

    async def inner() -> object:
        return _greenlet.current_runner()

    async def outer() -> tuple[object, object]:
        return _greenlet.current_runner(), await ab.run_in_greenlet(inner)

    first, second = await ab.run_in_greenlet(outer)
    assert first is second is not None


# --------------------------------------------------------- errors and cancel


class CustomBase(BaseException):
    pass


@pytest.mark.anyio
@pytest.mark.parametrize(
    "exc_type", [ValueError, TimeoutError, KeyboardInterrupt, SystemExit, CustomBase]
)
async def test_exceptions_come_out_unchanged(
    anyio_backend: object, exc_type: type[BaseException]
) -> None:
    """What the re-entered coroutine raises reaches the sync caller as the same object."""
    raised = exc_type("inner")

    async def fail() -> None:
        await anyio.sleep(0)
        raise raised

    def sync_part() -> BaseException:
        try:
            ab.run_sync(fail)
        except BaseException as exc:
            return exc
        raise AssertionError("not raised")

    assert await in_greenlet(sync_part) is raised


@pytest.mark.anyio
async def test_exception_reaches_the_entry_point(anyio_backend: object) -> None:
    """An exception not caught by the sync code comes out of run_in_greenlet."""

    async def fail() -> None:
        await anyio.sleep(0)
        raise LookupError("deep")

    with pytest.raises(LookupError, match="deep"):
        await in_greenlet(ab.run_sync, fail)


@pytest.mark.anyio
async def test_cancelling_task_cancels_reentry_after_cleanup(
    anyio_backend: object,
) -> None:
    """Cancelling the task cancels the re-entered coroutine; cleanups run, in order."""
    events: list[str] = []
    waiting = anyio.Event()

    async def forever() -> None:
        try:
            waiting.set()
            await anyio.sleep_forever()
        finally:
            events.append("coroutine cleanup")
            with anyio.CancelScope(shield=True):
                await anyio.sleep(0)  # a cleanup that awaits, by re-entry too
            events.append("awaited in cleanup")

    def sync_part() -> None:
        try:
            ab.run_sync(forever)
        except anyio.get_cancelled_exc_class():
            events.append("sync saw cancellation")
            raise

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(in_greenlet, sync_part)
            await waiting.wait()
            tg.cancel_scope.cancel()
    assert events == [
        "coroutine cleanup",
        "awaited in cleanup",
        "sync saw cancellation",
    ]


@pytest.mark.anyio
async def test_timeout_cancels_coroutine_and_raises(anyio_backend: object) -> None:
    """timeout= cancels the re-entered coroutine, runs its cleanup, raises TimeoutError."""
    cleaned: list[str] = []

    async def forever() -> None:
        try:
            await anyio.sleep_forever()
        finally:
            cleaned.append("done")

    def sync_part() -> None:
        ab.run_sync(forever, timeout=0.01)

    with pytest.raises(TimeoutError, match=r"timed out after 0\.01 s"):
        await in_greenlet(sync_part)
    assert cleaned == ["done"]


@pytest.mark.anyio
async def test_user_timeout_error_is_not_ours(anyio_backend: object) -> None:
    """A TimeoutError the coroutine raises itself passes through a run_sync timeout."""
    raised = TimeoutError("mine")

    async def fail() -> None:
        raise raised

    def sync_part() -> BaseException:
        try:
            ab.run_sync(fail, timeout=5)
        except TimeoutError as exc:
            return exc
        raise AssertionError("not raised")

    assert await in_greenlet(sync_part) is raised


@pytest.mark.parametrize(
    ("sleep", "run"),
    [
        ("asyncio.sleep", "asyncio.run(ab.run_in_greenlet(main))"),
        ("trio.sleep", "trio.run(ab.run_in_greenlet, main)"),
    ],
    ids=["asyncio", "trio"],
)
def test_ctrl_c_during_reentry_runs_cleanup(sleep: str, run: str) -> None:
    """SIGINT while sync code waits in a re-entry: the coroutine's cleanup runs, Ctrl-C ends the run."""
    _, out, err = interrupt_when_started(
        f"""
import asyncio, trio, asyncbridge as ab
ab.configure(on_loop_conflict="greenlet")
async def forever():
    try:
        print("started", flush=True)
        await {sleep}(60)
    finally:
        print("cleanup ran", flush=True)
def legacy():
    ab.run_sync(forever)
async def main():
    legacy()
{run}
"""
    )
    assert "cleanup ran" in out
    assert "KeyboardInterrupt" in err


# ------------------------------------------------------------- fallbacks


@pytest.mark.anyio
async def test_unprepared_task_falls_back_to_thread_with_warning(
    anyio_backend: object,
) -> None:
    """A task not prepared gets the thread behaviour, a warning saying why, and a result."""
    with pytest.warns(ab.LoopBlockedWarning, match="was not prepared"):
        thread, loop, _ = ab.run_sync(where)
    assert loop is not native_loop()
    assert thread != threading.get_ident()


@pytest.mark.anyio
async def test_other_backend_goes_to_its_portal(anyio_backend: object) -> None:
    """backend= naming the other library cannot re-enter: it blocks on that portal."""
    other = "asyncio" if ab.current_backend() == "trio" else "trio"

    async def backend_name() -> str | None:
        return ab.current_backend()

    def sync_part() -> str | None:
        with pytest.warns(ab.LoopBlockedWarning):
            return ab.run_sync(backend_name, backend=other)

    assert await in_greenlet(sync_part) == other


def test_outside_any_loop_greenlet_policy_changes_nothing() -> None:
    """With no loop running, the greenlet policy uses the portal as always."""

    async def answer() -> int:
        return 42

    assert ab.run_sync(answer) == 42


def test_missing_greenlet_names_the_extra() -> None:
    """Without greenlet, choosing the policy fails at once with the install command."""
    proc = run_script(
        """
import sys
sys.modules["greenlet"] = None  # as if it were not installed
import asyncio, asyncbridge as ab
for attempt in (
    lambda: ab.configure(on_loop_conflict="greenlet"),
    lambda: ab.syncify(asyncio.sleep, on_loop_conflict="greenlet"),
    lambda: ab.GreenletInstrument(),
):
    try:
        attempt()
    except ModuleNotFoundError as exc:
        print(exc)
"""
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("pip install 'asyncbridge[greenlet]'") == 3


# --------------------------------------------------------- ways to prepare


@pytest.mark.parametrize(
    "loop_factory",
    [
        pytest.param(asyncio.new_event_loop, id="asyncio"),
        pytest.param(None, id="uvloop"),
    ],
)
def test_task_factory_prepares_every_task(loop_factory: Any) -> None:
    """With greenlet_task_factory, every task of the loop re-enters; names are kept."""
    if loop_factory is None:
        uvloop = pytest.importorskip("uvloop")
        loop_factory = uvloop.new_event_loop

    async def child(i: int) -> object:
        return ab.run_sync(where)[1]

    async def main() -> tuple[list[object], str]:
        loop = asyncio.get_running_loop()
        tasks = [asyncio.create_task(child(i), name=f"child-{i}") for i in range(6)]
        results = [await t for t in tasks]
        assert results == [loop] * 6
        return results, repr(tasks[0])

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.get_loop().set_task_factory(ab.greenlet_task_factory)
        _, text = runner.run(main())
    assert "child-0" in text
    assert "child()" in text  # the user's coroutine name, not ours


def test_task_factory_keeps_a_previous_factory() -> None:
    """Installing on a loop with a factory wraps it; undo restores it."""
    made: list[str] = []

    def counting(
        loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any
    ) -> asyncio.Task[Any]:
        made.append(getattr(coro, "__qualname__", "?"))
        return asyncio.Task(coro, loop=loop, **kwargs)

    async def child() -> object:
        return ab.run_sync(where)[1]

    async def main() -> None:
        loop = asyncio.get_running_loop()
        undo = _greenlet.install_task_factory(loop)
        assert await asyncio.create_task(child()) is loop
        undo()
        assert loop.get_task_factory() is counting

    with asyncio.Runner() as runner:
        runner.get_loop().set_task_factory(counting)
        runner.run(main())
    assert "test_task_factory_keeps_a_previous_factory.<locals>.child" in made


def test_task_factory_passes_non_coroutines_through() -> None:
    """A non-coroutine given to the factory gets asyncio's own error."""
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(TypeError):
            ab.greenlet_task_factory(loop, object())  # type: ignore[arg-type]
    finally:
        loop.close()


def test_trio_instrument_prepares_spawned_tasks() -> None:
    """GreenletInstrument prepares every task of a trio run, nursery children included."""

    async def child(results: list[object]) -> None:
        results.append(ab.run_sync(where)[1])

    async def main() -> list[object]:
        results: list[object] = []
        async with trio.open_nursery() as nursery:
            for _ in range(3):
                nursery.start_soon(child, results)
        assert results == [trio.lowlevel.current_trio_token()] * 3
        return results

    assert len(trio.run(main, instruments=[ab.GreenletInstrument()])) == 3


def test_run_in_greenlet_as_trio_entry_point() -> None:
    """trio.run(ab.run_in_greenlet, main) prepares the main task."""

    async def main(x: int) -> int:
        return ab.run_sync(functools.partial(trio.sleep, 0)) or x

    assert trio.run(ab.run_in_greenlet, main, 7) == 7


@pytest.mark.anyio
async def test_foreign_greenlet_inside_runner_reenters(anyio_backend: object) -> None:
    """Sync code in a greenlet started inside the task (as SQLAlchemy does) re-enters too."""

    def in_child_greenlet() -> object:
        return greenlet.greenlet(lambda: ab.run_sync(where)[1]).switch()

    assert await in_greenlet(in_child_greenlet) == native_loop()


# ------------------------------------------------------------ the bridges


@pytest.mark.anyio
async def test_async_safe_and_syncify_reenter(anyio_backend: object) -> None:
    """async_safe functions and syncify wrappers re-enter like run_sync."""

    @ab.async_safe
    async def safe() -> object:
        return (await where())[1]

    wrapped = ab.syncify(where)

    def sync_part() -> tuple[object, object]:
        return safe(), wrapped()[1]

    assert await in_greenlet(sync_part) == (native_loop(), native_loop())


class Client(ab.DualInterface):
    """Holds what belongs to the loop of its first await."""

    def __init__(self) -> None:
        self.stream: Any = None

    async def open_async(self) -> None:
        self.stream = anyio.create_memory_object_stream[int](10)

    async def roundtrip_async(self, n: int) -> int:
        send, receive = self.stream
        await send.send(n)
        return int(await receive.receive()) + 1

    async def numbers_async(self, n: int) -> AsyncIterator[int]:
        for i in range(n):
            await anyio.sleep(0)
            yield i

    async def aclose(self) -> None:
        for end in self.stream:
            await end.aclose()


@pytest.mark.anyio
async def test_dual_interface_twin_uses_object_made_by_await(
    anyio_backend: object,
) -> None:
    """The sync twin of an instance whose home is this loop re-enters it, no warning."""
    client = Client()
    await client.open_async()

    def sync_part() -> tuple[int, list[int]]:
        return client.roundtrip(41), list(client.numbers(3))

    assert await in_greenlet(sync_part) == (42, [0, 1, 2])
    await in_greenlet(client.close)


class TrioClient(Client, backend="trio"):
    """The same, declared trio-flavoured (its portal, when one is used, is trio's)."""


@pytest.mark.anyio
async def test_dual_interface_home_claimed_by_reentry(anyio_backend: object) -> None:
    """A first use by a sync twin in a prepared task makes this loop the home."""
    client = TrioClient() if ab.current_backend() == "trio" else Client()

    def sync_part() -> int:
        client.open()
        return client.roundtrip(1)

    assert await in_greenlet(sync_part) == 2
    assert await client.roundtrip_async(2) == 3  # at home: no LoopConflictError
    # From a worker thread, the twin reaches this loop as any thread would.
    assert await ab.run_in_thread(client.roundtrip, 3) == 4
    await client.aclose()


@pytest.mark.anyio
async def test_dual_interface_unprepared_task_at_home_raises(
    anyio_backend: object,
) -> None:
    """From an unprepared task on its home loop a twin cannot block: it raises."""
    client = Client()
    await client.open_async()
    with pytest.raises(ab.LoopConflictError, match="wait for itself"):
        client.roundtrip(1)
    await client.aclose()


@pytest.mark.anyio
async def test_iterate_sync_and_sync_context_run_in_calling_task(
    anyio_backend: object,
) -> None:
    """iterate_sync and sync_context steps run inline, so task-bound managers work."""
    steps: list[object] = []

    async def numbers() -> AsyncIterator[int]:
        try:
            for i in range(3):
                await anyio.sleep(0)
                steps.append(current_task())
                yield i
        finally:
            steps.append("closed")

    @contextlib.asynccontextmanager
    async def scoped() -> AsyncIterator[str]:
        with anyio.CancelScope():  # entered and exited in the same task
            await anyio.sleep(0)
            yield "in"
            await anyio.sleep(0)

    def sync_part() -> tuple[list[int], str, object]:
        with ab.sync_context(scoped()) as value:
            items = list(ab.iterate_sync(numbers()))
        return items, value, current_task()

    items, value, task = await in_greenlet(sync_part)
    assert (items, value) == ([0, 1, 2], "in")
    assert steps == [task, task, task, "closed"]


@pytest.mark.anyio
async def test_iterate_sync_closed_early_runs_aclose(anyio_backend: object) -> None:
    """Breaking out of iterate_sync closes the async generator by re-entry."""
    closed: list[bool] = []

    async def numbers() -> AsyncIterator[int]:
        try:
            for i in range(10):
                await anyio.sleep(0)
                yield i
        finally:
            closed.append(True)

    def sync_part() -> int:
        iterator = ab.iterate_sync(numbers())
        first = next(iterator)
        iterator.close()
        return first

    assert await in_greenlet(sync_part) == 0
    assert closed == [True]


def test_reentry_handle_unprepared_submit_refuses() -> None:
    """A re-entry handle used on its loop outside a prepared task refuses, never waits."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        handle = _greenlet.ReentryLoop(_backends.handle_for(loop), None)  # type: ignore[arg-type]
        assert handle.runs_here()
        assert handle.backend == "asyncio"
        assert handle.token is loop
        assert not handle.is_closed()
        assert "re-entry" in repr(handle)

        async def noop() -> None:
            pass

        job = _backends.SyncJob(noop, (), None, contextvars.copy_context())
        with pytest.raises(ab.LoopConflictError, match="not prepared"):
            handle.submit(job)
        handle.cancel(job)

    asyncio.run(main())


def test_greenlet_module_not_imported_until_used() -> None:
    """Importing asyncbridge does not import greenlet."""
    proc = run_script(
        "import sys, asyncbridge; print('greenlet' in sys.modules)",
    )
    assert proc.stdout.strip() == "False", proc.stderr


def test_run_sync_from_foreign_thread_greenlet_is_portal() -> None:
    """A thread with no loop never re-enters: the policy is about running loops only."""

    async def loop_of() -> object:
        return asyncio.get_running_loop()

    results: list[object] = []
    thread = threading.Thread(target=lambda: results.append(ab.run_sync(loop_of)))
    thread.start()
    thread.join()
    assert results[0] is not None
    assert sys.modules.get("greenlet") is greenlet


def test_simultaneous_first_use_from_many_threads() -> None:
    """12 threads released at once, each with its own loop, load greenlet and re-enter."""
    proc = run_script(
        """
import asyncio, sys, threading, warnings
warnings.simplefilter("error")
import asyncbridge as ab
assert "greenlet" not in sys.modules
barrier = threading.Barrier(12)
results = []

async def answer():
    await asyncio.sleep(0)
    return 42

async def main():
    return ab.run_sync(answer, on_loop_conflict="greenlet")

def worker():
    barrier.wait()
    results.append(asyncio.run(ab.run_in_greenlet(main)))

threads = [threading.Thread(target=worker) for _ in range(12)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(results.count(42))
"""
    )
    assert proc.stdout.strip() == "12", proc.stderr


def test_pending_prepared_task_cancelled_at_loop_end() -> None:
    """A prepared task still pending when asyncio.run ends is cancelled; its cleanup runs."""
    proc = run_script(
        """
import asyncio, asyncbridge as ab

async def forever(started):
    try:
        started.set()
        await asyncio.sleep(60)
    finally:
        print("cleanup ran", flush=True)

def legacy(started):
    ab.run_sync(forever, started, on_loop_conflict="greenlet")  # waits in a re-entry

async def background(started):
    legacy(started)

async def main():
    asyncio.get_running_loop().set_task_factory(ab.greenlet_task_factory)
    started = asyncio.Event()
    asyncio.create_task(background(started))
    await started.wait()

asyncio.run(main())
print("done", flush=True)
"""
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["cleanup", "ran", "done"]
    assert "Traceback" not in proc.stderr
