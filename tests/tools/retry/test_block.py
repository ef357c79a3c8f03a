"""retrying(), the block form: `for`/`async for attempt in retrying(): with attempt:`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from retry_helpers import (
    FakeTime,
    aflaky,
    fake_time,
    flaky,
    raise_,
    run_async_block,
    run_block,
)

import asyncbridge as ab
from asyncbridge._tools._retry._block import Attempt


def test_block_form_retries_until_the_block_succeeds() -> None:
    """`for attempt in retrying(): with attempt:` retries the block; numbers from 1."""
    outcome = flaky([OSError(), OSError(), "done"])
    numbers = []
    for attempt in ab.retrying(max_attempts=3, wait=0):
        with attempt:
            numbers.append(attempt.number)
            value = outcome()
    assert value == "done"
    assert numbers == [1, 2, 3]


def test_block_form_gives_up_with_the_last_exception() -> None:
    """Giving up raises the block's last exception, with a note."""
    errors = [OSError("1"), OSError("2")]
    with pytest.raises(OSError, match="2") as info:
        run_block(lambda _a: raise_(errors.pop(0)), max_attempts=2, wait=0)
    assert "after 2 attempts" in info.value.__notes__[0]
    assert "run_block" in info.value.__notes__[0]  # the function with the loop


def test_block_form_lets_unmatched_errors_and_control_flow_through() -> None:
    """Errors `on` does not match and control flow leave the `with` at once."""
    numbers: list[int] = []

    def body(exc: BaseException) -> Callable[[Attempt], None]:
        def run(attempt: Attempt) -> None:
            numbers.append(attempt.number)
            raise exc

        return run

    with pytest.raises(KeyError):
        run_block(body(KeyError()), on=OSError, wait=0)
    with pytest.raises(KeyboardInterrupt):
        run_block(body(KeyboardInterrupt()), on=lambda _e: True, wait=0)
    assert numbers == [1, 1]


def test_block_form_notes_an_unmatched_error_after_retries() -> None:
    """An unmatched error after retries carries a note naming the attempt."""
    errors = [OSError(), KeyError("k")]
    with pytest.raises(KeyError) as info:
        run_block(lambda _a: raise_(errors.pop(0)), on=OSError, wait=0)
    assert "raised this on attempt 2" in info.value.__notes__[0]


def test_block_form_reraise_false_and_hooks() -> None:
    """The block form raises RetryError and calls hooks like the decorator."""
    states: list[tuple[str, int]] = []
    with pytest.raises(ab.RetryError) as info:
        run_block(
            lambda a: raise_(OSError(a.number)),
            max_attempts=2,
            reraise=False,
            wait=0,
            before_sleep=lambda s: states.append(("before", s.attempt)),
            on_giveup=lambda s: states.append(("giveup", s.attempt)),
        )
    assert len(info.value.attempts) == 2
    assert states == [("before", 1), ("giveup", 2)]


def test_block_form_waits_and_times_out() -> None:
    """Block waits follow the schedule; a wait reaching the deadline ends the loop."""

    def body(clock: FakeTime) -> None:
        clock.advance(0.1)
        raise OSError

    with fake_time(rand=lambda: 0.0) as clock:
        with pytest.raises(OSError) as info:
            run_block(lambda _a: body(clock), max_attempts=10, timeout=0.5)
        # Attempt 2 fails at 0.3 s: its 0.2 s wait would end at the deadline.
        assert clock.sleeps == pytest.approx([0.1])
    assert "next wait of 0.2 s would end past timeout=0.5 s" in info.value.__notes__[0]


def test_block_form_object_is_reusable_with_fresh_counts() -> None:
    """Each loop over one retrying() object starts again from attempt 1."""
    retry = ab.retrying(max_attempts=2, wait=0)
    for _ in range(2):
        numbers = []
        outcome = flaky([OSError(), "ok"])
        for attempt in retry:
            with attempt:
                numbers.append(attempt.number)
                outcome()
        assert numbers == [1, 2]
    assert "2 attempts" in repr(retry)
    assert repr(attempt) == "<Attempt 2>"


def test_block_form_stops_when_the_block_is_not_entered() -> None:
    """A loop body that never enters `with attempt` counts as a success."""
    assert [a.number for a in ab.retrying()] == [1]


def test_block_form_turns_a_leaking_stop_iteration_into_runtime_error() -> None:
    """StopIteration from the block cannot silently end the loop (as PEP 479)."""
    with pytest.raises(RuntimeError, match="StopIteration"):
        run_block(lambda _a: next(iter([])), max_attempts=2, wait=0)


def test_block_form_budget_deposits_once_per_loop() -> None:
    """A retrying() loop deposits into its budget once, like one call."""
    budget = ab.RetryBudget(ratio=0.5, min_per_second=0, clock=lambda: 0.0)
    numbers: list[int] = []

    def body(attempt: Attempt) -> None:
        numbers.append(attempt.number)
        raise OSError

    for _ in range(2):
        with pytest.raises(OSError):
            run_block(body, max_attempts=5, budget=budget, wait=0)
    assert numbers == [1, 1, 2]


def test_block_form_iterator_stays_exhausted() -> None:
    """After the loop ends, its iterator keeps raising StopIteration."""
    iterator = iter(ab.retrying())
    assert next(iterator).number == 1
    for _ in range(2):
        with pytest.raises(StopIteration):
            next(iterator)


