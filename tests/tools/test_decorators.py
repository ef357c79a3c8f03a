"""async_safe and mixed_execution_safe: the seed's decorators."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import inspect
import logging
import threading
import traceback
import types
from typing import Any

import anyio
import pytest
import sniffio
import trio

import asyncbridge as ab

pytestmark = pytest.mark.anyio

request_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "request_id", default="-"
)


async def loop_identity() -> tuple[int, object]:
    await anyio.sleep(0)
    if ab.current_backend() == "trio":
        return threading.get_ident(), trio.lowlevel.current_trio_token()
    return threading.get_ident(), asyncio.get_running_loop()


def returns_coroutine() -> Any:
    """A sync function that returns a coroutine (the seed's async_safe use)."""
    return loop_identity()


async def twice(x: int) -> int:
    await anyio.sleep(0)
    return 2 * x


class BoomError(Exception):
    pass


class Ready:
    """An awaitable that is not a coroutine."""

    def __init__(self, value: object) -> None:
        self.value = value

    def __await__(self):  # type: ignore[no-untyped-def]
        yield from ()
        return self.value


# ====================================================================== async_safe

# ------------------------------------------------------------ sync callers


def test_bare_async_function_returns_value() -> None:
    """@async_safe on an async def gives a sync function returning its value."""

    @ab.async_safe
    async def fetch(key: str, *, suffix: str = "") -> str:
        await anyio.sleep(0)
        return key.upper() + suffix

    assert fetch("a") == "A"
    assert fetch("b", suffix="!") == "B!"


def test_configured_and_empty_parentheses() -> None:
    """@async_safe() and @async_safe(timeout=..., on_loop_conflict=...) work too."""

    @ab.async_safe()
    async def one() -> int:
        return 1

    @ab.async_safe(timeout=30, on_loop_conflict="raise")
    async def two() -> int:
        return 2

    assert (one(), two()) == (1, 2)
    assert "timeout=30.0" in repr(ab.async_safe(timeout=30))


def test_sync_value_passes_through_untouched() -> None:
    """A sync result comes back as the same object, from one call in this thread."""
    calls: list[int] = []
    value = {"big": object()}

    @ab.async_safe
    def compute(n: int) -> dict[str, object]:
        calls.append(threading.get_ident())
        return value

    assert compute(1) is value
    assert calls == [threading.get_ident()]


def test_unknown_plain_type_passes_through() -> None:
    """A value of a type never seen before is learnt as plain and returned as is."""

    class Point:
        pass

    point = Point()
    safe = ab.async_safe(lambda: point)
    assert safe() is point
    assert safe() is point


def test_sync_function_returning_coroutine_is_run() -> None:
    """A sync function that returns a coroutine gets the coroutine's value."""

    @ab.async_safe
    def legacy(x: int):  # type: ignore[no-untyped-def]
        return twice(x)

    assert legacy(21) == 42


def test_sync_function_returning_other_awaitable_is_run() -> None:
    """Any awaitable result (not only coroutines) is run to its value."""
    assert ab.async_safe(lambda: Ready("done"))() == "done"


def test_generator_based_coroutine_is_run() -> None:
    """A @types.coroutine generator result is awaitable and is run."""

    @types.coroutine
    def old_style():  # type: ignore[no-untyped-def]
        yield from asyncio.sleep(0).__await__()
        return "old"

    assert ab.async_safe(old_style)() == "old"


def test_sync_generator_result_passes_through() -> None:
    """A plain generator is not awaitable: it is returned as is."""

    def numbers():  # type: ignore[no-untyped-def]
        yield 1
        yield 2

    assert list(ab.async_safe(numbers)()) == [1, 2]


def test_async_exception_propagates_unchanged() -> None:
    """What the coroutine raised comes out as the same type with its frames."""

    @ab.async_safe
    async def fail() -> None:
        await anyio.sleep(0)
        raise BoomError("async")

    with pytest.raises(BoomError, match="async") as info:
        fail()
    assert traceback.extract_tb(info.value.__traceback__)[-1].name == "fail"


def test_sync_exception_propagates_unchanged() -> None:
    """A sync function's exception is the very same object, raised once."""
    error = BoomError("sync")
    calls: list[int] = []

    @ab.async_safe
    def fail() -> None:
        calls.append(1)
        raise error

    with pytest.raises(BoomError) as info:
        fail()
    assert info.value is error
    assert calls == [1]


def test_timeout_cancels_and_runs_cleanup() -> None:
    """A timeout cancels the coroutine, lets its cleanup run, raises TimeoutError."""
    cleaned = threading.Event()

    @ab.async_safe(timeout=0.05)
    async def stuck() -> None:
        try:
            await anyio.Event().wait()
        finally:
            cleaned.set()

    with pytest.raises(TimeoutError):
        stuck()
    assert cleaned.is_set()


def test_timeout_applies_to_returned_awaitable() -> None:
    """For a sync function, timeout bounds the awaitable it returned."""

    async def forever() -> None:
        await anyio.Event().wait()

    with pytest.raises(TimeoutError):
        ab.async_safe(timeout=0.05)(forever)()


def test_contextvars_reach_the_coroutine() -> None:
    """The coroutine sees a copy of the caller's contextvars."""

    @ab.async_safe
    async def read() -> str:
        return request_id.get()

    token = request_id.set("r-1")
    try:
        assert read() == "r-1"
    finally:
        request_id.reset(token)


def test_metadata_and_signature_preserved() -> None:
    """Name, docstring, __wrapped__ and signature are the function's, .aio's too."""

    async def fetch(url: str, *, retries: int = 3) -> bytes:
        """Fetch a URL."""
        return b""

    safe = ab.async_safe(fetch)
    for wrapper in (safe, safe.aio):
        assert wrapper.__name__ == "fetch"
        assert wrapper.__doc__ == "Fetch a URL."
        assert wrapper.__wrapped__ is fetch
        assert inspect.signature(wrapper) == inspect.signature(fetch)
    assert not ab.is_async_callable(safe)
    assert not inspect.iscoroutinefunction(safe)
    assert inspect.iscoroutinefunction(safe.aio)


def test_async_markers_not_copied_to_sync_wrapper() -> None:
    """A wrapper of an asyncbridge-marked async callable is not itself marked."""

    def marked() -> Any:
        return twice(1)

    marked.__asyncbridge_awaitable_result__ = True  # type: ignore[attr-defined]
    assert ab.is_async_callable(marked)
    safe = ab.async_safe(marked)
    assert not ab.is_async_callable(safe)
    assert safe() == 2


def test_async_generator_function_is_refused() -> None:
    """An async generator function is a TypeError at decoration time."""

    async def agen():  # type: ignore[no-untyped-def]
        yield 1

    with pytest.raises(TypeError, match="async generator"):
        ab.async_safe(agen)


def test_coroutine_object_is_closed_and_refused() -> None:
    """Decorating a coroutine object closes it and hints at the parentheses."""
    coro = twice(1)
    with pytest.raises(TypeError, match="notice the parentheses"):
        ab.async_safe(coro)  # type: ignore[call-overload]
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"timeout": "1"}, TypeError, "timeout"),
        ({"timeout": -1}, ValueError, "timeout"),
        ({"timeout": float("nan")}, ValueError, "timeout"),
        ({"on_loop_conflict": "ignore"}, ValueError, "on_loop_conflict"),
    ],
)
def test_bad_settings_fail_at_decoration(
    options: dict[str, Any], error: type[Exception], match: str
) -> None:
    """Bad settings raise when the decorator is made, naming the parameter."""
    with pytest.raises(error, match=match):
        ab.async_safe(**options)


