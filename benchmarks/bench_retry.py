"""Retry success-path overhead: asyncbridge.async_retry against tenacity, stamina, backoff.

What a retry decorator costs when nothing fails, the case that runs millions of
times. Every variant wraps the same trivial function (sync, then async) and is
timed in this one process, rounds interleaved so a noisy moment hits them all; the
figure is the median per-call time over the rounds, minus the plain call's
(the baseline). Ratios are what to read: machines here are noisy.

    .venv/bin/python benchmarks/bench_retry.py           # full run (~1 minute)
    .venv/bin/python benchmarks/bench_retry.py --quick   # smoke run: checks it runs

Targets (DESIGN.md section 6 and the retry brief): overhead at least 10x less than
tenacity's and less than backoff's, sync and async.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import statistics
import sys
import time
from typing import TYPE_CHECKING

import backoff
import stamina
import tenacity

import asyncbridge as ab

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

# ------------------------------------------------------------------ constants

ROUNDS = 15  # timed rounds per variant (odd: the median is a real round)
SYNC_CALLS = 50_000  # calls per timed round, sync variants
ASYNC_CALLS = 20_000  # calls per timed round, async variants
WARMUP_CALLS = 2_000  # untimed calls per variant before the first round

QUICK_ROUNDS = 3
QUICK_SYNC_CALLS = 2_000
QUICK_ASYNC_CALLS = 1_000
QUICK_WARMUP_CALLS = 100

TENACITY_TARGET = 10.0  # our overhead must be at least this many times smaller
BACKOFF_TARGET = 1.0  # ... and smaller than backoff's

ATTEMPTS = 3
OURS = "asyncbridge.async_retry"
BASELINE = "plain call"


# ------------------------------------------------------------------- variants


def payload(x: int) -> int:
    return x + 1


async def apayload(x: int) -> int:
    return x + 1


def decorators() -> dict[str, Callable[[Callable[..., object]], Callable[..., object]]]:
    """Each variant's decorator, configured alike: 3 attempts, exponential waits."""
    budget = ab.RetryBudget()
    return {
        BASELINE: lambda fn: fn,
        OURS: ab.async_retry(max_attempts=ATTEMPTS),
        f"{OURS}(timeout=30)": ab.async_retry(max_attempts=ATTEMPTS, timeout=30),
        f"{OURS}(budget=...)": ab.async_retry(max_attempts=ATTEMPTS, budget=budget),
        "tenacity.retry": tenacity.retry(
            stop=tenacity.stop_after_attempt(ATTEMPTS),
            wait=tenacity.wait_exponential(multiplier=0.1, max=5),
        ),
        "stamina.retry": stamina.retry(on=Exception, attempts=ATTEMPTS),
        "backoff.on_exception": backoff.on_exception(
            backoff.expo, Exception, max_tries=ATTEMPTS
        ),
    }


# --------------------------------------------------------------------- timing


def time_sync(fn: Callable[[int], object], calls: int) -> float:
    """Nanoseconds per call of *fn* over one round of *calls* calls."""
    start = time.perf_counter_ns()
    for i in range(calls):
        fn(i)
    return (time.perf_counter_ns() - start) / calls


async def time_async(fn: Callable[[int], Awaitable[object]], calls: int) -> float:
    """Nanoseconds per awaited call of *fn* over one round of *calls* calls."""
    start = time.perf_counter_ns()
    for i in range(calls):
        await fn(i)
    return (time.perf_counter_ns() - start) / calls


def measure_sync(
    variants: dict[str, Callable[[int], object]], rounds: int, calls: int, warmup: int
) -> dict[str, float]:
    """Median ns per call of each variant, rounds interleaved across variants."""
    samples: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for name in names:
        time_sync(variants[name], warmup)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            samples[name].append(time_sync(variants[name], calls))
    return {name: statistics.median(values) for name, values in samples.items()}


async def measure_async(
    variants: dict[str, Callable[[int], Awaitable[object]]],
    rounds: int,
    calls: int,
    warmup: int,
) -> dict[str, float]:
    """Median ns per awaited call of each variant, rounds interleaved."""
    samples: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for name in names:
        await time_async(variants[name], warmup)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            samples[name].append(await time_async(variants[name], calls))
    return {name: statistics.median(values) for name, values in samples.items()}


# --------------------------------------------------------------------- report


def report(kind: str, medians: dict[str, float]) -> list[str]:
    """Print one table; return the targets missed (empty when all are met)."""
    base = medians[BASELINE]
    added = {name: max(value - base, 0.0) for name, value in medians.items()}
    ours = max(added[OURS], 1e-3)  # avoid dividing by a (noisy) zero

    print(f"\n{kind}: per-call cost, median of the rounds (baseline: {BASELINE})")
    print(f"{'variant':<38} {'per call':>10} {'added':>10} {'added vs ours':>14}")
    for name, value in medians.items():
        if name == BASELINE:
            print(f"{name:<38} {value / 1000:>8.3f}µs {'-':>10} {'-':>14}")
            continue
        ratio = added[name] / ours
        print(
            f"{name:<38} {value / 1000:>8.3f}µs {added[name] / 1000:>8.3f}µs "
            f"{ratio:>13.1f}x"
        )

    missed = []
    tenacity_ratio = added["tenacity.retry"] / ours
    backoff_ratio = added["backoff.on_exception"] / ours
    if tenacity_ratio < TENACITY_TARGET:
        missed.append(f"{kind}: only {tenacity_ratio:.1f}x less than tenacity")
    if backoff_ratio <= BACKOFF_TARGET:
        missed.append(f"{kind}: not less than backoff ({backoff_ratio:.2f}x)")
    print(
        f"-> {OURS} adds {tenacity_ratio:.0f}x less than tenacity, "
        f"{added['stamina.retry'] / ours:.0f}x less than stamina, "
        f"{backoff_ratio:.1f}x less than backoff"
    )
    return missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run")
    args, _ = parser.parse_known_args()  # run_all.py may pass options for others
    rounds = QUICK_ROUNDS if args.quick else ROUNDS
    sync_calls = QUICK_SYNC_CALLS if args.quick else SYNC_CALLS
    async_calls = QUICK_ASYNC_CALLS if args.quick else ASYNC_CALLS
    warmup = QUICK_WARMUP_CALLS if args.quick else WARMUP_CALLS
    logging.disable(logging.CRITICAL)  # nothing fails here; keep peers quiet too

    print(f"Python {sys.version.split()[0]}; {rounds} rounds; ", end="")
    print(f"{sync_calls} sync / {async_calls} async calls per round")
    made = decorators()
    sync_variants = {name: deco(payload) for name, deco in made.items()}
    async_variants = {name: deco(apayload) for name, deco in made.items()}
    for fn in sync_variants.values():  # every variant returns the plain result
        assert fn(1) == 2
    gc.collect()
    gc.disable()
    try:
        sync_medians = measure_sync(sync_variants, rounds, sync_calls, warmup)
        async_medians = asyncio.run(
            measure_async(async_variants, rounds, async_calls, warmup)  # type: ignore[arg-type]
        )
    finally:
        gc.enable()
    missed = report("sync", sync_medians) + report("async", async_medians)
    if missed and not args.quick:
        print("\nTARGETS MISSED:\n  " + "\n  ".join(missed))
        return 1
    print("\nall targets met" if not args.quick else "\n(quick run: not judged)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
