"""The retry settings, listed once: a frozen `RetryPolicy` built and checked here.

Also `RetryState`, what hooks learn about a failed attempt. Pure data: no clock,
no sleeping, no event loop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias, cast

from asyncbridge._core._detect import is_async_callable
from asyncbridge._core._validate import (
    check_bool,
    check_callable,
    check_int,
    check_number,
    check_seconds,
)

from ._budget import RetryBudget

__all__ = [
    "BLOCK_OPTIONS",
    "OPTIONS",
    "RetryHook",
    "RetryOn",
    "RetryPolicy",
    "RetryState",
    "WaitFn",
    "WaitHint",
]


@dataclass(frozen=True, slots=True)
class RetryState:
    """What a hook learns about a failed attempt.

    Attributes:
        fn_name: the qualified name of the retried function (``module.qualname``),
            or of the function containing a ``retrying()`` block.
        attempt: the number of the attempt that just failed, counting from 1.
        exception: the exception it raised, or None when ``retry_if_result``
            rejected its value.
        wait: seconds to sleep before the next attempt (0.0 when giving up).
        elapsed: seconds since the retry clock started: at the start of the call
            when ``timeout`` is set, otherwise when the first attempt failed (the
            success path reads no clock).
        result: the rejected value when ``exception`` is None, else None.
    """

    fn_name: str
    attempt: int
    exception: Exception | None
    wait: float
    elapsed: float
    result: Any = None


#: What `on` accepts: an exception type, a tuple of them, or a predicate.
RetryOn: TypeAlias = (
    type[BaseException]
    | tuple[type[BaseException], ...]
    | Callable[[Exception], object]
)
#: A custom wait: ``(attempt, exception or None) -> seconds``.
WaitFn: TypeAlias = Callable[[int, Exception | None], float]
#: A wait hint: ``exception -> seconds or None`` (a Retry-After value).
WaitHint: TypeAlias = Callable[[Exception], float | None]
#: A hook: sync or async, given the `RetryState`.
RetryHook: TypeAlias = Callable[[RetryState], object]


def _always(_exc: Exception) -> bool:
    return True


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """The settings of one `async_retry` decorator or `retrying` block: checked, frozen.

    Each field is one public option, with its default; `build` checks them all,
    at decoration time, naming the public function they were given to. The
    fields after `budget` are derived from the options, once.
    """

    max_attempts: int = 3
    on: RetryOn = Exception
    retry_if_result: Callable[[Any], object] | None = None
    timeout: float | None = None
    attempt_timeout: float | None = None
    wait_initial: float = 0.1
    wait_max: float = 5.0
    wait_exp_base: float = 2.0
    wait_jitter: bool = True
    wait: float | WaitFn | None = None
    wait_hint: WaitHint | None = None
    before_sleep: RetryHook | None = None
    on_giveup: RetryHook | None = None
    reraise: bool = True
    budget: RetryBudget | None = None
    # Derived: the public function (for messages) and what `build` works out.
    api: str = field(default="async_retry", compare=False)
    retryable: Callable[[Exception], object] = field(
        default=_always, init=False, repr=False
    )
    before_sleep_async: bool = field(default=False, init=False, repr=False)
    on_giveup_async: bool = field(default=False, init=False, repr=False)

    @classmethod
    def build(
        cls, api: str, options: Mapping[str, object], allowed: frozenset[str]
    ) -> RetryPolicy:
        """Check *options* (a subset of *allowed*) and return the policy.

        Raises:
            TypeError: an option that is not in *allowed*, or of the wrong type.
            ValueError: an option out of range.
        """
        for name in options:
            if name not in allowed:
                raise TypeError(f"{api}() got an unexpected keyword argument {name!r}")
        checked = {
            name: _CHECKS[name](value, name, api) for name, value in options.items()
        }
        policy = cls(api=api, **checked)  # type: ignore[arg-type]
        derived = {
            "retryable": _exception_filter(api, policy.on),
            "before_sleep_async": is_async_callable(policy.before_sleep),
            "on_giveup_async": is_async_callable(policy.on_giveup),
        }
        for name, value in derived.items():
            object.__setattr__(policy, name, value)
        return policy


# ------------------------------------------------------------- one check per option


def _attempts(value: object, name: str, api: str) -> int:
    return check_int(value, name, func=api, minimum=1)


def _duration(value: object, name: str, api: str) -> float:
    return cast("float", check_seconds(value, name, func=api, none_ok=False))


def _deadline(value: object, name: str, api: str) -> float | None:
    # Zero would leave no time for any retry (or attempt): surely a mistake for
    # None, which means no limit.
    return check_seconds(value, name, func=api, zero_ok=False)


def _growth(value: object, name: str, api: str) -> float:
    return check_number(value, name, func=api, minimum=1.0)


def _flag(value: object, name: str, api: str) -> bool:
    return check_bool(value, name, func=api)


def _function_or_none(value: object, name: str, api: str) -> object:
    check_callable(value, name, func=api, none_ok=True)
    return value


def _wait(value: object, name: str, api: str) -> object:
    if callable(value):
        return value
    if value is None or (
        isinstance(value, int | float) and not isinstance(value, bool)
    ):
        return check_seconds(value, name, func=api)
    raise TypeError(
        f"{api}(): {name} must be a number of seconds, a callable "
        f"(attempt, exception) -> seconds, or None, got {value!r}"
    )


def _budget(value: object, name: str, api: str) -> object:
    if value is not None and not isinstance(value, RetryBudget):
        raise TypeError(
            f"{api}(): {name} must be an asyncbridge.RetryBudget or None, got {value!r}"
        )
    return value


def _on(value: object, _name: str, api: str) -> object:
    _exception_filter(api, value)  # the check; the filter itself is derived later
    return value


_CHECKS: Final[dict[str, Callable[[object, str, str], object]]] = {
    "max_attempts": _attempts,
    "on": _on,
    "retry_if_result": _function_or_none,
    "timeout": _deadline,
    "attempt_timeout": _deadline,
    "wait_initial": _duration,
    "wait_max": _duration,
    "wait_exp_base": _growth,
    "wait_jitter": _flag,
    "wait": _wait,
    "wait_hint": _function_or_none,
    "before_sleep": _function_or_none,
    "on_giveup": _function_or_none,
    "reraise": _flag,
    "budget": _budget,
}

#: Every option of `async_retry`.
OPTIONS: Final = frozenset(_CHECKS)
#: The options of the block form: those that work on a block of code.
BLOCK_OPTIONS: Final = OPTIONS - {"retry_if_result", "attempt_timeout"}


def _exception_filter(api: str, on: object) -> Callable[[Exception], object]:
    """Turn `on` into a predicate on the exception, checking it on the way."""
    if isinstance(on, type):
        _check_exception_type(api, on)
        if issubclass(Exception, on):  # Exception itself, or BaseException
            return _always
        return lambda exc: isinstance(exc, on)
    if isinstance(on, tuple):
        items = cast("tuple[object, ...]", on)
        if not items:
            raise ValueError(f"{api}(): on must not be an empty tuple")
        for item in items:
            if not isinstance(item, type):
                raise TypeError(
                    f"{api}(): on must be an exception type, a tuple of them or a "
                    f"predicate; the tuple holds {item!r}"
                )
            _check_exception_type(api, item)
        types = cast("tuple[type[BaseException], ...]", on)
        return lambda exc: isinstance(exc, types)
    if callable(on):
        return cast("Callable[[Exception], object]", on)
    raise TypeError(
        f"{api}(): on must be an exception type, a tuple of them or a predicate "
        f"on the exception, got {on!r}"
    )


def _check_exception_type(api: str, tp: type) -> None:
    if not issubclass(tp, BaseException):
        raise TypeError(
            f"{api}(): on must be an exception type, a tuple of them or a predicate; "
            f"{tp.__qualname__} is not an exception type"
        )
    if not issubclass(tp, Exception) and not issubclass(Exception, tp):
        raise TypeError(
            f"{api}(): on={tp.__qualname__} can never match: only Exception "
            "subclasses are retried; control flow (cancellation, KeyboardInterrupt, "
            "SystemExit, GeneratorExit) never is"
        )
