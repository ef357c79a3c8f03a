"""Greenlet re-entry: `on_loop_conflict="greenlet"` against greenback, side by side.

Three costs, each measured inside a running loop (plain asyncio, then uvloop),
every competitor in this one process, in interleaved rounds:

1. One re-entry: sync code in a prepared task runs a coroutine on the running loop.
   ``ab.run_sync(fn)`` against ``greenback.await_(fn())``, for a coroutine that
   finishes without suspending (the bridge alone) and for one that yields to the
   loop once (``asyncio.sleep(0)``: the bridge plus a trip through the loop).
2. Preparing a task: a task that prepares itself and returns. ``ab.run_in_greenlet``
   against ``greenback.with_portal_run`` (an entry point), a task created by
   ``ab.greenlet_task_factory`` against a task calling ``greenback.ensure_portal()``
   (every task), and a plain task (the floor: no preparation at all).
3. The price a prepared task pays on each of its own awaits: 100 ``sleep(0)`` in a
   task prepared by each library, against a plain task.

Run from the repository root:

    .venv/bin/python benchmarks/bench_greenlet.py            # ~1 minute
    .venv/bin/python benchmarks/bench_greenlet.py --quick    # smoke run
"""

from __future__ import annotations

import asyncio
import warnings
from typing import TYPE_CHECKING, Any

import greenback
import uvloop

import _harness as h
import asyncbridge as ab

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Coroutine

PACKAGES = ("asyncbridge", "greenback", "greenlet", "uvloop")
OURS = "ab.run_sync (greenlet)"
PEER = "greenback.await_"
STEPS = 100  # awaits per task in the per-step table

# Target (issue #10): no slower than greenback.
TARGET_VS_GREENBACK = 1.0


async def trivial() -> int:
    """Finishes at once: what is measured is the re-entry itself."""
    return 1


async def one_hop() -> int:
    """Yields to the loop once: the re-entry plus one trip through the loop."""
    await asyncio.sleep(0)
    return 1


async def nothing() -> None:
    """A task body that does nothing."""


async def steps() -> None:
    """A task body that awaits STEPS times."""
    for _ in range(STEPS):
        await asyncio.sleep(0)


# ------------------------------------------------------------- re-entry


def ab_reentries(fn: Callable[[], Awaitable[int]]) -> Callable[[int], Awaitable[None]]:
    def sync_part(n: int) -> None:
        run_sync = ab.run_sync
        for _ in range(n):
            run_sync(fn)

    async def body(n: int) -> None:
        sync_part(n)

    async def run(n: int) -> None:
        await ab.run_in_greenlet(body, n)

    return run


def greenback_reentries(
    fn: Callable[[], Coroutine[Any, Any, int]],
) -> Callable[[int], Awaitable[None]]:
    def sync_part(n: int) -> None:
        await_ = greenback.await_
        for _ in range(n):
            await_(fn())

    async def run(n: int) -> None:
        await greenback.with_portal_run_sync(sync_part, n)

    return run


# ------------------------------------------------------------ preparing


async def ab_entry(n: int) -> None:
    run_in_greenlet = ab.run_in_greenlet
    for _ in range(n):
        await run_in_greenlet(nothing)


async def greenback_entry(n: int) -> None:
    with_portal_run = greenback.with_portal_run
    for _ in range(n):
        await with_portal_run(nothing)


async def ensure_portal_task() -> None:
    await greenback.ensure_portal()


def tasks_of(
    body: Callable[[], Coroutine[Any, Any, None]], factory: Any
) -> Callable[[int], Awaitable[None]]:
    """Create and await *n* tasks of *body*, with the loop's task factory *factory*."""

    async def run(n: int) -> None:
        loop = asyncio.get_running_loop()
        previous = loop.get_task_factory()
        loop.set_task_factory(factory)
        try:
            create = loop.create_task
            for _ in range(n):
                await create(body())
        finally:
            loop.set_task_factory(previous)

    return run


# --------------------------------------------------------------- tables


async def measure(settings: h.Settings, loop_name: str) -> list[h.Target]:
    targets: list[h.Target] = []
    for fn, what, label in (
        (trivial, "coroutine done at once", "re-entry"),
        (one_hop, "one trip through the loop", "re-entry with a loop trip"),
    ):
        reentry = await h.compare_async(
            [
                h.Competitor(OURS, ab_reentries(fn), loop_name),
                h.Competitor(PEER, greenback_reentries(fn), loop_name),
            ],
            settings,
        )
        h.print_table(f"one re-entry, {what} ({loop_name})", reentry, PEER)
        targets.append(
            h.check_ratio(
                f"{label} vs greenback ({loop_name})",
                reentry,
                OURS,
                PEER,
                at_most=TARGET_VS_GREENBACK,
            )
        )
    prepare = await h.compare_async(
        [
            h.Competitor("ab.run_in_greenlet", ab_entry, loop_name),
            h.Competitor("greenback.with_portal_run", greenback_entry, loop_name),
            h.Competitor(
                "task, ab.greenlet_task_factory",
                tasks_of(nothing, ab.greenlet_task_factory),
                loop_name,
            ),
            h.Competitor(
                "task, greenback.ensure_portal()",
                tasks_of(ensure_portal_task, None),
                loop_name,
            ),
            h.Competitor("task, plain (floor)", tasks_of(nothing, None), loop_name),
        ],
        settings,
    )
    h.print_table(
        f"preparing a task ({loop_name})",
        prepare,
        "greenback.with_portal_run",
        per="task",
    )
    targets.append(
        h.check_ratio(
            f"entry point vs greenback.with_portal_run ({loop_name})",
            prepare,
            "ab.run_in_greenlet",
            "greenback.with_portal_run",
            at_most=TARGET_VS_GREENBACK,
        )
    )
    targets.append(
        h.check_ratio(
            f"task factory vs greenback.ensure_portal ({loop_name})",
            prepare,
            "task, ab.greenlet_task_factory",
            "task, greenback.ensure_portal()",
            at_most=TARGET_VS_GREENBACK,
        )
    )

    async def greenback_steps() -> None:
        await greenback.ensure_portal()
        await steps()

    per_step = await h.compare_async(
        [
            h.Competitor(
                "task, ab.greenlet_task_factory",
                tasks_of(steps, ab.greenlet_task_factory),
                loop_name,
            ),
            h.Competitor(
                "task, greenback.ensure_portal()",
                tasks_of(greenback_steps, None),
                loop_name,
            ),
            h.Competitor("task, plain (floor)", tasks_of(steps, None), loop_name),
        ],
        settings,
    )
    h.print_table(
        f"a task awaiting sleep(0) {STEPS} times ({loop_name})",
        per_step,
        "task, plain (floor)",
        per="task",
    )
    targets.append(
        h.check_ratio(
            f"{STEPS} awaits in a prepared task vs greenback ({loop_name})",
            per_step,
            "task, ab.greenlet_task_factory",
            "task, greenback.ensure_portal()",
            at_most=TARGET_VS_GREENBACK,
        )
    )
    return targets


def main() -> None:
    args, settings = h.parse_args(__doc__.splitlines()[0])
    h.print_header("greenlet re-entry vs greenback", PACKAGES)
    ab.configure(on_loop_conflict="greenlet")
    warnings.simplefilter("error", ab.LoopBlockedWarning)  # a fallback is a bug here
    targets = asyncio.run(measure(settings, "asyncio"))
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        targets += runner.run(measure(settings, "uvloop"))
    h.dump_json(args.json, {"targets": [t.to_json() for t in targets]})


if __name__ == "__main__":
    main()
