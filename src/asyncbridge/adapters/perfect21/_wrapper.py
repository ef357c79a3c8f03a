"""`AsyncCliWrapper` and `get_async_cli_wrapper()`: one object for CLI code to run async work.

The original wrapper's ``run_async_safe`` caught ``RuntimeError`` to mean "no
running loop", so the user's own ``RuntimeError`` sent the already-awaited
coroutine to ``asyncio.run`` a second time (hiding the real error); it made a new
loop per call, owned a private 4-thread pool that its context manager shut down
for good (breaking the shared instance), created that singleton without a lock,
and its batch helper dropped unknown task types and called an empty batch a
success. Here:

- ``run_async_safe`` is ``ab.run_sync``: the coroutine runs once, on a
  long-lived loop, from any context; its exceptions come out unchanged;
- the wrapper owns no pool (asyncbridge's managed executors do the work), so
  ``with wrapper:`` can never break it, and `get_async_cli_wrapper()` creates
  the shared instance once, under a lock;
- ``batch_execute_tasks`` runs on ``ab.batch_execute``: every task gets a result
  in input order; an unknown type is a failed task saying why; an empty batch
  has status ``"empty"`` and ``success`` False.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

import asyncbridge as ab

from ._agents import Agent, builtin_agents, check_agents
from ._checks import check_int
from ._executor import ParallelExecutionSummary, ParallelExecutor
from ._orchestrator import WorkflowOrchestrator
from ._results import error_text, plain_data
from ._sdk import Perfect21SDK

if TYPE_CHECKING:
    from ._results import WorkflowResult

__all__ = ["TASK_TYPES", "AsyncCliWrapper", "BatchResult", "get_async_cli_wrapper"]

T = TypeVar("T")

#: The task types `AsyncCliWrapper.batch_execute_tasks` knows, with their keys.
TASK_TYPES = {
    "task": "one SDK task: description",
    "parallel": "a task split across agents: description, force_parallel (optional)",
    "git": "a git workflow action: operation, args (optional)",
}


@dataclass
class BatchResult:
    """The outcome of `AsyncCliWrapper.batch_execute_tasks` (the original's fields).

    ``status`` is ``"ok"`` (every task succeeded), ``"failed"`` (at least one did
    not) or ``"empty"`` (no task was given: nothing succeeded, so ``success`` is
    False). Each entry of ``results`` has ``task_index``, ``type``, ``success``,
    ``status`` (a `ab.OutcomeStatus` value), ``duration`` and ``result`` or
    ``error``.
    """

    status: str
    results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def success(self) -> bool:
        """Every task succeeded, and there was at least one."""
        return self.status == "ok"

    @property
    def total_tasks(self) -> int:
        """How many tasks were given."""
        return len(self.results)

    @property
    def successful_tasks(self) -> int:
        """How many tasks succeeded."""
        return sum(bool(r["success"]) for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        """Return ``success, status, results, total_tasks, successful_tasks``."""
        return {
            "success": self.success,
            "status": self.status,
            "results": self.results,
            "total_tasks": self.total_tasks,
            "successful_tasks": self.successful_tasks,
        }


def _as_table(value: object) -> Mapping[str, Any] | None:
    """*value* if it is a mapping (a task, a result: str keys), else None."""
    return cast("Mapping[str, Any]", value) if isinstance(value, Mapping) else None


def _succeeded(value: Any) -> bool:
    table = _as_table(value)
    if table is not None:
        return bool(table.get("success", True))
    return bool(getattr(value, "success", True))


class AsyncCliWrapper:
    """Run Perfect21's async work from sync CLI code, and batches of tasks.

    Args:
        sdk: the SDK to use (a new `Perfect21SDK()` by default).
        agents: the agents for workflows and parallel tasks (the built-in team
            on *sdk* by default).
        max_concurrency: the most tasks, agents or stage tasks at once.

    >>> with AsyncCliWrapper(sdk=Perfect21SDK(latency=0)) as wrapper:
    ...     wrapper.run_async_safe(wrapper.batch_execute_tasks([])).status
    'empty'
    """

    def __init__(
        self,
        *,
        sdk: Perfect21SDK | None = None,
        agents: Mapping[str, Agent] | None = None,
        max_concurrency: int = 8,
    ) -> None:
        self.sdk = sdk if sdk is not None else Perfect21SDK()
        self.agents = check_agents(
            builtin_agents(self.sdk) if agents is None else agents, "AsyncCliWrapper()"
        )
        self.executor = ParallelExecutor(
            self.agents, max_concurrency=max_concurrency, sdk=self.sdk
        )
        self.max_concurrency = check_int(
            max_concurrency, "AsyncCliWrapper()", "max_concurrency", minimum=1
        )

    def run_async_safe(self, coro: Awaitable[T]) -> T:
        """Run an awaitable to completion from sync code, in any context.

        By ``ab.run_sync``'s rules: on asyncbridge's long-lived portal loop from
        plain code, on the parent loop from one of its worker threads, and from
        inside a running loop on the portal while this thread waits (with a
        ``LoopBlockedWarning``: that loop is blocked meanwhile).

        Raises:
            TypeError: *coro* is not awaitable.
            Exception: whatever the awaitable raises, unchanged.
        """
        if not inspect.isawaitable(cast("object", coro)):
            msg = f"run_async_safe() coro must be awaitable, got {type(coro).__name__}"
            raise TypeError(msg)
        return ab.run_sync(coro)

    async def execute_async_task(
        self, task_description: str, force_parallel: bool = False
    ) -> ParallelExecutionSummary:
        """Split a task across agents (the SDK's legacy ``analyze``) and run them.

        ``analyze`` runs ``asyncio.run`` inside, so it goes to a worker thread,
        where no loop runs.
        """
        analysis = await ab.run_in_thread(self.sdk.analyze, task_description)
        if force_parallel:
            analysis = dataclasses.replace(analysis, execution_mode="parallel")
        return await self.executor.execute_parallel_task_async(
            task_description, analysis
        )

    def sync_execute_async_task(
        self, task_description: str, force_parallel: bool = False
    ) -> ParallelExecutionSummary:
        """`execute_async_task`, from sync code (by ``ab.run_sync``'s rules)."""
        return ab.run_sync(self.execute_async_task, task_description, force_parallel)

    async def execute_parallel_workflow(
        self,
        workflow_config: Mapping[str, Any],
        *,
        callbacks: Mapping[str, Sequence[Callable[[dict[str, Any]], object]]]
        | None = None,
    ) -> WorkflowResult:
        """Load and run a workflow: independent stages at once, dependent ones in order.

        Args:
            workflow_config: the original's workflow shape.
            callbacks: event name -> callbacks, given to ``register_callback``.

        Raises:
            WorkflowError: the configuration is invalid (before anything runs).
        """
        orchestrator = WorkflowOrchestrator(
            self.agents, max_concurrency=self.max_concurrency
        )
        for event, functions in (callbacks or {}).items():
            for function in functions:
                orchestrator.register_callback(event, function)
        orchestrator.load_workflow(workflow_config)
        return await orchestrator.execute_workflow_async()

    async def execute_git_operation_async(
        self, operation: str, *args: str
    ) -> dict[str, Any]:
        """Run a git workflow action of the SDK in a worker thread."""
        return await ab.run_in_thread(self.sdk.git_workflow, operation, *args)

    def _task_call(self, task: object) -> Callable[[], Awaitable[Any]]:
        """The zero-argument call for one batch entry (one that raises if it is invalid)."""
        table = _as_table(task)
        if table is None:
            problem = (
                f"a task must be a table with a 'type' key, got {type(task).__name__}"
            )
        else:
            kind = table.get("type")
            description = table.get("description")
            if kind == "task" and isinstance(description, str):
                return functools.partial(ab.asyncify(self.sdk.task), description)
            if kind == "parallel" and isinstance(description, str):
                force = bool(table.get("force_parallel", False))
                return functools.partial(self.execute_async_task, description, force)
            if kind == "git" and isinstance(table.get("operation"), str):
                args = [str(a) for a in table.get("args", ())]
                return functools.partial(
                    self.execute_git_operation_async, table["operation"], *args
                )
            if kind in TASK_TYPES:
                problem = f"a {kind!r} task needs {TASK_TYPES[kind].split(': ', 1)[1]}"
            else:
                known = ", ".join(TASK_TYPES)
                problem = f"unknown task type {kind!r} (known: {known})"

        async def invalid() -> Any:
            raise ValueError(problem)

        return invalid

    async def batch_execute_tasks(
        self,
        tasks: Sequence[object],
        *,
        on_progress: Callable[[int, int], object] | None = None,
    ) -> BatchResult:
        """Run *tasks* concurrently (up to ``max_concurrency``); report each one.

        Args:
            tasks: dicts with a ``type`` from `TASK_TYPES` and its keys (any
                other entry is reported as a failed task).
            on_progress: called as ``on_progress(done, total)`` after each task
                (sync or async).

        Returns:
            A `BatchResult`, one entry per task in input order; an invalid task
            (unknown type, missing key) is a failed entry saying why.
        """
        items = list(tasks)
        if not items:
            return BatchResult(status="empty")
        outcomes = await ab.batch_execute(
            [self._task_call(task) for task in items],
            limit=self.max_concurrency,
            on_progress=on_progress,
        )
        results: list[dict[str, Any]] = []
        for task, outcome in zip(items, outcomes, strict=True):
            table = _as_table(task)
            entry: dict[str, Any] = {
                "task_index": outcome.index,
                "type": None if table is None else table.get("type"),
                "status": outcome.status.value,
                "duration": outcome.duration,
            }
            if outcome.status is ab.OutcomeStatus.OK:
                entry["success"] = _succeeded(outcome.value)
                entry["result"] = plain_data(outcome.value)
            else:
                entry["success"] = False
                entry["error"] = error_text(outcome.error)
            results.append(entry)
        ok = all(entry["success"] for entry in results)
        return BatchResult(status="ok" if ok else "failed", results=results)

    def cleanup(self) -> None:
        """Do nothing: the wrapper owns no pool (kept for the original's API)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Leave the wrapper usable: nothing it shares is shut down."""


_shared: AsyncCliWrapper | None = None
_shared_lock = threading.Lock()


def get_async_cli_wrapper() -> AsyncCliWrapper:
    """Return the process's shared `AsyncCliWrapper`, created once under a lock.

    Safe from any number of threads at once: they all get the same instance.

    >>> get_async_cli_wrapper() is get_async_cli_wrapper()
    True
    """
    global _shared  # noqa: PLW0603 - the singleton is the point
    wrapper = _shared
    if wrapper is None:
        with _shared_lock:
            wrapper = _shared
            if wrapper is None:
                wrapper = _shared = AsyncCliWrapper()
    return wrapper
