"""The retry settings (`RetryPolicy`): listed once, checked at decoration time."""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
import signal
import time
import typing
from collections.abc import Callable
from typing import Any

import pytest

import asyncbridge as ab
from asyncbridge._core._validate import MAX_SECONDS
from asyncbridge._tools._retry._policy import BLOCK_OPTIONS, OPTIONS, RetryPolicy


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"max_attempts": 0}, ValueError, "max_attempts must be at least 1, got 0"),
        ({"max_attempts": 2.5}, TypeError, "max_attempts must be an int"),
        ({"max_attempts": "3"}, TypeError, "max_attempts must be an int"),
        ({"max_attempts": True}, TypeError, "max_attempts must be an int"),
        ({"on": 42}, TypeError, "on must be an exception type"),
        ({"on": int}, TypeError, "int is not an exception type"),
        ({"on": ()}, ValueError, "on must not be an empty tuple"),
        ({"on": (OSError, "x")}, TypeError, "the tuple holds 'x'"),
        ({"on": KeyboardInterrupt}, TypeError, "on=KeyboardInterrupt can never match"),
        ({"on": (OSError, SystemExit)}, TypeError, "on=SystemExit can never match"),
        ({"retry_if_result": 1}, TypeError, "retry_if_result must be callable"),
        (
            {"timeout": -1},
            ValueError,
            "timeout must be a positive number of seconds",
        ),
        ({"timeout": "5"}, TypeError, "timeout must be a number of seconds or None"),
        ({"timeout": float("nan")}, ValueError, "timeout must be a positive"),
        (
            {"attempt_timeout": -0.5},
            ValueError,
            "attempt_timeout must be a positive",
        ),
        ({"wait_initial": -0.1}, ValueError, "wait_initial must be a non-negative"),
        ({"wait_max": "5"}, TypeError, "wait_max must be a number"),
        (
            {"wait_exp_base": 0.5},
            ValueError,
            "wait_exp_base must be a finite number of at least 1",
        ),
        ({"wait_jitter": 1}, TypeError, "wait_jitter must be True or False"),
        ({"wait": -1}, ValueError, "wait must be a non-negative number of seconds"),
        ({"wait": "slow"}, TypeError, "wait must be a number of seconds, a callable"),
        ({"wait_hint": 3}, TypeError, "wait_hint must be callable"),
        ({"before_sleep": "log"}, TypeError, "before_sleep must be callable"),
        ({"on_giveup": 1}, TypeError, "on_giveup must be callable"),
        ({"reraise": None}, TypeError, "reraise must be True or False"),
        ({"budget": 0.2}, TypeError, "budget must be an asyncbridge.RetryBudget"),
        ({"wait_exp_base": math.inf}, ValueError, "wait_exp_base must be a finite"),
        ({"wait_exp_base": True}, TypeError, "wait_exp_base must be a number"),
        ({"wait_hint": 3}, TypeError, "wait_hint must be callable or None"),
    ],
)
def test_bad_settings_fail_at_decoration_naming_the_parameter(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    """Bad settings raise at decoration time with a message naming the parameter."""
    with pytest.raises(error, match=rf"^async_retry\(\): .*{re.escape(match)}"):
        ab.async_retry(**kwargs)


@pytest.mark.parametrize(
    "api", [ab.async_retry, ab.retrying], ids=["decorator", "block"]
)
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("wait", math.inf),
        ("wait", 1e300),
        ("wait", MAX_SECONDS * 2),
        ("timeout", math.inf),
        ("wait_initial", math.inf),
        ("wait_max", 1e300),
    ],
)
def test_infinite_or_huge_waits_fail_at_decoration(
    api: Callable[..., object], name: str, value: float
) -> None:
    """An infinite or huge duration is a ValueError up front, never an OverflowError later."""
    with pytest.raises(ValueError, match=f"{name} must be a finite number of seconds"):
        api(**{name: value})


