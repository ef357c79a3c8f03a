"""The ``perfect21`` command line: run a workflow file or a batch of tasks.

``python -m asyncbridge.adapters.perfect21`` (or the ``perfect21`` script). Sync
code from top to bottom, as a CLI is: the async work runs through the
orchestrator's sync twin and `AsyncCliWrapper.run_async_safe`, on asyncbridge's
long-lived portal loop, never a loop per call. Exit status: 0 when every task
succeeded, 1 when one failed (or a batch was empty), 2 when the command line or
a file is wrong (the message names the file, the place and the problem).
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ._agents import agent_kind, builtin_agents
from ._files import FileFormatError, read_tasks, read_workflow
from ._naive import run_naively
from ._orchestrator import WorkflowOrchestrator
from ._progress import Reporter, make_reporter
from ._results import TaskStatus, WorkflowResult
from ._sdk import FAIL_MARKER, Perfect21SDK
from ._workflow import WorkflowError
from ._wrapper import TASK_TYPES, AsyncCliWrapper

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["build_parser", "main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

_DESCRIPTION = """\
Run Perfect21 workflows and task batches with asyncbridge.

A workflow is stages of tasks; each task names an agent (see `perfect21 agents`).
Sync agents (blocking, or legacy code running its own event loop) run in worker
threads and async agents on one shared event loop, so independent work overlaps
instead of waiting in line.
"""

_EPILOG = f"""\
examples:
  perfect21 run examples/perfect21/workflow.toml
  perfect21 run flow.json --compare      # the naive way, then the bridged way
  perfect21 batch examples/perfect21/batch.json --json

the simulated agents fail any task whose description contains {FAIL_MARKER!r}.