def test_non_callable_is_refused() -> None:
    """Decorating a non-callable (an option passed positionally) is a TypeError."""
    with pytest.raises(TypeError, match="can only decorate a callable"):
        ab.async_safe(5)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="can only decorate a callable"):
        ab.async_safe(timeout=1)(5)  # type: ignore[call-overload]


# --------------------------------------------------------------- methods


class Account:
    """A class with every kind of method decorated."""

    rate = 2

    def __init__(self, balance: int) -> None:
        self.balance = balance

    @ab.async_safe
    async def deposit(self, amount: int) -> int:
        """Add to the balance."""
        await anyio.sleep(0)
        self.balance += amount
        return self.balance

    @ab.async_safe
    def total(self, extra: int = 0) -> int:
        return self.balance + extra

    @ab.async_safe
    @classmethod
    async def scaled(cls, x: int) -> int:
        await anyio.sleep(0)
        return cls.rate * x

    @ab.async_safe
    @staticmethod
    async def echo(x: int) -> int:
        await anyio.sleep(0)
        return x

    @ab.mixed_execution_safe
    def legacy_interest(self, years: int) -> int:
        return asyncio.run(twice(self.balance * years))


def test_methods_bind_like_functions() -> None:
    """Instance, class and static methods are called with the right first argument."""
    account = Account(10)
    assert account.deposit(5) == 15
    assert Account.deposit(account, 5) == 20
    assert account.total() == 20
    assert Account.scaled(3) == 6
    assert account.scaled(4) == 8
    assert Account.echo(7) == 7
    assert account.echo(8) == 8
    assert account.legacy_interest(2) == 80


