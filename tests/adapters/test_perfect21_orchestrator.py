"""WorkflowOrchestrator: modes, dependencies, retries, timeouts, callbacks, every calling context."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import anyio
import pytest

import asyncbridge as ab
from asyncbridge.adapters.perfect21 import (
    Perfect21SDK,
    StageResult,
    TaskStatus,
    WorkflowError,
    WorkflowOrchestrator,
    WorkflowResult,
)


def stage(name, *tasks, mode="parallel", **extra):
    return {"name": name, "execution_mode": mode, "tasks": list(tasks), **extra}


def task(agent, description="do it", **extra):
    return {"agent": agent, "description": description, **extra}


def echo(description: str) -> str:
    return f"echo:{description}"


async def async_echo(description: str) -> str:
    await anyio.sleep(0)
    return f"async:{description}"


def failing(description: str) -> str:
    raise KeyError(description)


AGENTS = {"echo": echo, "async-echo": async_echo, "fail": failing}


def orchestrator(config, agents=AGENTS, **kwargs) -> WorkflowOrchestrator:
    orch = WorkflowOrchestrator(agents, retry_wait=0, **kwargs)
    orch.load_workflow(config)
    return orch


SIMPLE = {
    "name": "simple",
    "stages": [
        stage("one", task("echo", "a"), task("async-echo", "b")),
        stage("two", task("echo", "c"), depends_on=["one"]),
    ],
}


def check_simple(result: WorkflowResult) -> None:
    assert result.success
    assert [s.stage for s in result.stage_results] == ["one", "two"]
    assert result.stage_results[0].outputs == ["echo:a", "async:b"]
    assert result.stage_results[1].outputs == ["echo:c"]


def test_sync_entry_from_plain_code() -> None:
    """execute_workflow() works from plain sync code; sync agents run in worker threads."""
    result = orchestrator(SIMPLE).execute_workflow()
    check_simple(result)
    sync_task, async_task = result.stage_results[0].tasks
    assert sync_task.thread != threading.current_thread().name
    assert sync_task.kind == "sync"
    assert async_task.kind == "async"


def test_sync_entry_from_worker_threads() -> None:
    """execute_workflow() works from many plain threads at once (one orchestrator each)."""
    barrier = threading.Barrier(6)

    def run() -> WorkflowResult:
        orch = orchestrator(SIMPLE)
        barrier.wait()
        return orch.execute_workflow()

    with ThreadPoolExecutor(6) as pool:
        for result in pool.map(lambda _: run(), range(6)):
            check_simple(result)


def test_sync_entry_from_inside_a_running_loop() -> None:
    """execute_stage() inside a coroutine works (no 'cannot be called from a running loop'), warning that the loop is blocked."""

    async def main() -> StageResult:
        orch = orchestrator(SIMPLE)
        with pytest.warns(ab.LoopBlockedWarning):
            return orch.execute_stage("one")

    assert asyncio.run(main()).outputs == ["echo:a", "async:b"]


def test_sync_entry_from_an_asyncbridge_worker_runs_on_its_loop() -> None:
    """From a worker thread of a loop, the sync twin runs on that loop (no warning, no new loop)."""

    async def main() -> tuple[WorkflowResult, str]:
        orch = orchestrator(SIMPLE)
        result = await ab.run_in_thread(orch.execute_workflow)
        return result, threading.current_thread().name

    result, loop_thread = asyncio.run(main())
    check_simple(result)
    assert result.stage_results[0].tasks[1].thread == loop_thread


@pytest.mark.anyio
async def test_async_entry(anyio_backend) -> None:
    """execute_workflow_async() runs on asyncio, uvloop and trio; async agents on the caller's loop."""
    result = await orchestrator(SIMPLE).execute_workflow_async()
    check_simple(result)
    assert result.stage_results[0].tasks[1].thread == threading.current_thread().name


