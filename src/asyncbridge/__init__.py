"""asyncbridge: make sync and async Python code work together.

Layers (each module imports only from the layers above it):

    detection  _detect, _config, _errors, _validate, _hooks
               what runs in this thread; process-wide settings; argument checks;
               the instrumentation registry and events (_hooks: any layer emits)
    engine     _backends   the asyncio/trio differences, behind one small interface
               _pool       asyncbridge's thread pool
               _portal     background loops for sync callers
               _route      which loop a worker thread works for
               _greenlet   greenlet re-entry into the running loop (prepared tasks)
               _executors  the executor registry; exit, fork and shutdown
               _sync       run_sync / syncify (sync → async)
               _offload    run_in_thread / asyncify (async → sync)
    tools      _retry/     async_retry, retrying, retry_testing (a package: see there)
               _decorators
               _pinned     one loop (and one task) kept for a bridged object
               _iterators  iterator and context-manager bridges
               _dual       DualInterface, sync_twin, async_twin
               _batch      gather_limited, map_async, batch_execute
               _ipython    the IPython extension (%load_ext asyncbridge)
               _watch      watch_loop: report the code that blocks an event loop
               _loghook, _prometheus   the built-in instrumentation hooks
    surface    instrumentation, executors (public modules); integrations.starlette
               and pytest_plugin (optional: their dependency imported lazily);
               __main__ + _doctor (python -m asyncbridge doctor)
    adapters   asyncbridge.adapters.perfect21 (public API only, as a user would)
"""

from . import executors as executors
from . import instrumentation as instrumentation
from . import typing as typing
from ._backends._greenlet import GreenletInstrument as GreenletInstrument
from ._backends._greenlet import greenlet_task_factory as greenlet_task_factory
from ._backends._greenlet import run_in_greenlet as run_in_greenlet
from ._core._config import configure as configure
from ._core._detect import current_backend as current_backend
from ._core._detect import in_async_context as in_async_context
from ._core._detect import is_async_callable as is_async_callable
from ._core._errors import AsyncBridgeError as AsyncBridgeError
from ._core._errors import ExecutorShutdownError as ExecutorShutdownError
from ._core._errors import LoopBlockedWarning as LoopBlockedWarning
from ._core._errors import LoopConflictError as LoopConflictError
from ._core._errors import RetryError as RetryError
from ._engine._context import ExecutionContext as ExecutionContext
from ._engine._context import get_context as get_context
from ._engine._offload import asyncify as asyncify
from ._engine._offload import check_cancelled as check_cancelled
from ._engine._offload import run_in_thread as run_in_thread
from ._engine._sync import run_sync as run_sync
from ._engine._sync import syncify as syncify
from ._tools._batch import OutcomeStatus as OutcomeStatus
from ._tools._batch import TaskOutcome as TaskOutcome
from ._tools._batch import batch_execute as batch_execute
from ._tools._batch import gather_limited as gather_limited
from ._tools._batch import map_async as map_async
from ._tools._decorators import async_safe as async_safe
from ._tools._decorators import mixed_execution_safe as mixed_execution_safe
from ._tools._dual import DualInterface as DualInterface
from ._tools._dual import async_twin as async_twin
from ._tools._dual import sync_twin as sync_twin
from ._tools._ipython import load_ipython_extension as load_ipython_extension
from ._tools._ipython import unload_ipython_extension as unload_ipython_extension
from ._tools._iterators import async_context as async_context
from ._tools._iterators import iterate_in_thread as iterate_in_thread
from ._tools._iterators import iterate_sync as iterate_sync
from ._tools._iterators import sync_context as sync_context
from ._tools._retry import RetryBudget as RetryBudget
from ._tools._retry import RetryState as RetryState
from ._tools._retry import async_retry as async_retry
from ._tools._retry import retry_testing as retry_testing
from ._tools._retry import retrying as retrying
from ._tools._watch import LoopWatch as LoopWatch
from ._tools._watch import watch_loop as watch_loop

__all__ = [
    "AsyncBridgeError",
    "DualInterface",
    "ExecutionContext",
    "ExecutorShutdownError",
    "GreenletInstrument",
    "LoopBlockedWarning",
    "LoopConflictError",
    "LoopWatch",
    "OutcomeStatus",
    "RetryBudget",
    "RetryError",
    "RetryState",
    "TaskOutcome",
    "async_context",
    "async_retry",
    "async_safe",
    "async_twin",
    "asyncify",
    "batch_execute",
    "check_cancelled",
    "configure",
    "current_backend",
    "executors",
    "gather_limited",
    "get_context",
    "greenlet_task_factory",
    "in_async_context",
    "instrumentation",
    "is_async_callable",
    "iterate_in_thread",
    "iterate_sync",
    "load_ipython_extension",
    "map_async",
    "mixed_execution_safe",
    "retry_testing",
    "retrying",
    "run_in_greenlet",
    "run_in_thread",
    "run_sync",
    "sync_context",
    "sync_twin",
    "syncify",
    "typing",
    "unload_ipython_extension",
    "watch_loop",
]
