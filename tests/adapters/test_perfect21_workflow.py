"""Workflow configuration checks, workflow files, the scheduler, the SDK and the decomposer."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asyncbridge.adapters.perfect21 import (
    ExecutionMode,
    Perfect21Error,
    Perfect21SDK,
    TaskComplexity,
    WorkflowError,
    decompose_task,
)
from asyncbridge.adapters.perfect21._files import (
    FileFormatError,
    read_tasks,
    read_workflow,
)
from asyncbridge.adapters.perfect21._schedule import Job, run_jobs, topological_order
from asyncbridge.adapters.perfect21._workflow import parse_workflow

AGENTS = ("a", "b", "c")


def config(*stages, **top):
    return {"stages": list(stages), **top}


def stage(name="s", tasks=None, **extra):
    return {
        "name": name,
        "tasks": tasks if tasks is not None else [{"agent": "a", "description": "d"}],
        **extra,
    }


@pytest.mark.parametrize(
    ("bad", "where", "problem"),
    [
        ([], "workflow", "expected a table"),
        ({"stages": [], "name": "x"}, "stages", "non-empty list of stages"),
        (config(stage(), colour="red"), "workflow", "unknown key 'colour'"),
        (config(stage(), global_context=[1]), "global_context", "expected a table"),
        (config(stage(name="")), "stages[0].name", "non-empty string"),
        (config({"tasks": []}), "stages[0].tasks", "non-empty list of tasks"),
        (
            config(stage(execution_mode="turbo")),
            "stages[0].execution_mode",
            "unknown mode 'turbo'",
        ),
        (config(stage(timeout=0)), "stages[0].timeout", "positive number"),
        (config(stage(timeout="soon")), "stages[0].timeout", "number of seconds"),
        (config(stage(timeout=True)), "stages[0].timeout", "number of seconds"),
        (config(stage(depends_on="x")), "stages[0].depends_on", "list of names"),
        (
            config(stage(thinking_mode=3)),
            "stages[0].thinking_mode",
            "expected a string",
        ),
        (config(stage(sync_point=[])), "stages[0].sync_point", "expected a table"),
        (
            config(stage(sync_point={"min_success_rate": 2})),
            "stages[0].sync_point.min_success_rate",
            "from 0 to 1",
        ),
        (
            config(stage(tasks=[{"agent": "zz", "description": "d"}])),
            "stages[0].tasks[0].agent",
            "unknown agent 'zz'",
        ),
        (
            config(stage(tasks=[{"agent": "a"}])),
            "stages[0].tasks[0]",
            "missing required key 'description'",
        ),
        (
            config(stage(tasks=[{"agent": "a", "description": "d", "timout": 3}])),
            "stages[0].tasks[0]",
            "unknown key 'timout'",
        ),
        (
            config(
                stage(tasks=[{"agent": "a", "description": "d", "max_retries": -1}])
            ),
            "stages[0].tasks[0].max_retries",
            ">= 0",
        ),
        (config(stage(tasks=["a"])), "stages[0].tasks[0]", "expected a table"),
        (
            config(
                stage(tasks=[{"agent": "a", "description": "d", "dependencies": ["b"]}])
            ),
            "stages[0].tasks[0].dependencies",
            "no task of this stage has agent 'b'",
        ),
        (
            config(
                stage(tasks=[{"agent": "a", "description": "d", "dependencies": ["a"]}])
            ),
            "stages[0].tasks[0].dependencies",
            "cannot depend on its own agent",
        ),
        (
            config(
                stage(
                    execution_mode="sequential",
                    tasks=[
                        {"agent": "a", "description": "d", "dependencies": ["b"]},
                        {"agent": "b", "description": "d"},
                    ],
                )
            ),
            "stages[0].tasks[0].dependencies",
            "listed before it",
        ),
        (
            config(
                stage(
                    tasks=[
                        {"agent": "a", "description": "d", "dependencies": ["b"]},
                        {"agent": "b", "description": "d", "dependencies": ["a"]},
                    ]
                )
            ),
            "stages[0].tasks",
            "dependency cycle: a -> b -> a",
        ),
        (config(stage("x"), stage("x")), "stages[1].name", "already used by stages[0]"),
        (
            config(stage("x", depends_on=["y"])),
            "stages[0].depends_on",
            "unknown stage 'y'",
        ),
        (
            config(
                stage("x", depends_on=["z"]),
                stage("y", depends_on=["x"]),
                stage("z", depends_on=["y"]),
            ),
            "stages",
            "dependency cycle: x -> z -> y -> x",
        ),
    ],
)
def test_invalid_configs_name_the_place_and_the_problem(bad, where, problem) -> None:
    """Every invalid configuration is a WorkflowError with its place and its problem."""
    with pytest.raises(WorkflowError) as caught:
        parse_workflow(bad, AGENTS)
    assert caught.value.where == where
    assert problem in caught.value.problem
    assert str(caught.value).startswith(where)


def test_defaults_and_original_keys() -> None:
    """Omitted keys take the original's defaults; every original key is accepted."""
    spec = parse_workflow(
        config(
            stage(
                "x",
                description="d",
                execution_mode="hybrid",
                sync_point={"type": "review"},
                quality_gate={"checklist": "a,b"},
                thinking_mode="deep",
                timeout=60,
                tasks=[
                    {
                        "agent": "a",
                        "description": "d",
                        "priority": 2,
                        "timeout": 5,
                        "max_retries": 0,
                        "dependencies": [],
                    }
                ],
            ),
            name="w",
            global_context={"k": 1},
        ),
        AGENTS,
    )
    assert spec.name == "w"
    assert spec.global_context == {"k": 1}
    assert spec.stages[0].execution_mode is ExecutionMode.HYBRID
    default = parse_workflow(config(stage()), AGENTS)
    assert default.name == "Unnamed Workflow"
    assert default.stages[0].execution_mode is ExecutionMode.PARALLEL
    assert default.stages[0].timeout == 1800
    assert default.stages[0].tasks[0].timeout == 300
    assert default.stages[0].tasks[0].max_retries == 3


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_files_json_and_toml(tmp_path) -> None:
    """A workflow reads from .json and .toml alike; batches from a list or a 'tasks' list."""
    data = config(stage())
    assert read_workflow(write(tmp_path, "w.json", json.dumps(data))) == data
    toml = '[[stages]]\nname = "s"\n[[stages.tasks]]\nagent = "a"\ndescription = "d"\n'
    assert read_workflow(write(tmp_path, "w.toml", toml)) == data
    assert read_tasks(write(tmp_path, "t.json", '[{"type": "task"}]')) == [
        {"type": "task"}
    ]
    assert read_tasks(write(tmp_path, "t.toml", '[[tasks]]\ntype = "task"\n')) == [
        {"type": "task"}
    ]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "w.json",
            '{"stages": [1,]}',
            "w.json: line 1, column 15: invalid JSON: Expecting value",
        ),
        (
            "w.toml",
            "[[stages]\n",
            "w.toml: line 1, column 9: invalid TOML: Expected ']]'",
        ),
        ("w.toml", 'a = "x\n', "w.toml: line 1, column 7: invalid TOML"),
        (
            "w.yaml",
            "stages: []",
            "w.yaml: unknown file type: give a .json or a .toml file",
        ),
        (
            "w.json",
            "[1, 2]",
            "w.json: expected a table (an object) at the top, got list",
        ),
    ],
)
def test_malformed_files_name_file_place_problem(tmp_path, name, text, message) -> None:
    """A malformed file's error names the file, the place and the problem."""
    with pytest.raises(FileFormatError) as caught:
        read_workflow(write(tmp_path, name, text))
    assert str(caught.value).startswith(str(tmp_path / name))
    assert message.split(": ", 1)[1] in str(caught.value)


