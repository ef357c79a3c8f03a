"""Nested and saturated work: 100 agents at once on a 4-worker pool must finish (issue 7).

Each scenario runs in a subprocess with a timeout, so a deadlock fails this test
quickly instead of hanging the suite.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

TIMEOUT = 20

PRELUDE = """
import asyncio, time
import asyncbridge as ab
from asyncbridge.adapters.perfect21 import (
    AgentTask, ParallelExecutor, Perfect21SDK, TaskAnalysis, TaskComplexity, WorkflowOrchestrator,
)
ab.configure(default_workers=4)

def analysis(names, mode="parallel"):
    tasks = [AgentTask(name, f"task {i}") for i, name in enumerate(names)]
    return TaskAnalysis("t", TaskComplexity.COMPLEX, "p", list(names), tasks, mode)
"""

SCENARIOS = {
    "legacy-agents-with-their-own-loop": """
        def legacy(description):
            async def inner():
                # the legacy code's own loop offloads to asyncbridge's (saturated) pool
                return await ab.run_in_thread(len, description)
            return asyncio.run(inner())

        names = [f"legacy{i}" for i in range(100)]
        ex = ParallelExecutor(dict.fromkeys(names, legacy), max_concurrency=100, sdk=Perfect21SDK(latency=0))
        summary = ex.execute_parallel_task("t", analysis(names))
        assert summary.successful_agents == 100, [r.error_message for r in summary.results if not r.success][:3]
        print("ok", summary.successful_agents)
    """,
    "agents-calling-agents-depth-3": """
        sdk = Perfect21SDK(latency=0)
        leaf = lambda description: description.upper()
        inner_ex = ParallelExecutor({"leaf": leaf}, max_concurrency=100, sdk=sdk)

        def middle(description):
            return inner_ex.execute_parallel_task(description, analysis(["leaf"] * 3)).successful_agents

        middle_ex = ParallelExecutor({"middle": middle}, max_concurrency=100, sdk=sdk)

        def top(description):
            return middle_ex.execute_parallel_task(description, analysis(["middle"] * 2)).successful_agents

        names = ["top"] * 100
        summary = ParallelExecutor({"top": top}, max_concurrency=100, sdk=sdk).execute_parallel_task("t", analysis(names))
        assert summary.successful_agents == 100, [r.error_message for r in summary.results if not r.success][:3]
        print("ok", summary.successful_agents)
    """,
    "workflow-stage-of-100-legacy-tasks": """
        def legacy(description):
            async def inner():
                await asyncio.sleep(0)
                return await ab.run_in_thread(len, description)
            return asyncio.run(inner())

        orch = WorkflowOrchestrator({"legacy": legacy}, max_concurrency=100)
        orch.load_workflow({"stages": [{"name": "s", "tasks": [
            {"agent": "legacy", "description": str(i), "max_retries": 0} for i in range(100)
        ]}]})
        result = orch.execute_workflow()
        assert result.success, result.stage_results[0].error
        print("ok", result.stage_results[0].tasks_executed)
    """,
}


# Before the engine fix of issue 7 these hung: nested work into a saturated pool
# waited for slots its own waiters held.
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_saturated_pool_finishes(name: str) -> None:
    """The scenario finishes within the timeout with every agent successful (no deadlock)."""
    script = PRELUDE + textwrap.dedent(SCENARIOS[name])
    try:
        proc = subprocess.run(
            [sys.executable, "-W", "error", "-c", script],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{name}: no result after {TIMEOUT} s (deadlock?)\n{exc.stderr!r}")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok 100")
