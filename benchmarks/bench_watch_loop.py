"""What `ab.watch_loop` costs a loop that nothing blocks.

The target (issue #10): under 1 % on a loop doing 10,000 small tasks per second.
Each round runs such a loop for ``--round-seconds`` (default 1 s) of wall time:
every millisecond it starts the tasks due by then (a task: one ``sleep(0)`` and a
little arithmetic), so the rate is the same with and without the watch. What is
compared is the process's CPU time per task (``time.process_time``, every thread:
the watchdog's included), in interleaved rounds, with and without a watch of the
default threshold (0.1 s), on asyncio, uvloop and trio.

The machines here are noisy (a round's CPU time per task swings +-10 %), so the
A/B ratio is backed by an accounting of what the watch itself spends, which noise
does not blur: the watchdog thread's own CPU time (its pthread CPU clock) plus the
heartbeats the loop ran, each costed by a micro-benchmark of the heartbeat
callback, divided by the CPU time the loop spends without the watch.

Informational: a saturated loop (tasks as fast as the loop runs them), wall time
per task, with and without the watch.

Run from the repository root:

    .venv/bin/python benchmarks/bench_watch_loop.py            # ~1.5 minutes
    .venv/bin/python benchmarks/bench_watch_loop.py --quick    # smoke run
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

import trio
import uvloop

import _harness as h
import asyncbridge as ab

if TYPE_CHECKING:
    from collections.abc import Callable

# ------------------------------------------------------------------ constants

PACKAGES = ("asyncbridge", "uvloop", "trio")
RATE = 10_000  # small tasks per second
TICK = 0.001  # seconds between two batches of task starts
THRESHOLD = 0.1  # the watch's threshold (its default)
PACED_ROUNDS = 11  # rounds per variant and backend (each --round-seconds long)
PACED_SECONDS = 1.0
TARGET_PERCENT = 1.0  # what the watch spends: under 1 % of the loop's CPU time
BURST_TASKS = 2_000  # tasks per call of the saturated benchmark

WITHOUT = "no watch"
WITH = f"watch_loop({THRESHOLD})"
BEAT = "heartbeat"


def work() -> int:
    """The small task's computation."""
    return sum(range(20))


class Accounting:
    """What the watches of the "with" rounds spent: watchdog CPU, heartbeats."""

    def __init__(self) -> None:
        self.watchdog_cpu = 0.0
        self.beats = 0

    def watch(self) -> ab.LoopWatch:
        """A watch whose heartbeats are counted."""
        watch = ab.watch_loop(THRESHOLD, log=False)
        beat = watch._beat  # noqa: SLF001 - what is measured is the private heartbeat

        def counted() -> None:
            self.beats += 1
            beat()

        watch._beat = counted  # type: ignore[method-assign]  # noqa: SLF001
        return watch

    def stop(self, watch: ab.LoopWatch) -> None:
        """Add the watchdog thread's CPU time (read before it ends)."""
        ident = watch._watchdog.ident  # type: ignore[union-attr]  # noqa: SLF001
        self.watchdog_cpu += time.clock_gettime(time.pthread_getcpuclockid(ident))  # type: ignore[arg-type]


@contextlib.contextmanager
def maybe_watch(accounting: Accounting | None) -> Any:
    """A counted watch when *accounting* is given, else nothing."""
    if accounting is None:
        yield
        return
    watch = accounting.watch()
    with watch:
        yield
        accounting.stop(watch)


# ------------------------------------------------------------ paced: asyncio


async def _asyncio_small() -> None:
    await asyncio.sleep(0)
    work()


async def paced_asyncio(
    seconds: float, accounting: Accounting | None
) -> tuple[float, int]:
    """Run RATE tasks per second for *seconds*; return (CPU seconds, tasks)."""
    loop = asyncio.get_running_loop()
    async with asyncio.TaskGroup() as group:
        with maybe_watch(accounting):
            cpu = time.process_time()
            start = loop.time()
            started = 0
            while (elapsed := loop.time() - start) < seconds:
                due = int(elapsed * RATE)
                for _ in range(due - started):
                    group.create_task(_asyncio_small())
                started = due
                await asyncio.sleep(TICK)
            cpu = time.process_time() - cpu
    return cpu, started


# --------------------------------------------------------------- paced: trio


async def _trio_small() -> None:
    await trio.sleep(0)
    work()


async def paced_trio(
    seconds: float, accounting: Accounting | None
) -> tuple[float, int]:
    """The same on trio."""
    async with trio.open_nursery() as nursery:
        with maybe_watch(accounting):
            cpu = time.process_time()
            start = trio.current_time()
            started = 0
            while (elapsed := trio.current_time() - start) < seconds:
                due = int(elapsed * RATE)
                for _ in range(due - started):
                    nursery.start_soon(_trio_small)
                started = due
                await trio.sleep(TICK)
            cpu = time.process_time() - cpu
    return cpu, started


def runner(backend: str) -> Callable[[float, Accounting | None], tuple[float, int]]:
    """A function running one paced round on *backend* in a fresh loop."""
    if backend == "trio":
        return lambda seconds, acc: trio.run(paced_trio, seconds, acc)
    if backend == "uvloop":
        return lambda seconds, acc: uvloop.run(paced_asyncio(seconds, acc))
    return lambda seconds, acc: asyncio.run(paced_asyncio(seconds, acc))


