"""run_in_thread and asyncify: async code calling blocking code."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import gc
import inspect
import os
import threading
import traceback
import weakref

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest

import asyncbridge as ab

pytestmark = pytest.mark.anyio

user: contextvars.ContextVar[str] = contextvars.ContextVar("user", default="nobody")


def blocking_add(a: int, b: int = 0) -> int:
    return a + b


def explode() -> None:
    raise KeyError("in the thread")


async def test_runs_in_another_thread(anyio_backend: object) -> None:
    """The function runs in a worker thread and its value comes back."""
    ident = await ab.run_in_thread(threading.get_ident)
    assert ident != threading.get_ident()
    assert await ab.run_in_thread(blocking_add, 2, 3) == 5


async def test_loop_keeps_running_while_thread_blocks(anyio_backend: object) -> None:
    """Other tasks progress while a worker blocks (the loop is not stalled)."""
    release = threading.Event()
    ticked = anyio.Event()

    async def ticker() -> None:
        await anyio.sleep(0)
        ticked.set()

    def wait_for_release() -> str:
        release.wait()
        return "released"

    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)

        async def unblock_after_tick() -> None:
            await ticked.wait()
            release.set()

        tg.start_soon(unblock_after_tick)
        assert await ab.run_in_thread(wait_for_release) == "released"


async def test_exception_keeps_frames(anyio_backend: object) -> None:
    """What the function raised comes out unchanged with the raising frame."""
    with pytest.raises(KeyError, match="in the thread") as info:
        await ab.run_in_thread(explode)
    assert traceback.extract_tb(info.value.__traceback__)[-1].name == "explode"


async def test_contextvars_copied_into_thread(anyio_backend: object) -> None:
    """The thread sees the caller's contextvars; its changes stay there."""

    def read_and_change() -> str:
        seen = user.get()
        user.set("changed")
        return seen

    token = user.set("alice")
    try:
        assert await ab.run_in_thread(read_and_change) == "alice"
        assert user.get() == "alice"
    finally:
        user.reset(token)


async def test_worker_is_marked_for_its_loop(anyio_backend: object) -> None:
    """Inside the worker, get_context() says it works for the caller's loop."""
    ctx = await ab.run_in_thread(ab.get_context)
    assert ctx.is_worker
    assert ctx.parent_loop is not None
    assert not ctx.loop_running
    after = ab.get_context()
    assert after.loop_running
    assert not after.is_portal


async def test_marker_cleared_after_call(anyio_backend: object) -> None:
    """A pool thread is not marked once the call it ran is over."""
    pool = ab.executors.dedicated("marker-check")
    await ab.run_in_thread(int, executor=pool)
    ctx = pool.submit(ab.get_context).result()
    assert not ctx.is_worker


async def test_not_cancellable_waits_for_thread(anyio_backend: object) -> None:
    """A cancelled caller waits for a running thread, then the cancellation propagates."""
    started = threading.Event()
    release = threading.Event()
    finished: list[str] = []

    def work() -> str:
        started.set()
        release.wait()
        finished.append("done")
        return "value"

    with anyio.CancelScope() as scope:

        async def cancel_when_started() -> None:
            await ab.run_in_thread(started.wait)
            scope.cancel()
            release.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(cancel_when_started)
            await ab.run_in_thread(work)
    assert scope.cancelled_caught
    assert finished == ["done"]


async def test_not_cancellable_keeps_thread_error_visible(
    anyio_backend: object,
) -> None:
    """What a thread raised after its caller was cancelled is chained to the cancellation."""
    started = threading.Event()
    release = threading.Event()
    seen: list[BaseException] = []

    def fail() -> None:
        started.set()
        release.wait()
        raise OSError("disk gone")

    async def victim() -> None:
        try:
            await ab.run_in_thread(fail)
        except anyio.get_cancelled_exc_class() as exc:
            seen.append(exc)
            raise

    async with anyio.create_task_group() as tg:
        tg.start_soon(victim)
        await ab.run_in_thread(started.wait)
        tg.cancel_scope.cancel()
        release.set()
    assert isinstance(seen[0].__context__, OSError)


