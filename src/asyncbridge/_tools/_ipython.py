"""``%load_ext asyncbridge``: every notebook cell can call async code synchronously.

In a Jupyter kernel, cells run on the kernel's asyncio loop, so `run_sync` in a
cell would block that loop (and warn). The extension, through IPython's public
extension and hook API only, makes each cell run in a task prepared for greenlet
re-entry and sets ``on_loop_conflict="greenlet"``, so sync calls in a cell run on
the kernel's own loop without blocking it:

* a task factory on the kernel's loop prepares every task created from then on;
* ipykernel runs a cell in a task of its own only when the cell contains a
  top-level ``await``: an input transformer (``input_transformers_post``) appends
  one line, ``await __asyncbridge_cell__()``, to each top-level cell, and an AST
  transformer (``ast_transformers``) removes that statement again before the cell
  runs, so nothing of it executes, line numbers stay as typed, and the cell's last
  expression is still displayed. A cell run from inside another cell (``%rerun``,
  ``get_ipython().run_cell``) is left alone: the ``pre_execute`` /
  ``post_execute`` events tell when one is running.

Without the extension, `LoopBlockedWarning` in an IPython session is warned once
per session, with the hint to load it: IPython compiles each cell as new code, so
the `warnings` module's once-per-call-site rule would repeat it in every cell.

IPython is imported lazily (by IPython itself, which calls these functions).
"""

from __future__ import annotations

import ast
import asyncio
import signal
import sys
import threading
import warnings
from typing import TYPE_CHECKING, Any, Final

from asyncbridge._backends._greenlet import (
    current_runner,
    install_task_factory,
    interrupt,
    require_greenlet,
)
from asyncbridge._core._config import configure
from asyncbridge._core._detect import running_asyncio_loop, user_stacklevel
from asyncbridge._core._errors import LoopBlockedWarning
from asyncbridge._engine._route import BLOCKED_WARNING_HANDLERS

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["load_ipython_extension", "unload_ipython_extension", "warn_in_session"]

MARKER: Final = "__asyncbridge_cell__"
_LINE: Final = f"await {MARKER}()\n"
LOAD_HINT: Final = (
    "; in a notebook, run `%load_ext asyncbridge` once: cells then run async code "
    "synchronously on the kernel's own loop, without blocking it (this warning is "
    "shown once per session)"
)


async def _cell_marker() -> None:
    """What the marker line awaits if it ever runs (it is removed before)."""


