"""Soak: a million bridged calls, mixed across every path; memory, threads, fds.

Paths, in turn (one call each):

* from async code (one ``asyncio.run`` per sample period): ``run_in_thread``,
  ``asyncify``, ``mixed_execution_safe(...).aio``, a dedicated lane, a nested chain
  (``run_in_thread`` -> ``run_sync`` back on the caller's loop), ``gather_limited``
  of two sync callables, ``iterate_in_thread``, a DualInterface's async method;
* from sync code (the main thread, no loop running): ``run_sync`` on the portal,
  an ``async_safe`` function, a DualInterface sync twin, ``iterate_sync``,
  ``sync_context``, an ``async_retry`` function that fails once.

Every tenth of the calls: RSS (after ``gc.collect()``), the OS thread count and the
open file descriptors. The first tenth is the warm-up. Targets: RSS growth after the
warm-up under 10 MB; threads and file descriptors flat.

    .venv/bin/python benchmarks/bench_soak.py                 # 1,000,000 calls, ~2-4 min
    .venv/bin/python benchmarks/bench_soak.py --calls 100000  # a shorter soak
    .venv/bin/python benchmarks/bench_soak.py --quick         # smoke run
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sys
import time
from typing import TYPE_CHECKING, Any

import psutil

import _harness as h
import asyncbridge as ab

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator

CALLS = 1_000_000
QUICK_CALLS = 4_000
SAMPLES = 10
TARGET_RSS_MB = 10.0
MB = 1024 * 1024
PACKAGES = ("asyncbridge", "anyio", "psutil")


class Client(ab.DualInterface):
    """A loop-bound client: its lock belongs to its home loop."""

    def __init__(self) -> None:
        self.lock: asyncio.Lock | None = None

    async def ping_async(self, n: int) -> int:
        self.lock = self.lock or asyncio.Lock()
        async with self.lock:
            return n


async def _one(n: int) -> int:
    await asyncio.sleep(0)
    return n


def _plain(n: int) -> int:
    return n


@ab.mixed_execution_safe
def _legacy(n: int) -> int:
    return n


@ab.async_safe
async def _safe(n: int) -> int:
    return n


async def _numbers() -> AsyncIterator[int]:
    yield 1
    yield 2


@contextlib.asynccontextmanager
async def _session() -> AsyncIterator[int]:
    yield 1


def _lines() -> Iterator[int]:
    yield 1


def _route_back(n: int) -> int:
    return ab.run_sync(_one, n)


class Flaky:
    """Fails every other call: each call of the retried function retries once."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, n: int) -> int:
        self.calls += 1
        if self.calls % 2:
            raise OSError("flaky")
        return n


def async_paths(client: Client) -> list[Callable[[int], Any]]:
    asyncified = ab.asyncify(_plain)

    async def lane(n: int) -> int:
        return await ab.run_in_thread(_plain, n, executor="soak-lane")

    async def gathered(n: int) -> int:
        a, b = await ab.gather_limited(lambda: n, lambda: n, limit=2)
        return a + b - n  # type: ignore[no-any-return]

    async def iterated(n: int) -> int:
        async with ab.iterate_in_thread(_lines()) as it:
            async for _ in it:
                pass
        return n

    return [
        functools_partial(ab.run_in_thread, _plain),
        asyncified,
        _legacy.aio,
        lane,
        functools_partial(ab.run_in_thread, _route_back),
        gathered,
        iterated,
        client.ping_async,
    ]


def functools_partial(fn: Callable[..., Any], *args: Any) -> Callable[[int], Any]:
    def call(n: int) -> Any:
        return fn(*args, n)

    return call


def sync_paths(client: Client) -> list[Callable[[int], Any]]:
    flaky = ab.async_retry(max_attempts=2, wait=0)(Flaky())

    def iterated(n: int) -> int:
        for _ in ab.iterate_sync(_numbers()):
            pass
        return n

    def entered(n: int) -> int:
        with ab.sync_context(_session()):
            return n

    return [
        functools_partial(ab.run_sync, _one),
        _safe,
        client.ping,  # type: ignore[attr-defined]
        iterated,
        entered,
        flaky,
    ]


def sample(proc: psutil.Process, calls: int, start: float) -> dict[str, Any]:
    gc.collect()
    row = {
        "calls": calls,
        "rss": proc.memory_info().rss,
        "threads": proc.num_threads(),
        "fds": proc.num_fds(),
        "seconds": time.perf_counter() - start,
    }
    print(
        f"  {calls:>9,} calls  rss {row['rss'] / MB:8.2f} MB  threads "
        f"{row['threads']:>3}  fds {row['fds']:>3}  {row['seconds']:7.1f} s",
        flush=True,
    )
    return row


def soak(calls: int) -> list[dict[str, Any]]:
    logging.getLogger("asyncbridge.retry").setLevel(logging.ERROR)  # a line per retry
    ab.executors.dedicated("soak-lane")
    syncs = sync_paths(Client())
    proc, start, rows = psutil.Process(), time.perf_counter(), []
    per_sample = calls // SAMPLES
    done = 0

    async def async_part(count: int) -> None:
        asyncs = async_paths(Client())  # a new loop each period: a new instance
        for i in range(count):
            assert await asyncs[i % len(asyncs)](i) == i

    for _ in range(SAMPLES):
        half = per_sample // 2
        asyncio.run(async_part(half))
        for i in range(per_sample - half):
            assert syncs[i % len(syncs)](i) == i
        done += per_sample
        rows.append(sample(proc, done, start))
    return rows


def main(argv: list[str] | None = None) -> int:
    def extra(parser: Any) -> None:
        parser.add_argument("--calls", type=int, default=None)

    args, settings = h.parse_args(__doc__ or "", argv, extra)
    calls = args.calls or (QUICK_CALLS if settings.quick else CALLS)
    h.print_header(f"soak: {calls:,} mixed bridged calls", PACKAGES)
    rows = soak(calls)
    first, last = rows[0], rows[-1]
    growth = (last["rss"] - first["rss"]) / MB
    threads = {r["threads"] for r in rows}
    fds = {r["fds"] for r in rows}
    per_call = (last["seconds"]) / calls * 1e6
    print()
    print(
        f"after warm-up: RSS {first['rss'] / MB:.1f} -> {last['rss'] / MB:.1f} MB "
        f"(+{growth:.2f} MB over {last['calls'] - first['calls']:,} calls); threads "
        f"{sorted(threads)}; fds {sorted(fds)}; {per_call:.1f} µs per call on average"
    )
    print("targets:")
    targets = [
        h.check_target(
            "RSS growth after warm-up", growth, at_most=TARGET_RSS_MB, unit=" MB"
        ),
        h.check_target("distinct thread counts", len(threads), at_most=1, unit=""),
        h.check_target("distinct fd counts", len(fds), at_most=1, unit=""),
    ]
    h.dump_json(args.json, {"samples": rows, "targets": [t.to_json() for t in targets]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