def paced(
    backend: str, rounds: int, seconds: float
) -> tuple[list[h.Result], Accounting, float]:
    """Interleaved paced rounds with and without the watch; CPU seconds per task.

    Returns the results, the accounting of the "with" rounds, and the CPU seconds
    of the "without" rounds.
    """
    run = runner(backend)
    run(min(seconds, 0.2), Accounting())  # warm-up: imports, first thread
    accounting = Accounting()
    cpu_without = 0.0

    def without() -> tuple[float, int]:
        nonlocal cpu_without
        cpu, tasks = run(seconds, None)
        cpu_without += cpu
        return cpu, tasks

    results = h.interleave(
        {WITHOUT: without, WITH: lambda: run(seconds, accounting)},
        rounds,
        loop=backend,
    )
    return results, accounting, cpu_without


def beat_cost(backend: str, settings: h.Settings) -> float:
    """Seconds one heartbeat costs the loop: the callback and its rescheduling."""

    async def on_asyncio() -> float:
        loop = asyncio.get_running_loop()
        async with ab.watch_loop(THRESHOLD, log=False) as watch:

            async def beats(n: int) -> None:
                for _ in range(n):
                    watch._beat()  # noqa: SLF001 - the heartbeat's own cost
                    loop.call_later(THRESHOLD, work).cancel()

            [result] = await h.compare_async([h.Competitor(BEAT, beats)], settings)
        return result.median

    async def on_trio() -> float:
        async with ab.watch_loop(THRESHOLD, log=False) as watch:

            async def beats(n: int) -> None:
                for _ in range(n):
                    watch._beat()  # noqa: SLF001 - the heartbeat's own cost
                    await trio.sleep(0)  # a system task's wake-up, roughly

            [result] = await h.compare_async([h.Competitor(BEAT, beats)], settings)
        return result.median

    if backend == "trio":
        return trio.run(on_trio)
    if backend == "uvloop":
        return uvloop.run(on_asyncio())
    return asyncio.run(on_asyncio())


# ---------------------------------------------------------- saturated (info)


async def _burst_asyncio(n: int, watch: bool) -> None:
    """Run *n* small tasks, BURST_TASKS at a time, as fast as the loop goes."""
    with maybe_watch(Accounting() if watch else None):
        left = n
        while left > 0:
            batch = min(left, BURST_TASKS)
            async with asyncio.TaskGroup() as group:
                for _ in range(batch):
                    group.create_task(_asyncio_small())
            left -= batch


def saturated(settings: h.Settings) -> list[h.Result]:
    """Tasks as fast as an asyncio loop runs them: wall time per task.

    Each round is one ``asyncio.run`` (so the watch's start and stop are in it).
    """

    def make(watch: bool) -> Callable[[int], Any]:
        def run(n: int) -> None:
            asyncio.run(_burst_asyncio(n, watch))

        return run

    return h.compare(
        [h.Competitor(WITHOUT, make(False)), h.Competitor(WITH, make(True))],
        settings,
    )


def main() -> None:
    args, settings = h.parse_args(__doc__.splitlines()[0])
    h.print_header("watch_loop: the cost on a loop that nothing blocks", PACKAGES)
    rounds = 3 if settings.quick else PACED_ROUNDS
    seconds = 0.2 if settings.quick else PACED_SECONDS
    if args.round_seconds is not None:
        seconds = args.round_seconds
    payload: dict[str, Any] = {}
    targets = []
    for backend in ("asyncio", "uvloop", "trio"):
        results, accounting, cpu_without = paced(backend, rounds, seconds)
        h.print_table(
            f"{RATE:,} small tasks per second on {backend}, {seconds:g} s rounds: "
            "process CPU time per task",
            results,
            WITHOUT,
        )
        per_beat = beat_cost(backend, settings)
        spent = accounting.watchdog_cpu + accounting.beats * per_beat
        direct = spent / cpu_without
        print(
            f"  accounting over {rounds} rounds: watchdog thread "
            f"{accounting.watchdog_cpu * 1e3:.2f} ms CPU, {accounting.beats} "
            f"heartbeats x {per_beat * 1e6:.2f} us; the loop without the watch: "
            f"{cpu_without * 1e3:.0f} ms CPU"
        )
        targets.append(
            h.check_target(
                f"{backend}: what the watch spends, in % of the loop's CPU",
                direct * 100,
                at_most=TARGET_PERCENT,
                unit=" %",
            )
        )
        print(
            "  (cross-check, noisy) A/B ratio: "
            f"{h.ratio(results, WITH, WITHOUT):.3f}x, paired "
            f"{h.paired_ratio(results, WITH, WITHOUT):.3f}x"
        )
        payload[backend] = {
            "results": h.results_json(results),
            "watchdog_cpu": accounting.watchdog_cpu,
            "beats": accounting.beats,
            "beat_cost": per_beat,
            "cpu_without": cpu_without,
            "overhead": direct,
        }
        print()
        h.flush()
    burst = saturated(settings)
    h.print_table(
        "saturated asyncio loop, wall time per task (informational)", burst, WITHOUT
    )
    payload["saturated"] = h.results_json(burst)
    payload["targets"] = [t.to_json() for t in targets]
    h.dump_json(args.json, payload)


if __name__ == "__main__":
    main()