@pytest.mark.anyio
async def test_async_block_form_iterator_stays_exhausted() -> None:
    """After the async loop ends, its iterator keeps raising StopAsyncIteration."""
    iterator = aiter(ab.retrying())
    assert (await anext(iterator)).number == 1
    for _ in range(2):
        with pytest.raises(StopAsyncIteration):
            await anext(iterator)


def test_block_form_rejects_result_predicate_and_attempt_timeout() -> None:
    """retrying() has no retry_if_result or attempt_timeout parameter (TypeError)."""
    with pytest.raises(
        TypeError, match="unexpected keyword argument 'retry_if_result'"
    ):
        ab.retrying(retry_if_result=bool)  # type: ignore[call-arg]
    with pytest.raises(
        TypeError, match="unexpected keyword argument 'attempt_timeout'"
    ):
        ab.retrying(attempt_timeout=1)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="retrying\\(\\): max_attempts"):
        ab.retrying(max_attempts=0)


@pytest.mark.anyio
async def test_async_block_form() -> None:
    """`async for attempt in retrying(): with attempt:` retries and awaits hooks."""
    outcome = aflaky([OSError(), OSError(), "done"])
    events: list[int] = []

    async def before(state: ab.RetryState) -> None:
        await anyio.lowlevel.checkpoint()
        events.append(state.attempt)

    with fake_time(rand=lambda: 0.0) as clock:
        async for attempt in ab.retrying(max_attempts=3, before_sleep=before):
            with attempt:
                value = await outcome()
    assert value == "done"
    assert attempt.number == 3
    assert events == [1, 2]
    assert clock.sleeps == pytest.approx([0.1, 0.2])


@pytest.mark.anyio
async def test_async_block_form_gives_up_and_awaits_on_giveup() -> None:
    """The async block form gives up with the last error after an async on_giveup."""
    events: list[int] = []

    async def giveup(state: ab.RetryState) -> None:
        events.append(state.attempt)

    with pytest.raises(OSError, match="2"):
        await run_async_block(
            lambda a: raise_(OSError(a.number)),
            max_attempts=2,
            on_giveup=giveup,
            wait=0,
        )
    assert events == [2]


@pytest.mark.anyio
async def test_async_block_form_is_cancellable_in_the_wait() -> None:
    """A cancel during the async block's (real, hour-long) wait ends it at once."""
    sleeping = anyio.Event()
    numbers = []
    with anyio.CancelScope() as scope:

        async def loop() -> None:
            async for attempt in ab.retrying(
                wait=3600, before_sleep=lambda _s: sleeping.set()
            ):
                with attempt:
                    numbers.append(attempt.number)
                    raise OSError

        async with anyio.create_task_group() as tg:
            tg.start_soon(loop)
            await sleeping.wait()
            scope.cancel()
    assert numbers == [1]


# ------------------------------------- StopIteration must never end a loop silently


def _one_short_options(culprit: str, stop: type[Exception]) -> dict[str, Any]:
    """Options whose *culprit* raises *stop* on its second call (one entry short)."""
    calls: list[object] = []

    def one_short(*args: object) -> float:
        calls.append(args)
        if len(calls) > 1:
            raise stop
        return 0.0

    options: dict[str, Any] = {"max_attempts": 3, "wait": 0}
    if culprit == "wait":
        options["wait"] = one_short
    elif culprit == "wait_hint":
        options["wait_hint"] = one_short
    elif culprit == "before_sleep":
        options["before_sleep"] = one_short
    else:  # on_giveup: raises on its first call
        calls.append("spent")
        options["on_giveup"] = one_short
    return options


CULPRITS = ["wait", "wait_hint", "before_sleep", "on_giveup"]


@pytest.mark.parametrize("culprit", CULPRITS)
def test_stop_iteration_from_a_hook_or_wait_never_ends_a_sync_loop_silently(
    culprit: str,
) -> None:
    """A StopIteration from wait, wait_hint or a hook is a RuntimeError, not success."""
    numbers: list[int] = []
    attempt_error = OSError("down")

    def body(attempt: Attempt) -> None:
        numbers.append(attempt.number)
        raise attempt_error

    options = _one_short_options(culprit, StopIteration)
    with pytest.raises(RuntimeError, match="StopIteration escaped") as info:
        run_block(body, **options)
    assert numbers == ([1, 2, 3] if culprit == "on_giveup" else [1, 2])
    assert isinstance(info.value.__cause__, StopIteration)
    assert info.value.__cause__.__context__ is attempt_error


@pytest.mark.parametrize("culprit", CULPRITS)
@pytest.mark.anyio
async def test_stop_async_iteration_from_a_hook_or_wait_never_ends_an_async_loop(
    culprit: str,
) -> None:
    """A StopAsyncIteration from wait, wait_hint or a hook is a RuntimeError."""
    numbers: list[int] = []

    def body(attempt: Attempt) -> None:
        numbers.append(attempt.number)
        raise OSError

    options = _one_short_options(culprit, StopAsyncIteration)
    with pytest.raises(RuntimeError, match="StopAsyncIteration escaped"):
        await run_async_block(body, **options)
    assert numbers == ([1, 2, 3] if culprit == "on_giveup" else [1, 2])
