"""The instrumentation registry and its events (_core/_hooks): add/remove, emit, texts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import asyncbridge as ab
from asyncbridge._core import _hooks
from asyncbridge.instrumentation import (
    Event,
    PoolCeilingReached,
    PoolSlotLent,
    RetryGivenUp,
    RetryScheduled,
)


def test_registry_rules() -> None:
    """add_hook is idempotent and returns the hook; remove/add check their argument."""
    hook = ab.instrumentation.add_hook(print)
    try:
        assert ab.instrumentation.add_hook(print) is print
        assert ab.instrumentation.get_hooks() == (hook,)
    finally:
        ab.instrumentation.remove_hook(print)
    with pytest.raises(ValueError, match="is not registered"):
        ab.instrumentation.remove_hook(print)
    with pytest.raises(TypeError, match="expected a callable"):
        ab.instrumentation.add_hook(3)  # type: ignore[arg-type]


EMITTED: list[tuple[Callable[..., None], tuple[Any, ...], Event]] = [
    (
        _hooks.emit_retry_scheduled,
        ("mod.fetch", 2, 0.5, 1.25, ConnectionError("x")),
        RetryScheduled("mod.fetch", 2, 0.5, 1.25, ConnectionError("x")),
    ),
    (
        _hooks.emit_retry_given_up,
        ("mod.fetch", 3, 2.0, None),
        RetryGivenUp("mod.fetch", 3, 2.0, None),
    ),
    (_hooks.emit_pool_slot_lent, ("default", 2, 8), PoolSlotLent("default", 2, 8)),
    (
        _hooks.emit_pool_ceiling_reached,
        ("default", 8),
        PoolCeilingReached("default", 8),
    ),
]


@pytest.mark.parametrize(
    ("emit", "args", "expected"),
    EMITTED,
    ids=["retry_scheduled", "retry_given_up", "slot_lent", "ceiling"],
)
def test_emit_functions(
    emit: Callable[..., None],
    args: tuple[Any, ...],
    expected: Event,
    events: list[Event],
) -> None:
    """Each emit_... function delivers its event, fields in order."""
    emit(*args)
    [event] = events
    assert type(event) is type(expected)
    assert (
        repr(event)[: repr(event).find("error=")]
        == (repr(expected)[: repr(expected).find("error=")])
    )
    assert str(event)


def test_emit_functions_without_hooks_do_nothing() -> None:
    """With no hook, emit_... returns at once (callers still guard with HOOKS)."""
    for emit, args, _ in EMITTED:
        assert emit(*args) is None


def test_event_texts() -> None:
    """Every event reads as one informative line (the logging hook's message)."""
    assert str(RetryScheduled("m.f", 1, 0.25, 0.5, OSError())) == (
        "retry of m.f scheduled: attempt 1 failed (OSError), next in 0.250 s "
        "(0.500 s elapsed)"
    )
    assert "(result)" in str(RetryScheduled("m.f", 1, 0.25, 0.5, None))
    assert str(RetryGivenUp("m.f", 3, 1.5, None)) == (
        "retry of m.f gave up after 3 attempt(s) in 1.500 s (result)"
    )
    assert "(KeyError)" in str(RetryGivenUp("m.f", 3, 1.5, KeyError()))
    assert str(PoolSlotLent("io", 1, 4)) == "pool 'io' lent a slot (1 of 4 lent)"
    assert str(PoolCeilingReached("io", 4)) == (
        "pool 'io' reached its ceiling of 4 lent slots"
    )
