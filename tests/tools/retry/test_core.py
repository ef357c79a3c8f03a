"""The retry decisions (`RetryRun`): what is retried, when it stops, how it ends."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import traceback
from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from retry_helpers import (
    Counter,
    FakeTime,
    aflaky,
    fake_time,
    flaky,
    raise_,
    run_async_block,
    run_block,
)

import asyncbridge as ab
from asyncbridge._tools._retry._core import Action, RetryRun, chain
from asyncbridge._tools._retry._policy import OPTIONS, RetryPolicy


def test_gives_up_after_max_attempts_reraising_the_same_exception() -> None:
    """The last exception is re-raised: same object, original frames, a note added."""
    errors = [OSError("a"), OSError("b"), OSError("c")]

    @ab.async_retry(max_attempts=3, wait=0)
    def fn() -> None:
        raise errors.pop(0)

    last = None
    try:
        fn()
    except OSError as exc:
        last = exc
    assert last is not None
    assert str(last) == "c"
    frames = [frame.name for frame in traceback.extract_tb(last.__traceback__)]
    assert frames[-1] == "fn"
    assert last.__context__ is None
    assert last.__cause__ is None
    assert len(last.__notes__) == 1
    note = last.__notes__[0]
    assert note.startswith("asyncbridge.retry: gave up on ")
    assert "fn after 3 attempts in " in note
    assert "max_attempts=3 reached" in note


def test_one_attempt_means_no_retry() -> None:
    """max_attempts=1 calls once and re-raises with a note."""
    counter = Counter()

    @ab.async_retry(max_attempts=1)
    def fn() -> None:
        counter.calls += 1
        raise OSError

    with pytest.raises(OSError) as info:
        fn()
    assert counter.calls == 1
    assert "after 1 attempt in" in info.value.__notes__[0]


def test_total_timeout_counts_the_first_attempt_and_stops_new_attempts() -> None:
    """No attempt starts after the deadline, which includes the first attempt."""
    starts: list[float] = []
    with fake_time() as clock:

        @ab.async_retry(max_attempts=10, timeout=1.0, wait=0.3)
        def slow() -> None:
            starts.append(clock.now)
            clock.advance(0.4)
            raise OSError

        with pytest.raises(OSError) as info:
            slow()
    assert starts == pytest.approx([0.0, 0.7])
    assert (
        "after 2 attempts in 1.100 s (timeout=1 s reached)" in info.value.__notes__[0]
    )


def test_a_wait_that_would_end_past_the_deadline_gives_up_at_once() -> None:
    """A wait reaching the deadline is not slept: no attempt could follow it."""
    counter = Counter()
    with fake_time() as clock:

        @ab.async_retry(max_attempts=10, timeout=1.0, wait=5)
        def fn() -> None:
            counter.calls += 1
            clock.advance(0.25)
            raise OSError

        with pytest.raises(OSError) as info:
            fn()
    assert clock.sleeps == []
    assert counter.calls == 1
    assert (
        "(the next wait of 5 s would end past timeout=1 s)" in info.value.__notes__[0]
    )


def test_wait_hint_past_the_deadline_gives_up_at_once() -> None:
    """A hint that ends past the deadline stops retrying instead of waiting."""
    with fake_time() as clock:
        fn = ab.async_retry(max_attempts=5, timeout=10, wait_hint=lambda _e: 30)(
            flaky([OSError("busy"), "ok"])
        )
        with pytest.raises(OSError) as info:
            fn()
    assert clock.sleeps == []
    assert "wait hint of 30 s would end past timeout=10 s" in info.value.__notes__[0]


def test_wait_hint_within_the_deadline_is_honoured() -> None:
    """A hint that fits in the time left is waited in full."""
    with fake_time() as clock:
        fn = ab.async_retry(timeout=10, wait_hint=lambda _e: 4)(
            flaky([OSError(), "ok"])
        )
        assert fn() == "ok"
    assert clock.sleeps == [4.0]


def test_on_type_retries_only_matching_exceptions() -> None:
    """An error `on` does not match propagates at once, untouched (no note)."""
    counter = Counter()

    @ab.async_retry(on=OSError, wait=0)
    def fn() -> None:
        counter.calls += 1
        raise KeyError("not transient")

    with pytest.raises(KeyError) as info:
        fn()
    assert counter.calls == 1
    assert not hasattr(info.value, "__notes__")


def test_on_tuple_and_subclasses() -> None:
    """A tuple of types matches any of them, subclasses included."""
    fn = ab.async_retry(on=(KeyError, OSError), wait=0)(
        flaky([ConnectionResetError(), KeyError(), "ok"])
    )
    assert fn() == "ok"


def test_on_predicate_decides() -> None:
    """A predicate on the exception decides what is retried."""
    seen: list[Exception] = []

    def transient(exc: Exception) -> bool:
        seen.append(exc)
        return "retry" in str(exc)

    fn = ab.async_retry(on=transient, wait=0)(
        flaky([ValueError("retry me"), ValueError("fatal"), "never"])
    )
    with pytest.raises(ValueError, match="fatal") as info:
        fn()
    assert len(seen) == 2
    note = info.value.__notes__[0]
    assert "raised this on attempt 2" in note
    assert "not retried" in note


def test_on_base_exception_means_every_exception() -> None:
    """on=BaseException is accepted and retries every Exception (never control flow)."""
    fn = ab.async_retry(on=BaseException, wait=0)(flaky([KeyError(), "ok"]))
    assert fn() == "ok"


def test_retry_if_result_retries_and_returns_the_last_value() -> None:
    """A rejected value is retried; when attempts run out the last value returns."""
    fn = ab.async_retry(max_attempts=3, retry_if_result=lambda v: v is None, wait=0)
    assert fn(flaky([None, None, 3]))() == 3
    assert fn(flaky([None, None, None, 4]))() is None


@pytest.mark.anyio
async def test_retry_if_result_async() -> None:
    """retry_if_result works on async callables too."""
    fn = ab.async_retry(max_attempts=3, retry_if_result=lambda v: v < 0, wait=0)
    assert await fn(aflaky([-1, OSError(), 5]))() == 5
    assert await fn(aflaky([-1, -2, -3]))() == -3


class Escape(BaseException):
    """A non-Exception BaseException of the user's own."""