exit status: 0 every task succeeded; 1 a task failed; 2 bad command line or file.
"""

_WORKFLOW_HELP = """\
a .json or .toml workflow: name, global_context, and stages, each with name,
execution_mode (sequential, parallel, parallel_then_sync, hybrid), depends_on,
timeout, and tasks (agent, description, priority, timeout, max_retries,
dependencies)"""


def build_parser() -> argparse.ArgumentParser:
    """Return the command line's parser (``--help`` text included)."""
    parser = argparse.ArgumentParser(
        prog="perfect21",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--max-concurrency",
            type=int,
            default=8,
            metavar="N",
            help="most tasks running at once (default: %(default)s)",
        )
        sub.add_argument(
            "--latency",
            type=float,
            default=0.2,
            metavar="SECONDS",
            help="how long each simulated SDK call blocks (default: %(default)s)",
        )
        sub.add_argument(
            "--plain", action="store_true", help="plain lines, even on a terminal"
        )
        sub.add_argument(
            "--json", action="store_true", help="print the result as JSON only"
        )

    run = commands.add_parser(
        "run",
        help="run a workflow file",
        description="Run a workflow file: independent stages at once, dependent ones in order.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("workflow", type=Path, metavar="WORKFLOW", help=_WORKFLOW_HELP)
    how = run.add_mutually_exclusive_group()
    how.add_argument(
        "--naive",
        action="store_true",
        help="run the 'before' way: one task at a time, blocking, a new loop per async call",
    )
    how.add_argument(
        "--compare",
        action="store_true",
        help="run naively, then bridged, and compare the times",
    )
    common(run)

    batch = commands.add_parser(
        "batch",
        help="run a batch of independent tasks",
        description="Run a list of tasks at once. Task types:\n"
        + "\n".join(f"  {kind:<9} {what}" for kind, what in TASK_TYPES.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    batch.add_argument(
        "tasks",
        type=Path,
        metavar="TASKS",
        help="a .json list of tasks, or a .toml file of [[tasks]]",
    )
    common(batch)

    commands.add_parser(
        "agents", help="list the built-in agents and whether each is sync or async"
    )
    return parser


def _sdk(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Perfect21SDK:
    if args.max_concurrency < 1:
        parser.error(
            f"--max-concurrency must be at least 1, got {args.max_concurrency}"
        )
    try:
        return Perfect21SDK(latency=args.latency)
    except ValueError as exc:
        parser.error(f"--latency: {exc}")


def _task_text(stage: str, agent: str, status: TaskStatus, thread: str | None) -> str:
    return f"{status.value:<9} {stage}/{agent}  on {thread or '-'}"


def _show_workflow(result: WorkflowResult, label: str, reporter: Reporter) -> None:
    rows = [
        (
            task.stage,
            task.agent,
            task.kind,
            task.thread or "-",
            task.status.value,
            str(task.attempts),
            f"{task.execution_time:.2f} s",
        )
        for task in result.tasks
    ]
    headers = ("stage", "agent", "kind", "ran on", "status", "tries", "time")
    reporter.table(f"{result.workflow_name}: {label}", headers, rows)
    for stage in result.stage_results:
        if stage.error:
            reporter.line(f"stage {stage.stage!r}: {stage.error}")
            for task in stage.tasks:
                if task.status is TaskStatus.FAILED:
                    reporter.line(f"  {task.agent}: {task.error}")
    done = sum(t.status is TaskStatus.COMPLETED for t in result.tasks)
    reporter.line(
        f"{label}: {len(result.tasks)} tasks in {len(result.stage_results)} stages, "
        f"{done} completed, {len(result.tasks) - done} not, in {result.execution_time:.2f} s"
    )


def _run_workflow(args: argparse.Namespace, sdk: Perfect21SDK, out: TextIO) -> int:
    agents = builtin_agents(sdk)
    orchestrator = WorkflowOrchestrator(agents, max_concurrency=args.max_concurrency)
    try:
        orchestrator.load_workflow(read_workflow(args.workflow))
    except WorkflowError as exc:
        raise FileFormatError(args.workflow, exc.where, exc.problem) from None
    spec = orchestrator.workflow
    assert spec is not None  # noqa: S101 - loaded just above
    total = sum(len(stage.tasks) for stage in spec.stages)
    reporter = make_reporter(out, plain=args.plain)
    results: list[tuple[str, WorkflowResult]] = []

    def quiet(*_: Any) -> None:
        pass

    if args.naive or args.compare:
        label = "naive (serial, blocking)"
        if not args.json:
            reporter.start(label, total)
        result = run_naively(
            spec,
            agents,
            on_task_done=quiet
            if args.json
            else lambda t: reporter.advance(
                _task_text(t.stage, t.agent, t.status, t.thread)
            ),
        )
        reporter.stop()
        results.append((label, result))
    if not args.naive:
        label = f"bridged (asyncbridge, up to {args.max_concurrency} at once)"
        if not args.json:
            orchestrator.register_callback(
                "on_task_complete",
                lambda event: reporter.advance(
                    _task_text(
                        event["stage"],
                        event["task"]["agent"],
                        TaskStatus(event["task"]["status"]),
                        event["task"]["thread"],
                    )
                ),
            )
            reporter.start(label, total)
        try:
            result = orchestrator.execute_workflow()
        finally:
            reporter.stop()
        results.append((label, result))
    if args.json:
        payload = {label: result.to_dict() for label, result in results}
        print(
            json.dumps(
                payload if len(results) > 1 else payload[results[0][0]],
                indent=2,
                default=str,
            ),
            file=out,
        )
    else:
        for label, result in results:
            _show_workflow(result, label, reporter)
        if len(results) > 1:
            (_, naive), (_, bridged) = results
            ratio = naive.execution_time / max(bridged.execution_time, 1e-9)
            reporter.line(
                f"naive {naive.execution_time:.2f} s, bridged {bridged.execution_time:.2f} s: "
                f"{ratio:.1f}x faster, same results"
                if naive.success == bridged.success
                else f"naive {naive.execution_time:.2f} s, bridged {bridged.execution_time:.2f} s"
            )
    return EXIT_OK if all(result.success for _, result in results) else EXIT_FAILED


def _run_batch(args: argparse.Namespace, sdk: Perfect21SDK, out: TextIO) -> int:
    tasks = read_tasks(args.tasks)
    wrapper = AsyncCliWrapper(sdk=sdk, max_concurrency=args.max_concurrency)
    reporter = make_reporter(out, plain=args.plain)
    if not args.json:
        reporter.start(f"batch {args.tasks.name}", len(tasks))

    def progress(done: int, total: int) -> None:
        if not args.json:
            reporter.advance(f"{done} of {total} tasks finished")

    try:
        result = wrapper.run_async_safe(
            wrapper.batch_execute_tasks(tasks, on_progress=progress)
        )
    finally:
        reporter.stop()
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, default=str), file=out)
    else:
        rows = [
            (
                str(entry["task_index"]),
                str(entry["type"]),
                entry["status"]
                if entry["success"] or entry["status"] != "ok"
                else "unsuccessful",
                f"{entry['duration']:.2f} s",
                textwrap.shorten(str(entry.get("error") or entry.get("result")), 70),
            )
            for entry in result.results
        ]
        reporter.table(
            f"batch {args.tasks.name}", ("#", "type", "status", "time", "result"), rows
        )
        if result.status == "empty":
            reporter.line(f"{args.tasks}: the batch is empty, nothing ran")
        else:
            reporter.line(
                f"{result.successful_tasks} of {result.total_tasks} tasks succeeded"
            )
    return EXIT_OK if result.success else EXIT_FAILED


def _list_agents(out: TextIO) -> int:
    reporter = make_reporter(out, plain=True)
    agents = builtin_agents(Perfect21SDK(latency=0))
    reporter.table(
        "built-in agents",
        ("agent", "kind"),
        [(n, agent_kind(a)) for n, a in agents.items()],
    )
    return EXIT_OK


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run the command line with *argv*; return the exit status.

    Args:
        argv: the arguments (``sys.argv[1:]`` when None).
        stdout: where results go (``sys.stdout`` when None).
        stderr: where errors go (``sys.stderr`` when None).

    Raises:
        SystemExit: for ``--help`` and command-line errors (status 2), as argparse does.
    """
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "agents":
        return _list_agents(out)
    sdk = _sdk(args, parser)
    try:
        if args.command == "run":
            return _run_workflow(args, sdk, out)
        return _run_batch(args, sdk, out)
    except FileFormatError as exc:
        print(f"perfect21: error: {exc}", file=err)
        return EXIT_USAGE