class _Extension:
    """What `load_ipython_extension` installed, to undo it."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.depth = 0  # cells running now (a cell run from inside another: 2)
        self.undo: list[Callable[[], object]] = []
        self.loop: asyncio.AbstractEventLoop | None = None  # has our task factory
        self.cell: tuple[asyncio.Task[Any], Any] | None = None  # interruptible now
        self.saved_handler: Any = None  # the SIGINT handler before this cell's

    def prepare_loop(self) -> None:
        """Install the task factory on the running loop, once."""
        loop = running_asyncio_loop()
        if loop is not None and self.loop is None:
            self.loop = loop
            self.undo.append(install_task_factory(loop))

    def mark(self, lines: list[str]) -> list[str]:
        """Input transformer: make a top-level cell async by one appended line.

        Only where cells run on a loop (a kernel): in terminal IPython a sync cell
        runs outside any loop, and making it async would put it on one.
        """
        if (
            self.depth
            or running_asyncio_loop() is None
            or not any(line.strip() for line in lines)
        ):
            return lines
        self.prepare_loop()  # before ipykernel creates the cell's task
        last = lines[-1]
        if last.rstrip().endswith("\\"):  # a continuation: the cell is invalid anyway
            return lines
        if not last.endswith("\n"):
            lines = [*lines[:-1], last + "\n"]
        return [*lines, _LINE]

    def pre_execute(self) -> None:
        self.depth += 1
        self.prepare_loop()  # loaded at start-up, before the kernel's loop ran
        if self.depth == 1:
            self.catch_interrupts()

    def post_execute(self) -> None:
        # Paired with pre_execute, except for empty cells (post only): never < 0.
        self.depth = max(0, self.depth - 1)
        if self.depth == 0 and self.cell is not None:
            signal.signal(signal.SIGINT, self.saved_handler)
            self.cell = None

    def catch_interrupts(self) -> None:
        """Make Ctrl-C (the kernel's interrupt) stop this cell, in its task.

        ipykernel runs a cell with a top-level ``await`` (each cell, with the
        extension) under a SIGINT handler that cancels the cell's future, which
        cannot stop sync code and, in ipykernel 7, does not stop an awaiting cell
        either. While the cell runs, this handler takes over: KeyboardInterrupt
        where the cell's own code runs, else delivered into the cell's task where
        it awaits (a re-entered coroutine included), as Ctrl-C does a sync cell.
        """
        runner = current_runner()
        task = asyncio.current_task() if running_asyncio_loop() else None
        if (
            runner is None
            or task is None
            or threading.current_thread() is not threading.main_thread()
        ):
            return
        self.cell = (task, runner)
        self.saved_handler = signal.signal(signal.SIGINT, self.on_sigint)

    def on_sigint(self, _signum: int, _frame: object) -> None:
        cell = self.cell
        if cell is None:  # pragma: no cover  (the handler is removed with the cell)
            return
        task, runner = cell
        if current_runner() is runner:  # the cell's own code is running
            raise KeyboardInterrupt
        interrupt(task, runner)


class _Unmark(ast.NodeTransformer):
    """AST transformer: drop the marker statement the input transformer added."""

    def visit_Module(self, node: ast.Module) -> ast.Module:
        body = node.body
        if body and _is_marker(body[-1]):
            del body[-1]
        return node


def _is_marker(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Await)
        and isinstance(call := stmt.value.value, ast.Call)
        and isinstance(call.func, ast.Name)
        and call.func.id == MARKER
        and not call.args
    )


_loaded: _Extension | None = None
_warned = False  # LoopBlockedWarning already shown in this IPython session


def load_ipython_extension(ipython: Any) -> None:
    """Let every notebook cell call async code synchronously on the kernel's loop.

    Called by IPython for ``%load_ext asyncbridge``. From the next cell on, each
    cell runs in a task prepared for greenlet re-entry, and ``on_loop_conflict`` is
    ``"greenlet"``: `run_sync`, `syncify` wrappers, `async_safe` functions and
    `DualInterface` sync twins called in a cell run on the kernel's own loop,
    without warning, while the loop keeps serving its other tasks, so objects
    bound to that loop (created by ``await`` in an earlier cell) work.
    ``%unload_ext asyncbridge`` undoes it.

    Args:
        ipython: the IPython shell (IPython passes it).

    It may also be loaded at start-up (``c.InteractiveShellApp.extensions``). In
    terminal IPython, where a sync cell runs outside any loop (so `run_sync` there
    blocks nothing), it applies to the cells that ``await``.

    Raises:
        ModuleNotFoundError: greenlet is not installed (``pip install
            'asyncbridge[greenlet]'``).

    Example:
        >>> import asyncbridge as ab
        >>> callable(ab.load_ipython_extension)
        True
    """
    global _loaded  # noqa: PLW0603  (one extension per process, as IPython has one shell)
    if _loaded is not None:
        return
    require_greenlet()
    extension = _Extension(ipython)
    unmark = _Unmark()
    extension.prepare_loop()
    previous = configure(on_loop_conflict="greenlet")
    extension.undo.append(lambda: configure(**previous))
    ipython.input_transformers_post.append(extension.mark)
    extension.undo.append(
        lambda: ipython.input_transformers_post.remove(extension.mark)
    )
    ipython.ast_transformers.append(unmark)
    extension.undo.append(lambda: _discard(ipython.ast_transformers, unmark))
    ipython.events.register("pre_execute", extension.pre_execute)
    ipython.events.register("post_execute", extension.post_execute)
    extension.undo.append(
        lambda: ipython.events.unregister("pre_execute", extension.pre_execute)
    )
    extension.undo.append(
        lambda: ipython.events.unregister("post_execute", extension.post_execute)
    )
    ipython.push({MARKER: _cell_marker}, interactive=False)
    extension.undo.append(lambda: ipython.user_ns.pop(MARKER, None))
    # Loaded by a cell (on the kernel's loop): its post_execute comes next.
    extension.depth = 0 if extension.loop is None else 1
    _loaded = extension


def unload_ipython_extension(ipython: Any) -> None:
    """Undo `load_ipython_extension` (IPython calls it for ``%unload_ext``).

    Tasks already prepared stay so; new cells run as before the extension, and
    ``on_loop_conflict`` gets its previous value back.

    Args:
        ipython: the IPython shell (IPython passes it).

    Example:
        >>> import asyncbridge as ab
        >>> callable(ab.unload_ipython_extension)
        True
    """
    global _loaded
    extension, _loaded = _loaded, None
    if extension is None or extension.shell is not ipython:
        return
    for undo in reversed(extension.undo):
        undo()


def _discard(items: list[Any], item: object) -> None:
    # IPython drops an AST transformer that raised; ours may be gone already.
    if item in items:
        items.remove(item)


def warn_in_session(message: str) -> bool:
    """Warn `LoopBlockedWarning` IPython's way: once per session, with the hint.

    Returns:
        False outside an IPython session (the caller warns as usual), True when
        the warning was handled here (shown now, or already shown before).
    """
    global _warned  # noqa: PLW0603
    ipython_module = sys.modules.get("IPython")
    if ipython_module is None or ipython_module.get_ipython() is None:
        return False
    if _warned:
        return True
    hint = "" if _loaded is not None else LOAD_HINT
    warnings.warn(message + hint, LoopBlockedWarning, stacklevel=user_stacklevel())
    _warned = True  # only once shown: a warning turned into an error repeats
    return True


BLOCKED_WARNING_HANDLERS.append(warn_in_session)