def test_loop_bound_agent_state_survives_between_sync_calls() -> None:
    """Sync calls reuse one loop, so an async agent's loop-bound object works on the next call."""
    queue: list[asyncio.Queue[str]] = []

    async def stateful(description: str) -> str:
        if not queue:
            queue.append(asyncio.Queue())
        await queue[0].put(description)
        return await queue[0].get()

    orch = orchestrator({"stages": [stage("s", task("q", "x"))]}, {"q": stateful})
    assert orch.execute_workflow().success
    assert orch.execute_workflow().success  # a new loop per call would fail here


def test_independent_stages_run_concurrently() -> None:
    """Two independent stages overlap: each one's agent waits for the other's to start."""
    started = {"a": threading.Event(), "b": threading.Event()}

    def meet(description: str) -> str:
        started[description].set()
        other = "b" if description == "a" else "a"
        assert started[other].wait(10), "the other stage never started"
        return description

    config = {"stages": [stage("A", task("meet", "a")), stage("B", task("meet", "b"))]}
    assert orchestrator(config, {"meet": meet}).execute_workflow().success


def test_dependent_stage_runs_after_and_is_skipped_on_failure() -> None:
    """A stage runs after its dependencies; if one failed, it is skipped and the run fails."""
    config = {
        "stages": [
            stage("first", task("fail", max_retries=0)),
            stage("second", task("echo"), depends_on=["first"]),
            stage("third", task("echo"), depends_on=["second"]),
        ]
    }
    result = orchestrator(config).execute_workflow()
    assert not result.success
    first, second, third = result.stage_results
    assert first.status is TaskStatus.FAILED
    assert isinstance(first.tasks[0].exception, KeyError)
    assert second.status is TaskStatus.SKIPPED
    assert "first" in (second.error or "")
    assert third.status is TaskStatus.SKIPPED
    assert [t.status for t in third.tasks] == [TaskStatus.SKIPPED]


def test_sequential_stage_stops_at_the_first_failure() -> None:
    """In a sequential stage the tasks run in order, one at a time; after a failure the rest are skipped."""
    order: list[str] = []

    def record(description: str) -> str:
        order.append(description)
        if description == "2":
            raise ValueError("two")
        return description

    config = {
        "stages": [
            stage(
                "s",
                *(task("r", str(i), max_retries=0) for i in range(1, 5)),
                mode="sequential",
            )
        ]
    }
    result = orchestrator(config, {"r": record}).execute_workflow()
    assert order == ["1", "2"]
    assert [t.status for t in result.tasks] == [
        TaskStatus.COMPLETED,
        TaskStatus.FAILED,
        TaskStatus.SKIPPED,
        TaskStatus.SKIPPED,
    ]


def test_parallel_stage_keeps_every_other_result() -> None:
    """In a parallel stage one failure loses no other task's output."""
    config = {
        "stages": [
            stage(
                "s", task("echo", "a"), task("fail", max_retries=0), task("echo", "b")
            )
        ]
    }
    result = orchestrator(config).execute_workflow()
    s = result.stage_results[0]
    assert not s.success
    assert s.outputs == ["echo:a", "echo:b"]
    assert s.tasks_executed == 2
    assert "fail" in (s.error or "")


def test_parallel_stage_runs_at_most_max_concurrency() -> None:
    """No more than max_concurrency tasks of a stage run at once (12 tasks, limit 3)."""
    lock = threading.Lock()
    running = peak = 0

    def count(description: str) -> str:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        threading.Event().wait(0.01)
        with lock:
            running -= 1
        return description

    config = {"stages": [stage("s", *(task("c", str(i)) for i in range(12)))]}
    assert (
        orchestrator(config, {"c": count}, max_concurrency=3).execute_workflow().success
    )
    assert peak <= 3