def test_method_aio_is_bound() -> None:
    """obj.method.aio(...) binds self (cls for classmethods) like the call does."""
    account = Account(1)

    async def main() -> tuple[int, ...]:
        return (
            await account.deposit.aio(2),
            await account.total.aio(10),
            await Account.scaled.aio(5),
            await account.scaled.aio(6),
            await account.echo.aio(9),
            await Account.deposit.aio(account, 1),
            await account.legacy_interest.aio(1),
        )

    assert asyncio.run(main()) == (3, 13, 10, 12, 9, 4, 8)


def test_bound_method_metadata() -> None:
    """A bound decorated method has the method's name, doc and bound signature."""
    account = Account(0)
    bound = account.deposit
    assert bound.__name__ == "deposit"
    assert bound.__doc__ == "Add to the balance."
    assert bound.__self__ is account
    unbound = inspect.signature(Account.deposit.__wrapped__)
    expected = unbound.replace(parameters=list(unbound.parameters.values())[1:])
    assert inspect.signature(bound) == expected
    assert inspect.signature(bound.aio) == expected
    assert inspect.iscoroutinefunction(bound.aio)
    assert bound == account.deposit
    assert hash(bound) == hash(account.deposit)
    assert bound != Account(0).deposit
    assert "Account.deposit" in repr(bound)
    assert inspect.signature(Account.deposit) == unbound


def test_instance_attribute_shadows_method() -> None:
    """Like a plain method, an instance attribute of the same name wins (mocking)."""
    account = Account(0)
    account.total = lambda *_: -1  # type: ignore[method-assign]
    assert account.total() == -1


def test_callable_objects() -> None:
    """Objects with a sync or async __call__ are decorated like functions."""

    class AsyncAdder:
        async def __call__(self, a: int, b: int) -> int:
            await anyio.sleep(0)
            return a + b

    class SyncAdder:
        def __call__(self, a: int, b: int) -> int:
            return a + b

    async_adder = ab.async_safe(AsyncAdder())
    sync_adder = ab.async_safe(SyncAdder())
    assert async_adder(1, 2) == sync_adder(1, 2) == 3
    assert inspect.signature(async_adder) == inspect.signature(
        AsyncAdder.__call__.__get__(AsyncAdder())
    )
    assert asyncio.run(async_adder.aio(2, 2)) == asyncio.run(sync_adder.aio(2, 2)) == 4


# ------------------------------------------------------------ async callers


async def test_aio_awaits_async_function_on_callers_loop(anyio_backend: object) -> None:
    """.aio of an async function runs it on the caller's own loop and thread."""
    safe = ab.async_safe(loop_identity)
    assert await safe.aio() == await loop_identity()


async def test_aio_runs_sync_function_in_thread_without_blocking(
    anyio_backend: object,
) -> None:
    """.aio of a sync function runs it in a worker while the loop keeps running."""
    release = threading.Event()

    @ab.async_safe
    def wait_for_release() -> int:
        assert release.wait(10)
        return threading.get_ident()

    async def unblock() -> None:
        await anyio.sleep(0)
        release.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(unblock)
        assert await wait_for_release.aio() != threading.get_ident()


async def test_aio_awaits_returned_awaitable_on_callers_loop(
    anyio_backend: object,
) -> None:
    """.aio of a sync function awaits the coroutine it returns on the caller's loop."""
    safe = ab.async_safe(returns_coroutine)
    assert await safe.aio() == await loop_identity()


async def test_aio_exception_unchanged(anyio_backend: object) -> None:
    """.aio raises what the function raised, sync or async."""
    error = BoomError("x")

    def sync_fail() -> None:
        raise error

    async def async_fail() -> None:
        raise error

    for fn in (sync_fail, async_fail):
        with pytest.raises(BoomError) as info:
            await ab.async_safe(fn).aio()
        assert info.value is error


