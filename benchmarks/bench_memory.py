"""Memory and threads after a million bridged calls.

Each path runs in its own fresh interpreter (so one path's memory does not show in
another's), one call at a time:

* ``run_sync``: `asyncbridge.run_sync` of a trivial coroutine from the main thread
  (no loop running there: the shared portal);
* ``run_in_thread``: ``await asyncbridge.run_in_thread(fn)`` inside `asyncio.run`;
* ``asgiref``: `asgiref.sync.async_to_sync` for the sync→async path, for comparison
  (fewer calls by default: it is ~10x slower per call; growth is scaled to 100,000);
* ``run_sync_thread`` (not run by default): `run_sync` under
  ``configure(sync_loop="thread")``.

The first tenth of the calls is the warm-up; then RSS (psutil, after
`gc.collect()`) and the OS thread count are sampled every tenth. Reported: growth
per 100,000 calls as the least-squares slope over the samples (RSS moves in steps
of whole malloc arenas, so one sample to the next says little) and from the first
sample to the last, and the thread counts seen.

Run from the repository root (the full run takes ~4.5 minutes on 2 cores, most of
it asgiref's 500,000 calls):

    .venv/bin/python benchmarks/bench_memory.py
    .venv/bin/python benchmarks/bench_memory.py --calls 200000 --asgiref-calls 50000
                                                                 # ~1 minute
    .venv/bin/python benchmarks/bench_memory.py --quick          # smoke run
"""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

import psutil

import _harness as h
import asyncbridge as ab

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

# ------------------------------------------------------------------ constants

CALLS = 1_000_000  # calls per asyncbridge path (warm-up included)
ASGIREF_CALLS = 500_000  # calls for asgiref's async_to_sync (~0.5 ms each)
SAMPLES = 10  # samples taken, one every CALLS // SAMPLES calls; the first ends warm-up
QUICK_CALLS = 20_000
QUICK_ASGIREF_CALLS = 5_000
PER = 100_000  # growth is reported per this many calls
MODES = ("run_sync", "run_in_thread", "asgiref", "run_sync_thread")
DEFAULT_MODES = ("run_sync", "run_in_thread", "asgiref")
PACKAGES = ("asyncbridge", "asgiref", "psutil")

TARGET_GROWTH_MB = 1.0  # MB per 100,000 calls after warm-up
MB = 1024 * 1024


async def trivial_async() -> int:
    return 1


def trivial_sync() -> int:
    return 1


# ---------------------------------------------------------------------- child


def sample(proc: psutil.Process, calls: int, start: float) -> dict[str, Any]:
    gc.collect()
    row = {
        "calls": calls,
        "rss": proc.memory_info().rss,
        "threads": proc.num_threads(),
        "python_threads": threading.active_count(),
        "seconds": time.perf_counter() - start,
    }
    print(
        f"    {calls:>9,} calls  rss {row['rss'] / MB:8.2f} MB  "
        f"threads {row['threads']:>3}  {row['seconds']:7.1f} s",
        file=sys.stderr,
        flush=True,
    )
    return row


def run_sync_chunks(calls: int) -> list[dict[str, Any]]:
    proc, start, rows = psutil.Process(), time.perf_counter(), []
    run_sync, step = ab.run_sync, calls // SAMPLES
    for i in range(1, SAMPLES + 1):
        for _ in range(step):
            run_sync(trivial_async)
        rows.append(sample(proc, i * step, start))
    return rows


def sync_chunks(fn: Callable[[], object], calls: int) -> list[dict[str, Any]]:
    proc, start, rows = psutil.Process(), time.perf_counter(), []
    step = calls // SAMPLES
    for i in range(1, SAMPLES + 1):
        for _ in range(step):
            fn()
        rows.append(sample(proc, i * step, start))
    return rows


async def run_in_thread_chunks(calls: int) -> list[dict[str, Any]]:
    proc, start, rows = psutil.Process(), time.perf_counter(), []
    run_in_thread, step = ab.run_in_thread, calls // SAMPLES
    for i in range(1, SAMPLES + 1):
        for _ in range(step):
            await run_in_thread(trivial_sync)
        rows.append(sample(proc, i * step, start))
    return rows


def child(mode: str, calls: int) -> None:
    """Run one path *calls* times; print the samples as JSON on stdout."""
    if mode == "run_sync":
        rows = run_sync_chunks(calls)
    elif mode == "run_sync_thread":
        ab.configure(sync_loop="thread")
        rows = run_sync_chunks(calls)
    elif mode == "run_in_thread":
        rows = asyncio.run(run_in_thread_chunks(calls))
    elif mode == "asgiref":
        from asgiref.sync import async_to_sync  # noqa: PLC0415

        rows = sync_chunks(async_to_sync(trivial_async), calls)
    else:  # pragma: no cover
        raise SystemExit(f"unknown mode {mode!r}")
    print(json.dumps(rows))