async def test_cancellable_releases_at_once(anyio_backend: object) -> None:
    """cancellable=True lets the caller go while the thread still runs."""
    started = threading.Event()
    release = threading.Event()
    done = threading.Event()

    def work() -> None:
        started.set()
        release.wait()
        done.set()

    with anyio.CancelScope() as scope:

        async def cancel_when_started() -> None:
            await ab.run_in_thread(started.wait)
            scope.cancel()

        async with anyio.create_task_group() as tg:
            tg.start_soon(cancel_when_started)
            await ab.run_in_thread(work, cancellable=True)
    assert scope.cancelled_caught
    assert not done.is_set()  # the caller left before the thread finished
    release.set()
    await ab.run_in_thread(done.wait)


async def test_queued_call_is_withdrawn_on_cancel(anyio_backend: object) -> None:
    """A call still waiting for a worker never runs once its caller is cancelled."""
    pool = ab.executors.dedicated("withdraw-check")
    release = threading.Event()
    ran: list[str] = []
    started = threading.Event()

    def occupy() -> None:
        started.set()
        release.wait()

    async with anyio.create_task_group() as tg:
        tg.start_soon(functools.partial(ab.run_in_thread, occupy, executor=pool))
        await ab.run_in_thread(started.wait)
        with anyio.CancelScope() as scope:
            scope.cancel()
            await ab.run_in_thread(ran.append, "queued", executor=pool)
        release.set()
    await ab.run_in_thread(int, executor=pool)  # the queue has drained
    assert ran == []


async def test_capacity_limiter_bounds_concurrency(anyio_backend: object) -> None:
    """A shared anyio.CapacityLimiter bounds how many calls run at once."""
    limiter = anyio.CapacityLimiter(2)
    await _check_peak(lambda fn: ab.run_in_thread(fn, limiter=limiter), limit=2)


async def test_int_limiter_bounds_calls_of_a_function(anyio_backend: object) -> None:
    """limiter=N allows at most N concurrent calls of the same function."""
    await _check_peak(lambda fn: ab.run_in_thread(fn, limiter=3), limit=3)


async def test_asyncify_int_limiter(anyio_backend: object) -> None:
    """asyncify(limiter=N) bounds all calls of that wrapper."""
    holder: dict[str, object] = {}

    async def call(fn: object) -> object:
        if "wrapped" not in holder:
            holder["wrapped"] = ab.asyncify(fn, limiter=2)  # type: ignore[arg-type]
        return await holder["wrapped"]()  # type: ignore[operator]

    await _check_peak(call, limit=2)


async def _check_peak(call: object, limit: int) -> None:
    lock = threading.Lock()
    state = {"now": 0, "peak": 0}
    gate = threading.Barrier(limit, timeout=10)

    def work() -> None:
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        try:
            gate.wait()  # proves `limit` run together
        except threading.BrokenBarrierError:  # pragma: no cover
            pass
        with lock:
            state["now"] -= 1

    async with anyio.create_task_group() as tg:
        for _ in range(limit * 3):
            tg.start_soon(call, work)  # type: ignore[arg-type]
    assert state["peak"] == limit


async def test_executor_by_name_and_instance(anyio_backend: object) -> None:
    """executor= takes a registered name or any Executor."""
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="mine") as pool:
        ab.executors.register("mine", pool, shutdown_with_bridge=False)
        name = await ab.run_in_thread(
            lambda: threading.current_thread().name, executor="mine"
        )
        assert name.startswith("mine")
        token = user.set("bob")
        try:
            assert await ab.run_in_thread(user.get, executor=pool) == "bob"
        finally:
            user.reset(token)
        ctx = await ab.run_in_thread(ab.get_context, executor=pool)
        assert ctx.is_worker


