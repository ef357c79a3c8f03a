"""ParallelExecutor and AsyncCliWrapper: every calling context, failures kept, batches reported."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import anyio
import pytest

import asyncbridge as ab
from asyncbridge.adapters.perfect21 import (
    AgentTask,
    AsyncCliWrapper,
    ExecutionResult,
    ParallelExecutionSummary,
    ParallelExecutor,
    Perfect21SDK,
    TaskAnalysis,
    TaskComplexity,
    WorkflowError,
    get_async_cli_wrapper,
)


def sync_agent(description: str) -> str:
    return f"sync:{description}"


async def async_agent(description: str) -> str:
    await anyio.sleep(0)
    return f"async:{description}"


def broken_agent(description: str) -> str:
    raise ValueError(f"cannot {description}")


def legacy_agent(description: str) -> str:
    async def inner() -> str:
        await asyncio.sleep(0)
        return f"legacy:{description}"

    return asyncio.run(inner())  # runs its own loop, as old SDK code does


AGENTS = {
    "backend-architect": sync_agent,
    "frontend-specialist": async_agent,
    "test-engineer": broken_agent,
    "security-auditor": legacy_agent,
}


def analysis(*tasks: AgentTask, mode: str = "parallel") -> TaskAnalysis:
    return TaskAnalysis(
        original_task="t",
        complexity=TaskComplexity.MEDIUM,
        project_type="p",
        required_agents=[t.agent_name for t in tasks],
        agent_tasks=list(tasks),
        execution_mode=mode,
    )


MIXED = analysis(
    AgentTask("backend-architect", "api"),
    AgentTask("frontend-specialist", "ui"),
    AgentTask("test-engineer", "tests", priority=4),
    AgentTask("security-auditor", "audit", priority=3),
)


def executor(**kwargs) -> ParallelExecutor:
    return ParallelExecutor(AGENTS, sdk=Perfect21SDK(latency=0), **kwargs)


def check_mixed(summary: ParallelExecutionSummary) -> None:
    assert (summary.total_agents, summary.successful_agents, summary.failed_agents) == (
        4,
        3,
        1,
    )
    by_name = {r.agent_name: r for r in summary.results}
    assert by_name["backend-architect"].result == "sync:api"
    assert by_name["frontend-specialist"].result == "async:ui"
    assert by_name["security-auditor"].result == "legacy:audit"
    failed = by_name["test-engineer"]
    assert not failed.success
    assert isinstance(failed.error, ValueError)
    assert failed.error_message == "ValueError: cannot tests"
    assert not summary.success
    out = summary.integrated_output
    assert {
        "project_assets",
        "quality_metrics",
        "deployment_readiness",
        "next_actions",
    } <= set(out)
    assert out["next_actions"][0] == "fix the failed agents: test-engineer"


def test_sync_entry_from_plain_code() -> None:
    """execute_parallel_task() from plain code: all kinds of agents run; a failure keeps the others."""
    check_mixed(executor().execute_parallel_task("t", MIXED))


def test_sync_entry_from_worker_threads() -> None:
    """execute_parallel_task() from many plain threads released together."""
    barrier = threading.Barrier(8)
    shared = executor()

    def run(_: int) -> ParallelExecutionSummary:
        barrier.wait()
        return shared.execute_parallel_task("t", MIXED)

    with ThreadPoolExecutor(8) as pool:
        for summary in pool.map(run, range(8)):
            check_mixed(summary)


def test_sync_entry_from_inside_a_running_loop() -> None:
    """execute_parallel_task() inside a coroutine works (legacy agents included), warning the loop was blocked."""

    async def main() -> ParallelExecutionSummary:
        with pytest.warns(ab.LoopBlockedWarning):
            return executor().execute_parallel_task("t", MIXED)

    check_mixed(asyncio.run(main()))


@pytest.mark.anyio
async def test_async_entry(anyio_backend) -> None:
    """execute_parallel_task_async() on asyncio, uvloop and trio; async agents on this loop."""
    summary = await executor().execute_parallel_task_async("t", MIXED)
    check_mixed(summary)
    by_name = {r.agent_name: r for r in summary.results}
    assert by_name["frontend-specialist"].thread == threading.current_thread().name
    assert by_name["backend-architect"].thread != threading.current_thread().name


@pytest.mark.parametrize("mode", ["parallel", "sequential", "hybrid"])
def test_modes_keep_order_and_limits(mode) -> None:
    """Each mode runs every agent; sequential and hybrid's second group one at a time."""
    lock = threading.Lock()
    running = peak = 0
    order: list[str] = []

    def count(description: str) -> str:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
            order.append(description)
        threading.Event().wait(0.01)
        with lock:
            running -= 1
        return description

    tasks = [AgentTask(f"a{i}", str(i), priority=1 + i % 5) for i in range(10)]
    ex = ParallelExecutor(
        {f"a{i}": count for i in range(10)},
        max_concurrency=4,
        sdk=Perfect21SDK(latency=0),
    )
    summary = ex.execute_parallel_task("t", analysis(*tasks, mode=mode))
    assert summary.successful_agents == 10
    assert [r.agent_name for r in summary.results] == [f"a{i}" for i in range(10)]
    assert peak <= (1 if mode == "sequential" else 4)
    if mode == "hybrid":
        first = {str(i) for i in range(10) if 1 + i % 5 <= 2}
        assert set(order[: len(first)]) == first


