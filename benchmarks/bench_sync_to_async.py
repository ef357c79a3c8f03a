"""Sync → async per-call latency: `asyncbridge.run_sync` against the alternatives.

A trivial ``async def`` returning a value is called, one call at a time, from the
main thread where no event loop runs. Every competitor runs in this one process, in
interleaved rounds, and is reported as a ratio to the floor: a hand-written
persistent loop thread (plain asyncio) driven by `asyncio.run_coroutine_threadsafe`.

The asyncbridge portal runs on uvloop when it is installed. To show what uvloop
gains, a second process (``ASYNCBRIDGE_PORTAL_LOOP=asyncio``) repeats the cross-thread
competitors with the portal on plain asyncio, against its own floor.

Run from the repository root:

    .venv/bin/python benchmarks/bench_sync_to_async.py            # ~1 minute
    .venv/bin/python benchmarks/bench_sync_to_async.py --quick    # smoke run
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import threading
import warnings
from typing import TYPE_CHECKING, Any

import _harness as h
import asyncbridge as ab

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

# ------------------------------------------------------------------ constants

FLOOR = "floor: loop thread"  # the baseline every ratio is against
OURS = "ab.run_sync (portal)"
OURS_THREAD = 'ab.run_sync (sync_loop="thread")'
RUNNER = "asyncio.Runner, reused"
RUNNER_UV = "asyncio.Runner, reused (uvloop)"
PACKAGES = ("asyncbridge", "asgiref", "anyio", "synchronicity", "unsync", "uvloop")

# Targets (ratios of medians within one run), from issue #2.
TARGET_VS_FLOOR = 0.9  # run_sync <= 0.9x the floor
TARGET_ASGIREF_SPEEDUP = 3.5  # async_to_sync >= 3.5x slower than run_sync
TARGET_THREAD_VS_RUNNER = 1.5  # sync_loop="thread" <= 1.5x a reused Runner


async def trivial() -> int:
    """The work: nothing, so what is measured is the bridge."""
    return 1


async def loop_kind() -> str:
    """Return the module of the running loop's class ("asyncio..." or "uvloop")."""
    return type(asyncio.get_running_loop()).__module__.split(".")[0]


# ---------------------------------------------------------------- competitors


@contextlib.contextmanager
def loop_thread(factory: Callable[[], asyncio.AbstractEventLoop]) -> Iterator[Any]:
    """A persistent loop in a daemon thread: the hand-written floor."""
    loop = factory()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield loop
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


def floor(loop: asyncio.AbstractEventLoop) -> Callable[[int], None]:
    def run(n: int) -> None:
        submit = asyncio.run_coroutine_threadsafe
        for _ in range(n):
            submit(trivial(), loop).result()

    return run


def ab_run_sync(n: int) -> None:
    run_sync = ab.run_sync
    for _ in range(n):
        run_sync(trivial)


def asyncio_run(n: int) -> None:
    run = asyncio.run
    for _ in range(n):
        run(trivial())


def runner(r: asyncio.Runner) -> Callable[[int], None]:
    def run(n: int) -> None:
        call = r.run
        for _ in range(n):
            call(trivial())

    return run


def plain(fn: Callable[[], object]) -> Callable[[int], None]:
    def run(n: int) -> None:
        for _ in range(n):
            fn()

    return run


def unsync_competitor() -> Callable[[int], None]:
    from unsync import unsync  # noqa: PLC0415

    @unsync
    async def trivial_unsync() -> int:
        return 1

    def run(n: int) -> None:
        for _ in range(n):
            trivial_unsync().result()

    return run


def synchronicity_competitor() -> Callable[[int], None]:
    import synchronicity  # noqa: PLC0415

    # `create_blocking` is a deprecated alias of `wrap` in synchronicity 0.12.
    blocking = synchronicity.Synchronizer().wrap(trivial)
    return plain(blocking)


