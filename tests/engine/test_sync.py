"""run_sync and syncify: sync code calling async code."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import gc
import inspect
import logging
import threading
import traceback
import weakref
from typing import TYPE_CHECKING, Any

import anyio
import pytest
import trio

import asyncbridge as ab
from asyncbridge import _backends
from asyncbridge._engine import _portal, _sync

if TYPE_CHECKING:
    from collections.abc import Iterator

request_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "request_id", default="-"
)


async def add(a: int, b: int) -> int:
    await anyio.sleep(0)
    return a + b


async def fail_deep() -> None:
    await anyio.sleep(0)
    raise ValueError("deep failure")


async def loop_identity() -> tuple[int, object]:
    await anyio.sleep(0)
    if ab.current_backend() == "trio":
        return threading.get_ident(), trio.lowlevel.current_trio_token()
    return threading.get_ident(), asyncio.get_running_loop()


# ----------------------------------------------------------------- plain threads


def test_runs_function_with_args() -> None:
    """A coroutine function and its positional args run on the portal; the value returns."""
    assert ab.run_sync(add, 2, 3) == 5


def test_runs_coroutine_object() -> None:
    """A coroutine object is awaited on the portal."""
    assert ab.run_sync(add(4, 5)) == 9


def test_runs_other_awaitables() -> None:
    """Any awaitable (here an object with __await__) is accepted."""

    class Answer:
        def __await__(self):  # type: ignore[no-untyped-def]
            return add(40, 2).__await__()

    assert ab.run_sync(Answer()) == 42


def test_portal_is_reused_across_calls() -> None:
    """Every call from plain threads runs on one long-lived loop and thread."""
    first = ab.run_sync(loop_identity)
    seen = [ab.run_sync(loop_identity) for _ in range(5)]
    results: list[tuple[int, object]] = []
    worker = threading.Thread(target=lambda: results.append(ab.run_sync(loop_identity)))
    worker.start()
    worker.join()
    assert all(s == first for s in [*seen, *results])
    assert first[0] != threading.get_ident()


def test_no_thread_per_call() -> None:
    """Many calls do not grow the number of threads."""
    ab.run_sync(add, 0, 0)
    before = threading.active_count()
    for i in range(200):
        assert ab.run_sync(add, i, 1) == i + 1
    assert threading.active_count() <= before


def test_exception_keeps_original_frames() -> None:
    """The coroutine's exception comes out unchanged, with the frame that raised it."""
    with pytest.raises(ValueError, match="deep failure") as info:
        ab.run_sync(fail_deep)
    frames = [f.name for f in traceback.extract_tb(info.value.__traceback__)]
    assert frames[-1] == "fail_deep"
    assert frames[0] == "test_exception_keeps_original_frames"


def test_failed_call_leaves_portal_usable() -> None:
    """After an exception, a timeout and a bad argument, the next call works."""
    with pytest.raises(ValueError, match="deep failure"):
        ab.run_sync(fail_deep)
    with pytest.raises(TimeoutError):
        ab.run_sync(anyio.sleep_forever, timeout=0.01)
    with pytest.raises(TypeError):
        ab.run_sync(print)  # type: ignore[call-overload]
    assert ab.run_sync(add, 1, 1) == 2


def test_contextvars_are_copied_in_not_out() -> None:
    """The coroutine sees the caller's contextvars; its changes stay inside."""

    async def read_and_change() -> str:
        seen = request_id.get()
        request_id.set("changed inside")
        return seen

    token = request_id.set("req-7")
    try:
        assert ab.run_sync(read_and_change) == "req-7"
        assert request_id.get() == "req-7"
    finally:
        request_id.reset(token)


def test_timeout_cancels_and_runs_cleanup() -> None:
    """On timeout the coroutine is cancelled, its finally runs, then TimeoutError."""
    cleaned = threading.Event()

    async def slow() -> None:
        try:
            await anyio.sleep_forever()
        finally:
            cleaned.set()

    with pytest.raises(TimeoutError, match="timed out"):
        ab.run_sync(slow, timeout=0.01)
    assert cleaned.is_set()


