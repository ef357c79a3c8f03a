"""`ParallelExecutor`: run a `TaskAnalysis`'s agents concurrently, under a limit.

The original's "parallel" executor never ran anything: it printed a plan and
returned instructions, and its async twin was the same code with ``async`` in
front. This one runs the agents: async agents on the loop, sync ones (blocking,
or legacy code with its own ``asyncio.run``) in worker threads, at most
``max_concurrency`` at a time, each after the agents it depends on.

Defects avoided:

- nested and saturated work: an agent may call other agents, or this executor
  again, through the sync API from its worker thread; that call runs on the loop
  the thread works for (``ab.run_sync``'s rule), and dependent agents are
  scheduled so that a waiting agent never holds the slot its dependency needs
  (``_schedule``). The engine's pool guarantees cover the rest;
- one failing agent loses nobody else's result: every agent gets an
  `ExecutionResult`, failures included, with the exception kept;
- ``process_execution_results_async`` integrates concurrently for real (see
  ``_integrate``) instead of building dicts behind ``await asyncio.sleep(0)``.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import asyncbridge as ab

from ._agents import Agent, builtin_agents, call_agent, check_agents
from ._analysis import TaskAnalysis
from ._checks import check_instance, check_int
from ._integrate import integrate
from ._results import error_text
from ._schedule import Job, find_cycle, run_jobs
from ._sdk import Perfect21SDK

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = ["ExecutionResult", "ParallelExecutionSummary", "ParallelExecutor"]

_MODES = ("parallel", "sequential", "hybrid")
_FIRST_PRIORITIES = 2  # hybrid: priorities up to this run together first


def _plan(
    analysis: TaskAnalysis, agents: Mapping[str, object]
) -> tuple[dict[int, frozenset[int]], list[tuple[list[int], bool]]]:
    """Check *analysis*; return each task's needs and the groups to run in turn.

    A group is ``(task indices, one at a time?)``.

    Raises:
        ValueError: an unknown agent or mode, or a dependency outside the
            analysis, on a later group, or in a cycle.
    """
    tasks = analysis.agent_tasks
    names = [task.agent_name for task in tasks]
    unknown = sorted({name for name in names if name not in agents})
    if unknown:
        msg = f"unknown agents {unknown} (known: {', '.join(sorted(agents))})"
        raise ValueError(msg)
    everyone = list(range(len(tasks)))
    if analysis.execution_mode == "parallel":
        groups = [(everyone, False)]
    elif analysis.execution_mode == "sequential":
        groups = [(everyone, True)]
    elif analysis.execution_mode == "hybrid":
        first = [i for i in everyone if tasks[i].priority <= _FIRST_PRIORITIES]
        groups = [(first, False), ([i for i in everyone if i not in first], True)]
    else:
        msg = f"unknown execution_mode {analysis.execution_mode!r} (known: {', '.join(_MODES)})"
        raise ValueError(msg)
    group_of = {i: g for g, (members, _) in enumerate(groups) for i in members}
    needs: dict[int, frozenset[int]] = {}
    for index, task in enumerate(tasks):
        missing = [d for d in task.dependencies if d not in names]
        needs[index] = frozenset(
            i for i, n in enumerate(names) if n in task.dependencies
        )
        later = [names[i] for i in needs[index] if group_of[i] > group_of[index]]
        if missing or later:
            where = (
                "not in the analysis"
                if missing
                else "in a later group of this hybrid run"
            )
            msg = f"agent task {index} ({task.agent_name}) depends on {missing or later}, {where}"
            raise ValueError(msg)
    if (cycle := find_cycle(everyone, needs)) is not None:
        msg = "agent dependency cycle: " + " -> ".join(names[i] for i in cycle)
        raise ValueError(msg)
    return needs, groups


@dataclass
class ExecutionResult:
    """One agent's run (the original's fields, plus where it ran and its exception)."""

    agent_name: str
    task_description: str
    success: bool
    result: Any = None
    error_message: str | None = None
    execution_time: float = 0.0
    start_time: datetime | None = None
    end_time: datetime | None = None
    thread: str | None = None
    error: BaseException | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExecutionResult:
        """Build one from the original's result dict (``agent_name``, ``success``, ``output``, ``error``, ...)."""

        def moment(key: str) -> datetime | None:
            value = data.get(key)
            return datetime.fromisoformat(value) if isinstance(value, str) else value

        return cls(
            agent_name=str(data.get("agent_name", "unknown")),
            task_description=str(data.get("task_description", "")),
            success=bool(data.get("success", False)),
            result=data.get("output", data.get("result")),
            error_message=data.get("error", data.get("error_message")),
            execution_time=float(data.get("execution_time", 0.0)),
            start_time=moment("start_time"),
            end_time=moment("end_time"),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the original's fields as plain data (times in ISO format)."""
        return {
            "agent_name": self.agent_name,
            "task_description": self.task_description,
            "success": self.success,
            "result": self.result,
            "error_message": self.error_message,
            "execution_time": self.execution_time,
            "start_time": self.start_time.isoformat() if self.start_time else None,
            "end_time": self.end_time.isoformat() if self.end_time else None,
            "thread": self.thread,
        }


@dataclass
class ParallelExecutionSummary:
    """A whole parallel execution (the original's fields)."""

    task_description: str
    total_agents: int
    successful_agents: int
    failed_agents: int
    total_execution_time: float
    results: list[ExecutionResult]
    integrated_output: dict[str, Any] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        """Every agent succeeded (and there was at least one)."""
        return self.total_agents > 0 and self.failed_agents == 0

    def to_dict(self) -> dict[str, Any]:
        """Return the original's fields as plain data."""
        return {
            "success": self.success,
            "task_description": self.task_description,
            "total_agents": self.total_agents,
            "successful_agents": self.successful_agents,
            "failed_agents": self.failed_agents,
            "total_execution_time": self.total_execution_time,
            "results": [r.to_dict() for r in self.results],
            "integrated_output": self.integrated_output,
        }


class ParallelExecutor(ab.DualInterface, loop_bound=False):
    """Run the agents of a `TaskAnalysis` concurrently, with a limit.

    ``execute_parallel_task`` and ``process_execution_results`` are the sync
    twins of the ``_async`` methods: from plain code, from a worker thread (an
    agent calling agents) or inside a running loop, by ``ab.run_sync``'s rules.

    Args:
        agents: maps agent names to sync or async callables taking the task's
            description (the built-in simulated team when omitted).
        max_concurrency: the most agents running at once.
        sdk: the SDK behind the built-in agents and the readiness check.

    Raises:
        TypeError: *agents* is not a mapping of names to callables.
        ValueError: *max_concurrency* < 1.

    >>> from asyncbridge.adapters.perfect21 import decompose_task
    >>> executor = ParallelExecutor({"fullstack-engineer": str.upper}, sdk=Perfect21SDK(latency=0))
    >>> executor.execute_parallel_task("hello", decompose_task("hello")).successful_agents
    1
    """

    def __init__(
        self,
        agents: Mapping[str, Agent] | None = None,
        *,
        max_concurrency: int = 8,
        sdk: Perfect21SDK | None = None,
    ) -> None:
        func = "ParallelExecutor()"
        self.sdk = sdk if sdk is not None else Perfect21SDK()
        self._agents = check_agents(
            builtin_agents(self.sdk) if agents is None else agents, func
        )
        self.max_concurrency = check_int(
            max_concurrency, func, "max_concurrency", minimum=1
        )

    async def execute_parallel_task_async(
        self, task_description: str, analysis: TaskAnalysis
    ) -> ParallelExecutionSummary:
        """Run every agent task of *analysis*; return the integrated summary.

        ``analysis.execution_mode``: ``"parallel"`` (all at once, up to the
        limit), ``"sequential"`` (one at a time, in order) or ``"hybrid"``
        (priority 1-2 together first, then the rest one at a time). An agent task
        waits for the agents it depends on; if one failed it is not run and is
        reported failed. A failing agent never costs another one its result.

        Raises:
            TypeError: *analysis* is not a `TaskAnalysis`.
            ValueError: an unknown agent or mode, or a dependency that is not in
                the analysis or forms a cycle (before anything runs).
        """
        check_instance(analysis, TaskAnalysis, "execute_parallel_task()", "analysis")
        needs, groups = _plan(analysis, self._agents)
        results: dict[int, ExecutionResult] = {}

        async def run(index: int, blocked_by: int | None) -> bool:
            results[index] = await self._run_agent(index, analysis, blocked_by)
            return results[index].success

        done: dict[int, bool] = {}
        for group, one_at_a_time in groups:
            done = await run_jobs(
                [Job(i, needs[i], functools.partial(run, i)) for i in group],
                limit=1 if one_at_a_time else self.max_concurrency,
                finished=done,
            )
        return await self.process_execution_results_async(
            [results[i] for i in sorted(results)], task_description=task_description
        )

    execute_parallel_task = ab.sync_twin(execute_parallel_task_async)

    async def process_execution_results_async(
        self,
        results: Iterable[ExecutionResult | Mapping[str, Any]],
        *,
        task_description: str = "",
    ) -> ParallelExecutionSummary:
        """Summarise *results* and integrate their outputs (four steps at once).

        Args:
            results: `ExecutionResult` objects, or the original's result dicts.
            task_description: the task the results are for.
        """
        items = [
            r if isinstance(r, ExecutionResult) else ExecutionResult.from_dict(r)
            for r in results
        ]
        good = sum(r.success for r in items)
        return ParallelExecutionSummary(
            task_description=task_description,
            total_agents=len(items),
            successful_agents=good,
            failed_agents=len(items) - good,
            total_execution_time=sum(r.execution_time for r in items),
            results=items,
            integrated_output=await integrate(items, self.sdk),
        )

    process_execution_results = ab.sync_twin(process_execution_results_async)

    async def _run_agent(
        self, index: int, analysis: TaskAnalysis, blocked_by: int | None
    ) -> ExecutionResult:
        task = analysis.agent_tasks[index]
        result = ExecutionResult(task.agent_name, task.task_description, success=False)
        if blocked_by is not None:
            blocker = analysis.agent_tasks[blocked_by].agent_name
            result.error_message = f"not run: it depends on {blocker!r}, which failed"
            return result

        def ran_on(thread: str) -> None:
            result.thread = thread

        result.start_time = datetime.now().astimezone()
        start = time.perf_counter()
        try:
            result.result = await call_agent(
                self._agents[task.agent_name], task.task_description, ran_on=ran_on
            )
        except Exception as exc:
            result.error, result.error_message = exc, error_text(exc)
        else:
            result.success = True
        result.execution_time = time.perf_counter() - start
        result.end_time = datetime.now().astimezone()
        return result
