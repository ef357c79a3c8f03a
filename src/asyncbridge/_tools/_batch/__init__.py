"""Bounded concurrency: `gather_limited`, `map_async`, `batch_execute`.

All three run their items with ``min(limit, len(items))`` worker tasks in one anyio
task group: a worker takes the next item when it has finished one, so no more than
``limit`` items ever run at once, no item waits in a semaphore queue, and no task is
created per item. Results land at their input index. Async callables are awaited on
the loop; sync ones run in worker threads (`run_in_thread`), and an awaitable a sync
callable returns is awaited too. The task group makes it structured: cancelling the
caller cancels every item, and nothing started outlives the call (a thread still
running is waited for); coroutines never started are closed, futures cancelled.
"""

from ._common import DEFAULT_LIMIT as DEFAULT_LIMIT
from ._execute import OutcomeStatus as OutcomeStatus
from ._execute import TaskOutcome as TaskOutcome
from ._execute import batch_execute as batch_execute
from ._gather import gather_limited as gather_limited
from ._gather import map_async as map_async

__all__ = [
    "DEFAULT_LIMIT",
    "OutcomeStatus",
    "TaskOutcome",
    "batch_execute",
    "gather_limited",
    "map_async",
]
