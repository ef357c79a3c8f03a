"""Shared timing helpers for the scripts in ``benchmarks/``.

The machines these run on are noisy (a thread wake-up can swing 2-7x between two
runs), so absolute numbers mean little. Every script therefore:

* runs all competitors side by side in one process, against a named baseline;
* interleaves the rounds: round 1 of every competitor, then round 2 of every one,
  each round starting with a different competitor, so a noisy second hits them all;
* calibrates each competitor once (so a round lasts about ``round_seconds``),
  warms it up, then reports the median over the rounds of its per-call time;
* prints ratios against the baseline, which is what a reader should look at;
* prints each target as met or MISSED and exits 0 either way: a benchmark measures,
  it never gates (a non-zero exit means the script itself failed).

A competitor is a function ``run(n)`` doing *n* calls (or a coroutine function, for
`compare_async`). The harness times whole rounds, never single calls, so the cost of
`time.perf_counter()` does not pollute sub-microsecond results. A round that measures
itself (CPU time of a paced workload) goes through `interleave`; a load test on a
server (each request's latency) through `drive` (or `http_load`, with a cheap HTTP
client) and `latency_summary`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import importlib.metadata
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence

# ------------------------------------------------------------------ constants

ROUNDS = 21  # timed rounds per competitor (odd, so the median is a real round)
ROUND_SECONDS = 0.1  # target length of one timed round of one competitor
WARMUP_SECONDS = 0.2  # untimed calls per competitor before the first round
MIN_CALLS = 5  # calls per round, at least (for competitors slower than a round)

QUICK_ROUNDS = 3
QUICK_ROUND_SECONDS = 0.01
QUICK_WARMUP_SECONDS = 0.01


# ------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Settings:
    """How long to measure: the full run or a ``--quick`` smoke run."""

    rounds: int = ROUNDS
    round_seconds: float = ROUND_SECONDS
    warmup_seconds: float = WARMUP_SECONDS
    quick: bool = False


def parse_args(
    description: str,
    argv: Sequence[str] | None = None,
    extra: Callable[[argparse.ArgumentParser], object] | None = None,
) -> tuple[argparse.Namespace, Settings]:
    """Parse the options every benchmark takes (``--quick``, ``--rounds``, ...)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a few short rounds: checks that the script runs, measures nothing",
    )
    parser.add_argument(
        "--rounds", type=int, default=None, help=f"timed rounds (default {ROUNDS})"
    )
    parser.add_argument(
        "--round-seconds",
        type=float,
        default=None,
        help=f"target length of one round (default {ROUND_SECONDS})",
    )
    parser.add_argument(
        "--json",
        metavar="PATH",
        default=None,
        help="also write the results to PATH as JSON",
    )
    if extra is not None:
        extra(parser)
    args = parser.parse_args(argv)
    if args.quick:
        settings = Settings(
            rounds=QUICK_ROUNDS,
            round_seconds=QUICK_ROUND_SECONDS,
            warmup_seconds=QUICK_WARMUP_SECONDS,
            quick=True,
        )
    else:
        settings = Settings()
    if args.rounds is not None:
        settings = Settings(
            args.rounds, settings.round_seconds, settings.warmup_seconds, settings.quick
        )
    if args.round_seconds is not None:
        settings = Settings(
            settings.rounds, args.round_seconds, settings.warmup_seconds, settings.quick
        )
    return args, settings


# ---------------------------------------------------------------- competitors


@dataclass
class Competitor:
    """One contender: ``run(n)`` performs *n* calls.

    Args:
        name: the row label.
        run: does *n* calls (a coroutine function for `compare_async`).
        loop: what event loop it runs on, for the table ("uvloop", "asyncio", ...).
        before: called (untimed) before each of its rounds, e.g. ``configure(...)``.
        after: called (untimed) after each of its rounds.
        calls: a fixed number of calls per round instead of calibrating one.
        note: a short remark printed under the table.
    """

    name: str
    run: Callable[[int], Any]
    loop: str = ""
    before: Callable[[], Any] | None = None
    after: Callable[[], Any] | None = None
    calls: int | None = None
    note: str = ""


