"""Every public module's __all__ lists exactly what it offers."""

from __future__ import annotations

import importlib
import types

import pytest

import asyncbridge

PUBLIC_MODULES = [
    "asyncbridge",
    "asyncbridge.executors",
    "asyncbridge.compat",
    "asyncbridge.compat.asgiref",
]


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_matches_public_names(name: str) -> None:
    """__all__ is sorted, resolves, and covers every public attribute."""
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported)
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