def test_timeout_before_start_never_runs_the_coroutine() -> None:
    """A zero timeout cancels the call before the coroutine starts."""
    started = threading.Event()

    async def mark() -> None:
        started.set()

    with pytest.raises(TimeoutError):
        ab.run_sync(mark, timeout=0)
    assert ab.run_sync(add, 1, 1) == 2  # processed after the cancelled call
    assert not started.is_set()


def test_value_returned_despite_timeout_is_kept() -> None:
    """A coroutine that absorbs the cancellation and returns: its value is returned."""

    async def stubborn() -> int:
        try:
            await anyio.sleep_forever()
        except asyncio.CancelledError:
            return 7
        return 0  # pragma: no cover

    assert ab.run_sync(stubborn, timeout=0.2) == 7


def test_trio_portal_on_request() -> None:
    """backend='trio' runs trio-flavoured code on a trio portal."""

    async def trio_only() -> str:
        await trio.sleep(0)
        return ab.current_backend() or "none"

    assert ab.run_sync(trio_only, backend="trio") == "trio"
    assert ab.run_sync(trio_only, backend="trio") == "trio"
    with pytest.raises(TimeoutError):
        ab.run_sync(trio.sleep_forever, timeout=0.01, backend="trio")
    with pytest.raises(ValueError, match="deep failure"):
        ab.run_sync(fail_deep, backend="trio")


def test_cancellation_inside_coroutine_propagates() -> None:
    """A coroutine that raises CancelledError on its own is not turned into something else."""

    async def self_cancel() -> None:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        ab.run_sync(self_cancel)


def test_keyboard_interrupt_from_coroutine_reaches_caller() -> None:
    """KeyboardInterrupt raised by the coroutine is re-raised in the caller; the portal survives."""

    async def interrupt() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ab.run_sync(interrupt)
    assert ab.run_sync(add, 1, 2) == 3


# -------------------------------------------------------------------- bad input


def test_sync_function_is_a_type_error_pointing_to_async_safe() -> None:
    """A plain sync function is refused with a hint to async_safe."""
    with pytest.raises(TypeError, match="async_safe"):
        ab.run_sync(len)  # type: ignore[call-overload]


def test_awaited_coroutine_is_a_type_error() -> None:
    """A coroutine that has already run is refused."""
    coro = add(1, 1)
    ab.run_sync(coro)
    with pytest.raises(TypeError, match="already been awaited"):
        ab.run_sync(coro)


def test_non_callable_is_a_type_error() -> None:
    """Something neither callable nor awaitable is refused, naming the parameter."""
    with pytest.raises(TypeError, match="fn_or_awaitable"):
        ab.run_sync(42)  # type: ignore[call-overload]


def test_args_with_awaitable_is_a_type_error() -> None:
    """Positional args next to a coroutine object are refused (and the coroutine closed)."""
    coro = add(1, 2)
    with pytest.raises(TypeError, match="positional arguments"):
        ab.run_sync(coro, 1)  # type: ignore[call-overload]
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"timeout": -1}, ValueError),
        ({"timeout": "1"}, TypeError),
        ({"on_loop_conflict": "ignore"}, ValueError),
        ({"backend": "curio"}, ValueError),
    ],
)
def test_bad_options_name_the_parameter(
    options: dict[str, object], error: type
) -> None:
    """Bad option values raise naming the parameter."""
    name = next(iter(options))
    with pytest.raises(error, match=name):
        ab.run_sync(add, 1, 2, **options)  # type: ignore[call-overload]


# ----------------------------------------------------------- running-loop thread


