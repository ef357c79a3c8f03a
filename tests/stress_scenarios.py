"""Stress scenarios, each run in a fresh interpreter by tests/test_stress.py.

Run one by hand: ``python tests/stress_scenarios.py NAME [ARG ...]``. A watchdog
(`faulthandler.dump_traceback_later`) dumps every thread's stack and exits if the
scenario hangs, so a deadlock fails fast and says where. A scenario prints ``OK``
and a summary line on success; any failed check raises.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import functools
import math
import os
import random
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import anyio

import asyncbridge as ab

WATCHDOG = float(os.environ.get("STRESS_WATCHDOG", "40"))
SCENARIOS: dict[str, Callable[..., str]] = {}


def scenario(fn: Callable[..., str]) -> Callable[..., str]:
    SCENARIOS[fn.__name__] = fn
    return fn


def run_threads(n: int, target: Callable[[int], Any]) -> list[Any]:
    """Run target(i) in n threads released together by a barrier; re-raise errors."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def main(i: int) -> None:
        barrier.wait()
        try:
            results[i] = target(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=main, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def quiet() -> None:
    warnings.simplefilter("ignore", ab.LoopBlockedWarning)


def pool_size(workers: str) -> int:
    size = int(workers)
    ab.configure(default_workers=size)
    return size


# ------------------------------------------------------------------ first use


async def _where() -> tuple[str, int]:
    await asyncio.sleep(0)
    return threading.current_thread().name, id(asyncio.get_running_loop())


async def _where_trio() -> tuple[str, int]:
    import trio  # noqa: PLC0415  (imported by the portal thread, racing the others)

    await trio.sleep(0)
    return threading.current_thread().name, id(trio.lowlevel.current_trio_token())


@scenario
def first_use_portal(backend: str) -> str:
    """32 threads make their first run_sync at once: one portal, no error."""
    target = _where_trio if backend == "trio" else _where
    results = run_threads(32, lambda _: ab.run_sync(target, backend=backend))
    assert len(set(results)) == 1, results
    return f"one {backend} portal for 32 first calls"


@scenario
def first_use_async_safe() -> str:
    """32 threads call an async_safe function first, at once: one portal."""

    @ab.async_safe
    async def where() -> tuple[str, int]:
        return await _where()

    results = run_threads(32, lambda _: where())
    assert len(set(results)) == 1, results
    return "one portal"


@scenario
def first_use_twin() -> str:
    """32 threads make an instance's first sync-twin call at once: one home loop."""

    class Client(ab.DualInterface):
        async def where_async(self) -> tuple[str, int]:
            return await _where()

    client = Client()
    results = run_threads(32, lambda _: client.where())  # type: ignore[attr-defined]
    assert len(set(results)) == 1, results
    return "one home loop"


@scenario
def first_use_iterators() -> str:
    """32 threads iterate_sync and sync_context at once on first use: one portal."""

    async def numbers() -> Any:
        for n in range(3):
            yield n, await _where()

    def use(_: int) -> set[tuple[str, int]]:
        seen = {where for _, where in ab.iterate_sync(numbers())}

        @contextlib.asynccontextmanager
        async def session() -> Any:
            yield await _where()

        with ab.sync_context(session()) as where:
            seen.add(where)
        return seen

    results = run_threads(32, use)
    assert len(set().union(*results)) == 1, results
    return "one portal"


@scenario
def first_use_registry() -> str:
    """32 threads ask for the default pool and a lane at once: one object each."""
    pools = run_threads(32, lambda _: ab.executors.get())
    lanes = run_threads(32, lambda _: ab.executors.dedicated("lane"))
    assert len({id(p) for p in pools}) == 1
    assert len({id(p) for p in lanes}) == 1
    return "one default pool, one lane"


@scenario
def first_use_limiters() -> str:
    """32 threads, each running a loop, first-use int limiters at once."""
    inside = [0]
    peak = [0]
    lock = threading.Lock()

    def work() -> None:
        with lock:
            inside[0] += 1
            peak[0] = max(peak[0], inside[0])
        time.sleep(0.001)
        with lock:
            inside[0] -= 1

    wrapped = ab.asyncify(work, limiter=1)

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            for _ in range(4):
                tg.start_soon(wrapped)
                tg.start_soon(functools.partial(ab.run_in_thread, work, limiter=1))

    run_threads(32, lambda _: asyncio.run(main()))
    assert peak[0] <= 64, peak  # one limiter per loop and per key: at most 2 x 32
    return f"peak {peak[0]}"


@scenario
def restart_race() -> str:
    """Shutdowns race 16 threads of run_sync: each call ends, none hangs."""
    progress = threading.Condition()
    done = [0]
    stop = threading.Event()
    outcomes: dict[str, int] = {}

    async def one() -> int:
        await asyncio.sleep(0)
        return 1

    def caller(i: int) -> None:
        if i == 0:
            for round_ in range(1, 21):  # shut down after every 10 calls or so
                with progress:
                    progress.wait_for(lambda r=round_: done[0] >= 10 * r)  # type: ignore[misc]
                ab.executors.shutdown()
            stop.set()
            return
        while not stop.is_set():
            try:
                kind = "ok" if ab.run_sync(one) == 1 else "wrong"
            except ab.ExecutorShutdownError:
                kind = "shut down"
            with progress:
                outcomes[kind] = outcomes.get(kind, 0) + 1
                done[0] += 1
                progress.notify_all()

    run_threads(17, caller)
    assert ab.run_sync(one) == 1
    assert set(outcomes) <= {"ok", "shut down"}, outcomes
    assert outcomes.get("ok", 0) >= 100, outcomes
    return f"outcomes {outcomes}"


# ------------------------------------------------------------ nested chains


async def _leaf_async(i: int) -> int:
    await asyncio.sleep(0)
    return i


def _leaf(i: int) -> int:
    return i


@scenario
def nested_mixed(workers: str) -> str:
    """3 x pool callers of mixed_execution_safe nested 3 deep (each in its own loop)."""
    quiet()
    n = 3 * pool_size(workers)

    @ab.mixed_execution_safe
    def level3(i: int) -> int:
        return asyncio.run(_leaf_async(i))

    @ab.mixed_execution_safe
    def level2(i: int) -> int:
        async def inner() -> int:
            return level3(i) + 1  # blocks this worker's loop: runs in another worker

        return asyncio.run(inner())

    @ab.mixed_execution_safe
    def level1(i: int) -> int:
        async def inner() -> int:
            return level2(i) + 1

        return asyncio.run(inner())

    async def main() -> list[int]:
        return await asyncio.gather(*(level1.aio(i) for i in range(n)))

    assert asyncio.run(main()) == [i + 2 for i in range(n)]
    return f"{n} callers, lent at peak {_peak_lent()}"


@scenario
def nested_own_loop(workers: str) -> str:
    """3 x pool callers: run_in_thread in a worker's own loop, 3 levels deep."""
    n = 3 * pool_size(workers)

    def level2(i: int) -> int:
        async def inner() -> int:
            return await ab.run_in_thread(_leaf, i) + 1

        return asyncio.run(inner())

    def level1(i: int) -> int:
        async def inner() -> int:
            return await ab.run_in_thread(level2, i) + 1

        return asyncio.run(inner())

    async def main() -> list[int]:
        return await asyncio.gather(*(ab.run_in_thread(level1, i) for i in range(n)))

    assert asyncio.run(main()) == [i + 2 for i in range(n)]
    return f"{n} callers, lent at peak {_peak_lent()}"


@scenario
def nested_route_back(workers: str) -> str:
    """3 x pool callers of run_in_thread -> run_sync back -> run_in_thread (README)."""
    n = 3 * pool_size(workers)

    async def fetch(i: int) -> int:
        return await ab.run_in_thread(_leaf, i)

    def legacy(i: int) -> int:
        return ab.run_sync(fetch, i) + 1

    async def main() -> list[int]:
        return await asyncio.gather(*(ab.run_in_thread(legacy, i) for i in range(n)))

    assert asyncio.run(main()) == [i + 1 for i in range(n)]
    return f"{n} callers, lent at peak {_peak_lent()}"


@scenario
def nested_plain_threads(workers: str) -> str:
    """Plain threads in running loops call a mixed function that offloads and back."""
    quiet()
    n = max(64, 3 * pool_size(workers))

    def back(i: int) -> int:
        return ab.run_sync(_leaf_async, i) + 1  # back on the worker's own loop

    @ab.mixed_execution_safe
    def body(i: int) -> int:
        async def inner() -> int:
            return await ab.run_in_thread(back, i) + 1

        return asyncio.run(inner())

    async def thread_main(i: int) -> int:
        return body(i)  # a running loop here: body runs in a worker meanwhile

    results = run_threads(n, lambda i: asyncio.run(thread_main(i)))
    assert results == [i + 2 for i in range(n)]
    return f"{n} threads, lent at peak {_peak_lent()}"


class _Fault(Exception):
    """An exception type of the test's own."""


_FAULTS: tuple[type[BaseException], ...] = (ValueError, LookupError, _Fault, OSError)


class _Bound:
    """Bound methods three offloads deep, a fault every fifth leaf, async methods."""

    def leaf(self, i: int) -> int:
        if i % 5 == 4:
            fault = _FAULTS[i // 5 % len(_FAULTS)]
            raise fault(i)
        return i

    def level2(self, i: int) -> int:
        async def inner() -> int:
            return await ab.run_in_thread(self.leaf, i) + 1

        return asyncio.run(inner())

    def level1(self, i: int) -> int:
        async def inner() -> int:
            return await ab.run_in_thread(self.level2, i) + 1

        return asyncio.run(inner())

    async def not_sync(self, i: int) -> int:
        return i


@scenario
def bound_methods(workers: str) -> str:
    """3 x pool threads at once offload bound methods 3 deep; faults come back whole."""
    n = 3 * pool_size(workers)
    obj = _Bound()

    async def call(i: int) -> object:
        try:
            if i % 7 == 6:  # an async method: refused before anything runs
                return await ab.run_in_thread(obj.not_sync, i)  # type: ignore[arg-type]
            return await ab.run_in_thread(obj.level1, i)
        except (TypeError, *_FAULTS) as exc:
            return exc

    results = run_threads(n, lambda i: asyncio.run(call(i)))
    faults = 0
    for i, result in enumerate(results):
        if i % 7 == 6:
            assert isinstance(result, TypeError), (i, result)
            assert "async function" in str(result), result
        elif i % 5 == 4:
            assert type(result) is _FAULTS[i // 5 % len(_FAULTS)], (i, result)
            assert result.args == (i,), result  # type: ignore[union-attr]
            faults += 1
        else:
            assert result == i + 2, (i, result)
    assert faults > 0
    return f"{n} threads, {faults} faults, lent at peak {_peak_lent()}"


@scenario
def lane_needs_itself(callers: str) -> str:
    """A lane job that needs its lane again (through run_sync) runs there, inline."""
    n = int(callers)
    lane = ab.executors.dedicated("db")
    lane_thread = lane.submit(threading.get_ident).result()

    def on_lane(i: int) -> int:
        assert threading.get_ident() == lane_thread
        return i

    async def again(i: int) -> int:
        return await ab.run_in_thread(on_lane, i, executor="db")

    def job(i: int) -> int:
        return ab.run_sync(again, i) + 1

    async def main() -> list[int]:
        return await asyncio.gather(
            *(ab.run_in_thread(job, i, executor="db") for i in range(n))
        )

    assert asyncio.run(main()) == [i + 1 for i in range(n)]
    return f"{n} callers served on the lane thread"


@scenario
def lane_loop_needs_itself() -> str:
    """A lane job whose own loop awaits the lane fails at once, naming the lane."""

    def job() -> None:
        async def inner() -> int:
            return await ab.run_in_thread(_leaf, 1, executor="db")

        asyncio.run(inner())

    async def main() -> None:
        await ab.run_in_thread(job, executor="db")

    ab.executors.dedicated("db")
    try:
        asyncio.run(main())
    except ab.LoopConflictError as exc:
        assert "'db'" in str(exc), exc
        return "refused"
    raise AssertionError("no LoopConflictError")


def _peak_lent() -> int:
    pool = ab.executors.get()
    return pool.lending()[1]  # type: ignore[attr-defined]


# --------------------------------------------------------------- random chains
#
# A chain is a list of hops, run from the top: each hop leaves the current
# context (async: a coroutine on some loop; sync: a thread with no loop running
# here, or with its loop blocked) for the next one. `_Oracle` predicts, from the
# routing rules, whether the chain ends with its value (or injected error) or with
# a LoopConflictError (a wait that could never end).

ASYNC_HOPS = ("thread", "asyncify", "lane", "mixed_aio", "mixed_block", "twin_block")
SYNC_HOPS = ("run_sync", "twin", "own_loop")


class Injected(Exception):
    """The error a chain's leaf raises on purpose."""


class _Home(ab.DualInterface):
    async def step_async(self, chain: list[str], i: int) -> Any:
        return await _async_step(chain, i)


HOME: Any = None


@contextlib.contextmanager
def _home_loop() -> Iterator[Any]:
    """A DualInterface instance whose home is a loop in a background thread."""
    global HOME  # noqa: PLW0603
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="home-loop", daemon=True)
    thread.start()
    HOME = _Home()

    async def first_use() -> Any:
        return await HOME.step_async(["leaf"], 0)

    asyncio.run_coroutine_threadsafe(first_use(), loop).result()
    try:
        yield loop
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()


@ab.mixed_execution_safe
def _mixed(chain: list[str], i: int) -> Any:
    return _sync_step(chain, i)


def _leaf_value(chain: list[str], i: int) -> Any:
    if chain[-1] == "raise":
        raise Injected(i)
    return i


async def _async_step(chain: list[str], i: int) -> Any:
    if chain[0] in ("leaf", "raise"):
        return _leaf_value(chain, i)
    hop, rest = chain[0], chain[1:]
    if hop == "thread":
        return await ab.run_in_thread(_sync_step, rest, i)
    if hop == "asyncify":
        return await ab.asyncify(_sync_step)(rest, i)
    if hop == "lane":
        return await ab.run_in_thread(_sync_step, rest, i, executor="lane")
    if hop == "mixed_aio":
        return await _mixed.aio(rest, i)
    if hop == "mixed_block":
        return _mixed(rest, i)
    if hop == "twin_block":
        return HOME.step(rest, i)
    raise AssertionError(hop)


def _sync_step(chain: list[str], i: int) -> Any:
    if chain[0] in ("leaf", "raise"):
        return _leaf_value(chain, i)
    hop, rest = chain[0], chain[1:]
    if hop == "run_sync":
        return ab.run_sync(functools.partial(_async_step, rest, i))
    if hop == "twin":
        return HOME.step(rest, i)
    if hop == "own_loop":
        return asyncio.run(_async_step(rest, i))
    raise AssertionError(hop)


class _Oracle:
    """Predicts the end of a chain from the routing rules (see DESIGN.md)."""

    def __init__(self) -> None:
        self.own = 0

    def outcome(self, chain: list[str]) -> str:
        """'value', 'raise' or 'conflict'."""
        # loops: 'outer', 'portal', 'home', 'own<k>' (private to the chain)
        blocked: set[str] = set()  # loops whose thread is blocked up the chain
        # the lane thread, innermost wait: free, plain (blocked, no loop there),
        # in_loop (blocked inside its own loop) or waiting (its loop awaits)
        lane = "free"
        lane_loops: set[str] = set()  # loops running on the lane thread
        loop = "outer"  # in an async context: its loop
        parent: str | None = None  # in a sync context: the loop it works for
        on_lane = False  # in a sync context: on the lane thread
        for hop in chain:
            if hop in ("leaf", "raise"):
                return "value" if hop == "leaf" else "raise"
            if hop in ("thread", "asyncify", "mixed_aio", "lane"):
                if loop in lane_loops:
                    lane = "waiting"
                if hop == "lane" and lane in ("waiting", "in_loop"):
                    return "conflict"
                on_lane = hop == "lane"
                parent, loop = loop, ""
            elif hop in ("mixed_block", "twin_block"):
                blocked.add(loop)
                if loop in lane_loops:
                    lane = "in_loop"
                if hop == "mixed_block":
                    parent, loop, on_lane = None, "", False
                elif loop == "home" or "home" in blocked:
                    return "conflict"
                else:
                    loop = "home"
            elif hop in ("run_sync", "twin"):
                if on_lane:
                    lane = "plain"
                target = "home" if hop == "twin" else parent or "portal"
                if target in blocked:
                    return "conflict"
                loop, parent = target, None
            elif hop == "own_loop":
                self.own += 1
                loop, parent = f"own{self.own}", None
                if on_lane:
                    lane_loops.add(loop)
        raise AssertionError(chain)


def _random_chain(rng: random.Random) -> list[str]:
    """A chain of 1-6 hops ending in a value or an error.

    Blocking hops (a coroutine calling sync code that waits) start only from loops
    private to the chain (``own_loop``): blocking a loop that other chains share
    (the outer loop, the portal, the home loop) can make two chains wait for each
    other, the deadlock every `LoopBlockedWarning` warns of, and no library can
    see it from one chain.
    """
    chain: list[str] = []
    context = "async-shared"  # async-shared, async-own or sync
    for _ in range(rng.randint(1, 6)):
        if context == "sync":
            hop = rng.choice(SYNC_HOPS)
            context = "async-own" if hop == "own_loop" else "async-shared"
        else:
            hops = ASYNC_HOPS if context == "async-own" else ASYNC_HOPS[:4]
            hop = rng.choice(hops)
            context = "async-shared" if hop == "twin_block" else "sync"
        chain.append(hop)
    chain.append(rng.choice(("leaf", "leaf", "raise")))
    return chain


@scenario
def random_chains(backend: str, seed: str, workers: str = "40") -> str:
    """200 concurrent random chains with errors and cancellations: expected ends."""
    quiet()
    pool_size(workers)
    rng = random.Random(int(seed))
    chains = [_random_chain(rng) for _ in range(200)]
    # a fifth are cancelled after a random delay: at a random point of the chain
    cancel_at = [rng.uniform(0, 0.01) if rng.random() < 0.2 else None for _ in chains]
    oracle = _Oracle()
    expected = [oracle.outcome(c) for c in chains]
    ab.executors.dedicated("lane")
    outcomes: list[str] = [""] * len(chains)

    async def run_one(i: int) -> None:
        try:
            delay = cancel_at[i]
            with anyio.move_on_after(math.inf if delay is None else delay) as scope:
                value = await _async_step(chains[i], i)
            if scope.cancelled_caught:
                outcomes[i] = "cancelled"
                return
            assert value == i, (chains[i], value)
            outcomes[i] = "value"
        except Injected as exc:
            assert exc.args == (i,), exc.args
            outcomes[i] = "raise"
        except ab.LoopConflictError:
            outcomes[i] = "conflict"

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            for i in range(len(chains)):
                tg.start_soon(run_one, i)

    with _home_loop():
        options = {"use_uvloop": True} if backend == "uvloop" else {}
        anyio.run(
            main,
            backend="trio" if backend == "trio" else "asyncio",
            backend_options=options,
        )
    wrong = [
        (chains[i], expected[i], outcomes[i])
        for i in range(len(chains))
        if outcomes[i] != expected[i]
        and not (cancel_at[i] is not None and outcomes[i] == "cancelled")
    ]
    assert not wrong, wrong[:5]
    counts = {k: outcomes.count(k) for k in set(outcomes)}
    return f"200 chains: {counts}"


# ------------------------------------------------------------------ shutdown


@scenario
def shutdown_threads() -> str:
    """After ab.executors.shutdown() the thread count is back to its baseline."""
    baseline = threading.active_count()

    async def main() -> None:
        await asyncio.gather(*(ab.run_in_thread(time.sleep, 0.01) for _ in range(60)))
        ab.executors.dedicated("lane")
        await ab.run_in_thread(_leaf, 1, executor="lane")

    ab.run_sync(_leaf_async, 1)
    asyncio.run(main())
    assert threading.active_count() > baseline
    ab.executors.shutdown()
    after = threading.active_count()
    assert after == baseline, (baseline, after, threading.enumerate())
    return f"{baseline} threads before and after"


if __name__ == "__main__":
    faulthandler.dump_traceback_later(WATCHDOG, exit=True)
    name, *args = sys.argv[1:]
    summary = SCENARIOS[name](*args)
    faulthandler.cancel_dump_traceback_later()
    print("OK", name, summary)
