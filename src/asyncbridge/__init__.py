"""asyncbridge: make sync and async Python code work together."""

from ._config import configure as configure
from ._errors import AsyncBridgeError as AsyncBridgeError
from ._errors import ExecutorShutdownError as ExecutorShutdownError
from ._errors import LoopBlockedWarning as LoopBlockedWarning
from ._errors import LoopConflictError as LoopConflictError

__all__ = [
    "AsyncBridgeError",
    "ExecutorShutdownError",
    "LoopBlockedWarning",
    "LoopConflictError",
    "configure",
]
