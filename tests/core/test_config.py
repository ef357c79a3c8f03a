"""configure(): process-wide defaults."""

from __future__ import annotations

import inspect

import pytest

import asyncbridge as ab
from asyncbridge.typing import Settings


def test_returns_previous_values_for_restore() -> None:
    """configure() returns the previous values of what it changed."""
    previous = ab.configure(exit_grace=1.5, sync_loop="thread")
    assert previous == {"exit_grace": 5.0, "sync_loop": "portal"}
    assert ab.configure(**previous) == {"exit_grace": 1.5, "sync_loop": "thread"}
    assert ab.configure() == {}


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"on_loop_conflict": "ignore"}, ValueError, "on_loop_conflict"),
        ({"sync_loop": "process"}, ValueError, "sync_loop"),
        ({"default_workers": 0}, ValueError, "default_workers"),
        ({"default_workers": 2.5}, TypeError, "default_workers"),
        ({"default_workers": True}, TypeError, "default_workers"),
        ({"exit_grace": -1}, ValueError, "exit_grace"),
        ({"exit_grace": float("nan")}, ValueError, "exit_grace"),
        ({"exit_grace": "5"}, TypeError, "exit_grace"),
        ({"debug_wait_threshold": 0}, ValueError, "debug_wait_threshold"),
        ({"colour": "blue"}, TypeError, "colour"),
    ],
)
def test_bad_values_name_the_option(
    options: dict[str, object], error: type[Exception], match: str
) -> None:
    """Bad values raise naming the option, and change nothing."""
    with pytest.raises(error, match=match):
        ab.configure(**options)  # type: ignore[arg-type]
    assert ab.configure(exit_grace=5.0) == {"exit_grace": 5.0}


def test_bad_value_changes_nothing() -> None:
    """A call with one bad option applies none of its options."""
    with pytest.raises(ValueError, match="sync_loop"):
        ab.configure(exit_grace=1.0, sync_loop="nope")  # type: ignore[arg-type]
    assert ab.configure(exit_grace=5.0) == {"exit_grace": 5.0}


def test_debug_threshold_none_turns_it_off() -> None:
    """debug_wait_threshold accepts None (off) and positive numbers."""
    assert ab.configure(debug_wait_threshold=0.5) == {"debug_wait_threshold": None}
    assert ab.configure(debug_wait_threshold=None) == {"debug_wait_threshold": 0.5}


def test_signature_shows_every_option() -> None:
    """configure() declares each option as a keyword-only parameter (help(), IDEs)."""
    parameters = inspect.signature(ab.configure).parameters
    assert list(parameters) == list(Settings.__annotations__)
    for parameter in parameters.values():
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
        assert repr(parameter.default) == "<not given>"


def test_no_option_changes_nothing() -> None:
    """An option not given keeps its value; the result names only those given."""
    workers = ab.configure(default_workers=7)["default_workers"]
    assert ab.configure(exit_grace=2.0).keys() == {"exit_grace"}
    assert ab.configure(default_workers=workers) == {"default_workers": 7}
