"""The wait before the next attempt: the backoff schedule, fixed, custom and hinted waits."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from retry_helpers import (
    fake_time,
    flaky,
)

import asyncbridge as ab
from asyncbridge._tools._retry._schedule import backoff_wait


def test_default_waits_grow_and_cap() -> None:
    """Default waits: 0.1 s doubling, capped at wait_max, jitter in (0.5, 1]."""
    with fake_time(rand=lambda: 0.0) as clock:
        fn = ab.async_retry(max_attempts=8, wait_max=1.0)(flaky([OSError()] * 8))
        with pytest.raises(OSError):
            fn()
    assert clock.sleeps == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0])


def test_jitter_spreads_waits_down_to_half() -> None:
    """With the largest jitter draw, every wait is just over half its nominal."""
    with fake_time(rand=lambda: 0.999999) as clock:
        fn = ab.async_retry(max_attempts=4, wait_initial=1, wait_max=3)(
            flaky([OSError()] * 4)
        )
        with pytest.raises(OSError):
            fn()
    assert clock.sleeps == pytest.approx([0.5, 1.0, 1.5], rel=1e-5)


def test_no_jitter_and_custom_base() -> None:
    """wait_jitter=False and wait_exp_base=3 give exact powers of three."""
    with fake_time(rand=lambda: 0.7) as clock:
        fn = ab.async_retry(
            max_attempts=4,
            wait_initial=1,
            wait_exp_base=3,
            wait_max=100,
            wait_jitter=False,
        )(flaky([OSError()] * 4))
        with pytest.raises(OSError):
            fn()
    assert clock.sleeps == [1.0, 3.0, 9.0]


def test_fixed_wait_replaces_the_schedule() -> None:
    """wait=0.2 waits exactly 0.2 s between attempts (no jitter, no growth)."""
    with fake_time(rand=lambda: 0.9) as clock:
        fn = ab.async_retry(max_attempts=4, wait=0.2)(flaky([OSError()] * 4))
        with pytest.raises(OSError):
            fn()
    assert clock.sleeps == [0.2, 0.2, 0.2]


def test_custom_wait_gets_attempt_and_exception() -> None:
    """wait=f calls f(attempt, exception); a zero wait does not sleep."""
    seen: list[tuple[int, str | None]] = []

    def wait(attempt: int, exc: Exception | None) -> float:
        seen.append((attempt, str(exc) if exc else None))
        return 0 if attempt == 1 else 0.5

    with fake_time() as clock:
        fn = ab.async_retry(max_attempts=3, wait=wait)(
            flaky([OSError("x"), OSError("y"), "ok"])
        )
        assert fn() == "ok"
    assert seen == [(1, "x"), (2, "y")]
    assert clock.sleeps == [0.5]


def test_custom_wait_sees_none_for_a_rejected_result() -> None:
    """When a result drove the retry, the custom wait gets exception=None."""
    seen: list[Exception | None] = []

    def wait(_attempt: int, exc: Exception | None) -> float:
        seen.append(exc)
        return 0

    fn = ab.async_retry(retry_if_result=lambda v: v < 2, wait=wait)(flaky([1, 2]))
    assert fn() == 2
    assert seen == [None]


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (-1, ValueError, "the wait function returned must be a non-negative"),
        (float("inf"), ValueError, "returned must be a finite number of seconds"),
        ("1", TypeError, "the wait function returned must be a number of seconds"),
    ],
)
def test_custom_wait_returning_nonsense_fails_loudly(
    value: object, error: type[Exception], match: str
) -> None:
    """A custom wait returning a bad value raises, naming the parameter."""
    fn = ab.async_retry(wait=lambda _n, _e: value)(flaky([OSError(), "ok"]))  # type: ignore[arg-type, return-value]
    with pytest.raises(error, match=match):
        fn()


def test_wait_hint_overrides_the_schedule() -> None:
    """A wait hint (Retry-After) is used as is: uncapped, unjittered; None falls back."""

    class RateLimitedError(Exception):
        def __init__(self, retry_after: float | None) -> None:
            self.retry_after = retry_after

    with fake_time(rand=lambda: 0.0) as clock:
        fn = ab.async_retry(
            max_attempts=4,
            wait_max=1,
            wait_hint=lambda exc: getattr(exc, "retry_after", None),
        )(
            flaky(
                [
                    RateLimitedError(7.5),
                    RateLimitedError(None),
                    RateLimitedError(-3),
                    "ok",
                ]
            )
        )
        assert fn() == "ok"
    assert clock.sleeps == [7.5, 0.2]  # a zero wait does not sleep


@settings(max_examples=200, deadline=None)
@given(
    durations=st.lists(
        st.floats(min_value=0, max_value=3, allow_nan=False), min_size=40, max_size=40
    ),
    timeout=st.floats(min_value=0.01, max_value=20, allow_nan=False),
    wait_initial=st.floats(min_value=0, max_value=2, allow_nan=False),
    wait_max=st.floats(min_value=0, max_value=10, allow_nan=False),
    wait_exp_base=st.floats(min_value=1, max_value=4, allow_nan=False),
    rng=st.randoms(use_true_random=False),
)
def test_property_default_waits_stay_in_bounds_and_within_the_deadline(
    durations: list[float],
    timeout: float,
    wait_initial: float,
    wait_max: float,
    wait_exp_base: float,
    rng: Any,
) -> None:
    """Property: default waits lie in [0, wait_max]; none ends past the deadline."""
    starts: list[float] = []
    with fake_time(rand=rng.random) as clock:

        @ab.async_retry(
            max_attempts=40,
            timeout=timeout,
            wait_initial=wait_initial,
            wait_max=wait_max,
            wait_exp_base=wait_exp_base,
        )
        def fn() -> None:
            starts.append(clock.now)
            clock.advance(durations[len(starts) - 1])
            raise OSError

        with pytest.raises(OSError):
            fn()
    assert all(0.0 <= wait <= wait_max for wait in clock.sleeps)
    assert sum(clock.sleeps) <= timeout + 1e-9
    assert all(start <= timeout + 1e-9 for start in starts)


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
