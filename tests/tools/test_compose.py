"""Property: the seed's three decorators compose in any order, on functions and methods.

Whatever subset of `async_safe`, `mixed_execution_safe` and `async_retry` is stacked,
in whatever order, on a sync function, an async one, or a sync one returning a
coroutine, the result is what the plain function gives (its value, or an exception
of the same type and arguments): called from sync code, called from a coroutine
(blocking, the LoopBlockedWarning silenced), and through ``.aio`` where the outermost
wrapper has it.
"""

from __future__ import annotations

import asyncio
import inspect
import warnings
from collections.abc import Callable
from typing import Any

import anyio
from hypothesis import given, settings
from hypothesis import strategies as st

import asyncbridge as ab

DECORATORS: dict[str, Callable[[Any], Any]] = {
    "async_safe": ab.async_safe,
    "async_safe(timeout)": ab.async_safe(timeout=30),
    "mixed_execution_safe": ab.mixed_execution_safe,
    "mixed_execution_safe(executor, timeout)": ab.mixed_execution_safe(
        executor="default", timeout=30
    ),
    "async_retry": ab.async_retry(max_attempts=2, wait=0),
}
KINDS = ("sync", "async", "sync returning coroutine")


class LegacyError(Exception):
    pass


def make_function(kind: str) -> Callable[..., Any]:
    """The plain function: (x, fail) -> ("v", x), or LegacyError(x) when fail."""

    def sync_fn(x: int, *, fail: bool = False) -> tuple[str, int]:
        if fail:
            raise LegacyError(x)
        return ("v", x)

    async def async_fn(x: int, *, fail: bool = False) -> tuple[str, int]:
        await anyio.sleep(0)
        return sync_fn(x, fail=fail)

    def returns_coroutine(x: int, *, fail: bool = False) -> Any:
        return async_fn(x, fail=fail)

    return {"sync": sync_fn, "async": async_fn}.get(kind, returns_coroutine)


def make_method(kind: str, names: list[str]) -> Callable[..., Any]:
    """The same function as a method, decorated inside its class body."""
    plain = make_function(kind)

    class Holder:
        def method(self, x: int, *, fail: bool = False) -> Any:
            return plain(x, fail=fail)

        for name in names:
            method = DECORATORS[name](method)

    return Holder().method


def outcome_of(call: Callable[[], Any]) -> tuple[str, Any]:
    """Run *call* from sync code, resolving an awaitable it returns."""
    try:
        result = call()
        if inspect.isawaitable(result):
            result = ab.run_sync(result)
    except LegacyError as exc:
        return ("raised", exc.args)
    return ("returned", result)


async def async_outcome_of(call: Callable[[], Any]) -> tuple[str, Any]:
    """Run *call* from a coroutine, awaiting an awaitable it returns."""
    try:
        result = call()
        if inspect.isawaitable(result):
            result = await result
    except LegacyError as exc:
        return ("raised", exc.args)
    return ("returned", result)


def check(
    decorated: Callable[..., Any], expected: tuple[str, Any], x: int, fail: bool
) -> None:
    """Compare every way of calling *decorated* with the plain outcome."""

    async def from_a_coroutine() -> list[tuple[str, Any]]:
        outcomes = [await async_outcome_of(lambda: decorated(x, fail=fail))]
        aio = getattr(decorated, "aio", None)
        if aio is not None:
            outcomes.append(await async_outcome_of(lambda: aio(x, fail=fail)))
        return outcomes

    # Blocking calls from a running loop warn, by design: here, from the coroutine
    # below, and when a retry re-calls a sync function for a fresh awaitable.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ab.LoopBlockedWarning)
        outcomes = [outcome_of(lambda: decorated(x, fail=fail))]
        outcomes += asyncio.run(from_a_coroutine())
    assert outcomes == [expected] * len(outcomes)


names_strategy = st.lists(st.sampled_from(sorted(DECORATORS)), unique=True, max_size=5)


@settings(max_examples=150, deadline=None)
@given(
    kind=st.sampled_from(KINDS),
    names=names_strategy,
    x=st.integers(),
    fail=st.booleans(),
)
def test_any_composition_on_a_function_gives_the_plain_result(
    kind: str, names: list[str], x: int, fail: bool
) -> None:
    """Stacked in any order on a function, they give what the plain function gives."""
    plain = make_function(kind)
    expected = outcome_of(lambda: plain(x, fail=fail))
    decorated: Callable[..., Any] = plain
    for name in names:
        decorated = DECORATORS[name](decorated)
    check(decorated, expected, x, fail)


@settings(max_examples=100, deadline=None)
@given(
    kind=st.sampled_from(KINDS),
    names=names_strategy,
    x=st.integers(),
    fail=st.booleans(),
)
def test_any_composition_on_a_method_gives_the_plain_result(
    kind: str, names: list[str], x: int, fail: bool
) -> None:
    """Stacked in any order on a method, they give what the plain method gives."""
    expected = outcome_of(lambda: make_function(kind)(x, fail=fail))
    check(make_method(kind, names), expected, x, fail)