@contextlib.contextmanager
def cross_thread_competitors(
    stack: contextlib.ExitStack, ours_loop: str
) -> Iterator[list[h.Competitor]]:
    """The competitors that hop to a long-lived loop thread (both processes run them)."""
    import uvloop  # noqa: PLC0415
    from anyio.from_thread import start_blocking_portal  # noqa: PLC0415

    asyncio_loop = stack.enter_context(loop_thread(asyncio.new_event_loop))
    uv_loop = stack.enter_context(loop_thread(uvloop.new_event_loop))
    portal = stack.enter_context(start_blocking_portal("asyncio"))
    portal_uv = stack.enter_context(
        start_blocking_portal("asyncio", backend_options={"use_uvloop": True})
    )
    yield [
        h.Competitor(OURS, ab_run_sync, ours_loop),
        h.Competitor(
            "ab.syncify (wrapper)",
            plain(ab.syncify(trivial)),
            ours_loop,
            note="the same path as run_sync: its gap to run_sync is this run's noise",
        ),
        h.Competitor(FLOOR, floor(asyncio_loop), "asyncio"),
        h.Competitor("floor: loop thread (uvloop)", floor(uv_loop), "uvloop"),
        h.Competitor(
            "anyio blocking portal", plain(lambda: portal.call(trivial)), "asyncio"
        ),
        h.Competitor(
            "anyio blocking portal (uvloop)",
            plain(lambda: portal_uv.call(trivial)),
            "uvloop",
        ),
        h.Competitor("synchronicity", synchronicity_competitor(), "asyncio"),
        h.Competitor("unsync", unsync_competitor(), "asyncio"),
    ]


def own_loop_off_main(settings: h.Settings, kind: str) -> list[h.Result]:
    """sync_loop="thread" against reused Runners, in a plain (non-main) thread.

    On the main thread `asyncio.Runner.run` installs and removes a SIGINT handler on
    every call (and uvloop sets up its signal wake-up socket on every run); a plain
    thread skips both, which shows the bridge's own cost more clearly.
    """
    import uvloop  # noqa: PLC0415

    out: list[h.Result] = []

    def body() -> None:
        with (
            asyncio.Runner() as plain_runner,
            asyncio.Runner(loop_factory=uvloop.new_event_loop) as uv_runner,
        ):
            competitors = [
                h.Competitor(
                    OURS_THREAD,
                    ab_run_sync,
                    kind,
                    before=lambda: ab.configure(sync_loop="thread"),
                    after=lambda: ab.configure(sync_loop="portal"),
                ),
                h.Competitor(RUNNER, runner(plain_runner), "asyncio"),
                h.Competitor(RUNNER_UV, runner(uv_runner), "uvloop"),
            ]
            out.extend(h.compare(competitors, settings))

    thread = threading.Thread(target=body, name="bench-plain-thread")
    thread.start()
    thread.join()
    return out


# ---------------------------------------------------------------------- child


def child(settings: h.Settings) -> None:
    """Run the cross-thread competitors; print the results as JSON on stdout."""
    kind = ab.run_sync(loop_kind)
    with (
        contextlib.ExitStack() as stack,
        cross_thread_competitors(stack, kind) as competitors,
    ):
        results = h.compare(competitors, settings)
    print(json.dumps({"portal_loop": kind, "results": h.results_json(results)}))


def run_child(settings: h.Settings) -> tuple[str, list[h.Result]]:
    """Run `child` with the portal on plain asyncio, in a fresh interpreter."""
    env = dict(os.environ, ASYNCBRIDGE_PORTAL_LOOP="asyncio")
    argv = [
        sys.executable,
        __file__,
        "--child",
        "--rounds",
        str(settings.rounds),
        "--round-seconds",
        str(settings.round_seconds),
    ]
    if settings.quick:
        argv.append("--quick")
    out = subprocess.run(  # noqa: S603
        argv, env=env, check=True, capture_output=True, text=True
    )
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return data["portal_loop"], h.results_from_json(data["results"])


# ----------------------------------------------------------------------- main


