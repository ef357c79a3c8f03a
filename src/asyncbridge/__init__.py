"""asyncbridge: make sync and async Python code work together.

Where things are (each folder imports only from the folders above it; ``make
lint`` checks it with import-linter):

    _core/      0  errors, settings (_config), argument checks (_validate),
                   wrapping, detection (_detect), thread state (_state), the
                   record of waits (_waits), instrumentation events (_hooks),
                   optional imports (_optional)
    _backends/  1  the asyncio / trio differences behind one `Backend` protocol
                   (_base, _asyncio, _trio), and greenlet re-entry (_greenlet)
    _engine/    2  the thread pool (_pool), portals (_portal), the executor
                   registry and lifecycle (_executors), routing (_route), pinned
                   sessions (_pinned), run_sync (_sync), run_in_thread (_offload),
                   get_context (_context)
    _tools/     3  async_safe / mixed_execution_safe (_decorators, bound by
                   _binding), async_retry (_retry/), DualInterface (_dual/),
                   iterator and context bridges (_iterators), batches (_batch/),
                   watch_loop (_watch), the IPython extension (_ipython), the
                   logging and Prometheus hooks (_loghook, _prometheus)
    public      4  this module, executors, instrumentation, typing (the types
                   for annotations), integrations/, pytest_plugin,
                   ``python -m asyncbridge doctor`` (_doctor)
    adapters/, compat/   built on ``import asyncbridge as ab`` only, as a user's
                   code would be (Perfect21; asgiref's API)

Vocabulary (one word per idea, in the code and the docs):

    loop         a running event loop, asyncio's or trio's.
    backend      the library that runs a loop: "asyncio" (uvloop included) or "trio".
    token        the identity of one running loop, as its backend gives it.
    handle       a loop seen from another thread (`LoopHandle`): call into it,
                 ask whether it still runs.
    portal       a long-lived background loop that plain sync code runs
                 coroutines on, one per backend, started at first use.
    parent loop  the loop a worker thread's caller runs on: run_sync from a
                 worker thread goes back to it.
    own loop     a thread's private persistent loop (``configure(sync_loop="thread")``).
    home loop    the loop a DualInterface instance (or a pinned session) keeps for
                 its whole life.
    route        where run_sync sends a coroutine: the parent loop, a portal, the
                 own loop, or a greenlet re-entry.
    job          one call crossing threads: a `SyncJob` (sync caller → loop) or a
                 `ThreadJob` (loop → thread).
    outlet       how a ThreadJob reaches one executor.
    wait, chain  a thread blocked in a bridge is a wait; the waits that lead to the
                 running code form its chain, which lends pool slots, lets a
                 waiting thread serve work meant for it, and detects cycles.
    lane         a one-thread executor (`executors.dedicated`) for thread-affine
                 resources.
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
