"""Async → sync: `asyncbridge.run_in_thread` against the alternatives.

Three measurements, each side by side in one process with interleaved rounds:

1. latency on asyncio: inside `asyncio.run` (plain asyncio loop), await one trivial
   sync function in a worker thread, one call at a time;
2. latency on trio (informational): the same inside `trio.run`;
3. throughput: 2,000 concurrent 1 ms blocking calls (``time.sleep(0.001)``) through
   40 workers, total wall time per batch, against a raw 40-worker
   `ThreadPoolExecutor` driven by `loop.run_in_executor`.

Run from the repository root:

    .venv/bin/python benchmarks/bench_async_to_sync.py            # ~1.5 minutes
    .venv/bin/python benchmarks/bench_async_to_sync.py --quick    # smoke run
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
import warnings
from typing import TYPE_CHECKING

import _harness as h
import asyncbridge as ab

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

# ------------------------------------------------------------------ constants

OURS = "ab.run_in_thread"
PACKAGES = ("asyncbridge", "anyio", "trio", "asgiref", "asyncer")

THROUGHPUT_CALLS = 2_000  # concurrent calls per batch
THROUGHPUT_BLOCK = 0.001  # seconds each call blocks (time.sleep)
THROUGHPUT_WORKERS = 40  # threads, for every competitor
RAW_POOL = f"raw ThreadPoolExecutor({THROUGHPUT_WORKERS}), run_in_executor"

# Targets (ratios of medians within one run), from issue #2.
TARGET_VS_TO_THREAD = 1.0  # no slower than asyncio.to_thread
TARGET_VS_ANYIO = 0.8  # <= 0.8x anyio.to_thread.run_sync
TARGET_THROUGHPUT = 1.1  # <= 1.1x the raw pool's wall time


def trivial() -> int:
    """The work: nothing, so what is measured is the bridge."""
    return 1


def repeat(make: Callable[[], Awaitable[object]]) -> Callable[[int], Awaitable[None]]:
    """A round: await ``make()`` *n* times, one after the other."""

    async def run(n: int) -> None:
        for _ in range(n):
            await make()

    return run


# -------------------------------------------------------------------- latency


async def latency_asyncio(settings: h.Settings) -> list[h.Result]:
    import anyio.to_thread  # noqa: PLC0415
    import asyncer  # noqa: PLC0415
    from asgiref.sync import sync_to_async  # noqa: PLC0415

    loop = asyncio.get_running_loop()
    s2a_default = sync_to_async(trivial)  # thread_sensitive=True is the default
    s2a_free = sync_to_async(trivial, thread_sensitive=False)
    asyncer_fn = asyncer.asyncify(trivial)
    ab_fn = ab.asyncify(trivial)
    competitors = [
        h.Competitor(OURS, repeat(lambda: ab.run_in_thread(trivial)), "asyncio"),
        h.Competitor(
            "loop.run_in_executor(None)",
            repeat(lambda: loop.run_in_executor(None, trivial)),
            "asyncio",
        ),
        h.Competitor(
            "asyncio.to_thread", repeat(lambda: asyncio.to_thread(trivial)), "asyncio"
        ),
        h.Competitor(
            "anyio.to_thread.run_sync",
            repeat(lambda: anyio.to_thread.run_sync(trivial)),
            "asyncio",
        ),
        h.Competitor(
            "asgiref sync_to_async",
            repeat(s2a_default),
            "asyncio",
            note="default thread_sensitive=True: every call on one shared thread",
        ),
        h.Competitor(
            "asgiref sync_to_async(thread_sensitive=False)",
            repeat(s2a_free),
            "asyncio",
            note="informational: the loop's default executor",
        ),
        h.Competitor("asyncer.asyncify", repeat(asyncer_fn), "asyncio"),
        h.Competitor(
            "ab.asyncify (wrapper)",
            repeat(ab_fn),
            "asyncio",
            note="the same path as run_in_thread: its gap to it is this run's noise",
        ),
    ]
    return await h.compare_async(competitors, settings)


def latency_trio(settings: h.Settings) -> list[h.Result]:
    import anyio.to_thread  # noqa: PLC0415
    import trio  # noqa: PLC0415

    competitors = [
        h.Competitor(OURS, repeat(lambda: ab.run_in_thread(trivial)), "trio"),
        h.Competitor(
            "trio.to_thread.run_sync",
            repeat(lambda: trio.to_thread.run_sync(trivial)),
            "trio",
        ),
        h.Competitor(
            "anyio.to_thread.run_sync",
            repeat(lambda: anyio.to_thread.run_sync(trivial)),
            "trio",
        ),
    ]
    return trio.run(h.compare_async, competitors, settings)


# ----------------------------------------------------------------- throughput


def batch(
    make: Callable[[], Awaitable[object]],
) -> Callable[[int], Awaitable[None]]:
    """A round: *n* batches of THROUGHPUT_CALLS concurrent calls each."""

    async def run(n: int) -> None:
        for _ in range(n):
            await asyncio.gather(*(make() for _ in range(THROUGHPUT_CALLS)))

    return run


async def throughput(settings: h.Settings) -> list[h.Result]:
    import anyio.to_thread  # noqa: PLC0415

    sleep, block = time.sleep, THROUGHPUT_BLOCK
    loop = asyncio.get_running_loop()
    ab.configure(default_workers=THROUGHPUT_WORKERS)
    assert anyio.to_thread.current_default_thread_limiter().total_tokens == (
        THROUGHPUT_WORKERS
    )
    with concurrent.futures.ThreadPoolExecutor(THROUGHPUT_WORKERS) as pool:

        async def raw_in_task() -> None:
            await loop.run_in_executor(pool, sleep, block)

        competitors = [
            h.Competitor(
                OURS + f" (default pool, {THROUGHPUT_WORKERS} workers)",
                batch(lambda: ab.run_in_thread(sleep, block)),
                "asyncio",
                calls=1,
            ),
            h.Competitor(
                RAW_POOL,
                batch(raw_in_task),
                "asyncio",
                calls=1,
                note="each call awaited in a coroutine (a task), like the others",
            ),
            h.Competitor(
                RAW_POOL + ", bare futures",
                batch(lambda: loop.run_in_executor(pool, sleep, block)),
                "asyncio",
                calls=1,
                note="informational: futures gathered directly, no task per call",
            ),
            h.Competitor(
                f"anyio.to_thread.run_sync ({THROUGHPUT_WORKERS}-token limiter)",
                batch(lambda: anyio.to_thread.run_sync(sleep, block)),
                "asyncio",
                calls=1,
            ),
        ]
        return await h.compare_async(competitors, settings)


# ----------------------------------------------------------------------- main


def main() -> None:
    args, settings = h.parse_args(__doc__.splitlines()[0])
    warnings.simplefilter("ignore", DeprecationWarning)
    h.print_header("async -> sync: one trivial sync function per call", PACKAGES)

    on_asyncio = asyncio.run(latency_asyncio(settings))
    h.print_table(
        "async -> sync latency inside asyncio.run (plain asyncio), sequential",
        on_asyncio,
        "asyncio.to_thread",
    )
    h.flush()

    on_trio = latency_trio(settings)
    h.print_table(
        "async -> sync latency inside trio.run (informational)",
        on_trio,
        "trio.to_thread.run_sync",
    )
    h.flush()

    batches = asyncio.run(throughput(settings))
    h.print_table(
        f"throughput: {THROUGHPUT_CALLS:,} concurrent time.sleep({THROUGHPUT_BLOCK}) "
        f"calls, {THROUGHPUT_WORKERS} workers (wall time per batch)",
        batches,
        RAW_POOL,
        unit="ms",
        scale=1e3,
        per="batch",
    )
    ideal = THROUGHPUT_CALLS / THROUGHPUT_WORKERS * THROUGHPUT_BLOCK * 1e3
    print(f"(ideal, with zero overhead: {ideal:.0f} ms per batch)")
    print()

    r = h.ratio
    ours_batch = batches[0].name
    print("## targets (ratios of medians within this run)")
    targets = [
        h.check_ratio(
            "run_in_thread / asyncio.to_thread",
            on_asyncio,
            OURS,
            "asyncio.to_thread",
            at_most=TARGET_VS_TO_THREAD,
        ),
        h.check_ratio(
            "run_in_thread / anyio.to_thread.run_sync",
            on_asyncio,
            OURS,
            "anyio.to_thread.run_sync",
            at_most=TARGET_VS_ANYIO,
        ),
        h.check_ratio(
            "throughput: run_in_thread / raw pool (wall time)",
            batches,
            ours_batch,
            RAW_POOL,
            at_most=TARGET_THROUGHPUT,
        ),
    ]
    print("## informational")
    info = {
        "run_in_thread / loop.run_in_executor(None)": r(
            on_asyncio, OURS, "loop.run_in_executor(None)"
        ),
        "run_in_thread / asgiref sync_to_async (default)": r(
            on_asyncio, OURS, "asgiref sync_to_async"
        ),
        "run_in_thread / asyncer.asyncify": r(on_asyncio, OURS, "asyncer.asyncify"),
        "trio: run_in_thread / trio.to_thread.run_sync": r(
            on_trio, OURS, "trio.to_thread.run_sync"
        ),
        "trio: run_in_thread / anyio.to_thread.run_sync": r(
            on_trio, OURS, "anyio.to_thread.run_sync"
        ),
    }
    for label, value in info.items():
        print(f"  {label}: {value:.2f}x")
    print()
    h.dump_json(
        args.json,
        {
            "asyncio": h.results_json(on_asyncio),
            "trio": h.results_json(on_trio),
            "throughput": h.results_json(batches),
            "targets": [t.to_json() for t in targets],
            "informational": info,
        },
    )


if __name__ == "__main__":
    main()
