"""Starlette and FastAPI: the bridge's lifecycle tied to the app's, and its stats.

* `bridge_lifespan` wraps an app's lifespan: at startup it puts a `BridgeState` on
  ``app.state.asyncbridge`` (and can watch the server's event loop for blocking
  calls); at shutdown it shuts the bridge down without blocking the server's loop.
* `stats_route` / `stats_endpoint` serve the bridge's live state as JSON: the
  executors with their ``stats()``, the portals, loop watches and hooks.

Starlette is imported only when a route is made (``pip install 'asyncbridge[api]'``).
"""

from ._starlette import BridgeState as BridgeState
from ._starlette import bridge_lifespan as bridge_lifespan
from ._starlette import stats_endpoint as stats_endpoint
from ._starlette import stats_route as stats_route

__all__ = ["BridgeState", "bridge_lifespan", "stats_endpoint", "stats_route"]
