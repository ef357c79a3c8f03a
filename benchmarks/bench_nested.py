"""Nested offload at scale: 1,000 callers, each a chain three threads deep.

Each caller is ``offload(level1)`` from one event loop; ``level1`` runs a loop of its
own (``asyncio.run``, as legacy code does) that offloads ``level2``, which does the
same for the leaf. With a bounded shared pool this is the workload that used to
deadlock (every worker waiting for work queued behind it); asyncbridge's pool lends
a waiting thread's slot to the nested work instead.

Competitors (same work, same chain):

* ``ab.run_in_thread``, default pool (40) and ``configure(default_workers=4)``;
* ``asyncio.to_thread``: each ``asyncio.run`` makes a new loop with its own default
  executor, so nothing is shared (and nothing bounds the thread count);
* ``anyio.to_thread.run_sync`` with ``anyio.run`` in the workers: per-loop limiters.

Reported per batch of 1,000 callers: seconds, the peak number of threads seen, and
for asyncbridge the most slots its pool lent at once (its ceiling:
``max(256, 4 x max_workers)``).

    .venv/bin/python benchmarks/bench_nested.py            # ~1-2 minutes
    .venv/bin/python benchmarks/bench_nested.py --quick    # smoke run
"""

from __future__ import annotations

import asyncio
import sys
import threading
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

import _harness as h
import asyncbridge as ab

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

CALLERS = 1000
QUICK_CALLERS = 50
ROUNDS = 5  # each round is one whole batch: a few seconds
PACKAGES = ("asyncbridge", "anyio")


class Peak:
    """The most threads seen at once, sampled where the chain runs."""

    def __init__(self) -> None:
        self.threads = 0

    def see(self) -> None:
        self.threads = max(self.threads, threading.active_count())


def chain_with(
    offload: Callable[..., Awaitable[Any]], run: Callable[..., Any], peak: Peak
) -> Callable[[int], Awaitable[Any]]:
    """One caller's chain, three threads deep, built on *offload* and *run*."""

    def leaf(i: int) -> int:
        peak.see()
        return i

    def level2(i: int) -> int:
        async def inner() -> int:
            return await offload(leaf, i) + 1

        return run(inner)  # type: ignore[no-any-return]

    def level1(i: int) -> int:
        async def inner() -> int:
            return await offload(level2, i) + 1

        return run(inner)  # type: ignore[no-any-return]

    async def caller(i: int) -> int:
        return await offload(level1, i)  # type: ignore[no-any-return]

    return caller


def asyncio_run(fn: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(fn())  # type: ignore[arg-type]


def batch_runner(
    caller: Callable[[int], Awaitable[int]], callers: int, runner: str
) -> Callable[[int], None]:
    """``run(n)``: n batches of *callers* concurrent chains, checked."""

    async def batch() -> None:
        results = await asyncio.gather(*(caller(i) for i in range(callers)))
        assert results == [i + 2 for i in range(callers)]

    async def batch_anyio() -> None:
        results: list[int] = [0] * callers

        async def one(i: int) -> None:
            results[i] = await caller(i)

        async with anyio.create_task_group() as tg:
            for i in range(callers):
                tg.start_soon(one, i)
        assert results == [i + 2 for i in range(callers)]

    def run(n: int) -> None:
        for _ in range(n):
            if runner == "anyio":
                anyio.run(batch_anyio)
            else:
                asyncio.run(batch())

    return run


def main(argv: list[str] | None = None) -> int:
    args, settings = h.parse_args(__doc__ or "", argv)
    if not settings.quick and args.rounds is None:
        settings = h.Settings(
            rounds=ROUNDS, round_seconds=1.0, warmup_seconds=0.0, quick=False
        )
    callers = QUICK_CALLERS if settings.quick else CALLERS
    peaks = {name: Peak() for name in ("ab40", "ab4", "to_thread", "anyio")}
    lent: dict[str, int] = {}

    def ab_with(workers: int, key: str) -> h.Competitor:
        def before() -> None:
            ab.configure(default_workers=workers)

        def after() -> None:
            pool: Any = ab.executors.get()
            lent[key] = max(lent.get(key, 0), pool.lending()[1])
            ab.executors.shutdown()  # the next round starts from a cold pool

        caller = chain_with(ab.run_in_thread, asyncio_run, peaks[key])
        return h.Competitor(
            f"ab.run_in_thread ({workers} workers)",
            batch_runner(caller, callers, "asyncio"),
            loop="asyncio",
            before=before,
            after=after,
            calls=1,
        )

    competitors = [
        ab_with(40, "ab40"),
        ab_with(4, "ab4"),
        h.Competitor(
            "asyncio.to_thread",
            batch_runner(
                chain_with(asyncio.to_thread, asyncio_run, peaks["to_thread"]),
                callers,
                "asyncio",
            ),
            loop="asyncio",
            calls=1,
            note="a new default executor per asyncio.run: nothing shared",
        ),
        h.Competitor(
            "anyio.to_thread.run_sync",
            batch_runner(
                chain_with(anyio.to_thread.run_sync, anyio.run, peaks["anyio"]),
                callers,
                "anyio",
            ),
            loop="asyncio",
            calls=1,
            note="anyio.run in the workers: a limiter per loop",
        ),
    ]
    h.print_header(
        f"nested offload: {callers} callers x a chain 3 threads deep", PACKAGES
    )
    results = h.compare(competitors, settings)
    h.print_table(
        f"{callers} concurrent callers, depth 3",
        results,
        "asyncio.to_thread",
        unit="ms",
        scale=1e3,
        per="batch",
    )
    print("peak threads seen (and slots lent at once, for asyncbridge's pool):")
    for name, key in (
        ("ab.run_in_thread (40 workers)", "ab40"),
        ("ab.run_in_thread (4 workers)", "ab4"),
        ("asyncio.to_thread", "to_thread"),
        ("anyio.to_thread.run_sync", "anyio"),
    ):
        extra = f", lent {lent[key]}" if key in lent else ""
        print(f"  {name:<32} {peaks[key].threads:>5} threads{extra}")
    print()
    print("targets:")
    targets = [
        h.check_target(
            "ab (40 workers) / asyncio.to_thread",
            h.ratio(results, "ab.run_in_thread (40 workers)", "asyncio.to_thread"),
            at_most=1.0,
            paired=h.paired_ratio(
                results, "ab.run_in_thread (40 workers)", "asyncio.to_thread"
            ),
        ),
        h.check_target(
            "ab (4 workers) / asyncio.to_thread",
            h.ratio(results, "ab.run_in_thread (4 workers)", "asyncio.to_thread"),
            at_most=1.0,
            paired=h.paired_ratio(
                results, "ab.run_in_thread (4 workers)", "asyncio.to_thread"
            ),
        ),
        h.check_target(
            "most slots lent at once",
            max(lent.values(), default=0),
            at_most=256,
            unit=" slots",
        ),
    ]
    h.dump_json(
        args.json,
        {
            "results": h.results_json(results),
            "targets": [t.to_json() for t in targets],
            "peak_threads": {k: p.threads for k, p in peaks.items()},
            "lent": lent,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
