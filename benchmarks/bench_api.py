"""The seed's claim on a real server: a blocking FastAPI handler vs the bridged one.

Starts the Perfect21 REST adapter under uvicorn on 127.0.0.1 (its own process),
whose SDK call blocks for ``--sdk-latency`` seconds, then drives ``POST
/task/blocking`` (the SDK called on the loop: the seed's "before") and ``POST
/task`` (the SDK call in a worker thread through ``ab.asyncify``) with
``--clients`` keep-alive connections sending ``--clients`` x ``--requests``
requests, one at a time each (``_harness.http_load``, a client that costs far less
CPU than the server). Rounds alternate between the two endpoints. Prints
p50/p95/p99 latency and throughput for both, and the ratios. The seed claimed 40-60 % lower
response time and 3-5x the concurrent capacity.

    .venv/bin/python benchmarks/bench_api.py            # ~40 s
    .venv/bin/python benchmarks/bench_api.py --quick    # smoke run
"""

from __future__ import annotations

import asyncio
import json
import socket
import statistics
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import _harness as h

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

CLIENTS = 100
REQUESTS_PER_CLIENT = 2
SDK_LATENCY = (
    0.05  # seconds one SDK call blocks its thread (the original ran a subprocess)
)
BENCH_ROUNDS = 2  # rounds per endpoint, interleaved
ENDPOINTS = {"blocking": "/task/blocking", "bridged": "/task"}
HOST = "127.0.0.1"

SERVER = """
import socket, sys
import uvicorn
from asyncbridge.adapters.perfect21 import Perfect21SDK
from asyncbridge.adapters.perfect21.api import create_app

latency = float(sys.argv[1])
sdk = Perfect21SDK(latency=latency)
app = create_app(sdk_factory=lambda: sdk)
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
print(sock.getsockname()[1], flush=True)
config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_keep_alive=300)
uvicorn.Server(config).run(sockets=[sock])
"""


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--requests", type=int, default=REQUESTS_PER_CLIENT)
    parser.add_argument("--sdk-latency", type=float, default=SDK_LATENCY)


def task(path: str) -> Callable[[int], tuple[str, str, bytes]]:
    """Request number *i* of a round: ``POST path`` creating a task."""

    def request(i: int) -> tuple[str, str, bytes]:
        return "POST", path, json.dumps({"description": f"request {i}"}).encode()

    return request


async def drive(port: int, path: str, clients: int, requests: int) -> h.Load:
    """Each client sends one request at a time, *requests* on average: one round."""
    await h.http_load(HOST, port, task(path), clients=1, requests=1)  # warm-up
    return await h.http_load(
        HOST, port, task(path), clients=clients, requests=clients * requests
    )


def main() -> int:
    args, settings = h.parse_args(__doc__.splitlines()[0], extra=options)
    clients, requests, rounds = args.clients, args.requests, BENCH_ROUNDS
    if settings.quick:
        clients, requests, rounds = 10, 2, 1
    h.print_header(
        "Perfect21 REST adapter under uvicorn: blocking vs bridged handler",
        ["asyncbridge", "fastapi", "uvicorn"],
    )
    print(
        f"# {clients} concurrent clients x {requests} requests, SDK call blocks "
        f"{args.sdk_latency * 1000:.0f} ms, {rounds} rounds per endpoint (interleaved)\n"
    )
    server = subprocess.Popen(  # noqa: S603 - this interpreter
        [sys.executable, "-c", SERVER, str(args.sdk_latency)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection((HOST, port), timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        samples: dict[str, list[float]] = {name: [] for name in ENDPOINTS}
        walls: dict[str, list[float]] = {name: [] for name in ENDPOINTS}
        for round_ in range(rounds):
            names = list(ENDPOINTS) if round_ % 2 == 0 else list(reversed(ENDPOINTS))
            for name in names:
                load = asyncio.run(drive(port, ENDPOINTS[name], clients, requests))
                samples[name].extend(load.latencies)
                walls[name].append(load.wall)
                h.flush()
    finally:
        server.terminate()
        server.wait(30)
    stats = {}
    print(
        f"{'handler':<10} {'requests':>8} {'mean ms':>9} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9} {'req/s':>9}"
    )
    for name, values in samples.items():
        throughput = clients * requests / statistics.median(walls[name])
        summary = h.latency_summary(values)
        stats[name] = (
            summary["p50"],
            summary["p95"],
            summary["p99"],
            throughput,
            summary["mean"],
        )
        p50, p95, p99, rps, mean = stats[name]
        print(
            f"{name:<10} {len(values):>8} {mean * 1e3:>9.1f} {p50 * 1e3:>9.1f} {p95 * 1e3:>9.1f} {p99 * 1e3:>9.1f} {rps:>9.1f}"
        )
    blocking, bridged = stats["blocking"], stats["bridged"]
    print()

    def change(new: float, old: float) -> str:
        pct = (1 - new / old) * 100
        return f"{new / old:.2f}x, {abs(pct):.0f} % {'lower' if pct >= 0 else 'higher'}"

    print(
        f"bridged vs blocking: mean {change(bridged[4], blocking[4])}; "
        f"p50 {change(bridged[0], blocking[0])}; p99 {change(bridged[2], blocking[2])}; "
        f"throughput {bridged[3] / blocking[3]:.1f}x"
    )
    print("seed's claim: 40-60 % lower response time, 3-5x the concurrent capacity")
    h.dump_json(
        args.json,
        {
            "clients": clients,
            "requests_per_client": requests,
            "sdk_latency": args.sdk_latency,
            "stats": {
                k: dict(zip(("p50", "p95", "p99", "rps", "mean"), v, strict=True))
                for k, v in stats.items()
            },
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
