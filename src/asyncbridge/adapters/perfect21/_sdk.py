"""`Perfect21SDK`: the legacy, blocking SDK the other adapters wrap.

It stands for code users cannot change: every method blocks the calling thread
for a while (the original SDK ran a subprocess per call), and :meth:`analyze`
drives an event loop of its own with ``asyncio.run``, as old SDKs do, so it
raises ``RuntimeError`` wherever a loop is already running in the thread.

The adapters never edit this class; they call it the way asyncbridge says to:
from async code in worker threads (``ab.run_in_thread`` / ``ab.asyncify``), never
on the loop. That is the seed's defect "blocking calls ran on the loop", avoided
by the callers rather than here.

What it does differently from the original on purpose: a failed task raises
:class:`Perfect21Error` instead of returning ``{'success': False, ...}``, so a
failure can never be mistaken for a result.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._analysis import TaskAnalysis, decompose_task
from ._checks import check_seconds

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["FAIL_MARKER", "Perfect21Error", "Perfect21SDK"]

#: A task whose description contains this text fails (for demos and tests).
FAIL_MARKER = "[fail]"

_STEPS = 4


class Perfect21Error(Exception):
    """Raised by `Perfect21SDK` when a task fails or runs past its timeout."""


class Perfect21SDK:
    """A small legacy sync SDK: blocking methods that take real time.

    Args:
        project_root: the Perfect21 project directory (kept for the original's
            shape; the current directory by default).
        latency: seconds each call blocks its thread (``task`` in four steps).
        startup: seconds the constructor blocks, as a real SDK's set-up does.

    Raises:
        TypeError: *latency* or *startup* is not a number.
        ValueError: *latency* or *startup* is negative or infinite.

    >>> Perfect21SDK(latency=0).task("write the README")["success"]
    True
    """

    def __init__(
        self,
        project_root: str | None = None,
        *,
        latency: float = 0.05,
        startup: float = 0.0,
    ) -> None:
        self.latency = check_seconds(latency, "Perfect21SDK()", "latency")
        time.sleep(check_seconds(startup, "Perfect21SDK()", "startup"))
        self.project_root = project_root or str(Path.cwd())
        self._lock = threading.Lock()
        self._calls = 0

    @property
    def calls(self) -> int:
        """How many SDK calls have started (thread-safe)."""
        return self._calls

    def _count(self) -> None:
        with self._lock:
            self._calls += 1

    def task(
        self,
        description: str,
        timeout: float = 300,
        verbose: bool = False,
        progress: Callable[[int, int], object] | None = None,
    ) -> dict[str, Any]:
        """Run a development task; block until it is done.

        Args:
            description: what to do. Contains ``[fail]``: the task fails.
            timeout: seconds the task may take; past it the task fails.
            verbose: put more detail in ``stdout``.
            progress: called as ``progress(step, total)`` from this thread after
                each of the task's steps.

        Returns:
            The original's result dict: ``success``, ``stdout``, ``stderr``,
            ``returncode``.

        Raises:
            Perfect21Error: the task failed or ran past *timeout*.
        """
        self._count()
        for step in range(1, _STEPS + 1):
            elapsed = self.latency * step / _STEPS
            if elapsed > timeout:
                time.sleep(max(0.0, timeout - self.latency * (step - 1) / _STEPS))
                msg = f"task timed out after {timeout} s: {description}"
                raise Perfect21Error(msg)
            time.sleep(self.latency / _STEPS)
            if progress is not None:
                progress(step, _STEPS)
        if FAIL_MARKER in description:
            msg = f"task failed: {description}"
            raise Perfect21Error(msg)
        detail = f" ({_STEPS} steps, {self.latency:.3f} s)" if verbose else ""
        return {
            "success": True,
            "stdout": f"done: {description}{detail}",
            "stderr": "",
            "returncode": 0,
        }

    def analyze(self, description: str) -> TaskAnalysis:
        """Split a task into agent tasks, the old way: with ``asyncio.run`` inside.

        Raises:
            RuntimeError: called in a thread whose event loop is running
                (``asyncio.run() cannot be called from a running event loop``).
        """
        self._count()

        async def analyze_async() -> TaskAnalysis:
            await asyncio.sleep(self.latency)
            return decompose_task(description)

        coro = analyze_async()
        try:
            return asyncio.run(coro)
        finally:
            coro.close()  # unstarted when asyncio.run refused: close it, no warning

    def status(self) -> dict[str, Any]:
        """Report whether Perfect21 is available (blocks like every call)."""
        self._count()
        time.sleep(self.latency)
        return {"success": True, "output": "Perfect21 is ready", "error": None}

    def git_workflow(self, action: str, *args: str) -> dict[str, Any]:
        """Run a git workflow action (``create-feature``, ``merge-to-main``, ...).

        Raises:
            Perfect21Error: the action is not one the SDK knows.
        """
        self._count()
        time.sleep(self.latency)
        known = ("create-feature", "create-release", "merge-to-main", "status")
        if action not in known:
            msg = f"unknown git workflow action {action!r} (known: {', '.join(known)})"
            raise Perfect21Error(msg)
        return {"success": True, "output": f"git {action} {' '.join(args)}".strip()}