@pytest.mark.anyio
async def test_conflict_thread_policy_warns_and_works(anyio_backend: object) -> None:
    """From a thread whose loop runs, the call works on the portal with LoopBlockedWarning."""
    with pytest.warns(ab.LoopBlockedWarning, match="blocks the running"):
        assert ab.run_sync(add, 1, 2) == 3


@pytest.mark.anyio
async def test_conflict_raise_policy(anyio_backend: object) -> None:
    """on_loop_conflict='raise' raises LoopConflictError, closing the coroutine."""
    coro = add(1, 2)
    with pytest.raises(ab.LoopConflictError, match="await the async API directly"):
        ab.run_sync(coro, on_loop_conflict="raise")
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED


@pytest.mark.anyio
async def test_conflict_policy_from_configure(anyio_backend: object) -> None:
    """configure(on_loop_conflict='raise') is the default; a per-call option beats it."""
    ab.configure(on_loop_conflict="raise")
    with pytest.raises(ab.LoopConflictError):
        ab.run_sync(add, 1, 2)
    with pytest.warns(ab.LoopBlockedWarning):
        assert ab.run_sync(add, 1, 2, on_loop_conflict="thread") == 3


def test_waiting_on_own_loop_raises_instead_of_hanging() -> None:
    """Sync code running on the portal loop that calls run_sync gets LoopConflictError."""

    async def on_portal() -> int:
        return ab.run_sync(add, 1, 1)

    with pytest.raises(ab.LoopConflictError, match="wait for itself"):
        ab.run_sync(on_portal)
    with pytest.raises(ab.LoopConflictError, match="wait for itself"):
        ab.run_sync(on_portal, backend="trio")


@pytest.mark.anyio
async def test_trio_caller_gets_trio_portal(anyio_backend: object) -> None:
    """Blocked in a trio loop, the call goes to a portal of the caller's backend."""
    with pytest.warns(ab.LoopBlockedWarning):
        backend = ab.run_sync(_current_backend)
    assert backend == anyio_backend[0]  # type: ignore[index]


async def _current_backend() -> str | None:
    return ab.current_backend()


# ------------------------------------------------------- routing back to parents


@pytest.mark.anyio
async def test_worker_thread_routes_back_to_parent_loop(anyio_backend: object) -> None:
    """run_sync inside run_in_thread runs on the calling loop, not the portal."""
    here = await loop_identity()

    def blocking() -> tuple[int, object]:
        return ab.run_sync(loop_identity)

    assert await ab.run_in_thread(blocking) == here


@pytest.mark.anyio
async def test_anyio_worker_thread_routes_back(anyio_backend: object) -> None:
    """run_sync inside anyio.to_thread.run_sync runs on the calling loop."""
    here = await loop_identity()
    assert await anyio.to_thread.run_sync(ab.run_sync, loop_identity) == here


def test_trio_worker_thread_routes_back() -> None:
    """run_sync inside trio.to_thread.run_sync runs on the calling trio loop."""

    async def main() -> None:
        here = await loop_identity()
        assert await trio.to_thread.run_sync(ab.run_sync, loop_identity) == here

    trio.run(main)


@pytest.mark.anyio
async def test_parent_routing_keeps_contextvars(anyio_backend: object) -> None:
    """Contextvars set in the worker reach the coroutine run back on the parent."""

    async def read() -> str:
        return request_id.get()

    def blocking() -> str:
        request_id.set("from-worker")
        return ab.run_sync(read)

    assert await ab.run_in_thread(blocking) == "from-worker"


@pytest.mark.anyio
async def test_parent_routing_timeout(anyio_backend: object) -> None:
    """A timeout on a call routed back to the parent cancels it there."""

    def blocking() -> None:
        ab.run_sync(anyio.sleep_forever, timeout=0.01)

    with pytest.raises(TimeoutError):
        await ab.run_in_thread(blocking)


def _run_on(loop: asyncio.AbstractEventLoop, fn: object, *args: object) -> object:
    job = _backends.SyncJob(fn, args, None, contextvars.copy_context())  # type: ignore[arg-type]
    return _sync.run_job(job, _backends.handle_for(loop))