@dataclass
class Result:
    """What one competitor measured: seconds per call in each round."""

    name: str
    loop: str
    calls_per_round: int
    seconds_per_call: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def median(self) -> float:
        """Median over the rounds of the seconds per call."""
        return statistics.median(self.seconds_per_call)

    @property
    def quartiles(self) -> tuple[float, float]:
        """The 25th and 75th percentiles over the rounds (the spread)."""
        values = sorted(self.seconds_per_call)
        if len(values) < 4:
            return values[0], values[-1]
        q = statistics.quantiles(values, n=4)
        return q[0], q[2]

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-able dict (used by subprocess children)."""
        return {
            "name": self.name,
            "loop": self.loop,
            "calls_per_round": self.calls_per_round,
            "seconds_per_call": self.seconds_per_call,
            "note": self.note,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Result:
        """Rebuild a result written by `to_json`."""
        return cls(
            name=data["name"],
            loop=data["loop"],
            calls_per_round=data["calls_per_round"],
            seconds_per_call=list(data["seconds_per_call"]),
            note=data.get("note", ""),
        )


def _calls_for(per_call: float, settings: Settings) -> int:
    if per_call <= 0:
        return 1000
    return max(MIN_CALLS, int(settings.round_seconds / per_call))


def _rotations(n: int, rounds: int) -> Iterable[list[int]]:
    for r in range(rounds):
        yield [(r + i) % n for i in range(n)]


def _warm_up_and_calibrate(c: Competitor, settings: Settings) -> int:
    if c.before is not None:
        c.before()
    try:
        c.run(MIN_CALLS)  # first calls: lazy start-up (portals, pools, imports)
        n, spent, calls = MIN_CALLS, 0.0, 0
        while spent < settings.warmup_seconds:
            start = time.perf_counter()
            c.run(n)
            spent += time.perf_counter() - start
            calls += n
            n *= 2
    finally:
        if c.after is not None:
            c.after()
    return c.calls or _calls_for(spent / calls, settings)


async def _warm_up_and_calibrate_async(c: Competitor, settings: Settings) -> int:
    if c.before is not None:
        c.before()
    try:
        await c.run(MIN_CALLS)
        n, spent, calls = MIN_CALLS, 0.0, 0
        while spent < settings.warmup_seconds:
            start = time.perf_counter()
            await c.run(n)
            spent += time.perf_counter() - start
            calls += n
            n *= 2
    finally:
        if c.after is not None:
            c.after()
    return c.calls or _calls_for(spent / calls, settings)


def _start_round(c: Competitor, result: Result) -> int:
    """Prepare one timed round of *c*; return how many calls it makes."""
    if c.before is not None:
        c.before()
    gc.collect()
    return result.calls_per_round


def _end_round(c: Competitor, result: Result, elapsed: float) -> None:
    """Record one timed round of *c* that took *elapsed* seconds."""
    if c.after is not None:
        c.after()
    result.seconds_per_call.append(elapsed / result.calls_per_round)


def compare(competitors: Sequence[Competitor], settings: Settings) -> list[Result]:
    """Time sync competitors in interleaved rounds; return one result each."""
    results = [
        Result(c.name, c.loop, _warm_up_and_calibrate(c, settings), note=c.note)
        for c in competitors
    ]
    for order in _rotations(len(competitors), settings.rounds):
        for i in order:
            c, result = competitors[i], results[i]
            n = _start_round(c, result)
            start = time.perf_counter()
            c.run(n)
            _end_round(c, result, time.perf_counter() - start)
    return results


async def compare_async(
    competitors: Sequence[Competitor], settings: Settings
) -> list[Result]:
    """Like `compare`, inside a running loop: each ``run(n)`` is awaited."""
    results = [
        Result(
            c.name,
            c.loop,
            await _warm_up_and_calibrate_async(c, settings),
            note=c.note,
        )
        for c in competitors
    ]
    for order in _rotations(len(competitors), settings.rounds):
        for i in order:
            c, result = competitors[i], results[i]
            n = _start_round(c, result)
            start = time.perf_counter()
            await c.run(n)
            _end_round(c, result, time.perf_counter() - start)
    return results


def interleave(
    rounds_of: Mapping[str, Callable[[], tuple[float, int]]],
    rounds: int,
    *,
    loop: str = "",
) -> list[Result]:
    """Run rounds that measure themselves, interleaved; return one result each.

    For workloads `compare` cannot drive (a loop paced at a fixed rate for a fixed
    time, whose cost is CPU time): each call of ``rounds_of[name]()`` is one round
    and returns (the seconds it measured, the calls it made). Rounds rotate as in
    `compare`.
    """
    names = list(rounds_of)
    results = [Result(name, loop, 0) for name in names]
    for order in _rotations(len(names), rounds):
        for i in order:
            gc.collect()
            seconds, calls = rounds_of[names[i]]()
            results[i].calls_per_round = calls
            results[i].seconds_per_call.append(seconds / calls)
    return results


# ----------------------------------------------------------------------- load


@dataclass(frozen=True)
class Load:
    """One load round: each request's latency, and the round's wall time."""

    latencies: list[float]
    wall: float

    @property
    def throughput(self) -> float:
        """Requests per second over the round."""
        return len(self.latencies) / self.wall


async def drive(
    send: Callable[[int], Awaitable[object]], *, clients: int, requests: int
) -> Load:
    """Send *requests* requests from *clients* concurrent clients; time each one.

    ``send(i)`` sends request number *i* and returns once it is answered (it raises
    on a bad answer). Each client has one request in flight at a time and takes the
    next number until all *requests* are sent.
    """
    numbers = iter(range(requests))
    latencies: list[float] = []

    async def client() -> None:
        for i in numbers:
            start = time.perf_counter()
            await send(i)
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return Load(latencies, time.perf_counter() - start)


class HttpConnection:
    """One keep-alive HTTP/1.1 connection to a server under load: a load generator.

    A load generator must cost the client far less than the server, or it measures
    itself: httpx spent 6-7 ms of CPU per request here, more than the Django server
    it was loading. This one writes the request and reads the answer (a
    ``Content-Length`` or chunked body) with asyncio streams, about 0.3 ms a request.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def request(
        self, method: str, path: str, json_body: bytes | None = None
    ) -> tuple[int, bytes]:
        """Send one request (with a JSON body, if given); return status and body."""
        if self._streams is None:
            self._streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._streams
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
        if json_body is not None:
            head += (
                "Content-Type: application/json\r\n"
                f"Content-Length: {len(json_body)}\r\n"
            )
        writer.write(head.encode() + b"\r\n" + (json_body or b""))
        answer = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        status_line, *lines = answer.split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        status = int(status_line.split(" ", 2)[1])
        if "content-length" in headers:
            return status, await reader.readexactly(int(headers["content-length"]))
        if headers.get("transfer-encoding") != "chunked":
            raise RuntimeError(f"{method} {path}: no body length in {answer!r}")
        chunks = []
        while size := int((await reader.readuntil(b"\r\n"))[:-2], 16):
            chunks.append((await reader.readexactly(size + 2))[:-2])
        await reader.readuntil(b"\r\n")  # the empty trailer
        return status, b"".join(chunks)

    async def close(self) -> None:
        """Close the connection, if it was opened."""
        if self._streams is not None:
            self._streams[1].close()
            await self._streams[1].wait_closed()
            self._streams = None