def test_unreadable_files(tmp_path) -> None:
    """A missing file, non-UTF-8 text and a batch that is no list are clear errors."""
    with pytest.raises(FileFormatError, match="cannot read it"):
        read_workflow(tmp_path / "missing.json")
    path = tmp_path / "latin.json"
    path.write_bytes(b'{"name": "\xe9"}')
    with pytest.raises(FileFormatError, match="not UTF-8"):
        read_workflow(path)
    with pytest.raises(FileFormatError, match="expected a list of tasks"):
        read_tasks(write(tmp_path, "t.json", '{"tasks": 3}'))


def test_topological_order_keeps_listed_order_where_free() -> None:
    """Keys come after what they need, otherwise as listed; a cycle is a ValueError showing it."""
    assert topological_order(["c", "b", "a", "d"], {"c": ["b"], "b": ["a"]}) == [
        "a",
        "b",
        "c",
        "d",
    ]
    with pytest.raises(ValueError, match="a -> b -> a"):
        topological_order(["a", "b"], {"a": ["b"], "b": ["a"]})


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 12).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(
                st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=20
            ),
            st.integers(1, 4),
            st.permutations(range(n)),
        )
    )
)
def test_run_jobs_never_deadlocks_and_respects_needs(case) -> None:
    """Any acyclic graph, any listing order, any limit: every job runs once, after its needs."""
    n, edges, limit, listing = case
    needs = {
        i: frozenset(j for a, j in edges if a == i and j < i) for i in range(n)
    }  # acyclic
    order: list[int] = []

    def job(key: int) -> Job[int]:
        async def run(blocked_by: int | None) -> bool:
            assert blocked_by is None
            await anyio.sleep(0)
            order.append(key)
            return True

        return Job(key, needs[key], run)

    async def main() -> dict[int, bool]:
        with anyio.fail_after(10):
            return await run_jobs([job(k) for k in listing], limit=limit)

    assert anyio.run(main) == dict.fromkeys(range(n), True)
    assert sorted(order) == list(range(n))
    for key in range(n):
        assert all(order.index(need) < order.index(key) for need in needs[key])


