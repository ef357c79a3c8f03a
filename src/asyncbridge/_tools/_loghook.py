"""`LoggingHook`: the built-in instrumentation hook that logs every event."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, ClassVar, Final

from asyncbridge._core._hooks import (
    BridgeHop,
    Event,
    LoopBlocked,
    PoolCeilingReached,
    PoolSlotLent,
    RetryGivenUp,
    RetryScheduled,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["LoggingHook"]

_DEFAULT_LEVELS: Final[Mapping[type[Event], int]] = {
    BridgeHop: logging.DEBUG,
    RetryScheduled: logging.INFO,
    RetryGivenUp: logging.WARNING,
    PoolSlotLent: logging.DEBUG,
    PoolCeilingReached: logging.WARNING,
    LoopBlocked: logging.WARNING,
}


class LoggingHook:
    """An instrumentation hook that logs each event as one record on a logger.

    Each event type has a level: bridge hops and pool loans at DEBUG (they are
    frequent), scheduled retries at INFO (`async_retry` already logs a WARNING per
    retry on ``asyncbridge.retry``), give-ups, a pool's ceiling and blocked loops at
    WARNING. The record's message is the event's ``str()``; the event itself is in
    the record's ``asyncbridge_event`` attribute, for structured formatters. A level
    the logger does not enable costs one ``isEnabledFor`` check.

    Args:
        logger: a `logging.Logger` or a logger name.
        levels: levels by event type, replacing the defaults for those given.

    Raises:
        TypeError: *logger* is neither a Logger nor a str, or *levels* maps
            something that is not an event type to something that is not an int.

    Example:
        >>> import asyncbridge as ab
        >>> hook = ab.instrumentation.add_hook(ab.instrumentation.LoggingHook())
        >>> ab.instrumentation.remove_hook(hook)
    """

    DEFAULT_LEVELS: ClassVar[Mapping[type[Event], int]] = _DEFAULT_LEVELS

    __slots__ = ("_levels", "logger")

    def __init__(
        self,
        logger: logging.Logger | str = "asyncbridge.instrumentation",
        *,
        levels: Mapping[type[Event], int] | None = None,
    ) -> None:
        if isinstance(logger, str):
            logger = logging.getLogger(logger)
        elif not isinstance(logger, logging.Logger):
            raise TypeError(
                f"LoggingHook(): logger must be a logging.Logger or a name, got {logger!r}"
            )
        self.logger = logger
        merged = dict(_DEFAULT_LEVELS)
        for kind, level in (levels or {}).items():
            if kind not in _DEFAULT_LEVELS:
                known = ", ".join(sorted(k.__name__ for k in _DEFAULT_LEVELS))
                raise TypeError(
                    f"LoggingHook(): levels keys must be event types ({known}), "
                    f"got {kind!r}"
                )
            if isinstance(level, bool) or not isinstance(level, int):
                raise TypeError(
                    f"LoggingHook(): the level for {kind.__name__} must be an int, "
                    f"got {level!r}"
                )
            merged[kind] = level
        self._levels = merged

    def __call__(self, event: Event, /) -> None:
        """Log *event* at its type's level."""
        level = self._levels[type(event)]
        if self.logger.isEnabledFor(level):
            self.logger.log(level, "%s", event, extra={"asyncbridge_event": event})

    def __repr__(self) -> str:
        return f"LoggingHook(logger={self.logger.name!r})"