async def test_aio_timeout(anyio_backend: object) -> None:
    """.aio applies the timeout to the coroutine and raises TimeoutError."""

    @ab.async_safe(timeout=0.05)
    async def stuck() -> None:
        await anyio.Event().wait()

    with pytest.raises(TimeoutError):
        await stuck.aio()


async def test_sync_call_in_loop_warns_at_call_site(anyio_backend: object) -> None:
    """Called from a coroutine, it works and LoopBlockedWarning names this line."""
    safe = ab.async_safe(twice)
    with pytest.warns(ab.LoopBlockedWarning) as record:
        assert safe(4) == 8
    assert record[0].filename == __file__


async def test_sync_call_through_bound_method_warns_at_call_site(
    anyio_backend: object,
) -> None:
    """Through a bound method and composed wrappers, the warning still names this line."""
    with pytest.warns(ab.LoopBlockedWarning) as record:
        assert Account(1).deposit(1) == 2
    assert record[0].filename == __file__
    composed = ab.async_safe(ab.mixed_execution_safe(ab.async_safe(twice)))
    with pytest.warns(ab.LoopBlockedWarning) as record:
        assert composed(2) == 4
    assert {w.filename for w in record} == {__file__}


async def test_raise_policy_in_loop(anyio_backend: object) -> None:
    """on_loop_conflict='raise' raises LoopConflictError; no coroutine is left open."""
    coros: list[Any] = []

    def make() -> Any:
        coros.append(twice(1))
        return coros[-1]

    with pytest.raises(ab.LoopConflictError):
        ab.async_safe(on_loop_conflict="raise")(twice)(1)
    with pytest.raises(ab.LoopConflictError):
        ab.async_safe(on_loop_conflict="raise")(make)()
    assert inspect.getcoroutinestate(coros[0]) == inspect.CORO_CLOSED


async def test_called_from_worker_runs_on_callers_loop(anyio_backend: object) -> None:
    """Called in a run_in_thread worker, the coroutine runs on the caller's loop."""
    safe = ab.async_safe(loop_identity)
    assert await ab.run_in_thread(safe) == await loop_identity()


# ============================================================ mixed_execution_safe


async def _double(x: int) -> int:
    await asyncio.sleep(0)
    return 2 * x


async def _anyio_double(x: int) -> int:
    await anyio.sleep(0)
    return 2 * x


def sdk_asyncio_run(x: int) -> int:
    """A legacy SDK call: runs its own loop with asyncio.run()."""
    return asyncio.run(_double(x))