def test_closed_parent_loop_is_a_loop_conflict() -> None:
    """A worker whose loop closed before the call ran gets LoopConflictError."""
    loop = asyncio.new_event_loop()
    loop.close()
    with pytest.raises(ab.LoopConflictError, match="closed"):
        _run_on(loop, add, 1, 2)


def test_loop_closing_under_waiting_call_is_detected(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """If the target loop closes without running the call, the waiter is told."""
    monkeypatch.setattr(_sync, "POLL", 0.01)
    loop = asyncio.new_event_loop()  # never runs: the call just sits in its queue
    handle_type = type(_backends.handle_for(loop))
    submit = handle_type.submit

    def submit_then_close(self: Any, job: Any) -> None:
        submit(self, job)
        loop.close()  # the call is queued: the loop closes without running it

    monkeypatch.setattr(handle_type, "submit", submit_then_close)
    with pytest.raises(ab.LoopConflictError, match="closed before it ran"):
        _run_on(loop, add, 1, 2)


# ------------------------------------------------------------------- syncify


def test_syncify_forwards_args_and_kwargs_and_metadata() -> None:
    """syncify keeps name, doc, signature and __wrapped__; kwargs pass through."""

    async def greet(name: str, *, punct: str = "!") -> str:
        """Greet someone."""
        return f"hi {name}{punct}"

    wrapped = ab.syncify(greet)
    assert wrapped("ann", punct="?") == "hi ann?"
    assert wrapped.__name__ == "greet"
    assert wrapped.__doc__ == "Greet someone."
    assert wrapped.__wrapped__ is greet  # type: ignore[attr-defined]
    assert inspect.signature(wrapped) == inspect.signature(greet)
    assert not inspect.iscoroutinefunction(wrapped)


def test_syncify_on_methods_and_partials() -> None:
    """syncify works on bound methods and functools.partial of async functions."""

    class Service:
        def __init__(self) -> None:
            self.base = 10

        async def plus(self, x: int) -> int:
            return self.base + x

    assert ab.syncify(Service().plus)(5) == 15
    assert ab.syncify(functools.partial(add, 1))(2) == 3


def test_syncify_options() -> None:
    """syncify's timeout applies per call; bad input fails at wrap time."""
    with pytest.raises(TimeoutError):
        ab.syncify(anyio.sleep_forever, timeout=0.01)()
    with pytest.raises(TypeError, match="async_safe"):
        ab.syncify(len)  # type: ignore[arg-type]
    coro = add(1, 2)
    with pytest.raises(TypeError, match="run_sync"):
        ab.syncify(coro)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout"):
        ab.syncify(add, timeout=-1)


# ------------------------------------------------------------ sync_loop="thread"


def test_thread_mode_keeps_one_loop_per_thread() -> None:
    """Under sync_loop='thread' each thread runs calls on its own persistent loop."""
    ab.configure(sync_loop="thread")
    first = ab.run_sync(loop_identity)
    assert first[0] == threading.get_ident()
    assert ab.run_sync(loop_identity) == first
    other: list[tuple[int, object]] = []
    worker = threading.Thread(target=lambda: other.append(ab.run_sync(loop_identity)))
    worker.start()
    worker.join()
    assert other[0][0] != first[0]
    assert other[0][1] is not first[1]


def test_thread_mode_loop_bound_object_survives() -> None:
    """An asyncio.Lock made in one call still works in the next (same loop)."""
    ab.configure(sync_loop="thread")

    async def make() -> asyncio.Lock:
        return asyncio.Lock()

    lock = ab.run_sync(make)

    async def use() -> bool:
        async with lock:
            return lock.locked()

    assert ab.run_sync(use) is True


def test_thread_mode_timeout_and_errors() -> None:
    """Timeouts and exceptions behave the same under sync_loop='thread'."""
    ab.configure(sync_loop="thread")
    with pytest.raises(TimeoutError):
        ab.run_sync(anyio.sleep_forever, timeout=0.01)
    with pytest.raises(ValueError, match="deep failure"):
        ab.run_sync(fail_deep)
    assert ab.run_sync(add(1, 2)) == 3


def test_thread_mode_loop_closed_when_thread_ends() -> None:
    """A thread's own loop is closed when the thread ends."""
    ab.configure(sync_loop="thread")
    loops: list[asyncio.AbstractEventLoop] = []

    async def grab() -> None:
        loops.append(asyncio.get_running_loop())

    worker = threading.Thread(target=ab.run_sync, args=(grab,))
    worker.start()
    worker.join()
    gc.collect()
    assert loops[0].is_closed()


# ------------------------------------------------------------------- debugging


class _ReleaseOnDiagnosis(logging.Handler):
    """Sets *release* once asyncbridge logs its long-wait diagnosis (no timer)."""

    def __init__(self, release: threading.Event) -> None:
        super().__init__(logging.WARNING)
        self.wakes = release

    def emit(self, record: logging.LogRecord) -> None:
        if "has waited" in record.getMessage():
            self.wakes.set()


@contextlib.contextmanager
def _released_on_diagnosis(release: threading.Event) -> Iterator[None]:
    handler = _ReleaseOnDiagnosis(release)
    logger = logging.getLogger("asyncbridge")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


def test_debug_wait_threshold_logs_a_diagnosis(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A wait longer than debug_wait_threshold logs who waits and the other stacks."""
    ab.configure(debug_wait_threshold=0.01)
    release = threading.Event()

    async def stuck() -> int:
        await anyio.to_thread.run_sync(release.wait)
        return 1

    with (
        caplog.at_level(logging.WARNING, logger="asyncbridge"),
        _released_on_diagnosis(release),
    ):
        assert ab.run_sync(stuck) == 1
    assert "has waited" in caplog.text
    assert "deadlock" in caplog.text


def test_debug_wait_threshold_logs_the_chain_of_waits(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A long nested wait logs the chain of waits that led to it and the loop's tasks."""
    ab.configure(debug_wait_threshold=0.01)
    release = threading.Event()

    async def stuck() -> int:
        await anyio.to_thread.run_sync(release.wait)
        return 1

    def worker() -> int:
        return ab.run_sync(stuck)  # back on the portal, from a pool thread

    async def outer() -> int:
        return await ab.run_in_thread(worker)

    with (
        caplog.at_level(logging.WARNING, logger="asyncbridge"),
        _released_on_diagnosis(release),
    ):
        assert ab.run_sync(outer) == 1
    me = threading.current_thread().name
    assert f"thread {me!r} is blocked waiting for" in caplog.text
    assert "asyncbridge-default" in caplog.text
    assert "(this wait)" in caplog.text
    assert "Tasks of that loop" in caplog.text


def test_no_reference_kept_to_results() -> None:
    """The bridge keeps no reference to a returned object or a raised exception."""

    class Payload:
        pass

    async def make() -> Payload:
        return Payload()

    ref = weakref.ref(ab.run_sync(make))
    gc.collect()
    assert ref() is None

    class Boom(Exception):
        pass

    async def boom() -> None:
        raise Boom

    try:
        ab.run_sync(boom)
    except Boom as exc:
        err_ref = weakref.ref(exc)
    gc.collect()
    assert err_ref() is None


def test_portal_restarts_after_stray_loop_stop() -> None:
    """If user code stops the portal loop, the next call gets a fresh portal."""
    before = ab.run_sync(loop_identity)

    async def stop_it() -> None:
        asyncio.get_running_loop().stop()

    ab.run_sync(stop_it)
    portal = _portal._portals.get("asyncio")
    if portal is not None:
        portal.thread.join(5)
    after = ab.run_sync(loop_identity)
    assert after[1] is not before[1]
    assert ab.run_sync(add, 2, 2) == 4


@pytest.mark.anyio
async def test_warning_points_at_the_users_line(anyio_backend: object) -> None:
    """LoopBlockedWarning names the line that called run_sync or a syncify wrapper."""
    with pytest.warns(ab.LoopBlockedWarning) as direct:
        ab.run_sync(add, 1, 2)
    with pytest.warns(ab.LoopBlockedWarning) as wrapped:
        ab.syncify(add)(1, 2)
    assert [w.filename for w in [*direct, *wrapped]] == [__file__, __file__]


def test_keyword_arguments_for_the_function_point_to_syncify() -> None:
    """run_sync(fn, params=...) says how to pass keyword arguments, and closes nothing."""

    async def get(url: str, *, params: dict[str, str]) -> str:
        return url + str(params)

    with pytest.raises(TypeError, match=r"params=\.\.\..*syncify\(fn\)"):
        ab.run_sync(get, "u", params={"a": "b"})  # type: ignore[call-overload]
    assert ab.syncify(get)("u", params={"a": "b"}) == "u{'a': 'b'}"


def test_trio_code_without_backend_says_to_pass_it() -> None:
    """trio code run on the asyncio portal: the error says backend='trio'."""
    import trio  # noqa: PLC0415

    async def uses_trio() -> int:
        await trio.sleep(0)
        return 1

    with pytest.raises(RuntimeError, match="backend='trio'"):
        ab.run_sync(uses_trio)
    assert ab.run_sync(uses_trio, backend="trio") == 1


def test_asyncio_code_on_the_trio_portal_says_so() -> None:
    """asyncio code run on the trio portal: the error says backend='asyncio'."""

    async def uses_asyncio() -> int:
        await asyncio.sleep(0.001)
        return 1

    with pytest.raises(RuntimeError, match="backend='asyncio'"):
        ab.run_sync(uses_asyncio, backend="trio")


def test_warnings_name_the_decorated_function() -> None:
    """async_safe and syncify warnings name the user's function, not run_sync()."""

    @ab.async_safe
    async def fetch_report() -> int:
        return 1

    async def fetch_async() -> int:
        return 2

    fetch = ab.syncify(fetch_async)

    async def main() -> None:
        with pytest.warns(
            ab.LoopBlockedWarning, match=r"async_safe function .*fetch_report"
        ):
            fetch_report()
        with pytest.warns(ab.LoopBlockedWarning, match=r"fetch_async\(\) \(syncify\)"):
            fetch()

    asyncio.run(main())


def test_a_context_copied_back_does_not_grow_the_chain_of_waits() -> None:
    """Copying a coroutine's context back to the caller (as asgiref does) stays flat."""
    import contextvars  # noqa: PLC0415

    from asyncbridge._core._waits import live  # noqa: PLC0415

    holder: list[contextvars.Context] = []

    async def keep() -> list[int]:
        holder.append(contextvars.copy_context())
        return [len(live())]

    sizes = []
    for _ in range(20):
        holder.clear()
        sizes += ab.run_sync(keep)
        for var, value in holder[0].items():
            var.set(value)
    assert set(sizes) == {1}  # the one wait in progress, never the finished ones


def test_explicit_backend_beats_a_parent_loop_of_the_other_library() -> None:
    """run_sync(..., backend="trio") in an asyncio worker runs on the trio portal."""
    import trio  # noqa: PLC0415

    async def on_trio() -> str:
        await trio.sleep(0)
        return "trio"

    async def on_asyncio() -> str:
        await asyncio.sleep(0)
        return "asyncio"

    def worker() -> tuple[str, str]:
        return ab.run_sync(on_trio, backend="trio"), ab.run_sync(on_asyncio)

    async def main() -> tuple[str, str]:
        return await ab.run_in_thread(worker)

    assert asyncio.run(main()) == ("trio", "asyncio")
