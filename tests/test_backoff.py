"""The pure retry policy: the wait schedule and the shared retry budget."""

from __future__ import annotations

import math
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import asyncbridge as ab
from asyncbridge._backoff import backoff_wait


class FrozenClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# ------------------------------------------------------------------ wait schedule


def test_schedule_grows_exponentially_until_the_cap() -> None:
    """Without jitter the waits are initial * base**(n-1), capped at maximum."""
    waits = [
        backoff_wait(
            n, initial=0.1, maximum=1.0, base=2.0, jitter=False, random=lambda: 0.0
        )
        for n in range(1, 8)
    ]
    assert waits == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0])


def test_jitter_scales_the_capped_wait_into_half_to_full() -> None:
    """Jitter multiplies the capped wait by 1 - random/2: a factor in (0.5, 1]."""

    def wait(attempt: int, draw: float) -> float:
        return backoff_wait(
            attempt,
            initial=1.0,
            maximum=4.0,
            base=2.0,
            jitter=True,
            random=lambda: draw,
        )

    assert wait(1, 0.0) == 1.0
    assert wait(1, 0.5) == 0.75
    assert wait(10, 0.0) == 4.0  # at the cap: jitter after capping still spreads
    assert wait(10, 0.999) == pytest.approx(2.002)


def test_zero_initial_or_cap_means_no_wait() -> None:
    """A zero first wait or a zero cap gives zero waits, even for huge attempts."""
    assert (
        backoff_wait(
            10**6, initial=0.0, maximum=5.0, base=2.0, jitter=True, random=lambda: 0.3
        )
        == 0.0
    )
    assert (
        backoff_wait(3, initial=1.0, maximum=0.0, base=2.0, jitter=False, random=float)
        == 0.0
    )


@settings(max_examples=300, deadline=None)
@given(
    attempt=st.integers(min_value=1, max_value=100_000),
    initial=st.floats(min_value=0, max_value=100, allow_nan=False),
    maximum=st.floats(min_value=0, max_value=1000, allow_nan=False),
    base=st.floats(min_value=1, max_value=100, allow_nan=False),
    jitter=st.booleans(),
    draw=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_every_wait_lies_between_zero_and_the_cap(
    attempt: int,
    initial: float,
    maximum: float,
    base: float,
    jitter: bool,
    draw: float,
) -> None:
    """Property: any wait is in [0, maximum] and, jittered, at least half nominal."""
    wait = backoff_wait(
        attempt,
        initial=initial,
        maximum=maximum,
        base=base,
        jitter=jitter,
        random=lambda: draw,
    )
    assert 0.0 <= wait <= maximum
    if initial > 0 and maximum > 0:
        try:
            nominal = min(initial * base ** (attempt - 1), maximum)
        except OverflowError:
            nominal = maximum
        assert wait >= nominal / 2 - 1e-12
        assert math.isfinite(wait)


# ------------------------------------------------------------------------ budget


def test_budget_allows_retries_up_to_the_ratio_of_calls() -> None:
    """With no floor, five calls at ratio 0.2 earn exactly one retry."""
    budget = ab.RetryBudget(ratio=0.2, min_per_second=0, clock=FrozenClock())
    assert not budget._try_withdraw()
    for _ in range(5):
        budget._deposit()
    assert budget._try_withdraw()
    assert not budget._try_withdraw()


def test_budget_sums_small_ratios_without_float_drift() -> None:
    """Ten deposits of 0.1 make one whole token despite float rounding."""
    budget = ab.RetryBudget(ratio=0.1, min_per_second=0, clock=FrozenClock())
    for _ in range(10):
        budget._deposit()
    assert budget._try_withdraw()


def test_budget_caps_credit_at_what_100_calls_earn() -> None:
    """A long healthy stretch banks at most ratio * 100 retries."""
    budget = ab.RetryBudget(ratio=0.5, min_per_second=0, clock=FrozenClock())
    for _ in range(10_000):
        budget._deposit()
    granted = sum(budget._try_withdraw() for _ in range(100))
    assert granted == 50


def test_budget_floor_refills_per_second_and_starts_full() -> None:
    """The floor grants min_per_second retries a second, holding one second's worth."""
    clock = FrozenClock()
    budget = ab.RetryBudget(ratio=0, min_per_second=2, clock=clock)
    assert [budget._try_withdraw() for _ in range(3)] == [True, True, False]
    clock.now += 0.5
    assert [budget._try_withdraw() for _ in range(2)] == [True, False]
    clock.now += 100  # refills to the cap only: one second's worth
    assert [budget._try_withdraw() for _ in range(3)] == [True, True, False]


def test_budget_floor_below_one_per_second_still_grants_whole_tokens() -> None:
    """A floor of 0.5/s grants one retry every two seconds."""
    clock = FrozenClock()
    budget = ab.RetryBudget(ratio=0, min_per_second=0.5, clock=clock)
    assert budget._try_withdraw()
    assert not budget._try_withdraw()
    clock.now += 1
    assert not budget._try_withdraw()
    clock.now += 1
    assert budget._try_withdraw()


def test_budget_spends_call_credit_before_the_floor() -> None:
    """Earned credit is used first, so the floor stays for quiet periods."""
    budget = ab.RetryBudget(ratio=1.0, min_per_second=1, clock=FrozenClock())
    budget._deposit()
    assert budget._try_withdraw()  # credit
    assert budget._try_withdraw()  # floor
    assert not budget._try_withdraw()


def test_budget_ignores_a_clock_going_backwards() -> None:
    """A clock step backwards refills nothing (and takes nothing away)."""
    clock = FrozenClock()
    clock.now = 10.0
    budget = ab.RetryBudget(ratio=0, min_per_second=1, clock=clock)
    assert budget._try_withdraw()
    clock.now = 5.0
    assert not budget._try_withdraw()


def test_budget_counts_exactly_under_threads() -> None:
    """Concurrent deposits and withdrawals from many threads lose no update."""
    budget = ab.RetryBudget(ratio=1.0, min_per_second=0, clock=FrozenClock())
    barrier = threading.Barrier(8)
    granted: list[int] = []

    def depositor() -> None:
        barrier.wait()
        for _ in range(10):
            budget._deposit()

    threads = [threading.Thread(target=depositor) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    def withdrawer() -> None:
        barrier.wait()
        granted.append(sum(budget._try_withdraw() for _ in range(20)))

    threads = [threading.Thread(target=withdrawer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(granted) == 80


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"ratio": -0.1}, ValueError, "ratio"),
        ({"ratio": math.inf}, ValueError, "ratio"),
        ({"ratio": "0.2"}, TypeError, "ratio"),
        ({"ratio": True}, TypeError, "ratio"),
        ({"min_per_second": -1}, ValueError, "min_per_second"),
        ({"min_per_second": math.nan}, ValueError, "min_per_second"),
        ({"clock": 3}, TypeError, "clock"),
    ],
)
def test_budget_rejects_bad_settings(
    kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    """Bad budget settings fail at construction, naming the parameter."""
    with pytest.raises(error, match=match):
        ab.RetryBudget(**kwargs)  # type: ignore[arg-type]


def test_budget_repr_shows_its_settings() -> None:
    """The repr shows ratio and floor (for logs and debugging)."""
    assert repr(ab.RetryBudget(0.1, 3)) == "RetryBudget(ratio=0.1, min_per_second=3.0)"
