"""Detection: current_backend, in_async_context, is_async_callable, get_context."""

from __future__ import annotations

import asyncio
import functools
import re
import threading

import anyio
import pytest
import trio

import asyncbridge as ab


def test_nothing_running_in_plain_sync_code() -> None:
    """Outside any loop: no backend, no async context, not a worker, not the portal."""
    assert ab.current_backend() is None
    assert not ab.in_async_context()
    ctx = ab.get_context()
    assert ctx == ab.ExecutionContext(
        thread_name=threading.current_thread().name,
        backend=None,
        loop_running=False,
        is_worker=False,
        parent_loop=None,
        is_portal=False,
    )


@pytest.mark.anyio
async def test_backend_inside_loops(
    anyio_backend: tuple[str, dict[str, object]],
) -> None:
    """Inside a loop, the backend and async context are reported."""
    assert ab.current_backend() == anyio_backend[0]
    assert ab.in_async_context()
    assert ab.get_context().loop_running


def test_uvloop_counts_as_asyncio() -> None:
    """A uvloop loop is reported as asyncio."""
    uvloop = pytest.importorskip("uvloop")

    async def probe() -> str | None:
        return ab.current_backend()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(probe()) == "asyncio"


def test_worker_threads_are_not_async_contexts() -> None:
    """A worker thread started from a loop runs no loop itself."""

    async def main() -> tuple[str | None, bool]:
        return await anyio.to_thread.run_sync(
            lambda: (ab.current_backend(), ab.in_async_context())
        )

    assert asyncio.run(main()) == (None, False)
    assert trio.run(main) == (None, False)


def test_portal_context() -> None:
    """Code running on the portal sees a running loop and is_portal."""

    async def probe() -> ab.ExecutionContext:
        return ab.get_context()

    ctx = ab.run_sync(probe)
    assert ctx.is_portal
    assert ctx.loop_running
    assert ctx.thread_name.startswith("asyncbridge-portal")


def test_anyio_and_trio_workers_are_reported() -> None:
    """anyio and trio worker threads report is_worker and their parent loop."""

    async def on_asyncio() -> None:
        ctx = await anyio.to_thread.run_sync(ab.get_context)
        assert ctx.is_worker
        assert ctx.parent_loop is asyncio.get_running_loop()

    async def on_trio() -> None:
        token = trio.lowlevel.current_trio_token()
        for ctx in (
            await trio.to_thread.run_sync(ab.get_context),
            await anyio.to_thread.run_sync(ab.get_context),
        ):
            assert ctx.is_worker
            assert ctx.parent_loop is token

    asyncio.run(on_asyncio())
    trio.run(on_trio)


class _AsyncCallable:
    async def __call__(self) -> None:
        pass


class _SyncCallable:
    def __call__(self) -> None:
        pass


async def _coro_fn() -> None:
    pass


async def _agen_fn():  # type: ignore[no-untyped-def]
    yield 1


class _Methods:
    async def amethod(self) -> None:
        pass

    def smethod(self) -> None:
        pass

    @classmethod
    async def aclass(cls) -> None:
        pass

    @staticmethod
    async def astatic() -> None:
        pass


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (_coro_fn, True),
        (functools.partial(_coro_fn), True),
        (functools.partial(functools.partial(_coro_fn)), True),
        (_Methods().amethod, True),
        (_Methods.aclass, True),
        (_Methods.astatic, True),
        (_AsyncCallable(), True),
        (ab.asyncify(print), True),
        (_agen_fn, False),
        (_Methods().smethod, False),
        (_SyncCallable(), False),
        (_AsyncCallable, False),
        (print, False),
        (lambda: _coro_fn(), False),  # noqa: PLW0108  (sync, returns a coroutine)
        (42, False),
        (None, False),
    ],
    ids=lambda value: re.sub(r" (object )?at 0x[0-9a-f]+", "", repr(value)),  # stable
)
def test_is_async_callable(obj: object, expected: bool) -> None:
    """is_async_callable answers for functions, methods, partials, objects, wrappers."""
    assert ab.is_async_callable(obj) is expected
