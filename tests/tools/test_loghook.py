"""LoggingHook (_tools/_loghook): each event logged at its type's level."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from asyncbridge.instrumentation import (
    BridgeHop,
    LoggingHook,
    LoopBlocked,
    PoolSlotLent,
    RetryScheduled,
)


def blocked(duration: float = 0.2) -> LoopBlocked:
    return LoopBlocked(
        "asyncio", "MainThread", duration, 0.1, "app.py", 3, "handler", "stack", "fix"
    )


def test_logging_hook_levels(caplog: pytest.LogCaptureFixture) -> None:
    """Each event is logged at its type's level with the event on the record."""
    hook = LoggingHook()
    caplog.set_level(logging.DEBUG, logger="asyncbridge.instrumentation")
    for event in (
        PoolSlotLent("p", 1, 2),
        RetryScheduled("m.f", 1, 0.1, 0.1, None),
        blocked(),
    ):
        hook(event)
    levels = [(r.levelno, r.asyncbridge_event) for r in caplog.records]  # type: ignore[attr-defined]
    assert [level for level, _ in levels] == [
        logging.DEBUG,
        logging.INFO,
        logging.WARNING,
    ]
    assert caplog.records[2].getMessage() == str(blocked())
    assert repr(hook) == "LoggingHook(logger='asyncbridge.instrumentation')"


def test_logging_hook_options(caplog: pytest.LogCaptureFixture) -> None:
    """A logger object and per-type levels are honoured; disabled levels log nothing."""
    logger = logging.getLogger("my.app")
    hook = LoggingHook(logger, levels={PoolSlotLent: logging.ERROR})
    caplog.set_level(logging.WARNING, logger="my.app")
    hook(PoolSlotLent("p", 1, 2))
    hook(BridgeHop("run_sync", "portal", "f", "a", "b", 0.0, 0.0, None))  # DEBUG
    [record] = caplog.records
    assert (record.name, record.levelno) == ("my.app", logging.ERROR)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"logger": 3}, "logger must be a logging.Logger"),
        ({"levels": {int: 10}}, "levels keys must be event types"),
        ({"levels": {BridgeHop: "DEBUG"}}, "the level for BridgeHop must be an int"),
    ],
)
def test_logging_hook_bad_arguments(kwargs: dict[str, Any], match: str) -> None:
    """Bad LoggingHook arguments raise TypeError naming them."""
    with pytest.raises(TypeError, match=match):
        LoggingHook(**kwargs)
