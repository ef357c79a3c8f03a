"""The perfect21 command line: as a subprocess (exit codes, messages) and in-process."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from asyncbridge.adapters.perfect21._cli import main
from asyncbridge.adapters.perfect21._progress import PlainReporter, make_reporter

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "perfect21" / "workflow.toml"
BATCH = ROOT / "examples" / "perfect21" / "batch.json"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "error", "-m", "asyncbridge.adapters.perfect21", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def write(tmp_path: Path, name: str, data: object) -> Path:
    path = tmp_path / name
    path.write_text(
        data if isinstance(data, str) else json.dumps(data), encoding="utf-8"
    )
    return path


def test_good_workflow_file_exits_0() -> None:
    """A good workflow runs to exit 0, saying what ran where and how long it took."""
    proc = cli("run", str(EXAMPLE), "--latency", "0.01")
    assert proc.returncode == 0, proc.stderr
    assert "asyncbridge-portal" in proc.stdout  # async agents on the portal loop
    assert "asyncbridge-default" in proc.stdout  # sync agents in worker threads
    assert "12 tasks in 4 stages, 12 completed, 0 not" in proc.stdout


def test_failing_task_exits_1(tmp_path) -> None:
    """A workflow with a failing task exits 1 and shows the task's error."""
    flow = write(
        tmp_path,
        "fail.json",
        {
            "stages": [
                {
                    "name": "s",
                    "tasks": [
                        {
                            "agent": "test-engineer",
                            "description": "x [fail]",
                            "max_retries": 0,
                        }
                    ],
                }
            ]
        },
    )
    proc = cli("run", str(flow), "--latency", "0")
    assert proc.returncode == 1
    assert "Perfect21Error: task failed: x [fail]" in proc.stdout


def test_malformed_file_exits_2_naming_file_place_problem(tmp_path) -> None:
    """A malformed file exits 2 with a message naming the file, the place and the problem."""
    syntax = write(tmp_path, "bad.toml", '[[stages]]\nname = "s"\ntimeout = \n')
    proc = cli("run", str(syntax))
    assert proc.returncode == 2
    assert proc.stderr.startswith(
        f"perfect21: error: {syntax}: line 3, column 11: invalid TOML"
    )
    content = write(
        tmp_path,
        "bad.json",
        {
            "stages": [
                {
                    "name": "s",
                    "tasks": [
                        {
                            "agent": "test-engineer",
                            "description": "x",
                            "timeout": "soon",
                        }
                    ],
                }
            ]
        },
    )
    proc = cli("run", str(content))
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"perfect21: error: {content}: stages[0].tasks[0].timeout: "
        "expected a number of seconds, got str 'soon'"
    )


def test_help_explains_for_newcomers() -> None:
    """--help says what it does, shows examples and the exit codes."""
    proc = cli("--help")
    assert proc.returncode == 0
    for text in (
        "Run Perfect21 workflows",
        "examples:",
        "exit status",
        "perfect21 agents",
    ):
        assert text in proc.stdout
    run_help = " ".join(cli("run", "--help").stdout.split())
    assert (
        "execution_mode (sequential, parallel, parallel_then_sync, hybrid)" in run_help
    )


def run_main(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_compare_runs_both_and_reports_the_speed_up() -> None:
    """--compare runs naively then bridged and prints both tables and the ratio."""
    code, out, _ = run_main("run", str(EXAMPLE), "--compare", "--latency", "0.01")
    assert code == 0
    assert "naive (serial, blocking): 12 tasks" in out
    assert "MainThread (asyncio.run)" in out
    assert "x faster, same results" in out


def test_naive_and_json() -> None:
    """--naive --json prints the naive result as JSON only."""
    code, out, _ = run_main("run", str(EXAMPLE), "--naive", "--json", "--latency", "0")
    assert code == 0
    data = json.loads(out)
    assert data["success"] is True
    assert data["workflow_id"] == "naive"
    code, out, _ = run_main(
        "run", str(EXAMPLE), "--compare", "--json", "--latency", "0"
    )
    assert set(json.loads(out)) == {
        "naive (serial, blocking)",
        "bridged (asyncbridge, up to 8 at once)",
    }


def test_naive_run_reports_failures_and_skips(tmp_path) -> None:
    """The naive runner records a failure and skips the stages that depended on it."""
    flow = write(
        tmp_path,
        "f.json",
        {
            "stages": [
                {
                    "name": "a",
                    "tasks": [{"agent": "api-designer", "description": "x [fail]"}],
                },
                {
                    "name": "b",
                    "depends_on": ["a"],
                    "tasks": [{"agent": "test-engineer", "description": "y"}],
                },
            ]
        },
    )
    code, out, _ = run_main("run", str(flow), "--naive", "--latency", "0")
    assert code == 1
    assert "skipped: stage 'a' did not complete" in out


def test_batch_command(tmp_path) -> None:
    """batch runs a task file; a failed task exits 1, an empty batch says so and exits 1."""
    code, out, _ = run_main("batch", str(BATCH), "--latency", "0")
    assert code == 0
    assert "4 of 4 tasks succeeded" in out
    code, out, _ = run_main(
        "batch", str(write(tmp_path, "t.json", [{"type": "nope"}])), "--latency", "0"
    )
    assert code == 1
    assert "unknown task type 'nope'" in out
    code, out, _ = run_main(
        "batch", str(write(tmp_path, "e.toml", "tasks = []\n")), "--json"
    )
    assert code == 1
    assert json.loads(out)["status"] == "empty"
    code, out, _ = run_main("batch", str(write(tmp_path, "e.json", "[]")))
    assert "the batch is empty, nothing ran" in out


def test_agents_command_lists_kinds() -> None:
    """`perfect21 agents` lists the built-in agents with sync/async."""
    code, out, _ = run_main("agents")
    assert code == 0
    assert "api-designer" in out
    assert "async" in out


def test_bad_options_and_files() -> None:
    """Bad options exit 2 through argparse; an unknown file type is a clear error."""
    with pytest.raises(SystemExit) as exited:
        run_main("run", str(EXAMPLE), "--max-concurrency", "0")
    assert exited.value.code == 2
    with pytest.raises(SystemExit):
        run_main("run", str(EXAMPLE), "--latency", "-1")
    code, _, err = run_main("run", "flow.yaml")
    assert code == 2
    assert "flow.yaml: unknown file type" in err


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_reporters_rich_on_a_terminal_plain_elsewhere() -> None:
    """A terminal gets the rich reporter (progress bar, table); a pipe or --plain plain lines."""
    assert isinstance(make_reporter(io.StringIO()), PlainReporter)
    assert isinstance(make_reporter(Terminal(), plain=True), PlainReporter)
    stream = Terminal()
    reporter = make_reporter(stream)
    assert not isinstance(reporter, PlainReporter)
    reporter.start("run", 2)
    reporter.advance("one done")
    reporter.advance("two done")
    reporter.stop()
    reporter.table("summary", ("a", "b"), [("1", "2")])
    reporter.line("the end")
    text = stream.getvalue()
    for part in ("one done", "summary", "the end", "2/2"):
        assert part in text


def test_plain_reporter_lines() -> None:
    """The plain reporter numbers each step and aligns table columns."""
    stream = io.StringIO()
    reporter = PlainReporter(stream)
    reporter.start("title", 10)
    reporter.advance("first")
    reporter.table("t", ("col", "x"), [("longer value", "1")])
    assert stream.getvalue().splitlines() == [
        "title (10 tasks)",
        "  [ 1/10] first",
        "t",
        "  col           x",
        "  longer value  1",
    ]
