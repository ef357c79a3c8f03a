"""Workflow configuration: the original's keys, checked in full before anything runs.

``load_workflow(config)`` takes the original Perfect21 shape::

    name, global_context,
    stages: [{name, description, execution_mode, depends_on, sync_point,
              quality_gate, thinking_mode, timeout,
              tasks: [{agent, description, priority, timeout, max_retries,
                       dependencies}]}]

The original accepted anything: an unknown execution mode silently became
``parallel``, a dependency cycle was found only while running, and a typo in a key
was ignored. Here every problem is a :class:`WorkflowError` naming the place
(``stages[1].tasks[0].timeout``) and the problem, raised before any agent runs.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, cast

from ._schedule import find_cycle

__all__ = [
    "ExecutionMode",
    "StageSpec",
    "TaskSpec",
    "WorkflowError",
    "WorkflowSpec",
    "parse_workflow",
]


class ExecutionMode(StrEnum):
    """How a stage runs its tasks (the original's four modes)."""

    SEQUENTIAL = "sequential"
    PARALLEL = "parallel"
    PARALLEL_THEN_SYNC = "parallel_then_sync"
    HYBRID = "hybrid"


class WorkflowError(ValueError):
    """Raised when a workflow configuration is invalid, or names an unknown stage.

    Raised by ``WorkflowOrchestrator.load_workflow`` before anything runs, and by
    ``execute_stage`` for a stage that is unknown or not ready. ``where`` is the
    place in the configuration (``stages[1].tasks[0].timeout``), ``problem`` what
    is wrong there.
    """

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}" if where else problem)
        self.where = where
        self.problem = problem


@dataclass(frozen=True)
class TaskSpec:
    """One task of a stage, as configured."""

    agent: str
    description: str
    priority: int = 1
    timeout: float = 300.0
    max_retries: int = 3
    dependencies: tuple[str, ...] = ()


@dataclass(frozen=True)
class StageSpec:
    """One stage of a workflow, as configured."""

    name: str
    tasks: tuple[TaskSpec, ...]
    description: str = ""
    execution_mode: ExecutionMode = ExecutionMode.PARALLEL
    depends_on: tuple[str, ...] = ()
    sync_point: Mapping[str, Any] | None = None
    quality_gate: Mapping[str, Any] | None = None
    thinking_mode: str | None = None
    timeout: float = 1800.0


@dataclass(frozen=True)
class WorkflowSpec:
    """A checked workflow: stages in the order listed."""

    name: str
    stages: tuple[StageSpec, ...]
    global_context: Mapping[str, Any] = field(default_factory=dict[str, Any])

    def stage(self, name: str) -> StageSpec:
        """Return the stage called *name*.

        Raises:
            WorkflowError: there is no such stage.
        """
        for stage in self.stages:
            if stage.name == name:
                return stage
        known = ", ".join(repr(s.name) for s in self.stages)
        raise WorkflowError("", f"unknown stage {name!r}; this workflow has {known}")


_WORKFLOW_KEYS = ("name", "global_context", "stages")
_STAGE_KEYS = (
    "name",
    "description",
    "execution_mode",
    "depends_on",
    "sync_point",
    "quality_gate",
    "thinking_mode",
    "timeout",
    "tasks",
)
_TASK_KEYS = (
    "agent",
    "description",
    "priority",
    "timeout",
    "max_retries",
    "dependencies",
)


def _table(value: object, where: str, keys: tuple[str, ...]) -> Mapping[str, Any]:
    table = _as_mapping(value)
    if table is None:
        raise WorkflowError(where, f"expected a table of keys, got {_describe(value)}")
    for key in table:
        if key not in keys:
            raise WorkflowError(
                where, f"unknown key {key!r} (known keys: {', '.join(keys)})"
            )
    return table


def _as_mapping(value: object) -> Mapping[str, Any] | None:
    """*value* if it is a table (its keys are str, in JSON and TOML), else None."""
    return cast("Mapping[str, Any]", value) if isinstance(value, Mapping) else None


def _as_list(value: object) -> list[object] | None:
    """*value* if it is a list, else None."""
    return cast("list[object]", value) if isinstance(value, list) else None


def _describe(value: object) -> str:
    name = type(value).__name__
    return name if isinstance(value, Mapping | list) else f"{name} {value!r}"


def _text(table: Mapping[str, Any], key: str, where: str, default: str | None) -> str:
    value = table.get(key, default)
    if value is None:
        raise WorkflowError(where, f"missing required key {key!r}")
    if not isinstance(value, str) or (default is None and not value.strip()):
        raise WorkflowError(
            f"{where}.{key}", f"expected a non-empty string, got {_describe(value)}"
        )
    return value


def _seconds(table: Mapping[str, Any], key: str, where: str, default: float) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WorkflowError(
            f"{where}.{key}", f"expected a number of seconds, got {_describe(value)}"
        )
    if not math.isfinite(value) or value <= 0:
        raise WorkflowError(
            f"{where}.{key}", f"expected a positive number of seconds, got {value!r}"
        )
    return float(value)


def _count(table: Mapping[str, Any], key: str, where: str, default: int) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise WorkflowError(
            f"{where}.{key}", f"expected a whole number >= 0, got {_describe(value)}"
        )
    return value


