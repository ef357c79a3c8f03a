"""Perfect21's REST API on FastAPI, serving the blocking SDK without blocking the loop.

``pip install 'asyncbridge[api]'``, then ``uvicorn --factory
asyncbridge.adapters.perfect21.api:create_app`` (or include `router` in your
own app and set its state as `create_app` does). Endpoints:

=========================  ===================================================
``POST /task``             run a task; the SDK call runs in a worker thread
                           (``ab.asyncify``), so other requests are served
                           meanwhile. 200 with the result; 502 if the SDK fails.
``POST /task/blocking``    the seed's "before": the same SDK call made on the
                           loop, which stalls every other request (kept for the
                           benchmark only).
``POST /task/async``       202 at once; the task runs as a FastAPI background
                           task; its result is kept in a bounded store (503 when
                           the store is full of unfinished tasks).
``GET /status/{id}``       a task's status and result; 404 for an unknown id.
``WS /ws/tasks/{id}``      the task's events as JSON: ``status``, ``progress``
                           (``step``, ``total``), then ``result``; closes with
                           code 4404 for an unknown id.
``GET /health``            the SDK's own status.
=========================  ===================================================

An invalid body gets FastAPI's usual 422. What the original got wrong, and how
this module avoids it:

- its endpoints called ``loop.run_in_executor`` through
  ``asyncio.get_event_loop()``, turned every error into a 500 carrying only
  ``str(e)``, and its WebSocket ran one task and closed. Here SDK calls go through
  ``ab.asyncify`` (asyncbridge's managed pool, contextvars kept, a cancelled
  request waits for its thread rather than orphaning it); an SDK error is a 502
  with the SDK's message, and is logged with its traceback; a bug of ours is a
  500 that the server logs;
- its global SDK was created without a lock; `get_async_sdk` creates it once
  per app under a lock, off the loop;
- its background results grew without bound; the store here keeps at most
  ``max_tasks`` and drops the oldest finished ones first;
- progress: the SDK reports steps from its worker thread, and ``ab.run_sync``
  there runs the publishing coroutine on the server's loop (a worker thread's
  calls route back to the loop it works for), where WebSocket clients wait.
"""

from ._api import TaskRequest as TaskRequest
from ._api import TaskResponse as TaskResponse
from ._api import TaskStore as TaskStore
from ._api import create_app as create_app
from ._api import get_async_sdk as get_async_sdk
from ._api import router as router

__all__ = [
    "TaskRequest",
    "TaskResponse",
    "TaskStore",
    "create_app",
    "get_async_sdk",
    "router",
]
