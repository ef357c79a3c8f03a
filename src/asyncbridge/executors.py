"""The thread and process pools asyncbridge runs work on.

``ab.executors.get()`` gives the shared default pool; ``register()`` names any
`concurrent.futures.Executor` for ``executor=name`` anywhere; ``dedicated(name)``
gives a one-thread executor for thread-affine resources; ``SYNC_CALLER`` runs work
on the sync thread waiting for the calling coroutine; ``shutdown()`` stops the
portals and pools (the bridge stays usable); ``stats()`` reports their load.
"""

from ._engine._executors import SYNC_CALLER as SYNC_CALLER
from ._engine._executors import ExecutorStats as ExecutorStats
from ._engine._executors import dedicated as dedicated
from ._engine._executors import get as get
from ._engine._executors import register as register
from ._engine._executors import shutdown as shutdown
from ._engine._executors import stats as stats

__all__ = [
    "SYNC_CALLER",
    "ExecutorStats",
    "dedicated",
    "get",
    "register",
    "shutdown",
    "stats",
]
