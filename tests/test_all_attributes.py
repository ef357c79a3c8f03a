"""Every public module's __all__ lists exactly what it offers."""

from __future__ import annotations

import importlib
import types

import pytest

import asyncbridge

# asyncbridge.pytest_plugin is loaded by pytest, not imported by users: its names
# are pytest hooks and fixtures (tests/test_pytest_plugin.py covers them).
PUBLIC_MODULES = [
    "asyncbridge",
    "asyncbridge.executors",
    "asyncbridge.instrumentation",
    "asyncbridge.typing",
    "asyncbridge.integrations",
    "asyncbridge.integrations.starlette",
    "asyncbridge.adapters.perfect21",
    "asyncbridge.adapters.perfect21.api",
    "asyncbridge.compat",
    "asyncbridge.compat.asgiref",
]


def _isort_key(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: CONSTANTS, then Classes, then functions (or plain)."""
    kind = 0 if name.isupper() else 1 if name[:1].isupper() else 2
    return kind, name


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_matches_public_names(name: str) -> None:
    """__all__ is sorted, resolves, and covers every public attribute."""
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported in (sorted(exported), sorted(exported, key=_isort_key))
    for attr in exported:
        assert hasattr(module, attr), f"{name}.__all__ lists missing {attr}"
    public = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and not (isinstance(value, types.ModuleType) and attr not in exported)
    }
    assert public == set(exported)


def test_public_objects_are_documented() -> None:
    """Every exported function and class has a docstring."""
    for attr in asyncbridge.__all__:
        obj = getattr(asyncbridge, attr)
        assert obj.__doc__, f"asyncbridge.{attr} has no docstring"