def test_dependencies_wait_and_skip() -> None:
    """An agent waits for its dependencies; one whose dependency failed is not run."""
    seen: list[str] = []

    def record(description: str) -> str:
        seen.append(description)
        return description

    agents = {"a": record, "b": record, "bad": broken_agent, "c": record}
    tasks = [
        AgentTask("b", "b", dependencies=["a"]),
        AgentTask("a", "a"),
        AgentTask("c", "c", dependencies=["bad"]),
        AgentTask("bad", "x"),
    ]
    summary = ParallelExecutor(
        agents, max_concurrency=1, sdk=Perfect21SDK(latency=0)
    ).execute_parallel_task("t", analysis(*tasks))
    assert seen == ["a", "b"]
    c = summary.results[2]
    assert not c.success
    assert c.error_message == "not run: it depends on 'bad', which failed"


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (analysis(AgentTask("ghost", "x")), "unknown agents"),
        (
            analysis(AgentTask("backend-architect", "x"), mode="turbo"),
            "unknown execution_mode",
        ),
        (
            analysis(AgentTask("backend-architect", "x", dependencies=["nobody"])),
            "not in the analysis",
        ),
        (
            analysis(
                AgentTask(
                    "backend-architect",
                    "x",
                    priority=1,
                    dependencies=["security-auditor"],
                ),
                AgentTask("security-auditor", "y", priority=3),
                mode="hybrid",
            ),
            "later group",
        ),
        (
            analysis(
                AgentTask("backend-architect", "x", dependencies=["security-auditor"]),
                AgentTask("security-auditor", "y", dependencies=["backend-architect"]),
            ),
            "cycle",
        ),
    ],
)
def test_bad_analyses_fail_before_anything_runs(bad, match) -> None:
    """Unknown agents or modes, missing or backward dependencies and cycles are ValueErrors up front."""
    ran: list[str] = []
    agents = dict.fromkeys(AGENTS, ran.append)
    with pytest.raises(ValueError, match=match):
        ParallelExecutor(agents, sdk=Perfect21SDK(latency=0)).execute_parallel_task(
            "t", bad
        )
    assert ran == []


def test_argument_checks() -> None:
    """A non-TaskAnalysis or a bad max_concurrency is refused with the parameter's name."""
    with pytest.raises(TypeError, match="analysis must be a TaskAnalysis"):
        executor().execute_parallel_task("t", {"agent_tasks": []})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_concurrency"):
        executor(max_concurrency=0)


def test_process_execution_results_accepts_original_dicts() -> None:
    """process_execution_results() takes the original's result dicts and integrates them."""
    summary = executor().process_execution_results(
        [
            {
                "agent_name": "backend-architect",
                "success": True,
                "output": "x",
                "execution_time": 3.0,
                "start_time": "2025-09-17T10:00:00",
                "end_time": "2025-09-17T10:00:03",
            },
            {"agent_name": "test-engineer", "success": False, "error": "boom"},
            ExecutionResult("security-auditor", "audit", success=True, result="ok"),
        ],
        task_description="release",
    )
    assert summary.task_description == "release"
    assert (summary.successful_agents, summary.failed_agents) == (2, 1)
    assert summary.results[0].start_time is not None
    assert summary.results[0].start_time.year == 2025
    data = summary.to_dict()
    assert data["results"][1]["error_message"] == "boom"
    readiness = summary.integrated_output["deployment_readiness"]
    assert readiness["available_components"] == ["backend", "security"]
    assert readiness["deployment_ready"] is False
    assert summary.integrated_output["quality_metrics"]["successful_agents"] == 2
    assert (
        executor()
        .process_execution_results([])
        .integrated_output["quality_metrics"]["quality_level"]
        == "Poor"
    )


# ---------------------------------------------------------------- AsyncCliWrapper


def wrapper() -> AsyncCliWrapper:
    return AsyncCliWrapper(sdk=Perfect21SDK(latency=0))


def test_singleton_is_one_instance_for_many_threads() -> None:
    """get_async_cli_wrapper() called by 16 threads released at once returns one instance."""
    barrier = threading.Barrier(16)

    def get(_: int) -> AsyncCliWrapper:
        barrier.wait()
        return get_async_cli_wrapper()

    with ThreadPoolExecutor(16) as pool:
        instances = set(map(id, pool.map(get, range(16))))
    assert len(instances) == 1


