"""Run jobs that depend on each other, at most N at a time, without deadlock.

One scheduler serves every place that runs dependent work: tasks in a stage,
stages in a workflow, agents in a parallel execution. Every execution mode is a
dependency graph plus a limit (a sequential stage is a chain with limit 1).

How it avoids the seed's pool deadlock (a bounded pool whose jobs wait for jobs
queued behind them): jobs are handed to ``ab.gather_limited`` in dependency
order, and its workers take items in order, so whenever a job waits for a
dependency, that dependency has already been taken by a worker. Waiting never
holds a slot that the awaited work needs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import anyio

import asyncbridge as ab

__all__ = ["Job", "find_cycle", "run_jobs", "topological_order"]

K = TypeVar("K", bound=Hashable)


def find_cycle(keys: Sequence[K], needs: Mapping[K, Collection[K]]) -> list[K] | None:
    """Return one dependency cycle as ``[a, b, ..., a]``, or None if there is none."""
    state: dict[K, int] = {}  # 1: on the current path, 2: finished
    path: list[K] = []

    def visit(key: K) -> list[K] | None:
        state[key] = 1
        path.append(key)
        for need in needs.get(key, ()):
            if state.get(need) == 1:
                return [*path[path.index(need) :], need]
            if need not in state and (cycle := visit(need)) is not None:
                return cycle
        path.pop()
        state[key] = 2
        return None

    for key in keys:
        if key not in state and (cycle := visit(key)) is not None:
            return cycle
    return None


def topological_order(keys: Sequence[K], needs: Mapping[K, Collection[K]]) -> list[K]:
    """Order *keys* so that each comes after what it needs, else as listed.

    Raises:
        ValueError: the dependencies form a cycle (the message shows it).
    """
    if (cycle := find_cycle(keys, needs)) is not None:
        msg = "dependency cycle: " + " -> ".join(map(str, cycle))
        raise ValueError(msg)
    placed: set[K] = set()
    order: list[K] = []

    def place(key: K) -> None:
        if key in placed:
            return
        for need in needs.get(key, ()):
            place(need)
        placed.add(key)
        order.append(key)

    for key in keys:
        place(key)
    return order


@dataclass(frozen=True)
class Job(Generic[K]):
    """A unit of work: its key, the keys it needs, and how to run it.

    ``run(blocked_by)`` is awaited once its needs are done. ``blocked_by`` is the
    first need that did not succeed (the job should then record itself skipped
    without doing its work), or None. It returns whether the job succeeded.
    """

    key: K
    needs: frozenset[K]
    run: Callable[[K | None], Awaitable[bool]]


async def run_jobs(
    jobs: Sequence[Job[K]],
    *,
    limit: int,
    finished: Mapping[K, bool] | None = None,
) -> dict[K, bool]:
    """Run *jobs*, each after its needs, at most *limit* at once.

    Args:
        jobs: the jobs; their needs name other jobs or keys of *finished*.
        limit: the most jobs running at once (waiting for a need counts).
        finished: outcomes of jobs that already ran (their keys count as done).

    Returns:
        Each key's success, *finished* included.

    Raises:
        ValueError: the needs form a cycle.
        BaseException: whatever a job's ``run`` raises (the others are cancelled).
    """
    outcome: dict[K, bool] = dict(finished or {})
    by_key = {job.key: job for job in jobs}
    order = topological_order(
        list(by_key),
        {key: [n for n in job.needs if n in by_key] for key, job in by_key.items()},
    )
    done = {key: anyio.Event() for key in by_key}

    async def one(job: Job[K]) -> None:
        try:
            for need in job.needs:
                if need not in outcome:
                    await done[need].wait()
            blocked = next(
                (n for n in sorted(job.needs, key=str) if not outcome[n]), None
            )
            outcome[job.key] = await job.run(blocked)
        finally:
            outcome.setdefault(job.key, False)
            done[job.key].set()

    if order:
        # Coroutines, not callables: gather_limited starts each one only when a
        # worker is free, in this order, and closes those it never starts.
        await ab.gather_limited(
            *(one(by_key[key]) for key in order),
            limit=max(1, min(limit, len(order))),
        )
    return outcome
