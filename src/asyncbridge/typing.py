"""The types you write in annotations of code that uses asyncbridge.

Everything here is a type, never needed at run time by asyncbridge's callers; the
functions and classes you call are in `asyncbridge` itself. Import it as a module
(``from asyncbridge import typing as abt``) or by name, under ``TYPE_CHECKING`` if
you like::

    from asyncbridge.typing import AsyncSafe, RetryState, SyncTwin

What the decorators and twins make:
    `AsyncSafe`, `MixedExecutionSafe`: what ``@async_safe`` / ``@mixed_execution_safe``
    make of a function (call it; ``.aio(...)`` for async callers); their configured
    forms (``async_safe(timeout=1)``) are `AsyncSafeDecorator` and
    `MixedExecutionSafeDecorator`. `RetryDecorator` is what ``async_retry(...)``
    returns. `SyncTwin` and `AsyncTwin` are the descriptors `sync_twin` and
    `async_twin` return (and `DualInterface` generates); for a method returning
    ``Self`` they are typed `SyncTwinSelf` and `AsyncTwinSelf` (a twin returning
    the class it is read through).

Retries:
    `RetryState` (what ``before_sleep`` / ``on_giveup`` hooks get), `RetryHook`,
    `RetryOn` (what ``on=`` takes), `WaitFn` (``wait=``), `WaitHint`
    (``wait_hint=``); the block form's `Retrying` and `Attempt`; `RetryTesting`
    (what `retry_testing` returns).

Bridges:
    `ThreadIterator` (`iterate_in_thread`), `AsyncContext` (`async_context`),
    `SyncContext` (`sync_context`).

Settings and names:
    `Settings` (what `configure` returns: ``ab.configure(**previous)`` restores it),
    `ConflictPolicy` (``on_loop_conflict=``), `SyncLoopMode` (``sync_loop=``),
    `BackendName` (``backend=``, `current_backend`), `ExecutorStats`
    (``ab.executors.stats()``).
"""

from ._core._config import ConflictPolicy as ConflictPolicy
from ._core._config import Settings as Settings
from ._core._config import SyncLoopMode as SyncLoopMode
from ._core._detect import BackendName as BackendName
from ._engine._executors import ExecutorStats as ExecutorStats
from ._tools._decorators import AsyncSafe as AsyncSafe
from ._tools._decorators import AsyncSafeDecorator as AsyncSafeDecorator
from ._tools._decorators import MixedExecutionSafe as MixedExecutionSafe
from ._tools._decorators import (
    MixedExecutionSafeDecorator as MixedExecutionSafeDecorator,
)
from ._tools._dual import AsyncTwin as AsyncTwin
from ._tools._dual import AsyncTwinSelf as AsyncTwinSelf
from ._tools._dual import SyncTwin as SyncTwin
from ._tools._dual import SyncTwinSelf as SyncTwinSelf
from ._tools._iterators import AsyncContext as AsyncContext
from ._tools._iterators import SyncContext as SyncContext
from ._tools._iterators import ThreadIterator as ThreadIterator
from ._tools._retry import Attempt as Attempt
from ._tools._retry import RetryDecorator as RetryDecorator
from ._tools._retry import RetryHook as RetryHook
from ._tools._retry import Retrying as Retrying
from ._tools._retry import RetryOn as RetryOn
from ._tools._retry import RetryState as RetryState
from ._tools._retry import RetryTesting as RetryTesting
from ._tools._retry import WaitFn as WaitFn
from ._tools._retry import WaitHint as WaitHint

__all__ = [
    "AsyncContext",
    "AsyncSafe",
    "AsyncSafeDecorator",
    "AsyncTwin",
    "AsyncTwinSelf",
    "Attempt",
    "BackendName",
    "ConflictPolicy",
    "ExecutorStats",
    "MixedExecutionSafe",
    "MixedExecutionSafeDecorator",
    "RetryDecorator",
    "RetryHook",
    "RetryOn",
    "RetryState",
    "RetryTesting",
    "Retrying",
    "Settings",
    "SyncContext",
    "SyncLoopMode",
    "SyncTwin",
    "SyncTwinSelf",
    "ThreadIterator",
    "WaitFn",
    "WaitHint",
]
