"""Instrumentation: hooks that receive an event for what the bridge does.

Register a hook (any callable taking one event) with `add_hook`; it is then called
for every bridge hop (`BridgeHop`: `run_sync`, `run_in_thread` and the tools built
on them), retry (`RetryScheduled`, `RetryGivenUp`), pool loan (`PoolSlotLent`,
`PoolCeilingReached`) and blocked event loop (`LoopBlocked`, from
`asyncbridge.watch_loop`). With no hook registered, instrumentation costs one
global read on the paths that could report. Built-in hooks: `LoggingHook`, and
`PrometheusHook` (extra ``asyncbridge[prometheus]``).

Hooks run in the thread where the event happens, so they must be quick; a hook
that raises is logged and skipped, and the bridge calls a hook makes are not
reported back to the hooks.
"""

from ._core._hooks import BridgeHop as BridgeHop
from ._core._hooks import Event as Event
from ._core._hooks import Hook as Hook
from ._core._hooks import LoopBlocked as LoopBlocked
from ._core._hooks import PoolCeilingReached as PoolCeilingReached
from ._core._hooks import PoolSlotLent as PoolSlotLent
from ._core._hooks import RetryGivenUp as RetryGivenUp
from ._core._hooks import RetryScheduled as RetryScheduled
from ._core._hooks import add_hook as add_hook
from ._core._hooks import get_hooks as get_hooks
from ._core._hooks import remove_hook as remove_hook
from ._tools._loghook import LoggingHook as LoggingHook
from ._tools._prometheus import PrometheusHook as PrometheusHook

__all__ = [
    "BridgeHop",
    "Event",
    "Hook",
    "LoggingHook",
    "LoopBlocked",
    "PoolCeilingReached",
    "PoolSlotLent",
    "PrometheusHook",
    "RetryGivenUp",
    "RetryScheduled",
    "add_hook",
    "get_hooks",
    "remove_hook",
]
