"""Property: any chain of sync and async layers bridges to the direct result."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import asyncbridge as ab

Layer = Callable[[int], Any]


def build_chain(kinds: list[bool]) -> Layer:
    """Layer i adds i to what the next layer returns; True means async."""
    nxt: Layer | None = None
    nxt_async = False
    for index in reversed(range(len(kinds))):
        nxt = make_layer(index, is_async=kinds[index], nxt=nxt, nxt_async=nxt_async)
        nxt_async = kinds[index]
    assert nxt is not None
    return nxt


def make_layer(
    index: int, *, is_async: bool, nxt: Layer | None, nxt_async: bool
) -> Layer:
    if is_async:

        async def async_layer(x: int) -> int:
            if nxt is None:
                return x + index
            if nxt_async:
                return await nxt(x) + index
            return await ab.run_in_thread(nxt, x) + index

        return async_layer

    def sync_layer(x: int) -> int:
        if nxt is None:
            return x + index
        if nxt_async:
            return ab.run_sync(nxt, x) + index
        return nxt(x) + index  # type: ignore[no-any-return]

    return sync_layer


def call_from_sync(kinds: list[bool], x: int, backend: str) -> int:
    first = build_chain(kinds)
    if kinds[0]:
        return ab.run_sync(first, x, backend=backend)  # type: ignore[arg-type]
    return first(x)  # type: ignore[no-any-return]


def expected(kinds: list[bool], x: int) -> int:
    return x + sum(range(len(kinds)))


@pytest.fixture(scope="module")
def thread_baseline() -> int:
    """Thread count after the deepest chains have warmed up portals and pools."""
    for backend in ("asyncio", "trio"):
        for first in (True, False):
            kinds = [(i % 2 == 0) == first for i in range(6)]
            assert call_from_sync(kinds, 0, backend) == expected(kinds, 0)
    return threading.active_count()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    kinds=st.lists(st.booleans(), min_size=1, max_size=6),
    x=st.integers(-1000, 1000),
    backend=st.sampled_from(["asyncio", "trio"]),
)
def test_chain_equals_direct_result(
    thread_baseline: int, kinds: list[bool], x: int, backend: str
) -> None:
    """A chain of up to 6 sync/async layers returns the direct result; threads stay put."""
    assert call_from_sync(kinds, x, backend) == expected(kinds, x)
    assert threading.active_count() <= thread_baseline


@settings(max_examples=30, deadline=None)
@given(kinds=st.lists(st.booleans(), min_size=1, max_size=6), x=st.integers())
def test_chain_from_a_worker_thread(kinds: list[bool], x: int) -> None:
    """The same chains work when started from a plain non-main thread."""
    out: list[int] = []
    worker = threading.Thread(
        target=lambda: out.append(call_from_sync(kinds, x, "asyncio"))
    )
    worker.start()
    worker.join()
    assert out == [expected(kinds, x)]


def test_chain_builder_is_faithful() -> None:
    """The model itself: a pure-sync chain needs no bridge."""
    kinds = [False] * 4
    layer: Callable[[int], int | Awaitable[int]] = build_chain(kinds)
    assert layer(1) == 1 + 0 + 1 + 2 + 3