async def test_process_pool_executor(anyio_backend: object) -> None:
    """A ProcessPoolExecutor runs the function in another process."""
    with concurrent.futures.ProcessPoolExecutor(1) as pool:
        pid = await ab.run_in_thread(os.getpid, executor=pool)
        assert pid != os.getpid()
        assert await ab.run_in_thread(pow, 2, 8, executor=pool) == 256
        with pytest.raises(ZeroDivisionError):
            await ab.run_in_thread(divmod, 1, 0, executor=pool)


async def test_unknown_executor_name(anyio_backend: object) -> None:
    """An unknown name is a ValueError listing the known names."""
    with pytest.raises(ValueError, match="known names: 'default'"):
        await ab.run_in_thread(int, executor="nope")


async def test_bad_arguments(anyio_backend: object) -> None:
    """Bad arguments raise TypeError/ValueError naming the parameter."""

    async def coro_fn() -> None:
        pass

    coro = coro_fn()
    with pytest.raises(TypeError, match="notice the parentheses"):
        await ab.run_in_thread(coro)  # type: ignore[arg-type]
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED
    with pytest.raises(TypeError, match="await it directly"):
        await ab.run_in_thread(coro_fn)
    with pytest.raises(TypeError, match="sync_fn"):
        await ab.run_in_thread(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="executor"):
        await ab.run_in_thread(int, executor=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="limiter"):
        await ab.run_in_thread(int, limiter=0)
    with pytest.raises(TypeError, match="limiter"):
        await ab.run_in_thread(int, limiter="2")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cancellable"):
        await ab.run_in_thread(int, cancellable=1)  # type: ignore[arg-type]


async def test_asyncify_keeps_metadata_and_kwargs(anyio_backend: object) -> None:
    """asyncify keeps name, doc, signature, __wrapped__ and forwards kwargs."""

    def resize(width: int, *, height: int = 1) -> int:
        """Area of the new size."""
        return width * height

    wrapped = ab.asyncify(resize)
    assert await wrapped(3, height=4) == 12
    assert wrapped.__name__ == "resize"
    assert wrapped.__doc__ == "Area of the new size."
    assert wrapped.__wrapped__ is resize  # type: ignore[attr-defined]
    assert inspect.signature(wrapped) == inspect.signature(resize)
    assert inspect.iscoroutinefunction(wrapped)
    assert ab.is_async_callable(wrapped)


def test_asyncify_rejects_bad_input_at_wrap_time() -> None:
    """asyncify checks its arguments when wrapping."""

    async def already_async() -> None:
        pass

    with pytest.raises(TypeError, match="await it directly"):
        ab.asyncify(already_async)
    with pytest.raises(TypeError, match="executor"):
        ab.asyncify(int, executor=object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="limiter"):
        ab.asyncify(int, limiter=-1)


async def test_asyncify_on_methods(anyio_backend: object) -> None:
    """asyncify works as a method decorator."""

    class Store:
        def __init__(self) -> None:
            self.items = [1, 2]

        @ab.asyncify
        def total(self) -> int:
            return sum(self.items)

    assert await Store().total() == 3


async def test_keyboard_interrupt_in_thread_is_not_swallowed(
    anyio_backend: object,
) -> None:
    """KeyboardInterrupt raised in the worker reaches the awaiting side."""

    def interrupt() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        await ab.run_in_thread(interrupt)


def _square(x: int) -> int:
    return x * x


def test_dask_distributed_executor() -> None:
    """A Dask distributed executor (the real engine, in-process) runs offloaded work."""
    distributed = pytest.importorskip("distributed")
    with distributed.Client(
        processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None
    ) as client:
        executor = client.get_executor()

        async def main() -> list[int]:
            async with anyio.create_task_group() as tg:
                results: dict[int, int] = {}

                async def one(i: int) -> None:
                    results[i] = await ab.run_in_thread(_square, i, executor=executor)

                for i in range(5):
                    tg.start_soon(one, i)
            return [results[i] for i in range(5)]

        assert anyio.run(main) == [0, 1, 4, 9, 16]
        assert anyio.run(main, backend="trio") == [0, 1, 4, 9, 16]