async def http_load(
    host: str,
    port: int,
    request: Callable[[int], tuple[str, str, bytes | None]],
    *,
    clients: int,
    requests: int,
) -> Load:
    """`drive` *clients* keep-alive connections (`HttpConnection`) to a server.

    ``request(i)`` gives request number *i*: its method, path and JSON body (or
    None).

    Raises:
        RuntimeError: a response was not a 2xx.
    """
    connections = [HttpConnection(host, port) for _ in range(clients)]
    idle = list(connections)

    async def send(i: int) -> None:
        connection = idle.pop()
        try:
            status, body = await connection.request(*request(i))
        finally:
            idle.append(connection)
        if not 200 <= status < 300:
            raise RuntimeError(f"{status}: {body[:200]!r}")

    try:
        return await drive(send, clients=clients, requests=requests)
    finally:
        for connection in connections:
            await connection.close()


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) process *pid* has used, or None off Linux."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
        fields = stat.rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def latency_summary(latencies: Sequence[float]) -> dict[str, float]:
    """Return the mean, p50, p95 and p99 of *latencies* (seconds)."""
    q = statistics.quantiles(latencies, n=100)
    return {
        "mean": statistics.fmean(latencies),
        "p50": q[49],
        "p95": q[94],
        "p99": q[98],
    }


