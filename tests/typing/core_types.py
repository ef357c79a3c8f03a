# pyright: standard
# pyright: reportUnnecessaryTypeIgnoreComment=true
"""Static checks of the core API: type-checked by mypy --strict, never run."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Mapping
from typing import Literal, assert_type

import anyio
import trio

import asyncbridge as ab
from asyncbridge.typing import BackendName, ConflictPolicy, Settings, SyncLoopMode


async def fetch(url: str, retries: int) -> bytes:
    return url.encode() * retries


def parse(data: bytes, *, strict: bool = False) -> dict[str, int]:
    return {"n": len(data), "strict": int(strict)}


def sync_side() -> None:
    assert_type(ab.run_sync(fetch, "u", 2), bytes)
    assert_type(ab.run_sync(fetch("u", 2)), bytes)
    assert_type(ab.run_sync(fetch, "u", 2, timeout=1.0, backend="trio"), bytes)
    fetch_sync = ab.syncify(fetch)
    assert_type(fetch_sync("u", retries=3), bytes)
    assert_type(ab.get_context(), ab.ExecutionContext)
    assert_type(ab.current_backend(), Literal["asyncio", "trio"] | None)
    assert_type(ab.is_async_callable(fetch), bool)
    assert_type(ab.executors.get(), concurrent.futures.Executor)
    assert_type(ab.executors.dedicated("db"), concurrent.futures.Executor)
    assert_type(ab.executors.stats(), Mapping[str, ab.executors.ExecutorStats])
    assert_type(ab.configure(exit_grace=1.0), Settings)
    assert_type(ab.current_backend(), BackendName | None)


async def async_side() -> None:
    assert_type(await ab.run_in_thread(parse, b"x"), dict[str, int])
    assert_type(
        await ab.run_in_thread(
            parse, b"x", executor="db", limiter=anyio.CapacityLimiter(2)
        ),
        dict[str, int],
    )
    parse_async = ab.asyncify(parse)
    assert_type(await parse_async(b"x", strict=True), dict[str, int])
    await parse_async(b"x", True)  # type: ignore[call-arg]


def bad_calls() -> None:
    ab.run_sync(fetch, "u")  # type: ignore[arg-type]
    ab.run_sync(fetch, 1, 2)  # type: ignore[arg-type, call-arg]
    ab.syncify(fetch)(1, 2)  # type: ignore[arg-type]


async def bad_async_calls() -> None:
    await ab.run_in_thread(parse, "not bytes")  # type: ignore[arg-type]


async def greenlet_side() -> None:
    assert_type(await ab.run_in_greenlet(fetch, "u", 2), bytes)
    loop = asyncio.get_running_loop()
    loop.set_task_factory(ab.greenlet_task_factory)
    assert_type(ab.greenlet_task_factory(loop, fetch("u", 1)), asyncio.Task[bytes])
    instruments: list[trio.abc.Instrument] = [ab.GreenletInstrument()]
    assert_type(instruments, list[trio.abc.Instrument])


def settings_side(policy: ConflictPolicy, mode: SyncLoopMode) -> None:
    previous = ab.configure(on_loop_conflict=policy, sync_loop=mode)
    assert_type(previous.get("sync_loop"), SyncLoopMode | None)
    ab.configure(**previous)  # restores what it changed
    ab.configure(debug_wait_threshold=None, default_workers=8)
    ab.configure(sync_loop="process")  # type: ignore[arg-type]
    ab.configure(default_workers="8")  # type: ignore[arg-type]
    ab.configure(colour="blue")  # type: ignore[call-arg]
    ab.configure("thread")  # type: ignore[call-arg]
    ab.syncify(fetch, backend="curio")  # type: ignore[arg-type]
