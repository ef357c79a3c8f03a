"""asyncbridge.compat.asgiref: asgiref.sync's API on asyncbridge's engine.

asgiref's own suite judges the module (compat/run_asgiref_suite.py, `make compat`);
these tests pin the parts of its behaviour that this project adds or maps.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import sys
import threading

import asgiref.sync as real_sync
import pytest
from asgiref.local import Local

import asyncbridge as ab
from asyncbridge.compat import asgiref as compat
from asyncbridge.compat._asgiref_contexts import changes
from asyncbridge.compat._asgiref_install import REPLACED

var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")


async def _double(x: int) -> int:
    await asyncio.sleep(0)
    return x * 2


# ------------------------------------------------------------------ install


def test_install_replaces_asgiref_sync_names_and_uninstall_restores_them() -> None:
    """install() swaps the eight public names of asgiref.sync; uninstall() undoes it."""
    real = real_sync
    before = {name: getattr(real, name) for name in REPLACED}
    compat.install()
    try:
        compat.install()  # a second call changes nothing
        for name in before:
            assert getattr(real, name) is getattr(compat, name)
        assert real.async_to_sync(_double)(4) == 8
    finally:
        compat.uninstall()
    compat.uninstall()  # not installed: nothing to do
    assert {name: getattr(real, name) for name in before} == before


def test_install_without_asgiref_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """install() without asgiref raises ImportError with the pip command."""
    monkeypatch.setitem(sys.modules, "asgiref.sync", None)
    with pytest.raises(ImportError, match=r"asyncbridge\[compat\]"):
        compat.install()


# ------------------------------------------------------------------ async_to_sync


def test_async_to_sync_copies_context_changes_back() -> None:
    """The caller sees the contextvars the coroutine set."""

    async def setter() -> None:
        var.set("from coroutine")

    context = contextvars.copy_context()
    context.run(compat.async_to_sync(setter))
    assert context[var] == "from coroutine"


def test_async_to_sync_refuses_a_running_loop() -> None:
    """Called in a thread whose loop runs, it raises asgiref's RuntimeError."""

    async def main() -> None:
        with pytest.raises(RuntimeError, match="same thread as an async event loop"):
            compat.async_to_sync(_double)(1)

    asyncio.run(main())


def test_async_to_sync_warns_about_a_sync_callable() -> None:
    """A callable not marked async draws asgiref's UserWarning."""
    with pytest.warns(UserWarning, match="non-async-marked callable"):
        compat.async_to_sync(len)


def test_async_to_sync_as_a_method_and_with_keyword_options() -> None:
    """@async_to_sync(force_new_loop=True) binds as a method and returns the value."""

    class Box:
        value = 5

        @compat.async_to_sync(force_new_loop=True)
        async def get(self) -> int:
            return self.value

    assert Box().get() == 5


def test_force_new_loop_leaves_the_worker_loop_alone() -> None:
    """force_new_loop=True runs on the portal, not on the calling worker's loop."""
    seen: dict[str, object] = {}

    async def where() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    async def main() -> None:
        seen["main"] = asyncio.get_running_loop()

        def worker() -> None:
            seen["routed"] = compat.async_to_sync(where)()
            seen["new"] = compat.async_to_sync(where, force_new_loop=True)()

        await compat.sync_to_async(worker, thread_sensitive=False)()

    asyncio.run(main())
    assert seen["routed"] is seen["main"]
    assert seen["new"] is not seen["main"]


def test_force_new_loop_raises_the_coroutines_exception() -> None:
    """force_new_loop=True passes the coroutine's exception through unchanged."""

    async def boom() -> None:
        raise KeyError("x")

    with pytest.raises(KeyError, match="x"):
        compat.async_to_sync(boom, force_new_loop=True)()


def test_async_to_sync_inside_except_sees_the_exception() -> None:
    """A call made while handling an exception shows it to the coroutine."""

    async def current() -> BaseException | None:
        return sys.exc_info()[1]

    error = ValueError("handled")
    try:
        raise error
    except ValueError:
        assert compat.async_to_sync(current)() is error


def test_single_thread_context_is_reentrant() -> None:
    """Only the outermost AsyncSingleThreadContext sets the context variable."""
    with compat.AsyncSingleThreadContext() as outer:
        with compat.AsyncSingleThreadContext() as inner:
            assert inner.token is None
        assert compat.AsyncToSync.async_single_thread_context.get() is outer
    assert compat.AsyncToSync.async_single_thread_context.get(None) is None


