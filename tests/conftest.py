"""Shared fixtures: the async backends every backend-neutral test runs on, events."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import asyncbridge as ab
from asyncbridge._core._config import Settings, settings
from asyncbridge.instrumentation import Event

# `--doctest-modules` imports every module it collects: tests/typing/ is
# type-checked (mypy), never executed.
collect_ignore = ["typing"]

# Backend-neutral async tests take the `anyio_backend` fixture (or are marked
# `pytest.mark.anyio`) and run once per entry here, with readable ids.
BACKENDS = [
    pytest.param(("asyncio", {}), id="asyncio"),
    pytest.param(("asyncio", {"use_uvloop": True}), id="asyncio+uvloop"),
    pytest.param(("trio", {}), id="trio"),
]


@pytest.fixture(params=BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, object]]:
    """Run the test on asyncio, asyncio+uvloop and trio."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def backend_name(anyio_backend: tuple[str, dict[str, object]]) -> str:
    """The name of the backend the current test runs on ("asyncio" or "trio")."""
    return anyio_backend[0]


@pytest.fixture(autouse=True)
def _restore_settings() -> Iterator[None]:
    """Undo any `ab.configure(...)` a test made."""
    snapshot = {name: getattr(settings, name) for name in Settings.__annotations__}
    yield
    ab.configure(**snapshot)  # type: ignore[arg-type]


@pytest.fixture
def events() -> Iterator[list[Event]]:
    """The events of the test, recorded by a hook registered for its length."""
    recorded: list[Event] = []
    hook = ab.instrumentation.add_hook(recorded.append)
    yield recorded
    ab.instrumentation.remove_hook(hook)
    assert ab.instrumentation.get_hooks() == ()
