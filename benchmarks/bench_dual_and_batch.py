"""Dual-interface twins and bounded batches, against what users write by hand.

1. A sync twin call (``client.ping()``, generated from ``ping_async``, and one
   declared with ``ab.sync_twin``) against calling the coroutine through
   ``ab.run_sync(client.ping_async)`` by hand, from plain sync code: all three run
   on the shared portal loop, so the difference is what the twin adds.
2. ``ab.map_async`` over 10,000 trivial async items with a concurrency limit,
   against ``asyncio.gather`` of the same coroutines under an ``asyncio.Semaphore``
   of the same size (informational: ``ab.gather_limited`` of the coroutines).

Run from the repository root:

    .venv/bin/python benchmarks/bench_dual_and_batch.py            # ~1 minute
    .venv/bin/python benchmarks/bench_dual_and_batch.py --quick    # smoke run
"""

from __future__ import annotations

import asyncio

import _harness as h
import asyncbridge as ab

# ------------------------------------------------------------------ constants

PACKAGES = ("asyncbridge", "anyio", "uvloop")
BY_HAND = "ab.run_sync(obj.ping_async)"
GENERATED = "generated twin obj.ping()"
EXPLICIT = "ab.sync_twin obj.ping_twin()"
TARGET_TWIN_ADDED_US = 1.0  # issue #4: the twin adds under 1 µs

ITEMS = 10_000
CONCURRENCY = 100
GATHER = "asyncio.gather + Semaphore"
MAP = "ab.map_async"
GATHER_LIMITED = "ab.gather_limited"
TARGET_MAP_RATIO = 1.0  # issue #4: map_async no slower than gather + semaphore


class Plain:
    """What a user has without DualInterface: an async method, run by hand."""

    async def ping_async(self) -> int:
        return 1


class Client(ab.DualInterface):
    """The same method; `ping` is generated, `ping_twin` declared."""

    async def ping_async(self) -> int:
        return 1

    ping_twin = ab.sync_twin(ping_async)


def twin_rounds() -> list[h.Competitor]:
    plain, client = Plain(), Client()
    client.ping()  # type: ignore[attr-defined]  # the home loop: the portal

    def by_hand(n: int) -> None:
        for _ in range(n):
            ab.run_sync(plain.ping_async)

    def generated(n: int) -> None:
        for _ in range(n):
            client.ping()  # type: ignore[attr-defined]

    def generated_bound_once(n: int) -> None:
        ping = client.ping  # type: ignore[attr-defined]
        for _ in range(n):
            ping()

    def explicit(n: int) -> None:
        for _ in range(n):
            client.ping_twin()

    return [
        h.Competitor(BY_HAND, by_hand, loop="portal"),
        h.Competitor(GENERATED, generated, loop="portal"),
        h.Competitor(EXPLICIT, explicit, loop="portal"),
        h.Competitor(
            "generated twin, bound once",
            generated_bound_once,
            loop="portal",
            note="the attribute lookup hoisted out of the loop",
        ),
    ]


async def trivial(x: int) -> int:
    return x


async def gather_with_semaphore(items: range) -> list[int]:
    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def guarded(x: int) -> int:
        async with semaphore:
            return await trivial(x)

    return await asyncio.gather(*(guarded(x) for x in items))


def batch_rounds() -> list[h.Competitor]:
    items = range(ITEMS)

    async def gather(n: int) -> None:
        for _ in range(n):
            await gather_with_semaphore(items)

    async def map_async(n: int) -> None:
        for _ in range(n):
            await ab.map_async(trivial, items, limit=CONCURRENCY)

    async def gather_limited(n: int) -> None:
        for _ in range(n):
            await ab.gather_limited(*(trivial(x) for x in items), limit=CONCURRENCY)

    return [
        h.Competitor(GATHER, gather, loop="asyncio"),
        h.Competitor(MAP, map_async, loop="asyncio"),
        h.Competitor(GATHER_LIMITED, gather_limited, loop="asyncio"),
    ]


def main() -> None:
    args, settings = h.parse_args(__doc__.splitlines()[0])
    h.print_header("sync twins and bounded batches", PACKAGES)

    twins = h.compare(twin_rounds(), settings)
    h.print_table("sync twin vs run_sync by hand (plain thread)", twins, BY_HAND)
    h.flush()

    batches = asyncio.run(h.compare_async(batch_rounds(), settings))
    h.print_table(
        f"{ITEMS:,} trivial async items, concurrency {CONCURRENCY}",
        batches,
        GATHER,
        unit="ms",
        scale=1e3,
        per="batch",
    )

    def added(name: str) -> float:
        return h.difference(twins, name, BY_HAND) * 1e6  # µs

    print("## targets")
    targets = [
        h.check_target(
            "generated sync twin: added per call",
            added(GENERATED),
            at_most=TARGET_TWIN_ADDED_US,
            unit=" µs",
        ),
        h.check_target(
            "sync_twin: added per call",
            added(EXPLICIT),
            at_most=TARGET_TWIN_ADDED_US,
            unit=" µs",
        ),
        h.check_ratio(
            "map_async / (gather + semaphore)",
            batches,
            MAP,
            GATHER,
            at_most=TARGET_MAP_RATIO,
        ),
    ]
    print()
    h.dump_json(
        args.json,
        {
            "twins": h.results_json(twins),
            "batches": h.results_json(batches),
            "targets": [t.to_json() for t in targets],
        },
    )


if __name__ == "__main__":
    main()