@pytest.mark.parametrize(
    "exc",
    [
        KeyboardInterrupt(),
        SystemExit(1),
        GeneratorExit(),
        asyncio.CancelledError(),
        Escape(),
    ],
    ids=lambda e: type(e).__name__,
)
def test_control_flow_is_never_retried_nor_shown(exc: BaseException) -> None:
    """Non-Exception errors pass straight through: no retry, no predicate, no hook."""
    shown: list[object] = []
    counter = Counter()

    @ab.async_retry(
        max_attempts=5,
        on=lambda e: shown.append(e) or True,
        before_sleep=shown.append,
        on_giveup=shown.append,
        wait=0,
    )
    def fn() -> None:
        counter.calls += 1
        raise exc

    with pytest.raises(type(exc)) as info:
        fn()
    assert info.value is exc
    assert counter.calls == 1
    assert shown == []
    assert not hasattr(exc, "__notes__")


def test_reraise_false_raises_retry_error_with_every_attempt() -> None:
    """reraise=False: RetryError from the last error, holding each attempt's outcome."""
    last = OSError("third")
    fn = ab.async_retry(
        max_attempts=3, retry_if_result=lambda v: v == "bad", reraise=False, wait=0
    )(flaky([OSError("first"), "bad", last]))
    with pytest.raises(ab.RetryError) as info:
        fn()
    error = info.value
    assert isinstance(error, ab.AsyncBridgeError)
    assert error.__cause__ is last
    assert [state.attempt for state in error.attempts] == [1, 2, 3]
    assert str(error.attempts[0].exception) == "first"
    assert error.attempts[1].exception is None
    assert error.attempts[1].result == "bad"
    assert error.last is not None
    assert error.last.exception is last
    assert "after 3 attempts" in str(error)
    assert "the last attempt raised OSError" in str(error)


