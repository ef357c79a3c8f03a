"""asgiref's asgiref.sync against asyncbridge.compat.asgiref, side by side.

Four bridge measurements (interleaved rounds, one process), then a Django project
under load:

1. ``async_to_sync`` from plain sync code (the main thread, no loop running);
2. ``async_to_sync`` from inside ``sync_to_async`` (the coroutine runs back on the
   caller's loop), one ``sync_to_async`` call driving *n* ``async_to_sync`` calls;
3. ``sync_to_async`` with ``thread_sensitive=True`` (the default) inside
   ``asyncio.run``;
4. ``sync_to_async(thread_sensitive=False)`` inside ``asyncio.run``;
5. examples/django_asgiref served by uvicorn on 127.0.0.1, once as is and once with
   ``install()`` in its ASGI module: LOAD_CLIENTS keep-alive connections send
   LOAD_REQUESTS requests in all (the three views in turn), LOAD_ROUNDS rounds each,
   interleaved; latency p50/p95/p99, throughput and the server's CPU time per
   request. With two CPUs or more, each server runs on the first CPU and the load
   generator (`_harness.http_load`, a lean HTTP/1.1 client) on the last, so that
   what is measured is the server (``--no-pin`` to let them share the CPUs).

Run from the repository root:

    .venv/bin/python benchmarks/bench_asgiref.py            # ~3 minutes
    .venv/bin/python benchmarks/bench_asgiref.py --quick    # smoke run
"""

from __future__ import annotations

import asyncio
import math
import os
import statistics
import sys
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import _harness as h

if TYPE_CHECKING:
    import argparse
    from collections.abc import Awaitable, Callable

PACKAGES = ("asyncbridge", "asgiref", "django", "uvicorn")
REAL = "asgiref"
OURS = "compat"
PROJECT = Path(__file__).resolve().parent.parent / "examples" / "django_asgiref"
sys.path.insert(0, str(PROJECT))
import launch  # noqa: E402  (examples/django_asgiref/launch.py)

LOAD_CLIENTS = 50  # concurrent clients
LOAD_REQUESTS = 1_000  # requests per round, spread over the clients
LOAD_ROUNDS = 7  # rounds per server, interleaved
LOAD_PATHS = ("/sync/", "/async/", "/async-orm/")

# Targets, from issue 11.
TARGET_PLAIN = 1 / 3  # async_to_sync from plain sync code: >= 3x faster
TARGET_NOT_SLOWER = 1.0  # every other path: never slower
TARGET_DJANGO = 1.0  # Django throughput: not lower


async def nothing() -> int:
    """The coroutine: nothing, so what is measured is the bridge."""
    return 1


def trivial() -> int:
    """The sync function: nothing."""
    return 1


def libraries() -> dict[str, Any]:
    import asgiref.sync as real  # noqa: PLC0415

    from asyncbridge.compat import asgiref as ours  # noqa: PLC0415

    return {REAL: real, OURS: ours}


# ------------------------------------------------------------------ bridges


def plain_thread(settings: h.Settings) -> list[h.Result]:
    competitors = []
    for name, lib in libraries().items():
        a2s = lib.async_to_sync(nothing)

        def run(n: int, a2s: Callable[[], int] = a2s) -> None:
            for _ in range(n):
                a2s()

        competitors.append(h.Competitor(name, run, "portal" if name == OURS else ""))
    return h.compare(competitors, settings)


async def route_back(settings: h.Settings) -> list[h.Result]:
    competitors = []
    for name, lib in libraries().items():
        a2s = lib.async_to_sync(nothing)

        def calls(n: int, a2s: Callable[[], int] = a2s) -> None:
            for _ in range(n):
                a2s()

        s2a = lib.sync_to_async(calls, thread_sensitive=False)
        competitors.append(h.Competitor(name, s2a, "asyncio"))
    return await h.compare_async(competitors, settings)


def repeat(make: Callable[[], Awaitable[object]]) -> Callable[[int], Awaitable[None]]:
    async def run(n: int) -> None:
        for _ in range(n):
            await make()

    return run


async def sync_to_async_calls(
    settings: h.Settings, *, thread_sensitive: bool
) -> list[h.Result]:
    competitors = [
        h.Competitor(
            name,
            repeat(lib.sync_to_async(trivial, thread_sensitive=thread_sensitive)),
            "asyncio",
        )
        for name, lib in libraries().items()
    ]
    return await h.compare_async(competitors, settings)


# ------------------------------------------------------------------ Django


def placement(pin: bool) -> tuple[list[int], set[int] | None]:
    """The CPUs for the servers and for this process (the load generator).

    On Linux with two CPUs or more, each server runs on the first CPU and the load
    generator on the last: the server then has a CPU of its own, and a GIL-bound
    server's threads do not hand the GIL across cores (both servers alike).
    """
    if not pin or not hasattr(os, "sched_getaffinity"):
        return [], None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return [], None
    return [cpus[0]], {cpus[-1]}