# ------------------------------------------------------------------ sync_to_async


def test_sync_to_async_refuses_async_and_executor_with_thread_sensitive() -> None:
    """asgiref's TypeErrors: an async callable, or an executor with thread_sensitive."""
    with pytest.raises(TypeError, match="only be applied to sync functions"):
        compat.sync_to_async(_double)
    with pytest.raises(TypeError, match="executor must not be set"):
        compat.sync_to_async(len, executor=concurrent.futures.ThreadPoolExecutor(1))


def test_sync_to_async_accepts_an_object_with_submit() -> None:
    """Any object with submit() returning a Future works as the executor."""
    calls: list[object] = []

    class Submitter:
        def __init__(self) -> None:
            self.pool = concurrent.futures.ThreadPoolExecutor(1)

        def submit(self, fn, *args, **kwargs):
            calls.append(fn)
            return self.pool.submit(fn, *args, **kwargs)

    submitter = Submitter()
    try:
        wrapped = compat.sync_to_async(sum, thread_sensitive=False, executor=submitter)
        assert asyncio.run(wrapped([1, 2, 3])) == 6
        assert len(calls) == 1
    finally:
        submitter.pool.shutdown()


def test_sync_to_async_context_changes_reach_the_caller() -> None:
    """By default the function's contextvar changes are visible to the caller."""

    def setter() -> None:
        var.set("from thread")

    async def main() -> str:
        await compat.sync_to_async(setter)()
        return var.get()

    assert asyncio.run(main()) == "from thread"


def test_sync_to_async_with_context_keeps_changes_there() -> None:
    """With context=, changes land in that context, not the caller's."""

    def setter() -> None:
        var.set("inside")

    async def main() -> tuple[str, str]:
        target = contextvars.copy_context()
        await compat.sync_to_async(setter, context=target)()
        return var.get(), target[var]

    assert asyncio.run(main()) == ("unset", "inside")


def test_sync_to_async_moves_asgiref_local_data_to_the_thread() -> None:
    """asgiref.local.Local data set by the caller is visible in the thread and back."""
    local = Local()

    def read_and_write() -> str:
        value = local.value
        local.value = "thread"
        return value

    async def main() -> tuple[str, str]:
        local.value = "caller"
        seen = await compat.sync_to_async(read_and_write, thread_sensitive=False)()
        return seen, local.value

    assert asyncio.run(main()) == ("caller", "thread")


def test_sync_to_async_in_except_shows_the_exception_and_raises_its_own() -> None:
    """The thread sees the caller's exception; its own exception comes out unchanged."""
    error = LookupError("caller")

    def current() -> BaseException | None:
        return sys.exc_info()[1]

    def fail() -> None:
        raise OSError("thread")

    async def main() -> BaseException | None:
        try:
            raise error
        except LookupError:
            seen = await compat.sync_to_async(current)()
        with pytest.raises(OSError, match="thread"):
            await compat.sync_to_async(fail)()
        return seen

    assert asyncio.run(main()) is error


def test_sync_to_async_binds_as_a_method_and_marks_a_coroutine_function() -> None:
    """The wrapper is a coroutine function, binds as a method and keeps __self__."""

    class Counter:
        n = 3

        @compat.sync_to_async
        def get(self) -> int:
            return self.n

    counter = Counter()
    bound = compat.sync_to_async(counter.get.__wrapped__.__get__(counter))
    assert compat.iscoroutinefunction(compat.sync_to_async(len))
    assert bound.__self__ is counter
    assert asyncio.run(counter.get()) == 3


# ------------------------------------------------------------------ thread-sensitive


def test_thread_sensitive_calls_share_a_thread_per_context() -> None:
    """Calls in one ThreadSensitiveContext share a thread; parallel contexts do not."""

    async def in_context() -> tuple[threading.Thread, threading.Thread]:
        async with compat.ThreadSensitiveContext():
            async with compat.ThreadSensitiveContext():  # nested: the same context
                first = await compat.sync_to_async(threading.current_thread)()
            second = await compat.sync_to_async(threading.current_thread)()
        return first, second

    async def main() -> list[tuple[threading.Thread, threading.Thread]]:
        return list(await asyncio.gather(in_context(), in_context()))

    (a1, a2), (b1, b2) = asyncio.run(main())
    assert a1 is a2
    assert b1 is b2
    assert a1 is not b1


