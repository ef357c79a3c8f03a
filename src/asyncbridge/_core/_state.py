"""The engine's per-thread state: what this thread is, and whom it works for.

Written by the engine (worker threads, portals, bridge waits) and read on hot
paths, so plain thread-local attributes. In the core because the backends read it
too (a worker thread's parent loop, the job it runs).
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["state"]


class _ThreadState(threading.local):
    """Per-thread facts asyncbridge sets and reads.

    `parent` is the loop (an asyncio loop or a trio token) this thread currently does
    bridge work for: set by `run_in_thread` around each call it runs, so that
    `run_sync` in there routes back to that loop. `is_portal` marks portal threads.
    `own_loop` is this thread's own loop under ``sync_loop="thread"``.
    `not_foreign_worker` caches a negative answer of `_route.parent_loop()`.
    `waits` is this thread's side of its bridge waits (`_waits.ThreadWaits`).
    """

    parent: object | None = None
    is_portal: bool = False
    own_loop: object | None = None
    not_foreign_worker: bool = False  # known not to be an anyio/trio worker thread
    waits: Any = None
    job: Any = None  # the `ThreadJob` this thread runs now (its cancellation)


state = _ThreadState()
