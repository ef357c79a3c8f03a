"""What instrumentation costs a bridge call: no hook, a no-op hook, a logging hook.

With no hook registered, `run_sync` and `run_in_thread` do one global read for
instrumentation; this script shows what a registered hook then adds per call:
`ab.run_sync` from the main thread (portal route), and ``await ab.run_in_thread``
from inside an asyncio loop, each with no hook, with a hook that does nothing, and
with a `LoggingHook` whose level is disabled (the usual production set-up). Side by
side, interleaved rounds, ratios to "no hook".

Zero cost when no hook is registered is shown by `bench_sync_to_async.py` and
`bench_decorators.py`, whose figures must not move against the base commit (run
them with ``PYTHONPATH=<a checkout of the base>/src``); see benchmarks/README.md.

Run from the repository root:

    .venv/bin/python benchmarks/bench_instrumentation.py            # ~1 minute
    .venv/bin/python benchmarks/bench_instrumentation.py --quick    # smoke run
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import _harness as h
import asyncbridge as ab

if TYPE_CHECKING:
    from collections.abc import Callable

PACKAGES = ("asyncbridge",)
NO_HOOK = "no hook"
NOOP = "a no-op hook"
LOGGING = "LoggingHook (level disabled)"


async def trivial() -> int:
    """The coroutine: nothing, so what is measured is the bridge."""
    return 1


def work() -> int:
    """The sync function: nothing."""
    return 1


def noop(event: object) -> None:
    """A hook that does nothing."""


def with_hook(hook: Callable[[Any], object] | None) -> dict[str, Any]:
    """``before`` / ``after`` callbacks registering *hook* for a round."""
    if hook is None:
        return {}
    return {
        "before": lambda: ab.instrumentation.add_hook(hook),
        "after": lambda: ab.instrumentation.remove_hook(hook),
    }


def run_sync_rounds(n: int) -> None:
    """*n* run_sync calls from this (main) thread: the portal route."""
    for _ in range(n):
        ab.run_sync(trivial)


async def run_in_thread_rounds(n: int) -> None:
    """*n* awaited run_in_thread calls."""
    for _ in range(n):
        await ab.run_in_thread(work)


def main() -> None:
    args, settings = h.parse_args(__doc__.splitlines()[0])
    h.print_header("instrumentation: cost per bridge call", PACKAGES)
    logging.getLogger("asyncbridge.instrumentation").setLevel(logging.WARNING)
    hooks: dict[str, Callable[[Any], object] | None] = {
        NO_HOOK: None,
        NOOP: noop,
        LOGGING: ab.instrumentation.LoggingHook(),
    }
    sync_results = h.compare(
        [
            h.Competitor(name, run_sync_rounds, **with_hook(hook))
            for name, hook in hooks.items()
        ],
        settings,
    )
    h.print_table("ab.run_sync from the main thread (portal)", sync_results, NO_HOOK)
    h.flush()

    async def in_loop() -> list[h.Result]:
        return await h.compare_async(
            [
                h.Competitor(name, run_in_thread_rounds, **with_hook(hook))
                for name, hook in hooks.items()
            ],
            settings,
        )

    async_results = asyncio.run(in_loop())
    h.print_table("await ab.run_in_thread in asyncio", async_results, NO_HOOK)
    print("## informational: what a registered hook adds per call")
    info = {}
    for label, results in (
        ("run_sync", sync_results),
        ("run_in_thread", async_results),
    ):
        index = h.by_name(results)
        for name in (NOOP, LOGGING):
            added = (index[name].median - index[NO_HOOK].median) * 1e6
            info[f"{label}, {name}: added per call (µs)"] = added
            print(f"  {label}, {name}: {added:+.2f} µs per call")
    print()
    h.dump_json(
        args.json,
        {
            "run_sync": h.results_json(sync_results),
            "run_in_thread": h.results_json(async_results),
            "informational": info,
        },
    )


if __name__ == "__main__":
    main()
