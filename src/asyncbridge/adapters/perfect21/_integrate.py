"""Integrate agents' results: project assets, overall quality, deployment readiness, next actions.

The original's ``_integrate_agent_outputs_async`` gathered four "async" helpers
that only built dicts (each with an ``await asyncio.sleep(0)`` to look async),
while the one step that needed the SDK would have blocked the loop. Here the
four are honest sync functions, and :func:`integrate` runs them concurrently
with ``ab.gather_limited``: sync callables go to worker threads, so the one that
asks the blocking SDK (deployment readiness calls ``sdk.status()``) overlaps with
the others and never stalls the loop.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import TYPE_CHECKING, Any

import asyncbridge as ab

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ._executor import ExecutionResult
    from ._sdk import Perfect21SDK

__all__ = [
    "assess_deployment_readiness",
    "calculate_overall_quality",
    "compile_project_assets",
    "generate_next_actions",
    "integrate",
]

_ASSETS = {
    "backend": ["API service", "database schema", "API documentation"],
    "frontend": ["user interface", "component library"],
    "api": ["OpenAPI specification"],
    "test": ["test suite", "test report"],
    "devops": ["CI/CD pipeline", "container configuration"],
    "security": ["security assessment"],
    "database": ["database schema"],
}
_REQUIRED = ("backend", "frontend", "test", "security")
_READY_SCORE = 0.75


def _assets(result: ExecutionResult) -> list[str]:
    return [
        a for key, assets in _ASSETS.items() if key in result.agent_name for a in assets
    ]


def compile_project_assets(results: Sequence[ExecutionResult]) -> list[str]:
    """List the assets the successful agents produced (deduplicated, in order)."""
    return list(dict.fromkeys(a for r in results if r.success for a in _assets(r)))


def _quality(result: ExecutionResult) -> float:
    return (
        0.0
        if not result.success
        else min(1.0, 0.8 + min(0.2, result.execution_time / 300))
    )


def calculate_overall_quality(results: Sequence[ExecutionResult]) -> dict[str, Any]:
    """Score the run: 70 % the agents' average quality, 30 % the success rate."""
    good = [r for r in results if r.success]
    if not good:
        return {"overall_score": 0.0, "quality_level": "Poor", "success_rate": 0.0}
    rate = len(good) / len(results)
    score = 0.7 * sum(map(_quality, good)) / len(good) + 0.3 * rate
    levels = ((0.9, "Excellent"), (0.7, "Good"), (0.5, "Fair"), (0.0, "Poor"))
    level = next(name for floor, name in levels if score >= floor)
    return {
        "overall_score": round(score, 3),
        "quality_level": level,
        "success_rate": rate,
        "agent_count": len(results),
        "successful_agents": len(good),
    }


def assess_deployment_readiness(
    results: Sequence[ExecutionResult], sdk: Perfect21SDK
) -> dict[str, Any]:
    """Check which required components exist, and ask the (blocking) SDK if it is ready."""
    have = {c for r in results if r.success for c in _REQUIRED if c in r.agent_name}
    score = len(have) / len(_REQUIRED)
    sdk_ready = bool(sdk.status()["success"])
    return {
        "readiness_score": score,
        "available_components": sorted(have),
        "missing_components": sorted(set(_REQUIRED) - have),
        "sdk_ready": sdk_ready,
        "deployment_ready": score >= _READY_SCORE and sdk_ready,
    }


def generate_next_actions(results: Sequence[ExecutionResult]) -> list[str]:
    """Suggest what to do next, failed agents first."""
    failed = [r.agent_name for r in results if not r.success]
    done = {r.agent_name for r in results if r.success}
    actions = [f"fix the failed agents: {', '.join(failed)}"] if failed else []
    for agent, present, missing in (
        ("test-engineer", "run the integration tests", "add a test engineer"),
        ("security-auditor", "run a security scan", "add a security review"),
        ("devops-engineer", "prepare the production deployment", "set up CI/CD"),
    ):
        actions.append(present if agent in done else missing)
    return actions


async def integrate(
    results: Sequence[ExecutionResult], sdk: Perfect21SDK
) -> dict[str, Any]:
    """Build the integrated output: the four steps at once, in worker threads.

    Raises:
        Exception: whatever a step raises (the others are cancelled).
    """
    assets, quality, readiness, actions = await ab.gather_limited(
        functools.partial(compile_project_assets, results),
        functools.partial(calculate_overall_quality, results),
        functools.partial(assess_deployment_readiness, results, sdk),
        functools.partial(generate_next_actions, results),
        limit=4,
    )
    return {
        "execution_summary": {
            "total_agents": len(results),
            "successful_agents": sum(r.success for r in results),
            "total_execution_time": sum(r.execution_time for r in results),
            "timestamp": datetime.now().astimezone().isoformat(),
        },
        "agent_contributions": {
            r.agent_name: {
                "task_completed": r.task_description,
                "execution_time": r.execution_time,
                "assets_created": _assets(r),
                "quality_score": _quality(r),
            }
            for r in results
            if r.success
        },
        "project_assets": assets,
        "quality_metrics": quality,
        "deployment_readiness": readiness,
        "next_actions": actions,
    }
