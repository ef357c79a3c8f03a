"""Starlette and FastAPI: the bridge's lifecycle tied to the app's, and its stats.

The implementation of `asyncbridge.integrations.starlette`.

* `bridge_lifespan` wraps an app's lifespan: at startup it puts a `BridgeState` on
  ``app.state.asyncbridge`` (and can watch the server's event loop for blocking
  calls, `asyncbridge.watch_loop`); at shutdown it shuts the bridge down
  (`asyncbridge.executors.shutdown`) without blocking the server's loop.
* `stats_route` makes a route that serves the bridge's live state as JSON: the
  executors with their ``stats()``, the portals, loop watches and hooks.

Starlette is imported by `stats_route` only (``pip install 'asyncbridge[api]'``);
`bridge_lifespan` needs nothing but an app with a ``state`` attribute.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, overload

import anyio.to_thread

from asyncbridge import _doctor, executors
from asyncbridge._core._optional import require
from asyncbridge._core._validate import check_bool, check_seconds, describe
from asyncbridge._tools._watch import LoopWatch, watch_loop

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Callable, Mapping
    from contextlib import AbstractAsyncContextManager

    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from asyncbridge.executors import ExecutorStats

__all__ = ["BridgeState", "bridge_lifespan", "stats_endpoint", "stats_route"]

AppT = TypeVar("AppT")
StateT = TypeVar("StateT")


@dataclass(frozen=True, slots=True)
class BridgeState:
    """What `bridge_lifespan` puts on ``app.state.asyncbridge`` while the app runs.

    Attributes:
        watch: the watch on the server's event loop (None unless
            ``watch_threshold`` was given); its ``reports`` list the blocking sites
            seen so far.
    """

    watch: LoopWatch | None

    def stats(self) -> Mapping[str, ExecutorStats]:
        """Return ``asyncbridge.executors.stats()``: every executor's load."""
        return executors.stats()

    def snapshot(self) -> dict[str, Any]:
        """Return the bridge's live state as JSON-able data (what `stats_route` serves)."""
        return _doctor.bridge_snapshot()


@overload
def bridge_lifespan(
    lifespan: None = None,
    *,
    watch_threshold: float | None = None,
    shutdown: bool = True,
) -> Callable[[Any], AbstractAsyncContextManager[None]]: ...


@overload
def bridge_lifespan(
    lifespan: Callable[[AppT], AbstractAsyncContextManager[StateT]],
    *,
    watch_threshold: float | None = None,
    shutdown: bool = True,
) -> Callable[[AppT], AbstractAsyncContextManager[StateT]]: ...


def bridge_lifespan(
    lifespan: Callable[[Any], AbstractAsyncContextManager[Any]] | None = None,
    *,
    watch_threshold: float | None = None,
    shutdown: bool = True,
) -> Callable[[Any], AbstractAsyncContextManager[Any]]:
    """Wrap an app's lifespan so that the bridge starts and stops with the app.

    At startup, before *lifespan* enters, it sets ``app.state.asyncbridge`` to a
    `BridgeState` and, with *watch_threshold*, starts `asyncbridge.watch_loop` on
    the server's event loop (reports are logged on ``asyncbridge.watch`` and sent
    to the instrumentation hooks). At shutdown, after *lifespan* exits (so
    resources it closes may still use the bridge), it stops the watch and calls
    `asyncbridge.executors.shutdown` in a worker thread, so that the server's loop
    keeps running while the portal and pools stop. Whatever *lifespan* yields (a
    state mapping) is passed through.

    Args:
        lifespan: the app's own lifespan (a function of the app returning an async
            context manager), or None.
        watch_threshold: watch the server's event loop for calls that block it
            longer than this many seconds (None: no watch).
        shutdown: shut the bridge down when the app stops.

    Returns:
        A lifespan for ``Starlette(lifespan=...)`` or ``FastAPI(lifespan=...)``.

    Raises:
        TypeError: *lifespan* is not callable, or an option of the wrong type.
        ValueError: *watch_threshold* is not a positive number of seconds.

    Example:
        >>> from contextlib import asynccontextmanager
        >>> from asyncbridge.integrations.starlette import bridge_lifespan
        >>> @bridge_lifespan
        ... @asynccontextmanager
        ... async def lifespan(app):
        ...     yield {"greeting": "hello"}
    """
    if lifespan is not None and not callable(lifespan):
        raise TypeError(
            "bridge_lifespan(): lifespan must be a function of the app returning an "
            f"async context manager, or None, got {describe(lifespan)}"
        )
    threshold = check_seconds(
        watch_threshold, "watch_threshold", func="bridge_lifespan", zero_ok=False
    )
    check_bool(shutdown, "shutdown", func="bridge_lifespan")

    @contextlib.asynccontextmanager
    async def bridged(app: Any) -> AsyncGenerator[Any, None]:
        watch = None if threshold is None else watch_loop(threshold).start()
        app.state.asyncbridge = BridgeState(watch)
        try:
            if lifespan is None:
                yield None
            else:
                async with lifespan(app) as state:
                    yield state
        finally:
            if watch is not None:
                watch.stop()
            if shutdown:
                await anyio.to_thread.run_sync(
                    functools.partial(executors.shutdown, wait=True)
                )

    if lifespan is not None:
        functools.update_wrapper(bridged, lifespan)
    return bridged


def _starlette() -> tuple[Any, Any]:
    what = "asyncbridge's Starlette integration"
    responses = require("starlette.responses", "api", what)
    routing = require("starlette.routing", "api", what)
    return responses.JSONResponse, routing.Route


async def stats_endpoint(request: Request) -> JSONResponse:  # noqa: ARG001
    """Serve the bridge's live state as JSON (the endpoint of `stats_route`).

    The body has ``executors`` (name → ``workers``, ``busy``, ``queued``,
    ``completed``), ``portals`` (backend, thread, loop class), ``watches`` and
    ``hooks``.

    Raises:
        ModuleNotFoundError: Starlette is not installed.
    """
    json_response, _ = _starlette()
    return json_response(_doctor.bridge_snapshot())  # type: ignore[no-any-return]


def stats_route(
    path: str = "/asyncbridge/stats", *, name: str = "asyncbridge_stats"
) -> Route:
    """Make a GET route serving `stats_endpoint`: the bridge's live state as JSON.

    Add it to a Starlette app's ``routes`` or to a FastAPI app
    (``app.router.routes.append(stats_route())``; it stays out of the OpenAPI
    schema).

    Args:
        path: the route's path.
        name: the route's name (for ``url_path_for``).

    Returns:
        A `starlette.routing.Route`.

    Raises:
        TypeError: *path* or *name* is not a str.
        ModuleNotFoundError: Starlette is not installed (the message gives the
            install command).

    Example:
        >>> from asyncbridge.integrations.starlette import stats_route
        >>> stats_route().path
        '/asyncbridge/stats'
    """
    given: object = path  # checked at run time whatever the annotation says
    if not isinstance(given, str) or not given.startswith("/"):
        raise TypeError(
            f"stats_route(): path must be a str starting with '/', got {path!r}"
        )
    if not isinstance(name, str):
        raise TypeError(f"stats_route(): name must be a str, got {name!r}")
    _, route = _starlette()
    return route(path, stats_endpoint, methods=["GET"], name=name)  # type: ignore[no-any-return]
