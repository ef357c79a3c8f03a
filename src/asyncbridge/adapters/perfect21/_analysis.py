"""`TaskAnalysis` and `AgentTask` (the original's shapes) and a small decomposer.

The original's smart decomposer matched keywords to a project type and a team of
agents; this one does the same with a short table, so that a description given on
the command line or to the REST API becomes work for several agents. It is pure
computation: nothing here blocks or needs a loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from ._checks import check_instance

__all__ = ["AgentTask", "TaskAnalysis", "TaskComplexity", "decompose_task"]


class TaskComplexity(StrEnum):
    """How big a task is, as the original decomposer graded it."""

    SIMPLE = "simple"
    MEDIUM = "medium"
    COMPLEX = "complex"
    ENTERPRISE = "enterprise"


@dataclass
class AgentTask:
    """One agent's share of a task (the original's fields).

    ``estimated_time`` is in minutes; ``dependencies`` names the agents whose
    tasks must complete before this one starts.
    """

    agent_name: str
    task_description: str
    detailed_prompt: str = ""
    priority: int = 1
    estimated_time: int = 60
    dependencies: list[str] = field(default_factory=list)


@dataclass
class TaskAnalysis:
    """A task split into agent tasks (the original's fields).

    ``execution_mode`` is ``"parallel"`` (every agent at once, up to the
    executor's limit), ``"sequential"`` (one at a time, by priority) or
    ``"hybrid"`` (priority 1-2 agents together first, then the rest one at a time).
    """

    original_task: str
    complexity: TaskComplexity
    project_type: str
    required_agents: list[str]
    agent_tasks: list[AgentTask]
    execution_mode: str = "parallel"
    estimated_total_time: int = 0


# agent -> (what it does, priority, estimated minutes)
_PROFILES: dict[str, tuple[str, int, int]] = {
    "backend-architect": ("Design and build the backend", 1, 120),
    "api-designer": ("Design the API", 1, 45),
    "database-specialist": ("Design the database", 1, 75),
    "business-analyst": ("Analyse the requirements", 1, 45),
    "frontend-specialist": ("Build the user interface", 2, 90),
    "ux-designer": ("Design the user experience", 2, 60),
    "fullstack-engineer": ("Build the application end to end", 2, 150),
    "security-auditor": ("Audit security", 3, 90),
    "test-engineer": ("Write the test suite", 4, 60),
    "code-reviewer": ("Review the code", 4, 30),
    "devops-engineer": ("Set up CI/CD and deployment", 5, 75),
    "monitoring-specialist": ("Set up monitoring", 5, 45),
}

# keywords -> (project type, complexity, agents)
_PATTERNS: tuple[tuple[tuple[str, ...], str, TaskComplexity, tuple[str, ...]], ...] = (
    (
        ("shop", "payment", "order", "checkout", "电商", "支付"),
        "ecommerce",
        TaskComplexity.COMPLEX,
        (
            "backend-architect",
            "frontend-specialist",
            "database-specialist",
            "security-auditor",
            "test-engineer",
        ),
    ),
    (
        ("api", "backend", "service", "接口", "后端"),
        "backend_api",
        TaskComplexity.MEDIUM,
        ("backend-architect", "api-designer", "test-engineer"),
    ),
    (
        ("ui", "frontend", "react", "vue", "前端"),
        "frontend",
        TaskComplexity.MEDIUM,
        ("frontend-specialist", "ux-designer", "test-engineer"),
    ),
    (
        ("deploy", "docker", "kubernetes", "部署"),
        "devops",
        TaskComplexity.MEDIUM,
        ("devops-engineer", "monitoring-specialist"),
    ),
)


def decompose_task(description: str) -> TaskAnalysis:
    """Split *description* into agent tasks by keywords.

    Args:
        description: the task, in words.

    Returns:
        A `TaskAnalysis` whose agent tasks are sorted by priority; complex
        projects run ``"hybrid"``, others ``"parallel"``.

    Raises:
        TypeError: *description* is not a string.

    >>> [t.agent_name for t in decompose_task("a REST api").agent_tasks]
    ['backend-architect', 'api-designer', 'test-engineer']
    """
    words = check_instance(description, str, "decompose_task()", "description").lower()
    project_type, complexity = "custom", TaskComplexity.SIMPLE
    agents: tuple[str, ...] = ("fullstack-engineer",)
    for keywords, kind, grade, team in _PATTERNS:
        if any(word in words for word in keywords):
            project_type, complexity, agents = kind, grade, team
            break
    tasks = sorted(
        (
            AgentTask(
                agent_name=agent,
                task_description=f"{_PROFILES[agent][0]}: {description}",
                detailed_prompt=f"As {agent}, {_PROFILES[agent][0].lower()} for: {description}",
                priority=_PROFILES[agent][1],
                estimated_time=_PROFILES[agent][2],
            )
            for agent in agents
        ),
        key=lambda task: task.priority,
    )
    return TaskAnalysis(
        original_task=description,
        complexity=complexity,
        project_type=project_type,
        required_agents=list(agents),
        agent_tasks=tasks,
        execution_mode="hybrid" if complexity is TaskComplexity.COMPLEX else "parallel",
        estimated_total_time=sum(task.estimated_time for task in tasks),
    )
