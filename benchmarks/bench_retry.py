"""Retry success-path overhead: asyncbridge.async_retry against tenacity, stamina, backoff.

What a retry decorator costs when nothing fails, the case that runs millions of
times. Every competitor wraps the same trivial function (sync, then async), each
configured alike (3 attempts, exponential waits), and runs side by side in this one
process through the shared harness (`_harness.compare` / `compare_async`:
calibrated, interleaved rounds, medians). The figure to read is what each decorator
*adds* to the plain call (difference of medians within the run) and how that
compares with what asyncbridge adds: ratios, because absolute numbers on these
machines swing by 2x between runs. Targets are judged on those ratios and printed;
the script never fails on a figure.

    .venv/bin/python benchmarks/bench_retry.py           # ~1 minute
    .venv/bin/python benchmarks/bench_retry.py --quick   # smoke run: checks it runs

Targets (DESIGN.md section 6 and the retry brief): the success-path overhead at least
10x less than tenacity's and less than backoff's, sync and async.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import backoff
import stamina
import tenacity

import _harness as h
import asyncbridge as ab

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

# ------------------------------------------------------------------ constants

PACKAGES = ("asyncbridge", "tenacity", "stamina", "backoff")
ATTEMPTS = 3
PLAIN = "plain call"
OURS = "asyncbridge.async_retry"
TENACITY = "tenacity.retry"
STAMINA = "stamina.retry"
BACKOFF = "backoff.on_exception"
TARGET_VS_TENACITY = 10.0  # tenacity must add at least this many times more
TARGET_VS_BACKOFF = 1.0  # ... and backoff more than we do


# ------------------------------------------------------------------- variants


def payload(x: int) -> int:
    return x + 1


async def apayload(x: int) -> int:
    return x + 1


def decorators() -> dict[str, Callable[[Callable[..., Any]], Callable[..., Any]]]:
    """Each competitor's decorator, configured alike: 3 attempts, exponential waits."""
    budget = ab.RetryBudget()
    return {
        PLAIN: lambda fn: fn,
        OURS: ab.async_retry(max_attempts=ATTEMPTS),
        f"{OURS}(timeout=30)": ab.async_retry(max_attempts=ATTEMPTS, timeout=30),
        f"{OURS}(budget=...)": ab.async_retry(max_attempts=ATTEMPTS, budget=budget),
        TENACITY: tenacity.retry(
            stop=tenacity.stop_after_attempt(ATTEMPTS),
            wait=tenacity.wait_exponential(multiplier=0.1, max=5),
        ),
        STAMINA: stamina.retry(on=Exception, attempts=ATTEMPTS),
        BACKOFF: backoff.on_exception(backoff.expo, Exception, max_tries=ATTEMPTS),
    }


def sync_rounds(fn: Callable[[int], object]) -> Callable[[int], None]:
    """A round: *n* calls of ``fn(i)``."""

    def run(n: int) -> None:
        for i in range(n):
            fn(i)

    return run


def async_rounds(fn: Callable[[int], Awaitable[object]]) -> Callable[[int], Any]:
    """A round: *n* awaited calls of ``fn(i)``."""

    async def run(n: int) -> None:
        for i in range(n):
            await fn(i)

    return run


# --------------------------------------------------------------------- report


def overheads(kind: str, results: list[h.Result]) -> tuple[dict[str, float], float]:
    """Print what each competitor adds to the plain call; return it (µs) and ours."""
    added = {
        r.name: h.difference(results, r.name, PLAIN) * 1e6
        for r in results
        if r.name != PLAIN
    }
    ours = max(added[OURS], 1e-3)  # a noisy zero must not divide
    print(f"## {kind}: added to the plain call (difference of medians)")
    width = max(len(name) for name in added)
    print(f"{'competitor':<{width}}  {'added µs':>9}  {'x ours':>8}")
    for name, value in added.items():
        print(f"{name:<{width}}  {value:>9.3f}  {value / ours:>7.1f}x")
    print()
    return added, ours


def main() -> None:
    args, settings = h.parse_args(__doc__.splitlines()[0])
    logging.disable(logging.CRITICAL)  # nothing fails here; keep peers quiet too
    h.print_header("retry decorators: success-path overhead", PACKAGES)
    made = decorators()
    sync_fns = {name: deco(payload) for name, deco in made.items()}
    async_fns = {name: deco(apayload) for name, deco in made.items()}
    for fn in sync_fns.values():  # every competitor returns the plain result
        assert fn(1) == 2

    sync_results = h.compare(
        [h.Competitor(name, sync_rounds(fn)) for name, fn in sync_fns.items()],
        settings,
    )
    h.print_table(
        "sync function, sync caller", sync_results, PLAIN, unit="ns", scale=1e9
    )
    h.flush()
    async_results = asyncio.run(
        h.compare_async(
            [
                h.Competitor(name, async_rounds(fn), "asyncio")
                for name, fn in async_fns.items()
            ],
            settings,
        )
    )
    h.print_table("async function, awaited", async_results, PLAIN, unit="ns", scale=1e9)
    h.flush()

    sync_added, sync_ours = overheads("sync", sync_results)
    async_added, async_ours = overheads("async", async_results)
    print("## targets (ratios of what each adds, within this run)")
    targets = []
    for kind, added, ours in (
        ("sync", sync_added, sync_ours),
        ("async", async_added, async_ours),
    ):
        for peer, name, limit in (
            ("tenacity", TENACITY, TARGET_VS_TENACITY),
            ("backoff", BACKOFF, TARGET_VS_BACKOFF),
        ):
            targets.append(
                h.check_target(
                    f"{kind}: {peer} adds / async_retry adds",
                    added[name] / ours,
                    at_least=limit,
                )
            )
    print()
    if settings.quick:
        print("(quick run: figures not meaningful)")
    h.dump_json(
        args.json,
        {
            "sync": h.results_json(sync_results),
            "async": h.results_json(async_results),
            "added_us": {"sync": sync_added, "async": async_added},
            "targets": [t.to_json() for t in targets],
        },
    )


if __name__ == "__main__":
    main()