def sdk_run_until_complete(x: int) -> int:
    """A legacy SDK call: drives a fresh loop with run_until_complete()."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(_double(x))
    finally:
        loop.close()


def sdk_anyio_run(x: int) -> int:
    """A legacy SDK call: runs its own loop with anyio.run()."""
    return anyio.run(_anyio_double, x)


SDKS = [sdk_asyncio_run, sdk_run_until_complete, sdk_anyio_run]


# ------------------------------------------------------------ sync callers


def test_inline_outside_loop() -> None:
    """Outside a running loop the call runs inline, in the calling thread."""

    @ab.mixed_execution_safe
    def where() -> int:
        return threading.get_ident()

    assert where() == threading.get_ident()


@pytest.mark.parametrize("sdk", SDKS, ids=lambda f: f.__name__)
def test_legacy_sdk_outside_loop(sdk: Any) -> None:
    """A legacy SDK that runs its own loop works from plain sync code."""
    assert ab.mixed_execution_safe(sdk)(5) == 10


def test_mixed_configured_and_empty_parentheses() -> None:
    """@mixed_execution_safe() and with options work like the bare form."""
    pool = concurrent.futures.ThreadPoolExecutor(1)
    try:
        assert ab.mixed_execution_safe()(sdk_asyncio_run)(1) == 2
        decorator = ab.mixed_execution_safe(executor=pool, timeout=30)
        assert decorator(sdk_asyncio_run)(2) == 4
        assert "timeout=30.0" in repr(decorator)
    finally:
        pool.shutdown()


def test_mixed_metadata_preserved() -> None:
    """Name, docstring, __wrapped__ and signature are kept, on .aio too."""
    safe = ab.mixed_execution_safe(sdk_asyncio_run)
    for wrapper in (safe, safe.aio):
        assert wrapper.__name__ == "sdk_asyncio_run"
        assert wrapper.__doc__ == sdk_asyncio_run.__doc__
        assert wrapper.__wrapped__ is sdk_asyncio_run
        assert inspect.signature(wrapper) == inspect.signature(sdk_asyncio_run)
    assert not ab.is_async_callable(safe)
    assert inspect.iscoroutinefunction(safe.aio)


def test_mixed_exception_unchanged_and_called_once() -> None:
    """A failing call raises its own exception once; it is never called again."""
    calls: list[int] = []
    error = BoomError("legacy")

    @ab.mixed_execution_safe
    def fail() -> None:
        calls.append(1)
        raise error

    with pytest.raises(BoomError) as info:
        fail()
    assert info.value is error
    assert calls == [1]


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"timeout": "1"}, TypeError, "timeout"),
        ({"timeout": -0.5}, ValueError, "timeout"),
        ({"executor": 3}, TypeError, "executor"),
        ({"executor": ""}, ValueError, "executor"),
    ],
)
def test_mixed_bad_settings_fail_at_decoration(
    options: dict[str, Any], error: type[Exception], match: str
) -> None:
    """Bad settings raise when the decorator is made, naming the parameter."""
    with pytest.raises(error, match=match):
        ab.mixed_execution_safe(**options)


def test_mixed_refuses_what_it_cannot_protect() -> None:
    """Non-callables, coroutine objects and generator functions are TypeErrors."""

    def gen():  # type: ignore[no-untyped-def]
        yield 1

    async def agen():  # type: ignore[no-untyped-def]
        yield 1

    coro = twice(1)
    with pytest.raises(TypeError, match="notice the parentheses"):
        ab.mixed_execution_safe(coro)  # type: ignore[call-overload]
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED
    with pytest.raises(TypeError, match="can only decorate a callable"):
        ab.mixed_execution_safe("default")  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="generator function"):
        ab.mixed_execution_safe(gen)
    with pytest.raises(TypeError, match="async generator"):
        ab.mixed_execution_safe(agen)


def test_mixed_async_function_stays_async() -> None:
    """An async def function is passed through: still async, awaited where called."""
    safe = ab.mixed_execution_safe(loop_identity)
    assert inspect.iscoroutinefunction(safe)
    assert ab.is_async_callable(safe)
    assert asyncio.run(safe())[0] == threading.get_ident()
    assert asyncio.run(safe.aio())[0] == threading.get_ident()


# ------------------------------------------------------------ async callers


@pytest.mark.parametrize("sdk", SDKS, ids=lambda f: f.__name__)
async def test_legacy_sdk_called_from_coroutine(
    anyio_backend: object, sdk: Any
) -> None:
    """A legacy SDK running its own loop works when called straight from a coroutine.

    The caller's loop is blocked for the call (LoopBlockedWarning), not stopped: a
    task started before it and a loop-bound channel keep working afterwards.
    """
    safe = ab.mixed_execution_safe(sdk)
    send, receive = anyio.create_memory_object_stream[int](1)
    gate, ticked = anyio.Event(), anyio.Event()

    async def ticker() -> None:
        await gate.wait()
        ticked.set()

    async with anyio.create_task_group() as tg, send, receive:
        tg.start_soon(ticker)
        with pytest.warns(ab.LoopBlockedWarning, match=sdk.__name__) as record:
            assert safe(21) == 42
        assert record[0].filename == __file__
        gate.set()
        with anyio.fail_after(10):
            await ticked.wait()
        await send.send(7)
        assert await receive.receive() == 7


async def test_undecorated_sdk_fails_from_coroutine(anyio_backend: object) -> None:
    """Without the decorator the same SDK call fails: the case is real."""
    with pytest.raises(RuntimeError, match=r"[Aa]lready running"):
        sdk_anyio_run(1)


async def test_worker_is_clean(anyio_backend: object) -> None:
    """The off-loop call runs in a thread that works for no loop, sniffio included."""

    @ab.mixed_execution_safe
    def inspect_thread() -> tuple[ab.ExecutionContext, bool]:
        try:
            sniffio.current_async_library()
        except sniffio.AsyncLibraryNotFoundError:
            async_context = False
        else:
            async_context = True
        return ab.get_context(), async_context

    with pytest.warns(ab.LoopBlockedWarning):
        context, async_context = inspect_thread()
    assert context.thread_name != threading.current_thread().name
    assert not context.loop_running
    assert not context.is_worker
    assert context.parent_loop is None
    assert not async_context


async def test_run_sync_inside_legacy_code_does_not_deadlock(
    anyio_backend: object,
) -> None:
    """run_sync in the off-loop call goes to the portal, not to the blocked loop."""

    @ab.mixed_execution_safe
    def legacy() -> tuple[str, str]:
        direct = ab.run_sync(thread_name)

        async def nested() -> str:
            return ab.run_sync(thread_name)  # from inside the SDK's own loop

        return direct, asyncio.run(nested())

    with pytest.warns(ab.LoopBlockedWarning):
        direct, nested = legacy()
    assert direct.startswith("asyncbridge-portal")
    assert nested.startswith("asyncbridge-portal")


async def thread_name() -> str:
    return threading.current_thread().name


async def test_mixed_exception_in_loop_unchanged_and_called_once(
    anyio_backend: object,
) -> None:
    """Off-thread, the exception is the same object and the function ran once."""
    calls: list[int] = []
    error = BoomError("legacy")

    @ab.mixed_execution_safe
    def fail() -> None:
        calls.append(1)
        raise error

    with pytest.warns(ab.LoopBlockedWarning), pytest.raises(BoomError) as info:
        fail()
    assert info.value is error
    assert calls == [1]
    assert traceback.extract_tb(info.value.__traceback__)[-1].name == "fail"


async def test_timeout_leaves_running_thread_to_finish(anyio_backend: object) -> None:
    """On timeout the caller gets TimeoutError; the thread runs on and then ends."""
    release, finished = threading.Event(), threading.Event()

    @ab.mixed_execution_safe(timeout=0.05)
    def stuck() -> None:
        release.wait(10)
        finished.set()

    with (
        pytest.warns(ab.LoopBlockedWarning),
        pytest.raises(TimeoutError, match="cannot be stopped"),
    ):
        stuck()
    release.set()
    assert finished.wait(10)


async def test_timeout_before_start_withdraws_the_call(anyio_backend: object) -> None:
    """A call still queued when the timeout passes never runs."""
    ran = threading.Event()
    release = threading.Event()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        blocker = pool.submit(release.wait, 10)

        @ab.mixed_execution_safe(executor=pool, timeout=0.05)
        def queued() -> None:
            ran.set()

        with (
            pytest.warns(ab.LoopBlockedWarning),
            pytest.raises(TimeoutError, match="never will"),
        ):
            queued()
        release.set()
        blocker.result()
        pool.submit(int).result()  # the queue has drained
    assert not ran.is_set()


async def test_executor_option(anyio_backend: object) -> None:
    """executor= chooses where the off-loop call runs (an Executor or a name)."""
    with concurrent.futures.ThreadPoolExecutor(
        1, thread_name_prefix="legacy-pool"
    ) as pool:
        by_object = ab.mixed_execution_safe(executor=pool)(current_thread_name)
        by_name = ab.mixed_execution_safe(executor="default")(current_thread_name)
        with pytest.warns(ab.LoopBlockedWarning):
            names = by_object(), by_name()
        assert names[0].startswith("legacy-pool")
        assert names[1].startswith("asyncbridge-default")
        assert (await by_object.aio()).startswith("legacy-pool")


def current_thread_name() -> str:
    return threading.current_thread().name


async def test_contextvars_copied_into_worker(anyio_backend: object) -> None:
    """The off-loop call and .aio see the caller's contextvars."""
    read = ab.mixed_execution_safe(request_id.get)
    token = request_id.set("r-2")
    try:
        with pytest.warns(ab.LoopBlockedWarning):
            assert read() == "r-2"
        assert await read.aio() == "r-2"
    finally:
        request_id.reset(token)