# --------------------------------------------------------------------- parent


def run_child(mode: str, calls: int) -> list[dict[str, Any]]:
    print(f"  {mode}: {calls:,} calls in a fresh process", flush=True)
    out = subprocess.run(  # noqa: S603
        [sys.executable, __file__, "--child", mode, "--calls", str(calls)],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of *ys* over *xs*."""
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


def summarise(mode: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    first, last = rows[0], rows[-1]
    calls_after = last["calls"] - first["calls"]
    growth = (last["rss"] - first["rss"]) / calls_after * PER / MB
    fitted = slope([r["calls"] for r in rows], [r["rss"] for r in rows]) * PER / MB
    threads = [r["threads"] for r in rows]
    per_call_us = (last["seconds"] - first["seconds"]) / calls_after * 1e6
    return {
        "mode": mode,
        "calls": last["calls"],
        "warmup_calls": first["calls"],
        "rss_after_warmup_mb": first["rss"] / MB,
        "rss_end_mb": last["rss"] / MB,
        "growth_mb_per_100k": fitted,
        "growth_first_last_mb_per_100k": growth,
        "threads_min": min(threads),
        "threads_max": max(threads),
        "seconds": last["seconds"],
        "us_per_call": per_call_us,
        "samples": rows,
    }


def extra_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--calls",
        type=int,
        default=None,
        help=f"calls per asyncbridge path (default {CALLS:,})",
    )
    parser.add_argument(
        "--asgiref-calls",
        type=int,
        default=None,
        help=f"calls for asgiref's async_to_sync (default {ASGIREF_CALLS:,})",
    )
    parser.add_argument(
        "--modes",
        nargs="+",
        choices=MODES,
        default=list(DEFAULT_MODES),
        help="which paths to run (default: %(default)s)",
    )
    parser.add_argument("--child", choices=MODES, default=None, help="internal")


def main() -> None:
    args, settings = h.parse_args(__doc__.splitlines()[0], extra=extra_args)
    if args.child is not None:
        child(args.child, args.calls)
        return
    calls = args.calls or (QUICK_CALLS if settings.quick else CALLS)
    asgiref_calls = args.asgiref_calls or (
        QUICK_ASGIREF_CALLS if settings.quick else ASGIREF_CALLS
    )
    h.print_header("memory and threads after many bridged calls", PACKAGES)
    summaries = []
    for mode in args.modes:
        n = asgiref_calls if mode == "asgiref" else calls
        summaries.append(summarise(mode, run_child(mode, n)))
        h.flush()

    print()
    print(f"## memory and threads (one process per path; warm-up = first 1/{SAMPLES})")
    print(
        f"{'path':<16} {'calls':>10} {'RSS after warm-up':>18} {'RSS at end':>11} "
        f"{'growth/100k':>12} {'(first-last)':>12} {'threads':>8} {'µs/call':>8} "
        f"{'time':>7}"
    )
    for s in summaries:
        threads = (
            f"{s['threads_min']}"
            if s["threads_min"] == s["threads_max"]
            else f"{s['threads_min']}-{s['threads_max']}"
        )
        print(
            f"{s['mode']:<16} {s['calls']:>10,} {s['rss_after_warmup_mb']:>15.1f} MB "
            f"{s['rss_end_mb']:>8.1f} MB {s['growth_mb_per_100k']:>9.3f} MB "
            f"{s['growth_first_last_mb_per_100k']:>9.3f} MB "
            f"{threads:>8} {s['us_per_call']:>8.1f} {s['seconds']:>6.0f}s"
        )
    print()
    print("## targets")
    targets = []
    for s in summaries:
        if s["mode"] == "asgiref":
            continue
        targets.append(
            h.check_target(
                f"{s['mode']}: RSS growth per 100,000 calls after warm-up (fit)",
                s["growth_mb_per_100k"],
                at_most=TARGET_GROWTH_MB,
                unit=" MB",
            )
        )
        constant = s["threads_min"] == s["threads_max"]
        print(
            f"  target {s['mode']}: constant thread count -> "
            f"{'met' if constant else 'MISSED'} "
            f"({s['threads_min']}..{s['threads_max']} OS threads)"
        )
    print()
    h.dump_json(
        args.json,
        {"summaries": summaries, "targets": [t.to_json() for t in targets]},
    )


if __name__ == "__main__":
    main()