def test_reraise_false_with_a_rejected_last_value() -> None:
    """reraise=False and a rejected last value: RetryError from None."""
    fn = ab.async_retry(max_attempts=2, retry_if_result=bool, reraise=False, wait=0)(
        flaky([1, 2])
    )
    with pytest.raises(ab.RetryError, match="rejected the last value") as info:
        fn()
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__
    assert [s.result for s in info.value.attempts] == [1, 2]


def test_budget_fails_fast_when_spent() -> None:
    """A spent budget ends retrying at once, with a note saying so."""
    budget = ab.RetryBudget(ratio=0.5, min_per_second=0, clock=lambda: 0.0)
    counter = Counter()

    @ab.async_retry(max_attempts=3, budget=budget, wait=0)
    def fn() -> None:
        counter.calls += 1
        raise OSError

    with pytest.raises(OSError) as first:
        fn()  # deposits 0.5: not enough for a retry
    assert counter.calls == 1
    assert "after 1 attempt" in first.value.__notes__[0]
    assert "the retry budget was exhausted" in first.value.__notes__[0]
    with pytest.raises(OSError) as second:
        fn()  # deposits another 0.5: one retry, then spent
    assert counter.calls == 3
    assert "after 2 attempts" in second.value.__notes__[0]
    assert "budget was exhausted" in second.value.__notes__[0]


def test_budget_is_shared_between_functions_and_deposits_per_call() -> None:
    """Successful calls of one function earn retries for another sharing the budget."""
    budget = ab.RetryBudget(ratio=0.25, min_per_second=0, clock=lambda: 0.0)
    ok = ab.async_retry(budget=budget)(lambda: "ok")
    for _ in range(8):
        ok()
    fn = ab.async_retry(max_attempts=10, budget=budget, wait=0)(flaky([OSError()] * 10))
    with pytest.raises(OSError) as info:
        fn()  # 8 + 1 calls at 0.25 = 2.25 tokens: two retries
    assert "after 3 attempts" in info.value.__notes__[0]


def test_budget_floor_lets_retries_through_after_time_passes() -> None:
    """The per-second floor refills with the budget's clock."""
    with fake_time() as clock:
        budget = ab.RetryBudget(ratio=0, min_per_second=1, clock=clock.clock)
        fn = ab.async_retry(max_attempts=3, budget=budget, wait=0)
        assert fn(flaky([OSError(), "ok"]))() == "ok"  # the floor's one token
        with pytest.raises(OSError):
            fn(flaky([OSError(), "never"]))()
        clock.advance(1.0)
        assert fn(flaky([OSError(), "again"]))() == "again"


@pytest.mark.anyio
async def test_budget_applies_to_async_calls() -> None:
    """Async wrappers deposit and withdraw from the same budget."""
    budget = ab.RetryBudget(ratio=1.0, min_per_second=0, clock=lambda: 0.0)
    fn = ab.async_retry(max_attempts=5, budget=budget, wait=0)
    assert await fn(aflaky([OSError(), "ok"]))() == "ok"
    with pytest.raises(OSError) as info:
        await fn(aflaky([OSError(), OSError(), "never"]))()
    assert "after 2 attempts" in info.value.__notes__[0]


OUTCOME = st.sampled_from(["ok", "bad", "retry", "fatal"])


def model(outcomes: list[str], max_attempts: int) -> tuple[int, tuple[str, int]]:
    """The expected number of calls and final outcome, by the simplest loop."""
    final = ("none", -1)
    for index, kind in enumerate(outcomes[:max_attempts]):
        final = ("raise" if kind in {"retry", "fatal"} else "value", index)
        if kind in {"ok", "fatal"}:
            return index + 1, final
    return max_attempts, final


def make_outcomes(kinds: list[str]) -> list[Any]:
    table = {
        "ok": lambda i: ("ok", i),
        "bad": lambda i: ("bad", i),
        "retry": OSError,
        "fatal": KeyError,
    }
    return [table[kind](i) for i, kind in enumerate(kinds)]


def observed(call: Callable[[], Any]) -> tuple[str, int]:
    try:
        value = call()
    except (OSError, KeyError) as exc:
        return "raise", exc.args[0]
    return "value", value[1]


