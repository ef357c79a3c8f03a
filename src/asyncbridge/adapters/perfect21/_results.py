"""Results of a workflow run, as dataclasses whose ``to_dict()`` gives the original fields.

The records are live: the orchestrator creates them when a workflow is loaded and
updates them as tasks run, so ``get_workflow_progress()`` (from any thread) reads
them without locks: their fields change, the containers never do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "StageResult",
    "TaskResult",
    "TaskStatus",
    "WorkflowResult",
    "error_text",
    "plain_data",
]


class TaskStatus(StrEnum):
    """Where a task or a stage is: ``pending`` → ``running`` → an end state."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"


def error_text(exc: BaseException | None) -> str:
    """``"TypeName: message"``: how every result shows an exception."""
    return f"{type(exc).__name__}: {exc}"


def plain_data(value: Any) -> Any:
    """*value*'s ``to_dict()`` if it has one, else *value* itself."""
    to_dict = getattr(value, "to_dict", None)
    return to_dict() if callable(to_dict) else value


@dataclass
class TaskResult:
    """What happened to one task.

    ``thread`` is the thread its agent ran on and ``kind`` the agent's colour
    (``"sync"`` or ``"async"``): the command line's "what ran where". ``exception``
    is the agent's last exception itself (not in ``to_dict()``).
    """

    stage: str
    agent: str
    description: str
    kind: str
    status: TaskStatus = TaskStatus.PENDING
    output: Any = None
    error: str | None = None
    exception: BaseException | None = field(default=None, repr=False, compare=False)
    attempts: int = 0
    execution_time: float = 0.0
    thread: str | None = None

    def fail(self, exc: Exception) -> None:
        """Record that the task failed with *exc*."""
        self.status, self.exception, self.error = (
            TaskStatus.FAILED,
            exc,
            error_text(exc),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the result as plain data (JSON-ready when the output is)."""
        return {
            "stage": self.stage,
            "agent": self.agent,
            "description": self.description,
            "kind": self.kind,
            "status": self.status.value,
            "output": plain_data(self.output),
            "error": self.error,
            "attempts": self.attempts,
            "execution_time": self.execution_time,
            "thread": self.thread,
        }


@dataclass
class StageResult:
    """What happened to one stage (the original's fields, plus its tasks)."""

    stage: str
    tasks: list[TaskResult]
    status: TaskStatus = TaskStatus.PENDING
    execution_time: float = 0.0
    error: str | None = None

    @property
    def success(self) -> bool:
        """The stage completed (every task, or as many as its sync point asks)."""
        return self.status is TaskStatus.COMPLETED

    @property
    def tasks_executed(self) -> int:
        """How many of its tasks completed."""
        return sum(task.status is TaskStatus.COMPLETED for task in self.tasks)

    @property
    def outputs(self) -> list[Any]:
        """The outputs of its completed tasks, in task order."""
        return [t.output for t in self.tasks if t.status is TaskStatus.COMPLETED]

    def to_dict(self) -> dict[str, Any]:
        """Return ``success, stage, execution_time, tasks_executed, outputs, error`` (and ``status``, ``tasks``)."""
        return {
            "success": self.success,
            "stage": self.stage,
            "status": self.status.value,
            "execution_time": self.execution_time,
            "tasks_executed": self.tasks_executed,
            "outputs": [plain_data(output) for output in self.outputs],
            "error": self.error,
            "tasks": [task.to_dict() for task in self.tasks],
        }


@dataclass
class WorkflowResult:
    """What happened to a whole workflow (the original's fields)."""

    workflow_id: str
    workflow_name: str
    stage_results: list[StageResult]
    execution_time: float = 0.0

    @property
    def success(self) -> bool:
        """Every stage completed."""
        return all(stage.success for stage in self.stage_results)

    @property
    def tasks(self) -> list[TaskResult]:
        """Every task of every stage, stage by stage."""
        return [task for stage in self.stage_results for task in stage.tasks]

    def to_dict(self) -> dict[str, Any]:
        """Return ``success, workflow_id, stage_results, execution_time`` (and ``workflow_name``)."""
        return {
            "success": self.success,
            "workflow_id": self.workflow_id,
            "workflow_name": self.workflow_name,
            "stage_results": [stage.to_dict() for stage in self.stage_results],
            "execution_time": self.execution_time,
        }