@pytest.mark.anyio
async def test_worker_can_start_its_own_loop(anyio_backend: object) -> None:
    """Code in the worker may run its own event loop (no stale 'running' marker)."""

    async def inner() -> int:
        return 5

    def legacy() -> tuple[int, int]:
        return anyio.run(inner), anyio.run(inner, backend="trio")

    assert await ab.run_in_thread(legacy) == (5, 5)
    assert await ab.asyncify(legacy)() == (5, 5)


@pytest.mark.anyio
async def test_no_reference_kept_to_arguments_or_results(anyio_backend: object) -> None:
    """After a call, neither its argument nor its result is kept alive by the pool."""

    class Big:
        pass

    def identity(value: Big) -> Big:
        return value

    big = Big()
    ref = weakref.ref(big)
    result = await ab.run_in_thread(identity, big)
    assert result is big
    del big, result
    # No event says "the worker has left the call's frames and waits for work", so
    # poll: a worker that kept its last job would keep `big` alive forever.
    with anyio.move_on_after(10):
        while ref() is not None:
            gc.collect()
            await anyio.sleep(0.01)
    assert ref() is None


@pytest.mark.anyio
async def test_a_call_leaves_no_cycle_and_no_hold_on_a_passed_executor(
    anyio_backend: object,
) -> None:
    """Reference counting alone frees a call's objects and a pool passed as executor=.

    Nothing of a finished call may wait for the garbage collector (a cycle through
    the job would keep its arguments and contextvars alive until a collection), and
    asyncbridge keeps no hold on an executor it was only handed for one call.
    """

    class Big:
        pass

    def identity(value: Big) -> Big:
        return value

    pool = concurrent.futures.ThreadPoolExecutor(1)
    pool_ref = weakref.ref(pool)
    big = Big()
    big_ref = weakref.ref(big)
    gc.disable()
    try:
        result = await ab.run_in_thread(identity, big, executor=pool)
        assert result is big
        pool.shutdown(wait=True)  # its thread has left the call's frames
        del big, pool, result
        # The loop holds the wake-up that resumed this task (and so the finished
        # future) until this step ends: let it end.
        await anyio.lowlevel.checkpoint()
        assert big_ref() is None
        assert pool_ref() is None
    finally:
        gc.enable()


# ----------------------------------------------- cancellation crosses bridges


@pytest.mark.anyio
async def test_cancellation_reaches_a_coroutine_the_thread_started(
    anyio_backend: object,
) -> None:
    """A cancelled caller cancels the coroutine its thread runs back on the loop."""
    started = threading.Event()
    cleanup: list[str] = []
    seen: list[BaseException] = []

    async def forever() -> None:
        try:
            started.set()
            await anyio.sleep_forever()
        finally:
            cleanup.append("ran")

    def worker() -> None:
        try:
            ab.run_sync(forever)  # back on the caller's loop
        except BaseException as exc:
            seen.append(exc)
            raise

    async with anyio.create_task_group() as tg:
        tg.start_soon(functools.partial(ab.run_in_thread, worker))
        await anyio.to_thread.run_sync(started.wait)
        tg.cancel_scope.cancel()
    assert cleanup == ["ran"]
    assert len(seen) == 1
    assert isinstance(seen[0], anyio.get_cancelled_exc_class())


@pytest.mark.anyio
async def test_check_cancelled_raises_in_a_cancelled_worker(
    anyio_backend: object,
) -> None:
    """check_cancelled() raises in a worker once its caller is cancelled."""
    started = threading.Event()
    cancelled = threading.Event()
    rounds: list[int] = []

    def worker() -> None:
        ab.check_cancelled()  # not cancelled yet: returns
        started.set()
        cancelled.wait()
        for i in range(1000):
            rounds.append(i)
            ab.check_cancelled()  # raises on the first round
            threading.Event().wait(0.001)

    async with anyio.create_task_group() as tg:
        tg.start_soon(functools.partial(ab.run_in_thread, worker))
        await anyio.to_thread.run_sync(started.wait)
        tg.cancel_scope.cancel()
        cancelled.set()
    assert rounds == [0]


