"""Progress and summary tables for the command line: rich on a terminal, plain lines elsewhere.

``rich`` (the ``cli`` extra) draws a live progress bar and a table when stdout is
a terminal; when it is not (a pipe, a file, CI) or rich is not installed, the
same information comes as plain lines, one per finished task, so logs stay
readable and ``grep``-able. Progress calls may come from any thread.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Protocol, TextIO

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import ModuleType

__all__ = ["PlainReporter", "Reporter", "make_reporter"]


class Reporter(Protocol):
    """Where the command line reports progress and results."""

    def start(self, title: str, total: int) -> None:
        """Begin a run of *total* steps."""

    def advance(self, text: str) -> None:
        """Record one finished step, described by *text*."""

    def stop(self) -> None:
        """End the run's progress display."""

    def table(
        self, title: str, headers: Sequence[str], rows: Sequence[Sequence[str]]
    ) -> None:
        """Show a table."""

    def line(self, text: str) -> None:
        """Show a line of text."""


class PlainReporter:
    """Plain lines on *stream*: ``[ 3/12] text`` per step, tables as aligned columns."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._lock = threading.Lock()
        self._done = self._total = 0

    def start(self, title: str, total: int) -> None:
        """Print the run's title."""
        self._done, self._total = 0, total
        self.line(f"{title} ({total} tasks)")

    def advance(self, text: str) -> None:
        """Print one line for a finished step."""
        with self._lock:
            self._done += 1
            width = len(str(self._total))
            self.line(f"  [{self._done:>{width}}/{self._total}] {text}")

    def stop(self) -> None:
        """Nothing to undo for plain lines."""

    def table(
        self, title: str, headers: Sequence[str], rows: Sequence[Sequence[str]]
    ) -> None:
        """Print *rows* under *headers* in aligned columns."""
        widths = [
            max(len(str(c)) for c in column)
            for column in zip(headers, *rows, strict=True)
        ]
        self.line(title)
        for row in (headers, *rows):
            self.line(
                "  "
                + "  ".join(
                    str(c).ljust(w) for c, w in zip(row, widths, strict=True)
                ).rstrip()
            )

    def line(self, text: str) -> None:
        """Print *text*."""
        print(text, file=self.stream, flush=True)


class _RichReporter:
    """A live progress bar and rich tables (rich is thread-safe)."""

    def __init__(self, stream: TextIO, rich: dict[str, ModuleType]) -> None:
        self._rich = rich
        self.console = rich["console"].Console(file=stream)
        self._progress: Any = None
        self._task: Any = None

    def start(self, title: str, total: int) -> None:
        progress = self._rich["progress"]
        self._progress = progress.Progress(
            progress.TextColumn("[bold]{task.description}"),
            progress.BarColumn(),
            progress.MofNCompleteColumn(),
            progress.TimeElapsedColumn(),
            console=self.console,
        )
        self._task = self._progress.add_task(title, total=total)
        self._progress.start()

    def advance(self, text: str) -> None:
        self._progress.console.print(f"  {text}", markup=False, highlight=False)
        self._progress.advance(self._task)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()

    def table(
        self, title: str, headers: Sequence[str], rows: Sequence[Sequence[str]]
    ) -> None:
        table = self._rich["table"].Table(title=title, title_justify="left")
        for header in headers:
            table.add_column(header)
        for row in rows:
            table.add_row(*map(str, row))
        self.console.print(table)

    def line(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False)


def make_reporter(stream: TextIO, *, plain: bool = False) -> Reporter:
    """Return a rich reporter for a terminal (if rich is installed), else a plain one."""
    if plain or not stream.isatty():
        return PlainReporter(stream)
    try:
        import rich.console  # noqa: PLC0415 - optional: the `cli` extra
        import rich.progress  # noqa: PLC0415
        import rich.table  # noqa: PLC0415
    except ImportError:
        return PlainReporter(stream)
    return _RichReporter(
        stream,
        {"console": rich.console, "progress": rich.progress, "table": rich.table},
    )