KINDS = st.lists(OUTCOME, min_size=8, max_size=8)


ATTEMPTS = st.integers(min_value=1, max_value=8)


@settings(max_examples=150, deadline=None)
@given(kinds=KINDS, max_attempts=ATTEMPTS)
def test_property_calls_and_outcome_match_the_model(
    kinds: list[str], max_attempts: int
) -> None:
    """Property: for any outcomes and max_attempts, calls and result match the model."""
    counter = Counter()
    outcomes = make_outcomes(kinds)

    @ab.async_retry(
        max_attempts=max_attempts,
        on=OSError,
        retry_if_result=lambda v: v[0] == "bad",
        wait=0,
    )
    def fn() -> Any:
        counter.calls += 1
        outcome = outcomes[counter.calls - 1]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    result = observed(fn)
    assert (counter.calls, result) == model(kinds, max_attempts)


@settings(max_examples=60, deadline=None)
@given(kinds=KINDS, max_attempts=ATTEMPTS)
def test_property_async_and_block_forms_match_the_model(
    kinds: list[str], max_attempts: int
) -> None:
    """Property: the async decorator and the block form follow the same model."""
    expected = model(kinds, max_attempts)

    async def run_async() -> tuple[int, tuple[str, int]]:
        counter = Counter()
        outcomes = make_outcomes(kinds)

        @ab.async_retry(
            max_attempts=max_attempts,
            on=OSError,
            retry_if_result=lambda v: v[0] == "bad",
            wait=0,
        )
        async def fn() -> Any:
            counter.calls += 1
            outcome = outcomes[counter.calls - 1]
            if isinstance(outcome, Exception):
                raise outcome
            return outcome

        try:
            value = await fn()
        except (OSError, KeyError) as exc:
            return counter.calls, ("raise", exc.args[0])
        return counter.calls, ("value", value[1])

    assert anyio.run(run_async) == expected

    # The block form has no result predicate: "bad" values count as successes.
    block_kinds = [k if k != "bad" else "ok" for k in kinds]
    outcomes = make_outcomes(block_kinds)
    calls = 0
    final: tuple[str, int] | None = None
    try:
        for attempt in ab.retrying(max_attempts=max_attempts, on=OSError, wait=0):
            with attempt:
                calls += 1
                outcome = outcomes[calls - 1]
                if isinstance(outcome, Exception):
                    raise outcome
                final = ("value", outcome[1])
    except (OSError, KeyError) as exc:
        final = ("raise", exc.args[0])
    assert (calls, final) == model(block_kinds, max_attempts)


# ------------------------------------------------------------- the deadline, strict


@pytest.mark.parametrize("form", ["sync", "async", "block", "async block"])
def test_no_attempt_starts_after_the_deadline_when_a_wait_overruns(form: str) -> None:
    """A wait that wakes up late past the deadline ends the retries: no late attempt."""
    starts: list[float] = []

    def body(clock: FakeTime) -> None:
        starts.append(clock.now)
        raise OSError

    options: dict[str, Any] = {"max_attempts": 5, "timeout": 1.0, "wait": 0.3}
    with fake_time(overrun=1.0) as clock, pytest.raises(OSError) as info:
        run_in_form(form, lambda: body(clock), **options)
    assert starts == [0.0]  # the 0.3 s wait ended at 1.3 s: attempt 2 never started
    assert clock.sleeps == [0.3]
    assert (
        "timeout=1 s reached before attempt 2 could start" in (info.value.__notes__[0])
    )


def test_no_attempt_starts_after_the_deadline_when_a_hook_is_slow() -> None:
    """Time spent in before_sleep counts: past the deadline, the next attempt is off."""
    giveups: list[ab.RetryState] = []
    with fake_time() as clock:
        fn = ab.async_retry(
            timeout=1.0,
            wait=0.1,
            before_sleep=lambda _s: clock.advance(2.0),
            on_giveup=giveups.append,
            reraise=False,
        )(flaky([OSError("first"), "never"]))
        with pytest.raises(ab.RetryError) as info:
            fn()
    assert [s.attempt for s in info.value.attempts] == [1]
    assert info.value.attempts[0].wait == 0.0  # the state given to on_giveup
    assert giveups == list(info.value.attempts)
    assert giveups[0].elapsed == pytest.approx(2.1)