@pytest.mark.anyio
async def test_next_bridge_call_of_a_cancelled_worker_raises(
    anyio_backend: object,
) -> None:
    """After its caller was cancelled, a worker's next run_sync raises at once."""
    started = threading.Event()
    cancelled = threading.Event()
    ran: list[str] = []

    async def never() -> None:
        ran.append("coroutine")

    def worker() -> None:
        started.set()
        cancelled.wait()
        ab.run_sync(never)

    async with anyio.create_task_group() as tg:
        tg.start_soon(functools.partial(ab.run_in_thread, worker))
        await anyio.to_thread.run_sync(started.wait)
        tg.cancel_scope.cancel()
        cancelled.set()
    assert ran == []


def test_check_cancelled_outside_a_worker_returns() -> None:
    """check_cancelled() anywhere else is a no-op."""
    ab.check_cancelled()


# ------------------------------------------------------------- contexts

_VAR: contextvars.ContextVar[str] = contextvars.ContextVar("_VAR", default="unset")


@pytest.mark.anyio
async def test_context_option_keeps_what_the_function_set(
    anyio_backend: object,
) -> None:
    """run_in_thread(..., context=ctx) runs in ctx: its changes are visible there."""
    ctx = contextvars.copy_context()

    def set_it(value: str) -> str:
        _VAR.set(value)
        return _VAR.get()

    assert await ab.run_in_thread(set_it, "a", context=ctx) == "a"
    assert ctx[_VAR] == "a"
    assert _VAR.get() == "unset"  # the caller's own context is untouched
    assert await ab.asyncify(set_it, context=ctx)("b") == "b"
    assert ctx[_VAR] == "b"


@pytest.mark.anyio
async def test_context_option_is_checked(anyio_backend: object) -> None:
    """context= must be a Context, and needs an in-process executor."""
    with pytest.raises(TypeError, match="context"):
        await ab.run_in_thread(abs, -1, context={})  # type: ignore[arg-type]
    with (
        concurrent.futures.ProcessPoolExecutor(1) as pool,
        pytest.raises(ValueError, match="context"),
    ):
        await ab.run_in_thread(abs, -1, executor=pool, context=contextvars.Context())


# --------------------------------------------------- the waiting sync thread


def test_sync_caller_runs_on_the_waiting_thread() -> None:
    """executor=SYNC_CALLER runs on the thread blocked in run_sync, nested too."""
    me = threading.get_ident()

    def where() -> int:
        return threading.get_ident()

    async def inner() -> int:
        return await ab.run_in_thread(where, executor=ab.executors.SYNC_CALLER)

    def middle() -> int:
        return ab.run_sync(inner)  # on the outer thread: it waits there again

    async def outer() -> tuple[int, int]:
        first = await ab.run_in_thread(where, executor=ab.executors.SYNC_CALLER)
        second = await ab.run_in_thread(middle, executor=ab.executors.SYNC_CALLER)
        return first, second

    assert ab.run_sync(outer) == (me, me)


def test_sync_caller_without_a_waiting_thread_uses_one_lane() -> None:
    """Where no sync thread waits, SYNC_CALLER work runs on one shared thread."""

    async def main() -> set[int]:
        return set(
            await asyncio.gather(
                *(
                    ab.run_in_thread(
                        threading.get_ident, executor=ab.executors.SYNC_CALLER
                    )
                    for _ in range(6)
                )
            )
        )

    threads = asyncio.run(main())
    assert len(threads) == 1
    assert threading.get_ident() not in threads


def test_sync_caller_submit_outside_a_wait() -> None:
    """SYNC_CALLER is an Executor: submit() works from plain code too."""
    future = ab.executors.SYNC_CALLER.submit(pow, 2, 5)
    assert future.result() == 32