def test_task_dependencies_order_tasks_and_skip_dependents() -> None:
    """A task waits for the agents it depends on; a failed dependency skips it."""
    seen: list[str] = []

    def record(description: str) -> str:
        seen.append(description)
        return description

    agents = {"a": record, "b": record, "c": record, "fail": failing}
    config = {
        "stages": [
            stage(
                "s",
                task("c", "c", dependencies=["b"]),
                task("b", "b", dependencies=["a"]),
                task("a", "a"),
                task("fail", "f", max_retries=0),
                task("c", "after-fail", dependencies=["fail"]),
            )
        ]
    }
    result = orchestrator(config, agents, max_concurrency=1).execute_workflow()
    assert seen.index("a") < seen.index("b") < seen.index("c")
    assert "after-fail" not in seen
    assert result.tasks[4].status is TaskStatus.SKIPPED


def test_hybrid_stage_runs_dependency_layers() -> None:
    """A hybrid stage runs dependency layers in turn; a failure skips the later layers."""
    config = {
        "stages": [
            stage(
                "s",
                task("echo", "x"),
                task("fail", "y", max_retries=0),
                task("async-echo", "z", dependencies=["echo"]),
                mode="hybrid",
            )
        ]
    }
    result = orchestrator(config).execute_workflow()
    assert [t.status for t in result.tasks] == [
        TaskStatus.COMPLETED,
        TaskStatus.FAILED,
        TaskStatus.SKIPPED,  # its layer waits for the whole first layer
    ]


def test_parallel_then_sync_uses_its_sync_point() -> None:
    """parallel_then_sync: every task runs, then the sync point's min_success_rate decides."""
    tasks = [task("echo"), task("fail", max_retries=0), task("echo"), task("echo")]
    lenient = {
        "stages": [
            stage(
                "s",
                *tasks,
                mode="parallel_then_sync",
                sync_point={"min_success_rate": 0.75},
            )
        ]
    }
    strict = {"stages": [stage("s", *tasks, mode="parallel_then_sync")]}
    assert orchestrator(lenient).execute_workflow().success
    result = orchestrator(strict).execute_workflow()
    assert not result.success
    assert "sync point not reached: 3 of 4" in (result.stage_results[0].error or "")
    soft = {"stages": [stage("s", *tasks, sync_point={"must_pass": False})]}
    assert orchestrator(soft).execute_workflow().success


def test_retries_until_success() -> None:
    """A flaky task is retried (max_retries) and counts its attempts."""
    calls = {"n": 0}

    async def flaky(description: str) -> str:
        calls["n"] += 1
        if calls["n"] < 3:
            raise ConnectionError("again")
        return "ok"

    config = {"stages": [stage("s", task("f", max_retries=2))]}
    result = orchestrator(config, {"f": flaky}).execute_workflow()
    assert result.success
    assert result.tasks[0].attempts == 3


def test_retries_give_up_with_the_original_exception() -> None:
    """After max_retries the task fails with the agent's own exception type."""
    config = {"stages": [stage("s", task("fail", max_retries=2))]}
    result = orchestrator(config).execute_workflow()
    record = result.tasks[0]
    assert record.attempts == 3
    assert type(record.exception) is KeyError
    assert record.error is not None
    assert record.error.startswith("KeyError")


def test_task_timeout_cancels_an_async_agent() -> None:
    """A task past its timeout is cancelled (its cleanup runs) and reported failed."""
    cleaned = threading.Event()

    async def stuck(description: str) -> str:
        try:
            await anyio.sleep_forever()
        finally:
            cleaned.set()
        return description  # pragma: no cover

    config = {"stages": [stage("s", task("stuck", timeout=0.05, max_retries=0))]}
    result = orchestrator(config, {"stuck": stuck}).execute_workflow()
    assert result.tasks[0].status is TaskStatus.FAILED
    assert isinstance(result.tasks[0].exception, TimeoutError)
    assert cleaned.is_set()


def test_stage_timeout_fails_the_stage() -> None:
    """A stage past its own timeout fails, naming the timeout, and its unfinished tasks fail."""

    async def stuck(description: str) -> str:
        await anyio.sleep_forever()
        return description  # pragma: no cover

    config = {"stages": [stage("s", task("stuck"), timeout=0.05)]}
    result = orchestrator(config, {"stuck": stuck}).execute_workflow()
    assert result.stage_results[0].error == "stage timed out after 0.05 s"
    assert result.tasks[0].status is TaskStatus.FAILED


