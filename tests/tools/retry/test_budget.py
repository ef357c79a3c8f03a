"""RetryBudget: a shared, thread-safe token bucket for retries."""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor

import anyio
import pytest

import asyncbridge as ab


class FrozenClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_budget_allows_retries_up_to_the_ratio_of_calls() -> None:
    """With no floor, five calls at ratio 0.2 earn exactly one retry."""
    budget = ab.RetryBudget(ratio=0.2, min_per_second=0, clock=FrozenClock())
    assert not budget.try_withdraw()
    for _ in range(5):
        budget.deposit()
    assert budget.try_withdraw()
    assert not budget.try_withdraw()


def test_budget_sums_small_ratios_without_float_drift() -> None:
    """Ten deposits of 0.1 make one whole token despite float rounding."""
    budget = ab.RetryBudget(ratio=0.1, min_per_second=0, clock=FrozenClock())
    for _ in range(10):
        budget.deposit()
    assert budget.try_withdraw()


def test_budget_caps_credit_at_what_100_calls_earn() -> None:
    """A long healthy stretch banks at most ratio * 100 retries."""
    budget = ab.RetryBudget(ratio=0.5, min_per_second=0, clock=FrozenClock())
    for _ in range(10_000):
        budget.deposit()
    granted = sum(budget.try_withdraw() for _ in range(100))
    assert granted == 50


def test_budget_floor_refills_per_second_and_starts_full() -> None:
    """The floor grants min_per_second retries a second, holding one second's worth."""
    clock = FrozenClock()
    budget = ab.RetryBudget(ratio=0, min_per_second=2, clock=clock)
    assert [budget.try_withdraw() for _ in range(3)] == [True, True, False]
    clock.now += 0.5
    assert [budget.try_withdraw() for _ in range(2)] == [True, False]
    clock.now += 100  # refills to the cap only: one second's worth
    assert [budget.try_withdraw() for _ in range(3)] == [True, True, False]


def test_budget_floor_below_one_per_second_still_grants_whole_tokens() -> None:
    """A floor of 0.5/s grants one retry every two seconds."""
    clock = FrozenClock()
    budget = ab.RetryBudget(ratio=0, min_per_second=0.5, clock=clock)
    assert budget.try_withdraw()
    assert not budget.try_withdraw()
    clock.now += 1
    assert not budget.try_withdraw()
    clock.now += 1
    assert budget.try_withdraw()


def test_budget_spends_call_credit_before_the_floor() -> None:
    """Earned credit is used first, so the floor stays for quiet periods."""
    budget = ab.RetryBudget(ratio=1.0, min_per_second=1, clock=FrozenClock())
    budget.deposit()
    assert budget.try_withdraw()  # credit
    assert budget.try_withdraw()  # floor
    assert not budget.try_withdraw()


def test_budget_ignores_a_clock_going_backwards() -> None:
    """A clock step backwards refills nothing (and takes nothing away)."""
    clock = FrozenClock()
    clock.now = 10.0
    budget = ab.RetryBudget(ratio=0, min_per_second=1, clock=clock)
    assert budget.try_withdraw()
    clock.now = 5.0
    assert not budget.try_withdraw()


def test_budget_counts_exactly_under_threads() -> None:
    """Concurrent deposits and withdrawals from many threads lose no update."""
    budget = ab.RetryBudget(ratio=1.0, min_per_second=0, clock=FrozenClock())
    barrier = threading.Barrier(8)
    granted: list[int] = []

    def depositor() -> None:
        barrier.wait()
        for _ in range(10):
            budget.deposit()

    threads = [threading.Thread(target=depositor) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    def withdrawer() -> None:
        barrier.wait()
        granted.append(sum(budget.try_withdraw() for _ in range(20)))

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


# ------------------------------------------------- shared by many callers at once


def test_budget_shared_by_32_threads_released_together_counts_exactly() -> None:
    """32 threads released by one barrier: 32 deposits at 0.5 buy exactly 16 retries."""
    threads = 32
    budget = ab.RetryBudget(ratio=0.5, min_per_second=0, clock=FrozenClock())
    start = threading.Barrier(threads)
    all_failed = threading.Barrier(threads)
    attempts: dict[int, int] = {}
    lock = threading.Lock()

    @ab.async_retry(max_attempts=2, budget=budget, wait=0)
    def call(key: int) -> int:
        with lock:
            attempts[key] = attempts.get(key, 0) + 1
            first = attempts[key] == 1
        if first:
            all_failed.wait()  # every call has deposited before any withdraws
            raise OSError(key)
        return key

    def worker(key: int) -> str:
        start.wait()
        try:
            call(key)
        except OSError as exc:
            note = exc.__notes__[0]
            return "gave up" if "the retry budget was exhausted" in note else note
        return "retried"

    with ThreadPoolExecutor(threads) as pool:
        outcomes = list(pool.map(worker, range(threads)))
    assert outcomes.count("retried") == threads // 2
    assert outcomes.count("gave up") == threads // 2
    assert not budget.try_withdraw()  # nothing left over, nothing lost


@pytest.mark.anyio
async def test_budget_shared_by_200_tasks_counts_exactly() -> None:
    """200 concurrent tasks at ratio 0.25: exactly the 25 retries 100 calls earn."""
    tasks = 200
    budget = ab.RetryBudget(ratio=0.25, min_per_second=0, clock=FrozenClock())
    failed: set[int] = set()
    all_failed = anyio.Event()
    outcomes: list[str] = []

    @ab.async_retry(max_attempts=2, budget=budget, wait=0)
    async def call(key: int) -> int:
        if key not in failed:
            failed.add(key)
            if len(failed) == tasks:
                all_failed.set()
            await all_failed.wait()
            raise OSError(key)
        return key

    async def worker(key: int) -> None:
        try:
            await call(key)
        except OSError:
            outcomes.append("gave up")
        else:
            outcomes.append("retried")

    async with anyio.create_task_group() as tg:
        for key in range(tasks):
            tg.start_soon(worker, key)
    earned = 25  # 200 calls earn 50, but credit is capped at what 100 calls earn
    assert outcomes.count("retried") == earned
    assert outcomes.count("gave up") == tasks - earned
    assert not budget.try_withdraw()


def test_deposit_and_try_withdraw_are_public_for_loops_of_your_own() -> None:
    """deposit() records a call and try_withdraw() spends a token, as the decorator does."""
    budget = ab.RetryBudget(ratio=0.5, min_per_second=0, clock=FrozenClock())
    budget.deposit()
    assert not budget.try_withdraw()
    budget.deposit()
    assert budget.try_withdraw()
    assert not budget.try_withdraw()
