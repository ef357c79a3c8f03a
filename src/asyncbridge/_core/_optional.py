"""Optional dependencies: imported when first needed, never half-imported.

A missing one raises `ModuleNotFoundError` with the command that installs it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import ModuleType

__all__ = ["require"]


def require(module: str, extra: str, what: str) -> ModuleType:
    """Import *module*, an optional dependency that *what* needs.

    Importing waits for a thread importing it at the same time (Python's import
    lock), so the module returned is complete.

    Raises:
        ModuleNotFoundError: it is not installed; the message names the extra.

    Example:
        >>> from asyncbridge._core._optional import require
        >>> require("json", "none", "this example").__name__
        'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ModuleNotFoundError(
            f"{what} needs {module}, which is not installed: "
            f"pip install 'asyncbridge[{extra}]'",
            name=module,
        ) from exc