def test_infinite_attempt_timeout_fails_at_decoration() -> None:
    """attempt_timeout=inf is refused like every other duration (None means none)."""
    with pytest.raises(ValueError, match="use None for no limit"):
        ab.async_retry(attempt_timeout=math.inf)


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs POSIX timers")
def test_the_longest_accepted_wait_is_one_time_sleep_accepts() -> None:
    """time.sleep(MAX_SECONDS) sleeps (until a signal) instead of failing with EINVAL."""

    class Woken(Exception):
        pass

    def wake(_signum: int, _frame: object) -> None:
        raise Woken

    previous = signal.signal(signal.SIGALRM, wake)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.01)
        with pytest.raises(Woken):
            time.sleep(MAX_SECONDS)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize(
    "api", [ab.async_retry, ab.retrying], ids=["decorator", "block"]
)
def test_an_unknown_option_is_a_type_error(api: Callable[..., object]) -> None:
    """A misspelt option fails at once, as Python reports an unexpected keyword."""
    with pytest.raises(TypeError, match="unexpected keyword argument 'wiat'"):
        api(wiat=3)


def test_max_attempts_positional_or_keyword_but_not_both() -> None:
    """async_retry(5) and async_retry(max_attempts=5) agree; both at once is a TypeError."""
    assert "max_attempts=5" in repr(ab.async_retry(5))
    assert "max_attempts=5" in repr(ab.async_retry(max_attempts=5))
    with pytest.raises(TypeError, match="multiple values for 'max_attempts'"):
        ab.async_retry(5, max_attempts=3)  # type: ignore[call-overload]


def test_every_option_is_one_policy_field_with_one_check() -> None:
    """Every option is one of the policy's fields, each with its check."""
    fields = {f.name for f in dataclasses.fields(RetryPolicy) if f.init} - {"api"}
    assert fields == OPTIONS
    assert len(OPTIONS) == 15  # max_attempts and fourteen keyword-only options
    assert {"retry_if_result", "attempt_timeout"} == OPTIONS - BLOCK_OPTIONS


def _defaults() -> dict[str, object]:
    return {f.name: f.default for f in dataclasses.fields(RetryPolicy) if f.init}


def test_public_signatures_match_the_policy() -> None:
    """async_retry's runtime signature, its typed overload and retrying's agree with it."""
    defaults = _defaults()
    runtime = inspect.signature(ab.async_retry).parameters
    assert {n: p.default for n, p in runtime.items()} == {
        n: defaults[n] for n in runtime
    }
    assert set(runtime) == OPTIONS
    typed = inspect.signature(typing.get_overloads(ab.async_retry)[-1]).parameters
    assert {n: p.default for n, p in typed.items()} == {n: defaults[n] for n in OPTIONS}
    block = inspect.signature(ab.retrying).parameters
    assert {n: p.default for n, p in block.items()} == {
        n: defaults[n] for n in BLOCK_OPTIONS
    }


def test_docstring_says_which_error_a_never_matching_on_raises() -> None:
    """`on=KeyboardInterrupt` raises TypeError, and the docstring says TypeError."""
    with pytest.raises(TypeError, match="can never match"):
        ab.async_retry(on=KeyboardInterrupt)
    doc = inspect.getdoc(ab.async_retry) or ""
    raises = " ".join(doc[doc.index("Raises:") : doc.index("Example:")].split())
    type_error, value_error = raises.split("ValueError:")
    assert "can never match" in type_error
    assert "never match" not in value_error


@pytest.mark.parametrize("name", ["timeout", "attempt_timeout"])
def test_a_zero_deadline_is_refused(name: str) -> None:
    """timeout=0 would allow no retry (attempt_timeout=0 no attempt): a ValueError."""
    with pytest.raises(ValueError, match=f"{name} must be a positive number"):
        ab.async_retry(**{name: 0})
    if name == "timeout":
        with pytest.raises(ValueError, match="timeout must be a positive number"):
            ab.retrying(timeout=0.0)
