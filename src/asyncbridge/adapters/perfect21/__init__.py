"""Perfect21, rebuilt on asyncbridge's public API: worked examples to read and copy.

Perfect21 is a multi-agent development tool whose async/sync mixing went wrong in
well-known ways (the seed write-up; DESIGN.md section 5 lists each defect). These
modules keep its names, configuration keys and result fields, and do each part
right with asyncbridge, as any user would (``import asyncbridge as ab``, nothing
private). Each module's docstring says which defect it avoids and how.

Words used throughout:

agent
    a sync or async callable given a task's description; sync agents run in
    worker threads, async ones on the loop.
stage / task
    a workflow is stages of tasks; a task names its agent.
portal
    asyncbridge's long-lived background loop that sync callers use.

Modules, one job each: ``_sdk`` (the legacy SDK), ``_analysis`` (task analysis),
``_agents`` (the built-in team; where an agent runs), ``_schedule`` (dependent
jobs under a limit), ``_workflow`` (configuration), ``_results``,
``_orchestrator``, ``_integrate``, ``_executor``, ``_wrapper``, ``_files``
(workflow files), ``_naive`` (the "before" runner), ``_progress`` and ``_cli``
(the command line); ``api`` is the REST API (``pip install 'asyncbridge[api]'``).
"""

from ._agents import Agent as Agent
from ._agents import builtin_agents as builtin_agents
from ._analysis import AgentTask as AgentTask
from ._analysis import TaskAnalysis as TaskAnalysis
from ._analysis import TaskComplexity as TaskComplexity
from ._analysis import decompose_task as decompose_task
from ._executor import ExecutionResult as ExecutionResult
from ._executor import ParallelExecutionSummary as ParallelExecutionSummary
from ._executor import ParallelExecutor as ParallelExecutor
from ._orchestrator import EVENTS as EVENTS
from ._orchestrator import WorkflowOrchestrator as WorkflowOrchestrator
from ._results import StageResult as StageResult
from ._results import TaskResult as TaskResult
from ._results import TaskStatus as TaskStatus
from ._results import WorkflowResult as WorkflowResult
from ._sdk import FAIL_MARKER as FAIL_MARKER
from ._sdk import Perfect21Error as Perfect21Error
from ._sdk import Perfect21SDK as Perfect21SDK
from ._workflow import ExecutionMode as ExecutionMode
from ._workflow import WorkflowError as WorkflowError
from ._wrapper import TASK_TYPES as TASK_TYPES
from ._wrapper import AsyncCliWrapper as AsyncCliWrapper
from ._wrapper import BatchResult as BatchResult
from ._wrapper import get_async_cli_wrapper as get_async_cli_wrapper

__all__ = [  # noqa: RUF022 - plain sorted() order, as tests/test_all_attributes.py checks
    "Agent",
    "AgentTask",
    "AsyncCliWrapper",
    "BatchResult",
    "EVENTS",
    "ExecutionMode",
    "ExecutionResult",
    "FAIL_MARKER",
    "ParallelExecutionSummary",
    "ParallelExecutor",
    "Perfect21Error",
    "Perfect21SDK",
    "StageResult",
    "TASK_TYPES",
    "TaskAnalysis",
    "TaskComplexity",
    "TaskResult",
    "TaskStatus",
    "WorkflowError",
    "WorkflowOrchestrator",
    "WorkflowResult",
    "builtin_agents",
    "decompose_task",
    "get_async_cli_wrapper",
]