def _names(table: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = table.get(key, list[str]())
    names = _as_list(value)
    if names is None or not all(isinstance(v, str) for v in names):
        raise WorkflowError(
            f"{where}.{key}", f"expected a list of names, got {_describe(value)}"
        )
    return tuple(cast("list[str]", names))


def _optional_table(
    table: Mapping[str, Any], key: str, where: str
) -> Mapping[str, Any] | None:
    value = table.get(key)
    if value is None:
        return None
    mapping = _as_mapping(value)
    if mapping is None:
        raise WorkflowError(
            f"{where}.{key}", f"expected a table of keys, got {_describe(value)}"
        )
    return mapping


def _parse_task(raw: object, where: str, agents: Collection[str]) -> TaskSpec:
    table = _table(raw, where, _TASK_KEYS)
    agent = _text(table, "agent", where, None)
    if agent not in agents:
        raise WorkflowError(
            f"{where}.agent",
            f"unknown agent {agent!r} (known: {', '.join(sorted(agents))})",
        )
    return TaskSpec(
        agent=agent,
        description=_text(table, "description", where, None),
        priority=_count(table, "priority", where, 1),
        timeout=_seconds(table, "timeout", where, 300.0),
        max_retries=_count(table, "max_retries", where, 3),
        dependencies=_names(table, "dependencies", where),
    )


def _check_task_dependencies(stage: StageSpec, where: str) -> None:
    agents = [task.agent for task in stage.tasks]
    for index, task in enumerate(stage.tasks):
        place = f"{where}.tasks[{index}].dependencies"
        for need in task.dependencies:
            if need not in agents:
                raise WorkflowError(place, f"no task of this stage has agent {need!r}")
            if need == task.agent:
                raise WorkflowError(
                    place, f"a task cannot depend on its own agent {need!r}"
                )
            if (
                stage.execution_mode is ExecutionMode.SEQUENTIAL
                and need not in agents[:index]
            ):
                raise WorkflowError(
                    place,
                    f"in a sequential stage a task can only depend on tasks listed before it; {need!r} is not",
                )
    needs = {task.agent: task.dependencies for task in stage.tasks}
    if (cycle := find_cycle(list(needs), needs)) is not None:
        raise WorkflowError(f"{where}.tasks", "dependency cycle: " + " -> ".join(cycle))


def _parse_stage(raw: object, where: str, agents: Collection[str]) -> StageSpec:
    table = _table(raw, where, _STAGE_KEYS)
    mode = table.get("execution_mode", ExecutionMode.PARALLEL.value)
    try:
        execution_mode = ExecutionMode(mode)
    except ValueError:
        known = ", ".join(m.value for m in ExecutionMode)
        raise WorkflowError(
            f"{where}.execution_mode", f"unknown mode {mode!r} (known: {known})"
        ) from None
    tasks_raw = table.get("tasks")
    tasks = _as_list(tasks_raw)
    if not tasks:
        raise WorkflowError(
            f"{where}.tasks",
            f"expected a non-empty list of tasks, got {_describe(tasks_raw)}",
        )
    thinking_mode = table.get("thinking_mode")
    if thinking_mode is not None and not isinstance(thinking_mode, str):
        raise WorkflowError(
            f"{where}.thinking_mode",
            f"expected a string, got {_describe(thinking_mode)}",
        )
    sync_point = _optional_table(table, "sync_point", where)
    if sync_point is not None:
        rate = sync_point.get("min_success_rate", 1.0)
        if (
            isinstance(rate, bool)
            or not isinstance(rate, int | float)
            or not 0 <= rate <= 1
        ):
            raise WorkflowError(
                f"{where}.sync_point.min_success_rate",
                f"expected a number from 0 to 1, got {_describe(rate)}",
            )
    stage = StageSpec(
        name=_text(table, "name", where, None),
        tasks=tuple(
            _parse_task(t, f"{where}.tasks[{i}]", agents) for i, t in enumerate(tasks)
        ),
        description=_text(table, "description", where, ""),
        execution_mode=execution_mode,
        depends_on=_names(table, "depends_on", where),
        sync_point=sync_point,
        quality_gate=_optional_table(table, "quality_gate", where),
        thinking_mode=thinking_mode,
        timeout=_seconds(table, "timeout", where, 1800.0),
    )
    _check_task_dependencies(stage, where)
    return stage


def parse_workflow(config: object, agents: Collection[str]) -> WorkflowSpec:
    """Check *config* and return it as a `WorkflowSpec`.

    Args:
        config: the workflow, in the original's shape (a mapping).
        agents: the agent names a task may use.

    Raises:
        WorkflowError: anything wrong, with its place in *config*.
    """
    table = _table(config, "workflow", _WORKFLOW_KEYS)
    context_raw = table.get("global_context", dict[str, Any]())
    context = _as_mapping(context_raw)
    if context is None:
        raise WorkflowError(
            "global_context", f"expected a table of keys, got {_describe(context_raw)}"
        )
    stages_raw = table.get("stages")
    stage_list = _as_list(stages_raw)
    if not stage_list:
        raise WorkflowError(
            "stages",
            f"expected a non-empty list of stages, got {_describe(stages_raw)}",
        )
    stages = tuple(
        _parse_stage(s, f"stages[{i}]", agents) for i, s in enumerate(stage_list)
    )
    seen: dict[str, int] = {}
    for index, stage in enumerate(stages):
        if stage.name in seen:
            raise WorkflowError(
                f"stages[{index}].name",
                f"stage name {stage.name!r} is already used by stages[{seen[stage.name]}]",
            )
        seen[stage.name] = index
    for index, stage in enumerate(stages):
        for need in stage.depends_on:
            if need not in seen:
                raise WorkflowError(
                    f"stages[{index}].depends_on",
                    f"unknown stage {need!r} (stages: {', '.join(seen)})",
                )
    needs = {stage.name: stage.depends_on for stage in stages}
    if (cycle := find_cycle(list(needs), needs)) is not None:
        raise WorkflowError("stages", "dependency cycle: " + " -> ".join(cycle))
    return WorkflowSpec(
        name=_text(table, "name", "workflow", "Unnamed Workflow"),
        stages=stages,
        global_context=dict(context),
    )