# ------------------------------------------------------------------- printing


def by_name(results: Iterable[Result]) -> dict[str, Result]:
    """Index results by competitor name."""
    return {r.name: r for r in results}


def print_header(title: str, packages: Iterable[str] = ()) -> None:
    """Print what, when and where: the lines a README table needs."""
    versions = []
    for name in packages:
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"# {title}")
    print(
        f"# {now} · Python {platform.python_version()} · {platform.system()} "
        f"{platform.machine()} · {os.cpu_count()} CPUs"
    )
    if versions:
        print("# " + " · ".join(versions))
    print()


def print_table(
    title: str,
    results: Sequence[Result],
    baseline: str,
    *,
    unit: str = "µs",
    scale: float = 1e6,
    per: str = "call",
) -> None:
    """Print results side by side, with each one's ratio to *baseline*.

    The ratio is (median per call) / (baseline's median per call): below 1.00x is
    faster than the baseline.
    """
    base_result = by_name(results)[baseline]
    base = base_result.median
    name_w = max(len("competitor"), *(len(r.name) for r in results))
    loop_w = max(len("loop"), *(len(r.loop) for r in results))
    head = f"{unit}/{per}"
    print(f"## {title}")
    print(
        f"{'competitor':<{name_w}}  {'loop':<{loop_w}}  {head:>12}  "
        f"{'p25-p75':>17}  {'x baseline':>10}  {'paired':>7}"
    )
    for r in results:
        lo, hi = r.quartiles
        mark = "  <- baseline" if r.name == baseline else ""
        print(
            f"{r.name:<{name_w}}  {r.loop:<{loop_w}}  {r.median * scale:>12.1f}  "
            f"{lo * scale:>8.1f}-{hi * scale:<8.1f}  {r.median / base:>9.2f}x  "
            f"{_paired(r, base_result):>6.2f}x{mark}"
        )
    rounds = len(results[0].seconds_per_call) if results else 0
    print(
        f"(median of {rounds} interleaved rounds; x baseline = median / median of "
        f"{baseline!r}; paired = median over rounds of the per-round ratio)"
    )
    for r in results:
        if r.note:
            print(f"  * {r.name}: {r.note}")
    print()


def ratio(results: Sequence[Result], name: str, other: str) -> float:
    """Return median(name) / median(other): the ratio the tables and targets use."""
    index = by_name(results)
    return index[name].median / index[other].median


def difference(results: Sequence[Result], name: str, other: str) -> float:
    """Return median(name) - median(other), in seconds per call: what *name* adds.

    For wrappers of the same call (decorators), where the cost added to the plain
    call is the figure, not the ratio of the whole calls.
    """
    index = by_name(results)
    return index[name].median - index[other].median


