"""Process-wide defaults, set with `configure()`."""

from __future__ import annotations

import enum
import threading
from typing import TYPE_CHECKING, Final, Literal, TypedDict, cast, get_args

from ._optional import require
from ._validate import check_seconds

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "NOT_GIVEN",
    "ConflictPolicy",
    "NotGiven",
    "Settings",
    "SyncLoopMode",
    "configure",
    "settings",
    "when_default_workers_change",
]

ConflictPolicy = Literal["thread", "raise", "greenlet"]
SyncLoopMode = Literal["portal", "thread"]

_SYNC_LOOP_MODES: Final = frozenset(get_args(SyncLoopMode))


class Settings(TypedDict, total=False):
    """Process-wide options by name: what `configure()` returns, and takes back.

    Every key is optional: ``previous = ab.configure(exit_grace=1.0)`` holds only
    ``exit_grace`` (its value before the call), and ``ab.configure(**previous)``
    restores it.
    """

    on_loop_conflict: ConflictPolicy
    sync_loop: SyncLoopMode
    default_workers: int
    exit_grace: float
    debug_wait_threshold: float | None


class NotGiven(enum.Enum):
    """The type of `configure`'s defaults: "leave this option as it is"."""

    NOT_GIVEN = "NOT_GIVEN"

    def __repr__(self) -> str:  # as `inspect.signature` and help() show it
        return "<not given>"


NOT_GIVEN: Final = NotGiven.NOT_GIVEN


class _State:
    """The current defaults. Read on hot paths, so plain attributes."""

    __slots__ = (
        "debug_wait_threshold",
        "default_workers",
        "exit_grace",
        "on_loop_conflict",
        "sync_loop",
    )

    def __init__(self) -> None:
        self.on_loop_conflict: ConflictPolicy = "thread"
        self.sync_loop: SyncLoopMode = "portal"
        self.default_workers: int = 40
        self.exit_grace: float = 5.0
        self.debug_wait_threshold: float | None = None


settings: Final = _State()
_lock = threading.Lock()
_on_workers_change: list[Callable[[int], object]] = []


def when_default_workers_change(hook: Callable[[int], object]) -> None:
    """Call *hook* with the new ``default_workers`` value whenever it changes.

    The executor registry resizes the default pool this way, so that this module
    imports nothing of the layers above it.
    """
    _on_workers_change.append(hook)


# Every policy; "greenlet" also needs the greenlet extra installed.
_CONFLICT_POLICIES: Final = frozenset(get_args(ConflictPolicy))


def check_conflict_policy(
    value: object, name: str = "on_loop_conflict"
) -> ConflictPolicy:
    """Return *value* if it is a conflict policy, else raise naming *name*.

    Raises:
        TypeError: *value* is not a str.
        ValueError: not a policy.
        ModuleNotFoundError: ``"greenlet"`` without greenlet installed.
    """
    if not isinstance(value, str) or value not in _CONFLICT_POLICIES:
        allowed = ", ".join(repr(p) for p in sorted(_CONFLICT_POLICIES))
        error = ValueError if isinstance(value, str) else TypeError
        raise error(f"{name} must be one of {allowed}, got {value!r}")
    if value == "greenlet":
        require("greenlet", "greenlet", "on_loop_conflict='greenlet'")
    return cast("ConflictPolicy", value)


def _check_grace(name: str, value: object) -> float:
    seconds = check_seconds(value, name, func="configure", none_ok=False)
    assert seconds is not None  # noqa: S101  (none_ok=False)
    return seconds


def _check_policy(name: str, value: object) -> ConflictPolicy:
    return check_conflict_policy(value, name)


def _check_sync_loop(name: str, value: object) -> SyncLoopMode:
    if not isinstance(value, str) or value not in _SYNC_LOOP_MODES:
        raise ValueError(f"{name} must be 'portal' or 'thread', got {value!r}")
    return cast("SyncLoopMode", value)


def _check_workers(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value!r}")
    return value


def _check_threshold(name: str, value: object) -> float | None:
    return check_seconds(value, name, func="configure", zero_ok=False)


_VALIDATORS: Final[dict[str, Callable[[str, object], object]]] = {
    "on_loop_conflict": _check_policy,
    "sync_loop": _check_sync_loop,
    "default_workers": _check_workers,
    "exit_grace": _check_grace,
    "debug_wait_threshold": _check_threshold,
}


def configure(
    *,
    on_loop_conflict: ConflictPolicy | NotGiven = NOT_GIVEN,
    sync_loop: SyncLoopMode | NotGiven = NOT_GIVEN,
    default_workers: int | NotGiven = NOT_GIVEN,
    exit_grace: float | NotGiven = NOT_GIVEN,
    debug_wait_threshold: float | NotGiven | None = NOT_GIVEN,
) -> Settings:
    """Set process-wide defaults; return the previous values of those given.

    Only the options passed change (each parameter defaults to "not given"). The
    returned dict restores them: ``previous = ab.configure(sync_loop="thread")``
    then ``ab.configure(**previous)``. Every value is checked before any is set, so
    a call with one bad value changes nothing. A per-call option
    (``run_sync(..., on_loop_conflict=...)``) beats the default.

    Args:
        on_loop_conflict: ``"thread"`` (default), ``"raise"`` or ``"greenlet"``: what
            `run_sync` does when called from a thread whose event loop is running.
        sync_loop: ``"portal"`` (default: one shared background loop) or ``"thread"``
            (a loop owned by each calling thread, kept between its calls).
        default_workers: size of the default thread pool (an int >= 1; 40 by
            default).
        exit_grace: seconds that running bridge work gets at interpreter exit (5.0
            by default).
        debug_wait_threshold: seconds after which a bridge wait logs a deadlock
            diagnosis on the ``asyncbridge`` logger (None, the default: off).

    Returns:
        The previous values of the options given (a `Settings` dict).

    Raises:
        TypeError: an unknown option, or a value of the wrong type.
        ValueError: a value out of range.
        ModuleNotFoundError: ``on_loop_conflict="greenlet"`` without greenlet
            installed.

    Example:
        >>> import asyncbridge as ab
        >>> previous = ab.configure(exit_grace=1.0)
        >>> previous
        {'exit_grace': 5.0}
        >>> _ = ab.configure(**previous)
    """
    given: dict[str, object] = {
        "on_loop_conflict": on_loop_conflict,
        "sync_loop": sync_loop,
        "default_workers": default_workers,
        "exit_grace": exit_grace,
        "debug_wait_threshold": debug_wait_threshold,
    }
    new = {
        name: _VALIDATORS[name](name, value)
        for name, value in given.items()
        if value is not NOT_GIVEN
    }
    with _lock:
        previous = {name: getattr(settings, name) for name in new}
        for name, value in new.items():
            setattr(settings, name, value)
    if (
        "default_workers" in new
        and previous["default_workers"] != new["default_workers"]
    ):
        for hook in _on_workers_change:
            hook(settings.default_workers)
    return cast("Settings", previous)
