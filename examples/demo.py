"""asyncbridge in two minutes: each bridge at work, what it costs, and Perfect21 rebuilt.

Run with ``make demo``. Needs only the runtime dependencies (anyio, typing-extensions).
"""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import asyncbridge as ab

if TYPE_CHECKING:
    from collections.abc import Callable


def per_call_us(fn: Callable[[], object], calls: int = 2000, rounds: int = 5) -> float:
    """Median per-call time of *fn* in microseconds."""
    fn()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(samples)


def heading(text: str) -> None:
    print(f"\n== {text}")


async def add(a: int, b: int) -> int:
    await asyncio.sleep(0)
    return a + b


def sync_to_async() -> None:
    heading("1. sync -> async: run_sync on a shared, long-lived portal loop")
    print("ab.run_sync(add, 2, 3) =", ab.run_sync(add, 2, 3))

    async def make_queue() -> asyncio.Queue[str]:
        return asyncio.Queue()

    queue = ab.run_sync(make_queue)  # a loop-bound object...
    ab.run_sync(queue.put, "kept")  # ...still valid in the next call: same loop
    print("a queue made in one call, used in the next two:", ab.run_sync(queue.get))

    ours = per_call_us(lambda: ab.run_sync(add, 1, 1))
    naive = per_call_us(lambda: asyncio.run(add(1, 1)), calls=300)
    print(f"cost per call: run_sync {ours:.0f} µs, asyncio.run {naive:.0f} µs")


def async_to_sync() -> None:
    heading("2. async -> sync: run_in_thread keeps the loop responsive")

    async def main() -> None:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        tick_task = asyncio.create_task(ticker())
        await ab.run_in_thread(time.sleep, 0.2)  # blocking code, off the loop
        tick_task.cancel()
        print(f"the loop ticked {ticks} times while a thread slept 0.2 s")

        def blocking_then_async() -> int:
            # inside the worker thread, run_sync routes back to *this* loop
            return ab.run_sync(add, 20, 22)

        print(
            "run_sync from the worker ran on the caller's loop:",
            await ab.run_in_thread(blocking_then_async),
        )

        start = time.perf_counter()
        for _ in range(2000):
            await ab.run_in_thread(int)
        ours = (time.perf_counter() - start) / 2000 * 1e6
        start = time.perf_counter()
        for _ in range(2000):
            await asyncio.to_thread(int)
        theirs = (time.perf_counter() - start) / 2000 * 1e6
        print(
            f"cost per call: run_in_thread {ours:.0f} µs, asyncio.to_thread {theirs:.0f} µs"
        )

    asyncio.run(main())


def loop_conflict() -> None:
    heading(
        "3. sync code called from a coroutine: no 'cannot be called from a running event loop'"
    )

    def legacy_helper() -> int:  # sync code that needs async code
        return ab.run_sync(add, 1, 2)

    async def main() -> None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            print("legacy_helper() inside a coroutine =", legacy_helper())
        print(
            "and a warning says the loop was blocked meanwhile:",
            caught[0].category.__name__,
        )
        try:
            ab.run_sync(add, 1, 2, on_loop_conflict="raise")
        except ab.LoopConflictError as exc:
            print("or, with on_loop_conflict='raise':", type(exc).__name__)

    asyncio.run(main())

    async def on_the_portal() -> int:
        return legacy_helper()  # would wait for its own loop: refused, not a hang

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ab.LoopBlockedWarning)
        try:
            ab.run_sync(on_the_portal)
        except ab.LoopConflictError:
            print(
                "a call that would wait for itself raises LoopConflictError instead of hanging"
            )


def timeouts() -> None:
    heading("4. timeouts cancel the coroutine and let its cleanup run")

    async def slow() -> None:
        try:
            await asyncio.sleep(10)
        finally:
            print("  (cleanup ran)")

    try:
        ab.run_sync(slow, timeout=0.05)
    except TimeoutError:
        print("TimeoutError after 0.05 s")


def dedicated_executor() -> None:
    heading("5. a dedicated executor for a thread-affine resource (sqlite3)")
    db = ab.executors.dedicated("sqlite")
    conn = db.submit(sqlite3.connect, ":memory:").result()
    db.submit(conn.execute, "CREATE TABLE t (n INTEGER)").result()
    insert = ab.asyncify(
        lambda n: conn.execute("INSERT INTO t VALUES (?)", (n,)), executor=db
    )

    async def main() -> None:
        await asyncio.gather(*(insert(n) for n in range(50)))

    asyncio.run(main())
    rows = db.submit(
        lambda: conn.execute("SELECT COUNT(*) FROM t").fetchone()[0]
    ).result()
    print(
        f"50 concurrent inserts through one connection on thread {db.submit(threading.get_ident).result()}: {rows} rows"
    )
    db.submit(conn.close).result()
    print("executors:", dict(ab.executors.stats()))


def perfect21() -> None:
    heading(
        "6. Perfect21: a workflow of sync, async and legacy agents, naive vs bridged"
    )
    print(
        "(python -m asyncbridge.adapters.perfect21 run examples/perfect21/workflow.toml"
        " --compare)",
        flush=True,
    )
    workflow = Path(__file__).with_name("perfect21") / "workflow.toml"
    subprocess.run(  # noqa: S603 - this interpreter, our own module
        [
            sys.executable,
            "-m",
            "asyncbridge.adapters.perfect21",
            "run",
            str(workflow),
            "--compare",
            "--latency",
            "0.1",
            "--plain",
        ],
        check=True,
    )


if __name__ == "__main__":
    sync_to_async()
    async_to_sync()
    loop_conflict()
    timeouts()
    dedicated_executor()
    perfect21()
    print("\nDone. See docs/index.md for the guides.")