def test_callbacks_sync_and_async_in_order() -> None:
    """Sync and async callbacks get one event dict per event, in order; sync ones off the loop."""
    events: list[tuple[str, str]] = []
    threads: set[str] = set()

    def on_any(event: dict) -> None:
        threads.add(threading.current_thread().name)
        events.append(
            (event["event"], event.get("task", {}).get("agent", event["stage"]))
        )

    async def on_complete(event: dict) -> None:
        await anyio.sleep(0)
        assert event["result"] == "echo:a"
        events.append(("async", event["task"]["status"]))

    orch = WorkflowOrchestrator(AGENTS, retry_wait=0)
    for name in (
        "on_stage_start",
        "on_task_start",
        "on_task_complete",
        "on_stage_complete",
        "on_error",
    ):
        orch.register_callback(name, on_any)
    orch.register_callback("on_task_complete", on_complete)
    orch.load_workflow({"stages": [stage("s", task("echo", "a"), mode="sequential")]})
    result = orch.execute_workflow()
    assert result.success
    assert events == [
        ("on_stage_start", "s"),
        ("on_task_start", "echo"),
        ("on_task_complete", "echo"),
        ("async", "completed"),
        ("on_stage_complete", "s"),
    ]
    assert threading.current_thread().name not in threads


def test_on_error_gets_the_task_and_the_stage() -> None:
    """on_error fires for the failed task and for its failed stage."""
    errors: list[dict] = []
    orch = WorkflowOrchestrator(AGENTS, retry_wait=0)
    orch.register_callback("on_error", errors.append)
    orch.load_workflow({"stages": [stage("s", task("fail", "boom", max_retries=0))]})
    orch.execute_workflow()
    assert [e.get("task", {}).get("agent") for e in errors] == ["fail", None]
    assert "KeyError" in errors[0]["error"]


def test_a_raising_callback_stops_the_run_unchanged() -> None:
    """A callback's exception comes out of execute_workflow unchanged (nothing swallowed)."""

    class CallbackBug(Exception):
        pass

    def broken(event: dict) -> None:
        raise CallbackBug

    orch = WorkflowOrchestrator(AGENTS)
    orch.register_callback("on_task_complete", broken)
    orch.load_workflow(SIMPLE)
    with pytest.raises(CallbackBug):
        orch.execute_workflow()


def test_register_callback_checks_its_arguments() -> None:
    """An unknown event is a ValueError listing the events; a non-callable a TypeError."""
    orch = WorkflowOrchestrator(AGENTS)
    with pytest.raises(ValueError, match="on_stage_start"):
        orch.register_callback("on_sync_point", print)
    with pytest.raises(TypeError, match="callable"):
        orch.register_callback("on_error", "print")  # type: ignore[arg-type]


def test_progress_before_during_and_after() -> None:
    """get_workflow_progress() reports 0 before, live counts during (from a callback thread), 100 after."""
    orch = orchestrator(SIMPLE)
    before = orch.get_workflow_progress()
    assert before["completion_percentage"] == 0
    assert before["workflow_state"] == "initialized"
    seen: list[dict] = []
    orch.register_callback(
        "on_stage_start", lambda _: seen.append(orch.get_workflow_progress())
    )
    orch.execute_workflow()
    assert seen[0]["workflow_state"] == "running"
    assert seen[0]["running_stages"] == ["one"]
    after = orch.get_workflow_progress()
    assert after["completion_percentage"] == 100
    assert after["workflow_state"] == "completed"
    assert after["tasks_summary"] == {
        "total": 3,
        "completed": 3,
        "running": 0,
        "failed": 0,
    }
    assert after["execution_time"] is not None
    assert (
        WorkflowOrchestrator(AGENTS).get_workflow_progress()["workflow_state"]
        == "not_loaded"
    )


