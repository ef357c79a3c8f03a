"""`WorkflowOrchestrator`: stages of agent tasks, with one sync and one async API.

The original's sync ``execute_stage`` looked for a running loop with
``asyncio.get_running_loop()`` inside ``try/except RuntimeError``, then either
called ``asyncio.run`` (a new loop per call, so agents' loop-bound clients broke
on the next call) or started a fresh ``ThreadPoolExecutor`` and waited on its
future, and it turned every error into ``{'success': False}``. Here:

- the async methods are the implementation; the sync ones are ``ab.sync_twin``
  which work from plain code, from a worker thread (they run on the loop that
  thread works for) and from inside a running loop (on asyncbridge's portal loop,
  with a ``LoopBlockedWarning``), always on a long-lived loop, never a new one;
- sync agents run in worker threads, async ones on the loop (``call_agent``);
- tasks and stages run through one scheduler that cannot deadlock on its own
  pool (``_schedule``); independent stages run concurrently;
- retries are ``ab.async_retry`` (only exceptions, never cancellation), the
  per-attempt timeout cancels the attempt (a sync agent's thread is waited for,
  not abandoned), and a failed task's exception is kept on its result;
- a bad configuration, a dependency cycle or an unknown stage raises
  `WorkflowError` before anything runs; a callback that raises stops the run
  with its exception (nothing is swallowed).
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

import anyio

import asyncbridge as ab

from ._agents import Agent, agent_kind, builtin_agents, call_agent, check_agents
from ._checks import check_int, check_seconds
from ._results import StageResult, TaskResult, TaskStatus, WorkflowResult
from ._schedule import Job, run_jobs
from ._workflow import (
    ExecutionMode,
    StageSpec,
    WorkflowError,
    WorkflowSpec,
    parse_workflow,
)

if TYPE_CHECKING:
    from ._sdk import Perfect21SDK

__all__ = ["EVENTS", "WorkflowOrchestrator", "stage_verdict"]

#: The events `WorkflowOrchestrator.register_callback` accepts.
EVENTS = (
    "on_stage_start",
    "on_stage_complete",
    "on_task_start",
    "on_task_complete",
    "on_error",
)

Callback = Callable[[dict[str, Any]], object]


class WorkflowOrchestrator(ab.DualInterface, loop_bound=False):
    """Run Perfect21 workflows: stages of agent tasks, sync or async agents alike.

    The orchestrator keeps no loop-bound state of its own (``loop_bound=False``):
    any loop may await it, and its sync methods run by ``ab.run_sync``'s rules
    (from plain code always on the same portal loop, so agents' loop-bound
    clients stay valid from one call to the next).

    Args:
        agents: maps a task's ``agent`` name to a sync or async callable taking
            the task's description (the built-in simulated team, backed by
            *sdk*, when omitted).
        max_concurrency: the most tasks of one stage running at once.
        sdk: the SDK behind the built-in agents (ignored when *agents* is given).
        retry_wait: the first wait between a task's attempts, in seconds
            (doubling, with jitter, up to 2 s).

    Raises:
        TypeError: *agents* is not a mapping of names to callables.
        ValueError: *max_concurrency* < 1 or *retry_wait* < 0.

    >>> orchestrator = WorkflowOrchestrator({"echo": str.upper})
    >>> _ = orchestrator.load_workflow(
    ...     {"stages": [{"name": "s", "tasks": [{"agent": "echo", "description": "hi"}]}]}
    ... )
    >>> orchestrator.execute_workflow().stage_results[0].outputs
    ['HI']
    """

    def __init__(
        self,
        agents: Mapping[str, Agent] | None = None,
        *,
        max_concurrency: int = 8,
        sdk: Perfect21SDK | None = None,
        retry_wait: float = 0.05,
    ) -> None:
        func = "WorkflowOrchestrator()"
        self._agents = check_agents(
            builtin_agents(sdk) if agents is None else agents, func
        )
        self.max_concurrency = check_int(
            max_concurrency, func, "max_concurrency", minimum=1
        )
        self._retry_wait = check_seconds(retry_wait, func, "retry_wait")
        self._callbacks: dict[str, list[Callback]] = {event: [] for event in EVENTS}
        self._spec: WorkflowSpec | None = None
        self._workflow_id = ""
        self._stages: dict[str, StageResult] = {}
        self._state = "not_loaded"
        self._started: float | None = None
        self._elapsed: float | None = None

    @property
    def agents(self) -> Mapping[str, Agent]:
        """The agents by name (read-only view)."""
        return dict(self._agents)

    @property
    def workflow(self) -> WorkflowSpec | None:
        """The loaded workflow, checked (None before `load_workflow`)."""
        return self._spec

    def load_workflow(self, workflow_config: Mapping[str, Any]) -> dict[str, Any]:
        """Check *workflow_config* and make it the workflow to run.

        Args:
            workflow_config: the original's shape: ``name``, ``global_context``,
                ``stages`` (see the module `_workflow`).

        Returns:
            ``{"success": True, "workflow_id": ..., "stages_count": ...}``.

        Raises:
            WorkflowError: the configuration is invalid (unknown key, agent or
                stage, wrong type, dependency cycle); nothing was changed.
            RuntimeError: a workflow is running on this orchestrator.
        """
        if self._state == "running":
            msg = "load_workflow() called while a workflow is running on this orchestrator"
            raise RuntimeError(msg)
        spec = parse_workflow(workflow_config, self._agents)
        self._spec = spec
        self._workflow_id = f"workflow_{uuid.uuid4().hex[:12]}"
        self._stages = {stage.name: self._fresh(stage) for stage in spec.stages}
        self._state = "initialized"
        self._started = self._elapsed = None
        return {
            "success": True,
            "workflow_id": self._workflow_id,
            "stages_count": len(spec.stages),
        }

    def register_callback(self, event_type: str, callback: Callback) -> None:
        """Call *callback* with one event dict each time *event_type* happens.

        Sync callbacks run in a worker thread, async ones on the loop; either
        way one at a time, in the order the events happen. A callback that raises
        stops the run: the exception comes out of ``execute_*`` unchanged.

        Args:
            event_type: one of `EVENTS`.
            callback: a sync or async callable taking the event dict (keys
                ``event``, ``workflow_id``, ``stage`` and, for task events,
                ``task``; ``result`` on completion; ``error`` on ``on_error``).

        Raises:
            ValueError: *event_type* is unknown.
            TypeError: *callback* is not callable.
        """
        if event_type not in EVENTS:
            msg = f"register_callback() event_type must be one of {', '.join(EVENTS)}; got {event_type!r}"
            raise ValueError(msg)
        if not callable(cast("object", callback)):
            msg = f"register_callback() callback must be callable, got {callback!r}"
            raise TypeError(msg)
        self._callbacks[event_type].append(callback)

    async def execute_stage_async(self, stage_name: str) -> StageResult:
        """Run one stage and return its result (a task's failure is in the result).

        Raises:
            WorkflowError: no workflow is loaded, the stage is unknown, or a
                stage it depends on has not completed.
        """
        spec = self._loaded()
        stage = spec.stage(stage_name)
        waiting = [name for name in stage.depends_on if not self._stages[name].success]
        if waiting:
            raise WorkflowError(
                "",
                f"stage {stage_name!r} depends on {', '.join(map(repr, waiting))}, "
                "which has not completed: run it first, or run execute_workflow()",
            )
        return await self._execution().stage(stage)

    execute_stage = ab.sync_twin(execute_stage_async)

    async def execute_workflow_async(self) -> WorkflowResult:
        """Run every stage: independent ones concurrently, dependent ones in order.

        A stage whose dependency did not complete is skipped. Returns the result
        with the stages in the order they are listed.

        Raises:
            WorkflowError: no workflow is loaded.
        """
        spec = self._loaded()
        self._stages = {stage.name: self._fresh(stage) for stage in spec.stages}
        run = self._execution()
        self._state, self._started, self._elapsed = "running", time.perf_counter(), None
        try:
            await run_jobs(
                [
                    Job(
                        s.name,
                        frozenset(s.depends_on),
                        functools.partial(run.stage_job, s),
                    )
                    for s in spec.stages
                ],
                limit=len(spec.stages),
            )
        finally:
            self._elapsed = time.perf_counter() - self._started
            stages = list(self._stages.values())
            self._state = "completed" if all(s.success for s in stages) else "failed"
        return WorkflowResult(self._workflow_id, spec.name, stages, self._elapsed)

    execute_workflow = ab.sync_twin(execute_workflow_async)

    def get_workflow_progress(self) -> dict[str, Any]:
        """Return how far the workflow is (safe from any thread, during a run too).

        Returns:
            The original's fields: ``completion_percentage`` (stages weigh 60 %,
            tasks 40 %), ``stage_completion_percentage``,
            ``task_completion_percentage``, ``workflow_state``, ``current_stage``
            (a running stage's name or None), ``running_stages``,
            ``stages_summary`` and ``tasks_summary`` (``total``, ``completed``,
            ``running``, ``failed``), ``execution_time``.
        """
        stages = list(self._stages.values())
        tasks = [task for stage in stages for task in stage.tasks]

        def summary(items: list[StageResult] | list[TaskResult]) -> dict[str, int]:
            statuses = [item.status for item in items]
            return {
                "total": len(statuses),
                "completed": statuses.count(TaskStatus.COMPLETED),
                "running": statuses.count(TaskStatus.RUNNING),
                "failed": statuses.count(TaskStatus.FAILED),
            }

        stage_summary, task_summary = summary(stages), summary(tasks)
        stage_pct = 100 * stage_summary["completed"] / max(1, len(stages))
        task_pct = 100 * task_summary["completed"] / max(1, len(tasks))
        running = [s.stage for s in stages if s.status is TaskStatus.RUNNING]
        if self._elapsed is not None:
            elapsed: float | None = self._elapsed
        elif self._started is not None:
            elapsed = time.perf_counter() - self._started
        else:
            elapsed = None
        return {
            "workflow_id": self._workflow_id or None,
            "completion_percentage": round(0.6 * stage_pct + 0.4 * task_pct, 2),
            "stage_completion_percentage": round(stage_pct, 2),
            "task_completion_percentage": round(task_pct, 2),
            "workflow_state": self._state,
            "current_stage": running[0] if running else None,
            "running_stages": running,
            "stages_summary": stage_summary,
            "tasks_summary": task_summary,
            "execution_time": elapsed,
        }

    def _loaded(self) -> WorkflowSpec:
        if self._spec is None:
            raise WorkflowError(
                "", "no workflow loaded: call load_workflow(config) first"
            )
        return self._spec

    def _execution(self) -> _Execution:
        return _Execution(
            agents=self._agents,
            callbacks=self._callbacks,
            workflow_id=self._workflow_id,
            stages=self._stages,
            fresh=self._fresh,
            retry_wait=self._retry_wait,
            max_concurrency=self.max_concurrency,
        )

    def _fresh(self, stage: StageSpec) -> StageResult:
        return StageResult(
            stage.name,
            [
                TaskResult(
                    stage.name,
                    t.agent,
                    t.description,
                    agent_kind(self._agents[t.agent]),
                )
                for t in stage.tasks
            ],
        )


def _task_needs(stage: StageSpec) -> dict[int, frozenset[int]]:
    """Turn a stage's mode and task dependencies into needs between task indices."""
    by_agent: dict[str, list[int]] = {}
    for index, task in enumerate(stage.tasks):
        by_agent.setdefault(task.agent, []).append(index)
    needs = {
        index: frozenset(i for agent in task.dependencies for i in by_agent[agent])
        for index, task in enumerate(stage.tasks)
    }
    if stage.execution_mode is ExecutionMode.SEQUENTIAL:
        return {i: needs[i] | ({i - 1} if i else set()) for i in needs}
    if stage.execution_mode is ExecutionMode.HYBRID:
        layer: dict[int, int] = {}

        def depth(index: int) -> int:
            if index not in layer:
                layer[index] = 1 + max((depth(n) for n in needs[index]), default=-1)
            return layer[index]

        for index in needs:
            depth(index)
        return {
            i: frozenset(j for j in needs if layer[j] == layer[i] - 1) for i in needs
        }
    return needs


def stage_verdict(stage: StageSpec, result: StageResult) -> str | None:
    """Why the stage failed, or None: all tasks completed, or its sync point passed."""
    done, total = result.tasks_executed, len(result.tasks)
    sync_point: Mapping[str, Any] | None = stage.sync_point
    if sync_point is None and stage.execution_mode is ExecutionMode.PARALLEL_THEN_SYNC:
        sync_point = {}
    if sync_point is not None:
        rate = float(sync_point.get("min_success_rate", 1.0))
        if done < rate * total and sync_point.get("must_pass", True):
            return f"sync point not reached: {done} of {total} tasks completed, {rate:.0%} needed"
        return None
    if done < total:
        failed = [t.agent for t in result.tasks if t.status is not TaskStatus.COMPLETED]
        return f"{total - done} of {total} tasks did not complete: {', '.join(failed)}"
    return None


class _Execution:
    """One call of ``execute_*``: the state it works on, and its callbacks' lock."""

    def __init__(
        self,
        *,
        agents: dict[str, Agent],
        callbacks: dict[str, list[Callback]],
        workflow_id: str,
        stages: dict[str, StageResult],
        fresh: Callable[[StageSpec], StageResult],
        retry_wait: float,
        max_concurrency: int,
    ) -> None:
        self.agents = agents
        self.callbacks = callbacks
        self.workflow_id = workflow_id
        self.stages = stages  # the orchestrator's own dict: results land there
        self.fresh = fresh
        self.retry_wait = retry_wait
        self.max_concurrency = max_concurrency
        self.lock = anyio.Lock()

    async def emit(self, event: str, **payload: Any) -> None:
        callbacks = self.callbacks[event]
        if not callbacks:
            return
        data = {
            "event": event,
            "workflow_id": self.workflow_id,
            **payload,
        }
        async with self.lock:
            for callback in callbacks:
                if ab.is_async_callable(callback):
                    await cast(
                        "Callable[[dict[str, Any]], Awaitable[object]]", callback
                    )(data)
                else:
                    await ab.run_in_thread(callback, data)

    async def stage_job(self, stage: StageSpec, blocked_by: str | None) -> bool:
        if blocked_by is None:
            return (await self.stage(stage)).success
        result = self.stages[stage.name]
        result.status = TaskStatus.SKIPPED
        result.error = f"skipped: stage {blocked_by!r} did not complete"
        for task in result.tasks:
            task.status, task.error = TaskStatus.SKIPPED, result.error
        return False

    async def stage(self, stage: StageSpec) -> StageResult:
        result = self.stages[stage.name] = self.fresh(stage)
        result.status = TaskStatus.RUNNING
        await self.emit(
            "on_stage_start",
            stage=stage.name,
            description=stage.description,
            execution_mode=stage.execution_mode.value,
        )
        limit = (
            1
            if stage.execution_mode is ExecutionMode.SEQUENTIAL
            else self.max_concurrency
        )
        needs = _task_needs(stage)
        start = time.perf_counter()
        with anyio.move_on_after(stage.timeout) as scope:
            await run_jobs(
                [
                    Job(i, needs[i], functools.partial(self.task_job, stage, result, i))
                    for i in range(len(stage.tasks))
                ],
                limit=limit,
            )
        result.execution_time = time.perf_counter() - start
        if scope.cancelled_caught:
            result.error = f"stage timed out after {stage.timeout:g} s"
            for task in result.tasks:
                if task.status in (TaskStatus.PENDING, TaskStatus.RUNNING):
                    task.status, task.error = TaskStatus.FAILED, result.error
        else:
            result.error = stage_verdict(stage, result)
        result.status = (
            TaskStatus.COMPLETED if result.error is None else TaskStatus.FAILED
        )
        if result.error is not None:
            await self.emit("on_error", stage=stage.name, error=result.error)
        await self.emit(
            "on_stage_complete",
            stage=stage.name,
            result=result.to_dict(),
            sync_point=stage.sync_point,
            quality_gate=stage.quality_gate,
        )
        return result

    async def task_job(
        self, stage: StageSpec, result: StageResult, index: int, blocked_by: int | None
    ) -> bool:
        spec, record = stage.tasks[index], result.tasks[index]
        if blocked_by is not None:
            record.status = TaskStatus.SKIPPED
            record.error = (
                f"skipped: {stage.tasks[blocked_by].agent!r} did not complete"
            )
            return False
        agent = self.agents[spec.agent]
        record.status = TaskStatus.RUNNING
        await self.emit("on_task_start", stage=stage.name, task=record.to_dict())

        def ran_on(thread: str) -> None:
            record.thread = thread

        async def attempt() -> Any:
            record.attempts += 1
            return await call_agent(agent, spec.description, ran_on=ran_on)

        # retry log lines name the task: "retrying perfect21.design/backend-architect"
        attempt.__module__, attempt.__qualname__ = (
            "perfect21",
            f"{stage.name}/{spec.agent}",
        )

        retried = ab.async_retry(
            spec.max_retries + 1,
            attempt_timeout=spec.timeout,
            wait_initial=self.retry_wait,
            wait_max=2.0,
        )(attempt)
        start = time.perf_counter()
        failed = False
        try:
            record.output = await retried()
        except Exception as exc:
            record.fail(exc)
            failed = True
        else:
            record.status = TaskStatus.COMPLETED
        record.execution_time = time.perf_counter() - start
        if failed:
            await self.emit(
                "on_error", stage=stage.name, task=record.to_dict(), error=record.error
            )
        await self.emit(
            "on_task_complete",
            stage=stage.name,
            task=record.to_dict(),
            result=record.output,
        )
        return record.status is TaskStatus.COMPLETED
