"""Run a workflow the "before" way: serial and blocking, a new event loop per async call.

This is what the original's sync path amounted to, kept for comparison (the
command line's ``--naive`` and ``--compare``): every task runs in the calling
thread, one after another; an async agent gets its own ``asyncio.run`` (a new
loop each time, so nothing loop-bound survives between calls); no retries, no
timeouts. It blocks whatever loop runs in the calling thread, so it refuses to
run there.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import TYPE_CHECKING, Any

import asyncbridge as ab

from ._agents import Agent, agent_kind
from ._orchestrator import stage_verdict
from ._results import StageResult, TaskResult, TaskStatus, WorkflowResult
from ._schedule import topological_order

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from ._workflow import StageSpec, WorkflowSpec

__all__ = ["run_naively"]


def _call(agent: Agent, description: str) -> Any:
    if not ab.is_async_callable(agent):
        return agent(description)

    async def main() -> Any:
        return await agent(description)

    return asyncio.run(main())  # a new loop per call: the original's way


def _stage(
    stage: StageSpec, agents: Mapping[str, Agent], done: Callable[[TaskResult], object]
) -> StageResult:
    result = StageResult(
        stage.name,
        [
            TaskResult(stage.name, t.agent, t.description, agent_kind(agents[t.agent]))
            for t in stage.tasks
        ],
    )
    start = time.perf_counter()
    for spec, record in zip(stage.tasks, result.tasks, strict=True):
        agent = agents[spec.agent]
        suffix = " (asyncio.run)" if record.kind == "async" else ""
        record.thread = threading.current_thread().name + suffix
        record.status, record.attempts = TaskStatus.RUNNING, 1
        began = time.perf_counter()
        try:
            record.output = _call(agent, spec.description)
        except Exception as exc:
            record.fail(exc)
        else:
            record.status = TaskStatus.COMPLETED
        record.execution_time = time.perf_counter() - began
        done(record)
    result.execution_time = time.perf_counter() - start
    result.error = stage_verdict(stage, result)
    result.status = TaskStatus.COMPLETED if result.error is None else TaskStatus.FAILED
    return result


def run_naively(
    spec: WorkflowSpec,
    agents: Mapping[str, Agent],
    *,
    on_task_done: Callable[[TaskResult], object] = lambda _: None,
) -> WorkflowResult:
    """Run *spec* serially in this thread; return the same result type as the orchestrator.

    Raises:
        RuntimeError: an event loop is running in this thread (it would be blocked).
    """
    if ab.in_async_context():
        msg = "run_naively() blocks its thread: call it where no event loop runs"
        raise RuntimeError(msg)
    order = topological_order(
        [s.name for s in spec.stages], {s.name: s.depends_on for s in spec.stages}
    )
    by_name = {stage.name: stage for stage in spec.stages}
    results: dict[str, StageResult] = {}
    start = time.perf_counter()
    for name in order:
        stage = by_name[name]
        failed = [need for need in stage.depends_on if not results[need].success]
        if failed:
            skipped = StageResult(
                name,
                [
                    TaskResult(
                        name,
                        t.agent,
                        t.description,
                        agent_kind(agents[t.agent]),
                        TaskStatus.SKIPPED,
                    )
                    for t in stage.tasks
                ],
                status=TaskStatus.SKIPPED,
                error=f"skipped: stage {failed[0]!r} did not complete",
            )
            results[name] = skipped
            continue
        results[name] = _stage(stage, agents, on_task_done)
    return WorkflowResult(
        "naive",
        spec.name,
        [results[s.name] for s in spec.stages],
        time.perf_counter() - start,
    )