def test_context_manager_never_breaks_the_shared_instance() -> None:
    """Leaving `with get_async_cli_wrapper()` twice leaves it working (no pool shut down)."""
    for _ in range(2):
        with get_async_cli_wrapper() as shared:
            shared.cleanup()
    assert get_async_cli_wrapper().run_async_safe(async_agent("x")) == "async:x"


def test_run_async_safe_lets_the_users_runtime_error_through_once() -> None:
    """A RuntimeError raised by the coroutine comes out unchanged, and the coroutine ran once."""
    calls = {"n": 0}

    async def user_code() -> None:
        calls["n"] += 1
        raise RuntimeError("the user's own error")

    with pytest.raises(RuntimeError, match="the user's own error"):
        wrapper().run_async_safe(user_code())
    assert calls["n"] == 1
    with pytest.raises(TypeError, match="coro must be awaitable"):
        wrapper().run_async_safe(user_code)  # type: ignore[arg-type]


def test_run_async_safe_in_every_context() -> None:
    """run_async_safe works from plain code, a worker thread and inside a running loop (warning)."""
    w = wrapper()
    assert w.run_async_safe(async_agent("plain")) == "async:plain"
    with ThreadPoolExecutor(1) as pool:
        assert (
            pool.submit(lambda: w.run_async_safe(async_agent("t"))).result()
            == "async:t"
        )

    async def main() -> str:
        with pytest.warns(ab.LoopBlockedWarning):
            return w.run_async_safe(async_agent("loop"))

    assert asyncio.run(main()) == "async:loop"


def test_sync_execute_async_task_uses_the_legacy_analyze() -> None:
    """sync_execute_async_task decomposes (asyncio.run inside, in a worker) and runs the agents."""
    summary = wrapper().sync_execute_async_task("a react ui")
    assert summary.successful_agents == 3
    assert summary.task_description == "a react ui"
    forced = wrapper().sync_execute_async_task("shop checkout", force_parallel=True)
    assert forced.successful_agents == 5


@pytest.mark.anyio
async def test_batch_reports_every_task(anyio_backend) -> None:
    """A batch reports each task in order: unknown types and invalid entries fail, never dropped."""
    result = await wrapper().batch_execute_tasks(
        [
            {"type": "task", "description": "a"},
            {"type": "teleport"},
            {"type": "git", "operation": "create-feature", "args": ["x"]},
            7,
            {"type": "task"},
            {"type": "task", "description": "b [fail]"},
            {"type": "parallel", "description": "an api"},
        ]
    )
    assert result.status == "failed"
    assert not result.success
    assert (result.total_tasks, result.successful_tasks) == (7, 3)
    entries = result.results
    assert [e["task_index"] for e in entries] == list(range(7))
    assert (
        entries[1]["error"]
        == "ValueError: unknown task type 'teleport' (known: task, parallel, git)"
    )
    assert entries[3]["error"].startswith("ValueError: a task must be a table")
    assert entries[4]["error"] == "ValueError: a 'task' task needs description"
    assert "Perfect21Error" in entries[5]["error"]
    assert entries[6]["result"]["successful_agents"] == 3


@pytest.mark.anyio
async def test_empty_batch_is_not_a_success(anyio_backend) -> None:
    """An empty batch says so: status 'empty', success False, no results."""
    result = await wrapper().batch_execute_tasks([])
    assert result.to_dict() == {
        "success": False,
        "status": "empty",
        "results": [],
        "total_tasks": 0,
        "successful_tasks": 0,
    }


@pytest.mark.anyio
async def test_batch_all_ok_and_progress(anyio_backend) -> None:
    """A batch of good tasks is 'ok' and reports progress after each one."""
    progress: list[tuple[int, int]] = []
    result = await wrapper().batch_execute_tasks(
        [{"type": "task", "description": str(i)} for i in range(3)],
        on_progress=lambda done, total: progress.append((done, total)),
    )
    assert result.success
    assert progress[-1] == (3, 3)


@pytest.mark.anyio
async def test_execute_parallel_workflow(anyio_backend) -> None:
    """execute_parallel_workflow loads and runs a workflow, with callbacks; bad configs raise."""
    events: list[str] = []
    w = wrapper()
    result = await w.execute_parallel_workflow(
        {
            "stages": [
                {"name": "s", "tasks": [{"agent": "api-designer", "description": "x"}]}
            ]
        },
        callbacks={"on_task_complete": [lambda e: events.append(e["task"]["agent"])]},
    )
    assert result.success
    assert events == ["api-designer"]
    with pytest.raises(WorkflowError):
        await w.execute_parallel_workflow({"stages": []})