def test_execute_stage_alone_and_its_errors() -> None:
    """execute_stage runs one stage; an unknown stage, unmet dependency or missing workflow is a WorkflowError."""
    orch = WorkflowOrchestrator(AGENTS)
    with pytest.raises(WorkflowError, match="no workflow loaded"):
        orch.execute_stage("one")
    orch.load_workflow(SIMPLE)
    with pytest.raises(WorkflowError, match="unknown stage 'nope'"):
        orch.execute_stage("nope")
    with pytest.raises(WorkflowError, match="'one', which has not completed"):
        orch.execute_stage("two")
    assert orch.execute_stage("one").success
    assert orch.execute_stage("two").outputs == ["echo:c"]


def test_results_to_dict_have_the_original_fields() -> None:
    """to_dict() gives the original's workflow and stage fields."""
    result = orchestrator(SIMPLE).execute_workflow()
    data = result.to_dict()
    assert {"success", "workflow_id", "stage_results", "execution_time"} <= set(data)
    assert data["workflow_id"].startswith("workflow_")
    stage_data = data["stage_results"][0]
    assert {
        "success",
        "stage",
        "execution_time",
        "tasks_executed",
        "outputs",
        "error",
    } <= set(stage_data)
    assert stage_data["tasks_executed"] == 2


def test_load_workflow_returns_the_original_shape_and_rejects_bad_configs() -> None:
    """load_workflow returns success/workflow_id/stages_count; a bad config changes nothing."""
    orch = WorkflowOrchestrator(AGENTS)
    loaded = orch.load_workflow(SIMPLE)
    assert loaded["success"] is True
    assert loaded["stages_count"] == 2
    with pytest.raises(WorkflowError, match="unknown agent 'ghost'"):
        orch.load_workflow({"stages": [stage("s", task("ghost"))]})
    assert orch.workflow is not None
    assert orch.workflow.name == "simple"


def test_load_workflow_while_running_is_refused() -> None:
    """Loading another workflow from a callback during a run raises RuntimeError."""
    orch = orchestrator(SIMPLE)
    orch.register_callback("on_stage_start", lambda _: orch.load_workflow(SIMPLE))
    with pytest.raises(RuntimeError, match="while a workflow is running"):
        orch.execute_workflow()


def test_constructor_checks_its_arguments() -> None:
    """Bad agents, max_concurrency or retry_wait fail at construction with the parameter's name."""
    with pytest.raises(TypeError, match="agents"):
        WorkflowOrchestrator(["echo"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="agents"):
        WorkflowOrchestrator({"x": 1})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="max_concurrency"):
        WorkflowOrchestrator(AGENTS, max_concurrency=0)
    with pytest.raises(TypeError, match="max_concurrency"):
        WorkflowOrchestrator(AGENTS, max_concurrency=True)
    with pytest.raises(ValueError, match="retry_wait"):
        WorkflowOrchestrator(AGENTS, retry_wait=-1)


def test_builtin_agents_by_default() -> None:
    """Without agents, the built-in SDK-backed team runs: sync, async and legacy (asyncio.run inside)."""
    orch = WorkflowOrchestrator(sdk=Perfect21SDK(latency=0))
    assert {"backend-architect", "api-designer", "business-analyst"} <= set(orch.agents)
    orch.load_workflow(
        {
            "stages": [
                stage(
                    "s",
                    task("backend-architect", "build the api"),
                    task("api-designer", "design it"),
                    task("business-analyst", "a shop"),
                )
            ]
        }
    )
    outputs = orch.execute_workflow().stage_results[0].outputs
    assert outputs[0] == "backend-architect: done: build the api"
    assert outputs[1] == "api-designer: drafted design it"
    assert outputs[2].startswith("business-analyst: ecommerce project")


def test_agent_returning_an_awaitable_is_awaited() -> None:
    """A sync agent that returns an awaitable gets it awaited on the loop."""

    def lazy(description: str):
        return async_echo(description)

    result = orchestrator(
        {"stages": [stage("s", task("lazy", "x"))]}, {"lazy": lazy}
    ).execute_workflow()
    assert result.stage_results[0].outputs == ["async:x"]