def paired_ratio(results: Sequence[Result], name: str, other: str) -> float:
    """Return the median over rounds of round(name) / round(other).

    Round *i* of every competitor ran in the same interleaved pass, so this pairs
    measurements taken under the same machine conditions: a cross-check on `ratio`
    that is less sensitive to the machine drifting during the run.
    """
    index = by_name(results)
    return _paired(index[name], index[other])


def _paired(a: Result, b: Result) -> float:
    pairs = zip(a.seconds_per_call, b.seconds_per_call, strict=True)
    return statistics.median(x / y for x, y in pairs)


@dataclass(frozen=True)
class Target:
    """One target from DESIGN.md or the issue, and how this run did against it."""

    label: str
    value: float
    sign: str  # "<=" or ">="
    limit: float
    unit: str = "x"
    paired: float | None = None  # the same ratio, paired round by round

    @property
    def met(self) -> bool:
        """Whether *value* is on the right side of *limit*."""
        if self.sign == "<=":
            return self.value <= self.limit
        return self.value >= self.limit

    @property
    def verdict(self) -> str:
        """ "met", or "MISSED by N%" (how far from the limit, relative to it)."""
        if self.met:
            return "met"
        if self.sign == "<=":
            miss = self.value / self.limit - 1
        else:
            miss = 1 - self.value / self.limit
        return f"MISSED by {miss * 100:.0f}%"

    def line(self) -> str:
        """The line printed for this target."""
        text = (
            f"target {self.label}: {self.value:.2f}{self.unit} "
            f"({self.sign} {self.limit:g}{self.unit}) -> {self.verdict}"
        )
        if self.paired is not None:
            text += f" [paired: {self.paired:.2f}{self.unit}]"
        return text

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {
            "label": self.label,
            "value": self.value,
            "sign": self.sign,
            "limit": self.limit,
            "met": self.met,
            "verdict": self.verdict,
            "paired": self.paired,
        }


def check_target(
    label: str,
    value: float,
    *,
    at_most: float | None = None,
    at_least: float | None = None,
    unit: str = "x",
    paired: float | None = None,
) -> Target:
    """Print one target line ("met" or "MISSED by N%") and return it.

    Give *at_most* for ``value <= at_most`` or *at_least* for ``value >= at_least``;
    *paired* (the `paired_ratio` cross-check) is printed alongside, not judged.
    """
    if at_most is not None:
        target = Target(label, value, "<=", at_most, unit, paired)
    elif at_least is not None:
        target = Target(label, value, ">=", at_least, unit, paired)
    else:
        raise TypeError("check_target() needs at_most or at_least")
    print("  " + target.line())
    return target


def check_ratio(
    label: str,
    results: Sequence[Result],
    name: str,
    other: str,
    *,
    at_most: float | None = None,
    at_least: float | None = None,
) -> Target:
    """`check_target` on ``ratio(results, name, other)``, with the paired cross-check."""
    return check_target(
        label,
        ratio(results, name, other),
        at_most=at_most,
        at_least=at_least,
        paired=paired_ratio(results, name, other),
    )


def dump_json(path: str | None, payload: Mapping[str, Any]) -> None:
    """Write *payload* as JSON to *path* (nothing if *path* is None)."""
    if path is None:
        return
    with open(path, "w", encoding="utf-8") as f:  # noqa: PTH123
        json.dump(payload, f, indent=2)
        f.write("\n")


def results_json(results: Iterable[Result]) -> list[dict[str, Any]]:
    """Return results as a JSON-able list."""
    return [r.to_json() for r in results]


def results_from_json(data: Iterable[Mapping[str, Any]]) -> list[Result]:
    """Rebuild results from `results_json` output."""
    return [Result.from_json(d) for d in data]


def flush() -> None:
    """Flush stdout (a parent process may be reading it line by line)."""
    sys.stdout.flush()