def django(settings: h.Settings, *, pin: bool) -> dict[str, dict[str, float]]:
    requests = 150 if settings.quick else LOAD_REQUESTS
    rounds = 1 if settings.quick else LOAD_ROUNDS
    server_cpus, client_cpus = placement(pin)
    results: dict[str, dict[str, list[float]]] = {
        f: {"lat": [], "rps": [], "cpu": []} for f in (REAL, OURS)
    }
    previous = os.sched_getaffinity(0) if client_cpus else set()
    if client_cpus:
        os.sched_setaffinity(0, client_cpus)
    with tempfile.TemporaryDirectory() as tmp:
        servers = {
            f: launch.start(
                Path(tmp) / f"{f}.sqlite3", compat=f == OURS, cpus=server_cpus
            )
            for f in results
        }

        def one_round(flavour: str, n: int) -> h.Load:
            proc, base = servers[flavour]
            url = urlsplit(base)
            assert url.hostname is not None
            assert url.port is not None
            cpu_before = h.cpu_seconds(proc.pid)
            round_ = asyncio.run(
                h.http_load(
                    url.hostname,
                    url.port,
                    lambda i: ("GET", LOAD_PATHS[i % len(LOAD_PATHS)], None),
                    clients=LOAD_CLIENTS,
                    requests=n,
                )
            )
            cpu_after = h.cpu_seconds(proc.pid)
            if cpu_before is not None and cpu_after is not None:
                results[flavour]["cpu"].append((cpu_after - cpu_before) / n)
            return round_

        try:
            for flavour in servers:  # warm-up
                one_round(flavour, 300)
                results[flavour]["cpu"].clear()
            for r in range(rounds):
                order = list(servers) if r % 2 == 0 else list(reversed(servers))
                for flavour in order:
                    round_ = one_round(flavour, requests)
                    results[flavour]["lat"].extend(round_.latencies)
                    results[flavour]["rps"].append(round_.throughput)
        finally:
            for proc, _ in servers.values():
                launch.stop(proc)
            if client_cpus:
                os.sched_setaffinity(0, previous)
    summary = {}
    for flavour, data in results.items():
        latency = h.latency_summary(data["lat"])
        summary[flavour] = {
            "p50_ms": latency["p50"] * 1e3,
            "p95_ms": latency["p95"] * 1e3,
            "p99_ms": latency["p99"] * 1e3,
            "rps": statistics.median(data["rps"]),
            "cpu_ms": statistics.median(data["cpu"]) * 1e3 if data["cpu"] else math.nan,
        }
    where = (
        f"server on CPU {server_cpus[0]}, load generator on CPU {min(client_cpus)}"
        if client_cpus
        else "not pinned"
    )
    print(
        f"## Django under load: {LOAD_CLIENTS} clients, {requests} requests a round "
        f"({', '.join(LOAD_PATHS)} in turn), {rounds} interleaved rounds per server; "
        f"{where}"
    )
    print(
        f"{'server':<28} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>8} "
        f"{'CPU ms/req':>11}"
    )
    labels = {REAL: "asgiref (as shipped)", OURS: "compat (install())"}
    for flavour, s in summary.items():
        print(
            f"{labels[flavour]:<28} {s['p50_ms']:>8.1f} {s['p95_ms']:>8.1f} "
            f"{s['p99_ms']:>8.1f} {s['rps']:>8.0f} {s['cpu_ms']:>11.2f}"
        )
    print(
        "(req/s and the server's CPU time per request: medians over rounds; "
        "latencies: all requests of all rounds)"
    )
    print()
    return summary


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-pin",
        dest="pin",
        action="store_false",
        help="let the servers and the load generator run on any CPU",
    )


# ------------------------------------------------------------------ main


def main() -> None:
    args, settings = h.parse_args(__doc__.splitlines()[0], extra=options)
    warnings.simplefilter("ignore", DeprecationWarning)
    os.environ.setdefault("PYTHONWARNINGS", "ignore::DeprecationWarning")
    h.print_header("asgiref.sync vs asyncbridge.compat.asgiref", PACKAGES)

    plain = plain_thread(settings)
    h.print_table("async_to_sync from plain sync code", plain, REAL)
    back = asyncio.run(route_back(settings))
    h.print_table("async_to_sync inside sync_to_async (route back)", back, REAL)
    sensitive = asyncio.run(sync_to_async_calls(settings, thread_sensitive=True))
    h.print_table("sync_to_async, thread_sensitive=True", sensitive, REAL)
    free = asyncio.run(sync_to_async_calls(settings, thread_sensitive=False))
    h.print_table("sync_to_async, thread_sensitive=False", free, REAL)
    h.flush()
    web = django(settings, pin=args.pin)

    print("## targets (ratios of medians within this run; compat / asgiref)")
    targets = [
        h.check_ratio(
            "async_to_sync from plain sync code",
            plain,
            OURS,
            REAL,
            at_most=TARGET_PLAIN,
        ),
        h.check_ratio(
            "async_to_sync route back", back, OURS, REAL, at_most=TARGET_NOT_SLOWER
        ),
        h.check_ratio(
            "sync_to_async thread-sensitive",
            sensitive,
            OURS,
            REAL,
            at_most=TARGET_NOT_SLOWER,
        ),
        h.check_ratio(
            "sync_to_async not thread-sensitive",
            free,
            OURS,
            REAL,
            at_most=TARGET_NOT_SLOWER,
        ),
        h.check_target(
            "Django throughput, compat / asgiref",
            web[OURS]["rps"] / web[REAL]["rps"],
            at_least=TARGET_DJANGO,
        ),
    ]
    print()
    h.dump_json(
        args.json,
        {
            "plain": h.results_json(plain),
            "route_back": h.results_json(back),
            "thread_sensitive": h.results_json(sensitive),
            "not_thread_sensitive": h.results_json(free),
            "django": web,
            "targets": [t.to_json() for t in targets],
        },
    )


if __name__ == "__main__":
    main()
