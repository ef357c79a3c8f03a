# pyright: standard
# pyright: reportUnnecessaryTypeIgnoreComment=true
"""Type-checked, never run: what `async_safe` and `mixed_execution_safe` keep.

A line ending in ``# type: ignore[<code>]`` must be an error: with mypy's
``warn_unused_ignores`` (part of --strict), an ignore that is not needed fails.

Both checkers apply ``@classmethod`` and ``@staticmethod`` before any other
decorator, whatever their position, and hand the plain function to ours: a
decorated classmethod is typed right through an instance (checked below, under
mypy and pyright) but keeps ``cls`` through the class, and a decorated
staticmethod is typed as a method (mypy drops its first parameter, pyright rejects
the instance). Those are runtime-correct and documented; they are not asserted.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Awaitable, Coroutine
from typing import Any, assert_type

import asyncbridge as ab
from asyncbridge.typing import (
    AsyncSafe,
    AsyncSafeDecorator,
    MixedExecutionSafe,
    MixedExecutionSafeDecorator,
    RetryDecorator,
)

# ------------------------------------------------------------------ async_safe


@ab.async_safe
async def fetch(x: int, *, label: str = "") -> str:
    return f"{label}{x}"


@ab.async_safe(timeout=5, on_loop_conflict="raise")
async def configured(x: int) -> bytes:
    return bytes(x)


@ab.async_safe()
def plain_sync(x: int, y: float = 1.0) -> float:
    return x * y


async def _coro(x: int) -> list[int]:
    return [x]


@ab.async_safe
def returns_awaitable(x: int) -> Awaitable[list[int]]:
    return _coro(x)


class Adder:
    async def __call__(self, a: int, b: int) -> int:
        return a + b


adder = ab.async_safe(Adder())


def check_async_safe_functions() -> None:
    assert_type(fetch(1), str)
    assert_type(fetch(1, label="n"), str)
    assert_type(configured(2), bytes)
    assert_type(plain_sync(1, 2.0), float)
    assert_type(returns_awaitable(3), list[int])
    assert_type(adder(1, 2), int)
    assert_type(fetch.aio(1), Coroutine[Any, Any, str]).close()
    fetch("1")  # type: ignore[arg-type]
    fetch(1, colour="red")  # type: ignore[call-arg]
    plain_sync.aio()  # type: ignore[call-arg,unused-coroutine]


async def check_async_safe_aio() -> None:
    assert_type(await fetch.aio(1, label="x"), str)
    assert_type(await plain_sync.aio(1), float)
    assert_type(await returns_awaitable.aio(1), list[int])
    assert_type(await adder.aio(1, 2), int)


# -------------------------------------------------------- mixed_execution_safe


@ab.mixed_execution_safe
def legacy(key: str, *, retries: int = 0) -> dict[str, int]:
    return {key: retries}


pool = concurrent.futures.ThreadPoolExecutor()


@ab.mixed_execution_safe(executor=pool, timeout=2.5)
def legacy_configured(n: int) -> int:
    return n


@ab.mixed_execution_safe(executor="default")
def legacy_by_name() -> None:
    return None


@ab.mixed_execution_safe
async def already_async(x: int) -> str:
    return str(x)


@ab.mixed_execution_safe
def legacy_awaitable(x: int) -> Awaitable[list[int]]:
    return _coro(x)


def check_mixed_functions() -> None:
    assert_type(legacy("k"), dict[str, int])
    assert_type(legacy("k", retries=2), dict[str, int])
    assert_type(legacy_configured(1), int)
    assert_type(legacy_by_name(), None)
    assert_type(legacy_awaitable(1), Awaitable[list[int]])
    legacy(1)  # type: ignore[arg-type]
    legacy_configured()  # type: ignore[call-arg]


async def check_mixed_aio() -> None:
    assert_type(await legacy.aio("k", retries=1), dict[str, int])
    assert_type(await legacy_configured.aio(3), int)
    assert_type(await already_async(1), str)
    assert_type(await already_async.aio(1), str)
    assert_type(await legacy_awaitable.aio(1), list[int])


# ------------------------------------------------------------------ methods


class Client:
    @ab.async_safe
    async def get(self, path: str) -> bytes:
        return path.encode()

    @ab.async_safe
    def size(self) -> int:
        return 0

    @ab.mixed_execution_safe
    def sync_call(self, n: int) -> list[str]:
        return [str(n)]

    @ab.async_safe
    @classmethod
    async def create(cls, url: str) -> Client:
        del url
        return cls()


def check_methods(client: Client) -> None:
    assert_type(client.get("/"), bytes)
    assert_type(Client.get(client, "/"), bytes)
    assert_type(client.size(), int)
    assert_type(client.sync_call(1), list[str])
    assert_type(client.create("u"), Client)
    client.get(1)  # type: ignore[arg-type]
    client.sync_call()  # type: ignore[call-arg]


async def check_method_aio(client: Client) -> None:
    assert_type(await client.get.aio("/"), bytes)
    assert_type(await client.size.aio(), int)
    assert_type(await client.sync_call.aio(2), list[str])
    assert_type(await Client.get.aio(client, "/"), bytes)


# -------------------------------------------------------------- composition


@ab.async_safe
@ab.mixed_execution_safe
@ab.async_retry(max_attempts=2)
def composed(x: int) -> str:
    return str(x)


@ab.async_retry(max_attempts=2)
@ab.mixed_execution_safe
@ab.async_safe
async def composed_async(x: int) -> str:
    return str(x)


def check_composition() -> None:
    assert_type(composed(1), str)
    assert_type(composed_async(1), str)


# ------------------------------------------- annotations with asyncbridge.typing


def call_safely(fn: AsyncSafe[[int], bytes], value: int) -> bytes:
    return fn(value)


def configured_decorator() -> AsyncSafeDecorator:
    return ab.async_safe(timeout=1.0)


def half(n: int) -> float:
    return n / 2


def check_annotations() -> None:
    assert_type(call_safely(configured, 1), bytes)
    call_safely(fetch, 1)  # type: ignore[arg-type]
    by_name: MixedExecutionSafe[[int], int, int] = legacy_configured
    assert_type(by_name(1), int)
    retry: RetryDecorator = ab.async_retry(max_attempts=2)
    assert_type(retry(plain_sync)(1), float)
    mixed: MixedExecutionSafeDecorator = ab.mixed_execution_safe(timeout=1.0)
    assert_type(mixed(half)(1), float)
    assert_type(configured_decorator()(half)(1), float)
