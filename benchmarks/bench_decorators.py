"""Decorator overhead when no bridging is needed, against a plain call.

A sync function under `ab.async_safe` (its value passes through) and under
`ab.mixed_execution_safe` (no loop runs here, so it runs inline), called from plain
sync code, side by side with the undecorated call in one process, interleaved
rounds. The figure that matters is the difference of medians: what the decorator
adds to each call. Informational: the same with trio imported (then
`mixed_execution_safe` also reads sniffio's thread-local to rule out a trio run),
and for methods (a decorated method's bound form carries a bound ``.aio``, which the
bound method Python makes of a plain function cannot).

Run from the repository root:

    .venv/bin/python benchmarks/bench_decorators.py            # ~1 minute
    .venv/bin/python benchmarks/bench_decorators.py --quick    # smoke run
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import _harness as h
import asyncbridge as ab

if TYPE_CHECKING:
    from collections.abc import Callable

# ------------------------------------------------------------------ constants

PACKAGES = ("asyncbridge",)
PLAIN = "plain function"
PLAIN_METHOD = "plain method"
TARGET_ADDED_US = 0.5  # issue #3: under 0.5 µs added per call


def work(x: int) -> int:
    """The decorated function: trivial, so what is measured is the wrapper."""
    return x


class Service:
    """The same work as methods."""

    def plain(self, x: int) -> int:
        return x

    @ab.async_safe
    def safe(self, x: int) -> int:
        return x

    @ab.mixed_execution_safe
    def mixed(self, x: int) -> int:
        return x


def repeat(fn: Callable[[int], Any]) -> Callable[[int], None]:
    """A round: *n* calls of ``fn(1)``."""

    def run(n: int) -> None:
        for _ in range(n):
            fn(1)

    return run


def method_rounds(obj: Service) -> dict[str, Callable[[int], None]]:
    """Rounds of *n* ``obj.<method>(1)`` calls, spelled as users write them."""

    def plain(n: int) -> None:
        for _ in range(n):
            obj.plain(1)

    def safe(n: int) -> None:
        for _ in range(n):
            obj.safe(1)

    def mixed(n: int) -> None:
        for _ in range(n):
            obj.mixed(1)

    return {"plain": plain, "safe": safe, "mixed": mixed}


def main() -> None:
    args, settings = h.parse_args(__doc__.splitlines()[0])
    h.print_header("decorator overhead, no bridging needed (sync caller)", PACKAGES)

    functions = h.compare(
        [
            h.Competitor(PLAIN, repeat(work)),
            h.Competitor("ab.async_safe(sync fn)", repeat(ab.async_safe(work))),
            h.Competitor(
                "ab.mixed_execution_safe(sync fn)",
                repeat(ab.mixed_execution_safe(work)),
            ),
        ],
        settings,
    )
    h.print_table("functions", functions, PLAIN, unit="ns", scale=1e9)
    h.flush()

    # With trio imported, mixed_execution_safe also reads sniffio's thread-local.
    import trio  # noqa: F401, PLC0415

    with_trio = h.compare(
        [
            h.Competitor(PLAIN, repeat(work)),
            h.Competitor(
                "ab.mixed_execution_safe(sync fn)",
                repeat(ab.mixed_execution_safe(work)),
            ),
        ],
        settings,
    )
    h.print_table(
        "functions, trio imported (informational)",
        with_trio,
        PLAIN,
        unit="ns",
        scale=1e9,
    )
    h.flush()

    rounds = method_rounds(Service())
    methods = h.compare(
        [
            h.Competitor(PLAIN_METHOD, rounds["plain"]),
            h.Competitor("ab.async_safe method", rounds["safe"]),
            h.Competitor("ab.mixed_execution_safe method", rounds["mixed"]),
        ],
        settings,
    )
    h.print_table(
        "methods (informational)", methods, PLAIN_METHOD, unit="ns", scale=1e9
    )

    def added(results: list[h.Result], name: str, base: str) -> float:
        return h.difference(results, name, base) * 1e6  # µs

    print("## targets (difference of medians within this run)")
    targets = [
        h.check_target(
            "async_safe(sync fn): added per call",
            added(functions, "ab.async_safe(sync fn)", PLAIN),
            at_most=TARGET_ADDED_US,
            unit=" µs",
        ),
        h.check_target(
            "mixed_execution_safe(sync fn): added per call",
            added(functions, "ab.mixed_execution_safe(sync fn)", PLAIN),
            at_most=TARGET_ADDED_US,
            unit=" µs",
        ),
    ]
    print("## informational")
    info = {
        "mixed_execution_safe(sync fn), trio imported: added per call (µs)": added(
            with_trio, "ab.mixed_execution_safe(sync fn)", PLAIN
        ),
        "async_safe method: added per call (µs)": added(
            methods, "ab.async_safe method", PLAIN_METHOD
        ),
        "mixed_execution_safe method: added per call (µs)": added(
            methods, "ab.mixed_execution_safe method", PLAIN_METHOD
        ),
    }
    for label, value in info.items():
        print(f"  {label}: {value:.3f}")
    print()
    h.dump_json(
        args.json,
        {
            "functions": h.results_json(functions),
            "functions_trio_imported": h.results_json(with_trio),
            "methods": h.results_json(methods),
            "targets": [t.to_json() for t in targets],
            "informational": info,
        },
    )


if __name__ == "__main__":
    main()