def test_executor_context_is_single_use_and_rejects_late_calls() -> None:
    """A context with an executor enters once; tasks outliving it cannot call."""
    pool = concurrent.futures.ThreadPoolExecutor(1)
    release = asyncio.Event

    async def main() -> None:
        later = release()
        context = compat.ThreadSensitiveContext(executor=pool)

        async def late() -> object:
            await later.wait()
            return await compat.sync_to_async(threading.current_thread)()

        async with context:
            ran = await compat.sync_to_async(threading.current_thread)()
            assert ran is pool.submit(threading.current_thread).result()
            task = asyncio.create_task(late())
            with pytest.raises(RuntimeError, match="already entered"):
                await context.__aenter__()
        later.set()
        with pytest.raises(RuntimeError, match="has exited"):
            await task
        with pytest.raises(RuntimeError, match="cannot be entered again"):
            await context.__aenter__()

    try:
        asyncio.run(main())
    finally:
        pool.shutdown()


# ------------------------------------------------------------------ cancellation


def _cancel_while_inner_runs(inner_absorbs: bool, fail_after: bool):
    """Cancel a task awaiting sync_to_async(fn) while fn waits in async_to_sync."""
    loop_holder: dict[str, object] = {}
    started = threading.Event()

    async def inner() -> None:
        gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        loop_holder["gate"] = gate
        started.set()
        try:
            await gate
        except asyncio.CancelledError:
            if not inner_absorbs:
                raise

    def sync_code() -> str:
        compat.async_to_sync(inner)()
        if fail_after:
            raise ValueError("after")
        return "finished"

    async def main() -> object:
        task = asyncio.create_task(compat.sync_to_async(sync_code)())
        while not started.is_set():
            await asyncio.sleep(0)
        task.cancel()
        try:
            return await task
        except BaseException as exc:
            return exc

    return asyncio.run(main())


def test_cancelled_caller_whose_inner_coroutine_absorbs_gets_the_result() -> None:
    """Cancelling: the inner coroutine absorbs it, so the caller returns fn's value."""
    assert _cancel_while_inner_runs(inner_absorbs=True, fail_after=False) == "finished"


def test_cancelled_caller_whose_inner_coroutine_absorbs_gets_fns_error() -> None:
    """Absorbed cancellation, then fn fails: the caller gets fn's exception."""
    outcome = _cancel_while_inner_runs(inner_absorbs=True, fail_after=True)
    assert isinstance(outcome, ValueError)


def test_cancelled_caller_is_cancelled_when_the_inner_coroutine_is() -> None:
    """The inner coroutine ends cancelled: the caller is cancelled at once."""
    outcome = _cancel_while_inner_runs(inner_absorbs=False, fail_after=False)
    assert isinstance(outcome, asyncio.CancelledError)


def test_lane_of_thread_sensitive_calls_without_a_sync_caller() -> None:
    """Without an async_to_sync caller or a context, calls share one process thread."""

    async def main() -> set[threading.Thread]:
        run = compat.sync_to_async(threading.current_thread)
        return set(await asyncio.gather(*(run() for _ in range(6))))

    threads = asyncio.run(main())
    assert len(threads) == 1
    assert threads != {threading.current_thread()}
    assert ab.executors.stats()  # the lane is one of asyncbridge's executors


def test_async_to_sync_moves_asgiref_local_data_both_ways() -> None:
    """Local data set in sync code is visible to the coroutine, and its changes back."""
    local = Local()

    async def read_and_write() -> str:
        value = local.value
        local.value = "coroutine"
        return value

    local.value = "caller"
    assert compat.async_to_sync(read_and_write)() == "caller"
    assert local.value == "coroutine"


def test_only_the_callees_changes_travel_back() -> None:
    """Variables set before the callee started (a bridge's own) are not carried back."""
    other: contextvars.ContextVar[str] = contextvars.ContextVar("other")

    def callee() -> list[tuple[contextvars.ContextVar[str], str]]:
        other.set("set by the bridge around the callee")
        start = contextvars.copy_context()
        var.set("set by the callee")
        return changes(start)

    assert contextvars.copy_context().run(callee) == [(var, "set by the callee")]