@pytest.mark.parametrize("sdk", SDKS, ids=lambda f: f.__name__)
async def test_aio_runs_legacy_sdk_without_blocking(
    anyio_backend: object, sdk: Any
) -> None:
    """.aio runs the SDK in a worker thread, with no warning: the loop keeps running."""
    assert await ab.mixed_execution_safe(sdk).aio(4) == 8


async def test_mixed_aio_does_not_block_loop(anyio_backend: object) -> None:
    """While .aio waits for the thread, other tasks run (they release it)."""
    release = threading.Event()

    @ab.mixed_execution_safe
    def wait_for_release() -> bool:
        return release.wait(10)

    async def unblock() -> None:
        await anyio.sleep(0)
        release.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(unblock)
        assert await wait_for_release.aio() is True


async def test_mixed_aio_routes_run_sync_to_callers_loop(anyio_backend: object) -> None:
    """In .aio's worker, run_sync goes back to the (free) caller's loop."""
    legacy = ab.mixed_execution_safe(lambda: ab.run_sync(loop_identity))
    assert await legacy.aio() == await loop_identity()


async def test_mixed_aio_timeout(anyio_backend: object) -> None:
    """.aio with a timeout releases the caller with TimeoutError."""
    release, finished = threading.Event(), threading.Event()

    @ab.mixed_execution_safe(timeout=0.05)
    def stuck() -> None:
        release.wait(10)
        finished.set()

    with pytest.raises(TimeoutError):
        await stuck.aio()
    release.set()
    assert finished.wait(10)


