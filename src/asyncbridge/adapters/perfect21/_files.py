"""Read workflow and batch files (JSON or TOML) with errors that say where.

A malformed file is a `FileFormatError` whose message names the file, the
place (a line and column for syntax errors, a key path such as
``stages[1].tasks[0].timeout`` for content errors, counting from 0) and the
problem, e.g. ``flow.toml: line 4, column 9: invalid TOML: Invalid value``.
"""

from __future__ import annotations

import json
import re
import tomllib
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["FileFormatError", "read_tasks", "read_workflow"]

_TOML_PLACE = re.compile(
    r"^(?P<problem>.*) \(at line (?P<line>\d+), column (?P<col>\d+)\)$"
)


class FileFormatError(ValueError):
    """Raised when a workflow or batch file cannot be read or is malformed.

    ``path``, ``where`` (empty when the whole file is concerned) and ``problem``
    are kept apart for tools; ``str()`` joins them for people.
    """

    def __init__(self, path: Path, where: str, problem: str) -> None:
        self.path, self.where, self.problem = path, where, problem
        super().__init__(
            ": ".join(part for part in (str(path), where, problem) if part)
        )


def _read(path: Path) -> Any:
    suffix = path.suffix.lower()
    if suffix not in (".json", ".toml"):
        raise FileFormatError(
            path, "", "unknown file type: give a .json or a .toml file"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FileFormatError(path, "", f"cannot read it: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise FileFormatError(path, f"byte {exc.start}", "not UTF-8 text") from None
    if suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            where = f"line {exc.lineno}, column {exc.colno}"
            raise FileFormatError(path, where, f"invalid JSON: {exc.msg}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        if match := _TOML_PLACE.match(message):
            where = f"line {match['line']}, column {match['col']}"
            raise FileFormatError(
                path, where, f"invalid TOML: {match['problem']}"
            ) from None
        raise FileFormatError(path, "", f"invalid TOML: {message}") from None


def _as_table(data: object) -> dict[str, Any] | None:
    """*data* if it is a table (a JSON object or TOML table: str keys), else None."""
    return cast("dict[str, Any]", data) if isinstance(data, dict) else None


def read_workflow(path: Path) -> dict[str, Any]:
    """Return the workflow table in *path* (not yet checked: ``load_workflow`` does that).

    Raises:
        FileFormatError: unreadable, not JSON/TOML, or not a table.
    """
    data = _read(path)
    table = _as_table(data)
    if table is None:
        raise FileFormatError(
            path,
            "",
            f"expected a table (an object) at the top, got {type(data).__name__}",
        )
    return table


def read_tasks(path: Path) -> list[object]:
    """Return the list of batch tasks in *path*: a JSON list, or a ``tasks`` list.

    In TOML, tasks are ``[[tasks]]`` tables.

    Raises:
        FileFormatError: unreadable, not JSON/TOML, or no list of tasks.
    """
    data = _read(path)
    table = _as_table(data)
    if table is not None and set(table) == {"tasks"}:
        data = table["tasks"]
        where = "tasks"
    else:
        where = ""
    if not isinstance(data, list):
        problem = (
            f"expected a list of tasks (or a 'tasks' list), got {type(data).__name__}"
        )
        raise FileFormatError(path, where, problem)
    return cast("list[object]", data)