def main() -> None:
    args, settings = h.parse_args(
        __doc__.splitlines()[0],
        extra=lambda p: p.add_argument("--child", action="store_true", help="internal"),
    )
    if args.child:
        child(settings)
        return
    warnings.simplefilter("ignore", DeprecationWarning)
    h.print_header("sync -> async: one trivial coroutine per call", PACKAGES)
    if threading.current_thread() is not threading.main_thread():
        raise SystemExit("run this from the main thread")

    import uvloop  # noqa: PLC0415
    from asgiref.sync import async_to_sync  # noqa: PLC0415

    kind = ab.run_sync(loop_kind)
    with contextlib.ExitStack() as stack:
        own_runner = stack.enter_context(asyncio.Runner())
        own_runner_uv = stack.enter_context(
            asyncio.Runner(loop_factory=uvloop.new_event_loop)
        )
        with cross_thread_competitors(stack, kind) as cross:
            competitors = [
                *cross,
                h.Competitor("asyncio.run (new loop per call)", asyncio_run, "asyncio"),
                h.Competitor(RUNNER, runner(own_runner), "asyncio"),
                h.Competitor(RUNNER_UV, runner(own_runner_uv), "uvloop"),
                h.Competitor(
                    OURS_THREAD,
                    ab_run_sync,
                    kind,
                    before=lambda: ab.configure(sync_loop="thread"),
                    after=lambda: ab.configure(sync_loop="portal"),
                    note="this thread's own loop, kept between calls: no thread hop",
                ),
                h.Competitor(
                    "asgiref async_to_sync",
                    plain(async_to_sync(trivial)),
                    "asyncio",
                    note="a new loop and a one-thread executor per call",
                ),
            ]
            results = h.compare(competitors, settings)

    h.print_table(
        "sync -> async, main thread, no loop running (this process)", results, FLOOR
    )
    h.flush()

    off_main = own_loop_off_main(settings, kind)
    h.print_table(
        'sync_loop="thread" vs reused Runners, from a plain non-main thread '
        "(informational)",
        off_main,
        RUNNER,
    )
    h.flush()

    child_kind, child_results = run_child(settings)
    h.print_table(
        f"same cross-thread competitors, second process with "
        f"ASYNCBRIDGE_PORTAL_LOOP=asyncio (portal on {child_kind})",
        child_results,
        FLOOR,
    )

    r = h.ratio
    print("## targets (ratios of medians within this run)")
    targets = [
        h.check_ratio(
            f"run_sync / floor (plain asyncio loop thread), portal on {kind}",
            results,
            OURS,
            FLOOR,
            at_most=TARGET_VS_FLOOR,
        ),
        h.check_ratio(
            "run_sync / anyio blocking portal (asyncio)",
            results,
            OURS,
            "anyio blocking portal",
            at_most=1.0,
        ),
        h.check_ratio(
            "run_sync / synchronicity", results, OURS, "synchronicity", at_most=1.0
        ),
        h.check_ratio("run_sync / unsync", results, OURS, "unsync", at_most=1.0),
        h.check_ratio(
            "asgiref async_to_sync / run_sync (speed-up)",
            results,
            "asgiref async_to_sync",
            OURS,
            at_least=TARGET_ASGIREF_SPEEDUP,
        ),
        h.check_ratio(
            'run_sync sync_loop="thread" / reused asyncio.Runner',
            results,
            OURS_THREAD,
            RUNNER,
            at_most=TARGET_THREAD_VS_RUNNER,
        ),
    ]
    print("## informational")
    info = {
        "run_sync / floor on uvloop": r(results, OURS, "floor: loop thread (uvloop)"),
        "run_sync / anyio portal on uvloop": r(
            results, OURS, "anyio blocking portal (uvloop)"
        ),
        'sync_loop="thread" / reused Runner on uvloop': r(
            results, OURS_THREAD, RUNNER_UV
        ),
        'non-main thread: sync_loop="thread" / reused Runner': r(
            off_main, OURS_THREAD, RUNNER
        ),
        'non-main thread: sync_loop="thread" / reused Runner on uvloop': r(
            off_main, OURS_THREAD, RUNNER_UV
        ),
        f"run_sync / floor, portal on {child_kind} (2nd process)": r(
            child_results, OURS, FLOOR
        ),
        "floor uvloop / floor asyncio": r(
            results, "floor: loop thread (uvloop)", FLOOR
        ),
    }
    for label, value in info.items():
        print(f"  {label}: {value:.2f}x")
    # uvloop's gain for the portal: each process's run_sync normalised by its own
    # plain-asyncio floor, so the two processes' different noise cancels out.
    gain = r(child_results, OURS, FLOOR) / r(results, OURS, FLOOR)
    print(
        f"  uvloop: the portal on {kind} is {gain:.2f}x as fast as on {child_kind} "
        "(run_sync/floor, 2nd process vs this one)"
    )
    print()
    h.dump_json(
        args.json,
        {
            "results": h.results_json(results),
            "off_main_thread": h.results_json(off_main),
            "child_portal_loop": child_kind,
            "child_results": h.results_json(child_results),
            "targets": [t.to_json() for t in targets],
            "informational": info,
            "uvloop_gain": gain,
        },
    )


if __name__ == "__main__":
    main()