# --------------------------------------------------- errors that refuse attributes


@dataclasses.dataclass(frozen=True)
class FrozenAPIError(Exception):
    """An exception type whose instances refuse new attributes (a frozen dataclass)."""

    code: int


class GuardedAPIError(Exception):
    """An exception type whose __setattr__ refuses everything."""

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(name)


class TupleNotesAPIError(Exception):
    """An exception type whose __notes__ is not a list (add_note raises TypeError)."""

    __notes__ = ("its own",)


def run_in_form(form: str, body: Callable[[], object], **options: Any) -> Any:
    """Run *body* (sync) retried by async_retry or retrying(), in *form*."""
    if form == "sync":
        return ab.async_retry(**options)(body)()
    if form == "async":

        async def abody() -> object:
            await anyio.lowlevel.checkpoint()
            return body()

        return anyio.run(ab.async_retry(**options)(abody))
    if form == "block":
        return run_block(lambda _a: body(), **options)
    return anyio.run(functools.partial(run_async_block, lambda _a: body(), **options))


PATHS = {
    # name: (outcomes, options, testing switch)
    "give-up": ([OSError(), "error"], {"max_attempts": 2, "on": OSError}, None),
    "not-retried": ([OSError(), "error"], {"max_attempts": 3, "on": OSError}, None),
    "max_attempts=1": (["error"], {"max_attempts": 1}, None),
    "retry_testing": (["error"], {"max_attempts": 3}, 1),
}


@pytest.mark.parametrize("kind", [FrozenAPIError, GuardedAPIError, TupleNotesAPIError])
@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("form", ["sync", "async", "block", "async block"])
def test_an_exception_that_refuses_attributes_is_never_replaced(
    kind: type[Exception], path: str, form: str
) -> None:
    """The give-up note never replaces an error whose type refuses it: same object."""
    error = kind(503) if kind is FrozenAPIError else kind("down")  # type: ignore[call-arg]
    kinds, options, testing = PATHS[path]
    if path == "give-up":
        options = {**options, "on": (OSError, kind)}
    outcomes = iter([error if k == "error" else k for k in kinds])

    def body() -> None:
        raise next(outcomes)

    with contextlib.ExitStack() as stack:
        if testing is not None:
            stack.enter_context(ab.retry_testing(testing))
        with pytest.raises(kind) as info:
            run_in_form(form, body, wait=0, **options)
    assert info.value is error
    assert getattr(error, "__notes__", ()) in ((), ("its own",))


def test_a_note_is_still_added_where_the_type_allows_it() -> None:
    """The safe note helper still notes ordinary exceptions (and slotted ones)."""

    class Slotted(Exception):
        __slots__ = ()

    error = Slotted("x")
    with pytest.raises(Slotted):
        run_in_form("sync", lambda: raise_(error), max_attempts=1)
    assert error.__notes__[0].startswith("asyncbridge.retry: gave up on ")


# ------------------------------------------------------------ chaining user errors


@pytest.mark.parametrize("form", ["sync", "async", "block", "async block"])
@pytest.mark.parametrize("culprit", ["on", "wait", "wait_hint"])
def test_an_error_raised_by_a_predicate_or_wait_function_chains_the_attempts_error(
    culprit: str, form: str
) -> None:
    """An error from `on`, `wait` or `wait_hint` shows the attempt's error as context."""
    attempt_error = OSError("the attempt's")

    def broken(*_args: object) -> float:
        raise LookupError("the user's function broke")

    options: dict[str, Any] = {"wait": 0, culprit: broken}
    with pytest.raises(LookupError) as info:
        run_in_form(form, lambda: raise_(attempt_error), **options)
    assert info.value.__context__ is attempt_error
    assert attempt_error.__context__ is None  # no cycle


