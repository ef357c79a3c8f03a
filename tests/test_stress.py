"""Scale, first use and random chains, each scenario in a fresh interpreter.

The scenarios live in stress_scenarios.py (run one by hand with
``python tests/stress_scenarios.py NAME ARGS``). Each runs under a watchdog that
dumps every thread's stack and exits when it hangs, so a deadlock fails here with
the place it happened, instead of hanging the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("stress_scenarios.py")
WATCHDOG = 40  # seconds; a healthy scenario takes one or two


def run_scenario(name: str, *args: str) -> str:
    """Run one scenario; return its summary line, or fail with its output."""
    env = {**os.environ, "STRESS_WATCHDOG": str(WATCHDOG)}
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), name, *args],
        capture_output=True,
        text=True,
        timeout=WATCHDOG + 20,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, (
        f"scenario {name} {args} failed (exit {proc.returncode}):\n"
        f"{proc.stdout}\n{proc.stderr}"
    )
    assert proc.stdout.startswith(f"OK {name}"), proc.stdout
    return proc.stdout


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_first_use_of_the_portal(backend: str) -> None:
    """32 threads released at once make their first run_sync: one portal, no error."""
    run_scenario("first_use_portal", backend)


@pytest.mark.parametrize(
    "name",
    [
        "first_use_async_safe",
        "first_use_twin",
        "first_use_iterators",
        "first_use_registry",
        "first_use_limiters",
    ],
)
def test_first_use_of_shared_objects(name: str) -> None:
    """32 threads at once on first use: exactly one object, every call succeeds."""
    run_scenario(name)


def test_lazy_restarts_race_shutdowns() -> None:
    """Calls racing repeated executors.shutdown() each end; the bridge restarts."""
    run_scenario("restart_race")


NESTED = [
    "nested_mixed",
    "nested_own_loop",
    "nested_route_back",
    "nested_plain_threads",
    "bound_methods",
]


@pytest.mark.parametrize("workers", ["4", "40"], ids=["pool-of-4", "default-pool"])
@pytest.mark.parametrize("name", NESTED)
def test_nested_work_past_the_pool_size(name: str, workers: str) -> None:
    """3 x pool-size callers whose work needs the same pool again: all finish."""
    run_scenario(name, workers)


@pytest.mark.parametrize("callers", ["1", "12"])
def test_a_lane_that_needs_itself_serves_the_work(callers: str) -> None:
    """A lane job that needs its lane through run_sync runs it on the lane thread."""
    run_scenario("lane_needs_itself", callers)


def test_a_lane_whose_loop_needs_itself_is_refused() -> None:
    """A lane job whose own loop awaits the lane raises LoopConflictError at once."""
    run_scenario("lane_loop_needs_itself")


@pytest.mark.parametrize(
    ("backend", "workers"),
    [
        ("asyncio", "40"),
        ("uvloop", "40"),
        ("trio", "40"),
        ("asyncio", "4"),
        ("trio", "4"),
    ],
)
@pytest.mark.parametrize("seed", ["1", "2"])
def test_random_chains(backend: str, workers: str, seed: str) -> None:
    """200 concurrent random chains (errors and cancellations injected) end as expected."""
    run_scenario("random_chains", backend, seed, workers)


def test_shutdown_leaves_no_thread() -> None:
    """After executors.shutdown() the process has as many threads as before use."""
    run_scenario("shutdown_threads")