async def test_mixed_aio_awaits_returned_awaitable(anyio_backend: object) -> None:
    """.aio awaits an awaitable the function returns, on the caller's loop."""
    legacy = ab.mixed_execution_safe(returns_coroutine)
    assert await legacy.aio() == await loop_identity()


async def test_mixed_async_target_runs_on_callers_loop(anyio_backend: object) -> None:
    """An async target is awaited on the caller's loop, directly or through .aio."""
    safe = ab.mixed_execution_safe(loop_identity)
    here = await loop_identity()
    assert await safe() == here
    assert await safe.aio() == here


async def test_mixed_method_in_loop(anyio_backend: object) -> None:
    """A decorated method works off-loop and through its bound .aio."""
    account = Account(3)
    with pytest.warns(ab.LoopBlockedWarning):
        assert account.legacy_interest(1) == 6
    assert await account.legacy_interest.aio(2) == 12


async def test_error_after_timeout_is_logged(anyio_backend: object) -> None:
    """An exception raised after the caller timed out is logged, not lost."""
    release = threading.Event()
    logged: list[logging.LogRecord] = []
    was_logged = threading.Event()

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            logged.append(record)
            was_logged.set()

    @ab.mixed_execution_safe(timeout=0.05)
    def fails_late() -> None:
        release.wait(10)
        raise BoomError("late")

    handler = Collect()
    logging.getLogger("asyncbridge").addHandler(handler)
    try:
        with pytest.warns(ab.LoopBlockedWarning), pytest.raises(TimeoutError):
            fails_late()
        release.set()
        assert was_logged.wait(10)
    finally:
        logging.getLogger("asyncbridge").removeHandler(handler)
    assert "raised after its caller stopped waiting" in logged[0].getMessage()
    assert isinstance(logged[0].exc_info[1], BoomError)  # type: ignore[index]


def test_descriptor_through_class_dict() -> None:
    """The method descriptor itself is callable, has an unbound .aio and a repr."""
    descriptor = Account.__dict__["total"]
    account = Account(5)
    assert descriptor(account, 1) == 6
    assert asyncio.run(descriptor.aio(account, 2)) == 7
    assert "Account.total" in repr(descriptor)
    assert account.total.__func__ is Account.total


def test_partial_of_async_function() -> None:
    """A functools.partial of an async function is treated as async."""
    import functools  # noqa: PLC0415

    safe = ab.async_safe(functools.partial(twice, 4))
    assert safe() == 8
    assert asyncio.run(safe.aio()) == 8


def test_legacy_code_on_the_portal_calling_run_sync_does_not_deadlock() -> None:
    """A coroutine on the portal calls mixed_execution_safe code that calls run_sync."""

    async def one() -> int:
        return 1

    @ab.mixed_execution_safe
    def legacy() -> int:
        return ab.run_sync(one) + ab.run_sync(one, backend="trio")

    async def on_portal() -> int:
        with pytest.warns(ab.LoopBlockedWarning):
            return legacy()

    assert ab.run_sync(on_portal) == 2


def test_retry_around_async_safe_has_no_stale_aio() -> None:
    """async_retry over an async_safe function does not expose the inner .aio."""

    @ab.async_safe
    def flaky() -> int:
        return 1

    retried = ab.async_retry(max_attempts=2, wait=0)(flaky)
    assert not hasattr(retried, "aio")
    assert ab.syncify(ab.async_retry(max_attempts=2, wait=0)(flaky.aio))() == 1