def test_run_jobs_passes_the_failed_need_and_counts_finished() -> None:
    """A job whose need failed is told which; keys of `finished` count as done."""
    told: dict[str, object] = {}

    def job(key: str, needs: set[str], ok: bool) -> Job[str]:
        async def run(blocked_by: str | None) -> bool:
            told[key] = blocked_by
            return ok and blocked_by is None

        return Job(key, frozenset(needs), run)

    result = anyio.run(
        lambda: run_jobs(
            [job("b", {"a"}, True), job("c", {"x"}, True), job("d", {"y"}, True)],
            limit=2,
            finished={"a": False, "x": True, "y": False},
        )
    )
    assert told == {"b": "a", "c": None, "d": "y"}
    assert result["c"] is True
    assert result["b"] is False
    assert anyio.run(lambda: run_jobs([], limit=3)) == {}


def test_sdk_task_progress_failure_and_timeout() -> None:
    """The SDK's task reports its steps, fails on [fail] and past its timeout."""
    sdk = Perfect21SDK(latency=0.004, project_root="/srv/p21")
    steps: list[tuple[int, int]] = []
    result = sdk.task("x", verbose=True, progress=lambda s, t: steps.append((s, t)))
    assert result["success"] is True
    assert "4 steps" in result["stdout"]
    assert steps == [(1, 4), (2, 4), (3, 4), (4, 4)]
    with pytest.raises(Perfect21Error, match="task failed"):
        sdk.task("x [fail]")
    with pytest.raises(Perfect21Error, match=r"timed out after 0\.001 s"):
        sdk.task("x", timeout=0.001)
    assert sdk.status()["success"] is True
    assert sdk.git_workflow("create-feature", "x")["output"] == "git create-feature x"
    with pytest.raises(Perfect21Error, match="unknown git workflow action"):
        sdk.git_workflow("rebase-everything")
    assert sdk.calls == 6
    assert sdk.project_root == "/srv/p21"


def test_sdk_analyze_is_legacy_code() -> None:
    """analyze() runs asyncio.run inside: fine in plain code, RuntimeError inside a running loop."""
    sdk = Perfect21SDK(latency=0)
    assert sdk.analyze("a react ui").project_type == "frontend"

    async def main() -> None:
        sdk.analyze("x")

    with pytest.raises(
        RuntimeError, match="cannot be called from a running event loop"
    ):
        asyncio.run(main())


def test_sdk_checks_its_arguments() -> None:
    """A negative, infinite or non-number latency is refused with the parameter's name."""
    with pytest.raises(ValueError, match="latency"):
        Perfect21SDK(latency=-1)
    with pytest.raises(ValueError, match="latency"):
        Perfect21SDK(latency=float("inf"))
    with pytest.raises(TypeError, match="startup"):
        Perfect21SDK(startup="1")  # type: ignore[arg-type]


def test_decompose_task() -> None:
    """Keywords pick a project type and team, sorted by priority; complex work runs hybrid."""
    shop = decompose_task("Build a shop with payments")
    assert shop.project_type == "ecommerce"
    assert shop.complexity is TaskComplexity.COMPLEX
    assert shop.execution_mode == "hybrid"
    assert [t.priority for t in shop.agent_tasks] == sorted(
        t.priority for t in shop.agent_tasks
    )
    assert shop.estimated_total_time == sum(t.estimated_time for t in shop.agent_tasks)
    plain = decompose_task("tidy up")
    assert plain.required_agents == ["fullstack-engineer"]
    assert plain.execution_mode == "parallel"
    with pytest.raises(TypeError, match="description"):
        decompose_task(3)  # type: ignore[arg-type]