def test_chaining_keeps_the_users_own_chain_and_never_makes_a_cycle() -> None:
    """The attempt's error goes at the end of the chain, and a link back is refused."""
    attempt_error = OSError("attempt")
    inner = KeyError("inner")
    outer = LookupError("outer")
    outer.__context__ = inner
    chain(outer, attempt_error)
    assert (outer.__context__, inner.__context__) == (inner, attempt_error)

    looping = ValueError("raised while handling the attempt's error itself")
    attempt_error2 = OSError("attempt 2")
    attempt_error2.__context__ = looping
    chain(looping, attempt_error2)  # would make looping -> attempt_error2 -> looping
    assert looping.__context__ is None
    chain(attempt_error2, attempt_error2)
    assert attempt_error2.__context__ is looping


def test_a_frozen_error_raised_by_a_predicate_is_chained_too() -> None:
    """Chaining sets __context__ as the interpreter does, even on a frozen type."""
    attempt_error = OSError("attempt")
    frozen = FrozenAPIError(400)

    def predicate(_exc: Exception) -> bool:
        raise frozen

    with pytest.raises(FrozenAPIError) as info:
        run_in_form("sync", lambda: raise_(attempt_error), on=predicate)
    assert info.value is frozen
    assert frozen.__context__ is attempt_error


# ------------------------------------------------------ properties of the decisions

NOW = st.floats(min_value=0, max_value=1e4, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(["retry", "fatal", "bad", "ok"]), NOW),
        min_size=1,
        max_size=12,
    ),
    max_attempts=st.integers(min_value=1, max_value=10),
    timeout=st.none() | st.floats(min_value=1e-3, max_value=1e4, allow_nan=False),
    wait=st.floats(min_value=0, max_value=100, allow_nan=False),
    cap=st.none() | st.integers(min_value=1, max_value=10),
    waits=st.booleans(),
    reraise=st.booleans(),
)
def test_property_the_core_decides_within_its_limits(
    steps: list[tuple[str, float]],
    max_attempts: int,
    timeout: float | None,
    wait: float,
    cap: int | None,
    waits: bool,
    reraise: bool,
) -> None:
    """Property: decisions respect attempts, the cap, the deadline and the outcome kind."""
    policy = RetryPolicy.build(
        "async_retry",
        {
            "max_attempts": max_attempts,
            "on": OSError,
            "retry_if_result": lambda v: v[0] == "bad",
            "timeout": timeout,
            "wait": wait,
            "reraise": reraise,
        },
        OPTIONS,
    )
    run = RetryRun(policy, "m.f", start=0.0, cap=cap, waits=waits, random=lambda: 0.5)
    limit = min(max_attempts, cap) if cap is not None else max_attempts
    now = 0.0
    for kind, delta in steps:
        now += delta
        attempt = run.attempt
        if kind in {"retry", "fatal"}:
            error = OSError(attempt) if kind == "retry" else KeyError(attempt)
            decision = run.after_error(error, now)
        else:
            decision = run.after_value((kind, attempt), now)
        if kind == "ok":
            assert decision.action is Action.RETURN
            break
        if kind == "fatal":
            assert decision.action is Action.RAISE
            assert decision.error is error
            assert hasattr(error, "__notes__") == (attempt > 1)
            break
        state = decision.state
        assert state is not None
        assert (state.attempt, state.elapsed) == (attempt, now)
        if decision.action is Action.GIVE_UP:
            assert state.wait == 0.0
            ran_out = attempt >= limit
            past = timeout is not None and now + (wait if waits else 0.0) >= timeout
            assert ran_out or past
            if not reraise:
                assert isinstance(decision.error, ab.RetryError)
                assert len(decision.error.attempts) == attempt
            break
        assert decision.action is Action.RETRY
        assert attempt < limit
        assert state.wait == (wait if waits else 0.0)
        if timeout is not None:
            assert now + state.wait < timeout
        now += state.wait + delta  # the sleep, overrunning by a random amount
        follow = run.before_attempt(now)
        if timeout is not None and now >= timeout:
            assert follow is not None
            assert follow.action is Action.GIVE_UP
            break
        assert follow is None
        assert run.attempt == attempt + 1
