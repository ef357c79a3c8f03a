"""FastAPI and Starlette on a real uvicorn (127.0.0.1): the recipe's claims, tested."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import APIRouter, FastAPI, Request
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

import asyncbridge as ab
from asyncbridge._engine._portal import running_portals
from asyncbridge.instrumentation import Event, LoopBlocked
from asyncbridge.integrations.starlette import (
    BridgeState,
    bridge_lifespan,
    stats_endpoint,
    stats_route,
)

LIMIT = 30.0  # seconds any request or wait may take at most


@contextlib.contextmanager
def serve(app: Any, loop: str = "asyncio") -> Iterator[httpx.Client]:
    """Run *app* on uvicorn in a thread; yield a client for it; stop the server.

    The listening socket is bound before the server starts, so requests sent
    early simply wait in its backlog: no polling for readiness.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, loop=loop, http="h11", ws="none", lifespan="on", log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="uvicorn"
    )
    thread.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=LIMIT) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(LIMIT)
        sock.close()
        assert not thread.is_alive()


# --------------------------------------------------------------------- the app


class Greeter(ab.DualInterface):
    """A client with a loop-bound resource (an asyncio.Lock made on first use)."""

    def __init__(self) -> None:
        self.lock: asyncio.Lock | None = None

    async def greet_async(self, name: str) -> dict[str, Any]:
        if self.lock is None:
            self.lock = asyncio.Lock()
        async with self.lock:
            await asyncio.sleep(0)
            return {"greeting": f"hello {name}", "loop": id(asyncio.get_running_loop())}


async def loop_facts() -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    return {"loop": id(loop), "loop_class": type(loop).__module__.split(".")[0]}


async def on_trio_portal() -> str:
    return threading.current_thread().name


@ab.mixed_execution_safe
def legacy_report(n: int) -> str:
    """An SDK call that runs its own event loop, as old SDKs do."""
    return asyncio.run(asyncio.sleep(0, f"report {n}"))


router = APIRouter()


@router.get("/def-calls-async")
def def_calls_async(request: Request) -> dict[str, Any]:
    facts = ab.run_sync(loop_facts)  # in Starlette's worker thread
    return {
        **facts,
        "server_loop": id(request.app.state.loop),
        "thread": threading.current_thread().name,
        "loop_thread": threading.main_thread().name,
    }


@router.get("/async-calls-blocking")
async def async_calls_blocking(request: Request) -> dict[str, Any]:
    started, release = request.app.state.started, request.app.state.release

    def blocking_io() -> str:
        started.set()
        release.wait(LIMIT)
        return threading.current_thread().name

    return {"thread": await ab.run_in_thread(blocking_io)}


@router.get("/ping")
async def ping() -> str:
    return "pong"


@router.get("/release")
def release_blocking(request: Request) -> bool:
    assert request.app.state.started.wait(LIMIT)
    request.app.state.release.set()
    return True


@router.get("/legacy")
async def legacy() -> str:
    return await legacy_report.aio(7)


@router.get("/twin-sync")
def twin_sync(request: Request) -> dict[str, Any]:
    return request.app.state.client.greet("def endpoint")  # type: ignore[no-any-return]


@router.get("/twin-async")
async def twin_async(request: Request) -> dict[str, Any]:
    return await request.app.state.client.greet_async("async endpoint")  # type: ignore[no-any-return]


@router.get("/trio-portal")
def trio_portal() -> str:
    # From a plain thread (a worker thread of the server's loop would route back to
    # that loop, whatever the backend asked for).
    ran_on: list[str] = []
    thread = threading.Thread(
        target=lambda: ran_on.append(ab.run_sync(on_trio_portal, backend="trio"))
    )
    thread.start()
    thread.join(LIMIT)
    return ran_on[0]


@router.get("/state")
async def state(request: Request) -> dict[str, Any]:
    bridge: BridgeState = request.app.state.asyncbridge
    return {
        "executors": sorted(bridge.stats()),
        "snapshot": bridge.snapshot(),
        "watching": bridge.watch is not None,
    }


@router.get("/blocks")
async def blocks(request: Request) -> str:
    watch = request.app.state.asyncbridge.watch
    deadline = asyncio.get_running_loop().time() + LIMIT
    while not watch.reports and asyncio.get_running_loop().time() < deadline:
        threading.Event().wait(0.001)  # the endpoint's blocking line
    return "blocked"


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.loop = asyncio.get_running_loop()
    client = Greeter()
    await client.greet_async("startup")  # first use: its home is this loop
    app.state.client = client
    yield


def make_app(**lifespan_options: Any) -> FastAPI:
    app = FastAPI(lifespan=bridge_lifespan(lifespan, **lifespan_options))
    app.state.started = threading.Event()
    app.state.release = threading.Event()
    app.include_router(router)
    app.router.routes.append(stats_route())
    return app


# ----------------------------------------------------------------------- tests


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_def_endpoint_run_sync_runs_on_the_servers_loop(loop: str) -> None:
    """run_sync in a def endpoint (a worker thread) runs on uvicorn's own loop."""
    with serve(make_app(), loop) as client:
        facts = client.get("/def-calls-async").json()
    assert facts["loop"] == facts["server_loop"]
    assert facts["loop_class"] == loop
    assert facts["thread"] != facts["loop_thread"]  # it ran in a worker thread


def test_async_endpoint_offloads_blocking_code() -> None:
    """A blocked run_in_thread call leaves the loop serving other requests."""
    with serve(make_app()) as client:
        pending: list[httpx.Response] = []
        slow = threading.Thread(
            target=lambda: pending.append(client.get("/async-calls-blocking"))
        )
        slow.start()
        assert client.get("/release").json() is True  # served while the other waits
        assert client.get("/ping").json() == "pong"
        slow.join(LIMIT)
    [response] = pending
    assert response.json()["thread"].startswith("asyncbridge-default")


def test_async_endpoint_awaits_a_legacy_sdk() -> None:
    """A mixed_execution_safe SDK call (asyncio.run inside) works via .aio()."""
    with serve(make_app(), "uvloop") as client:
        assert client.get("/legacy").json() == "report 7"


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_shared_dual_interface_client(loop: str) -> None:
    """A client made in the lifespan serves def and async endpoints on its home loop."""
    with serve(make_app(), loop) as client:
        from_def = client.get("/twin-sync").json()
        from_async = client.get("/twin-async").json()
        server_loop = client.get("/def-calls-async").json()["server_loop"]
    assert from_def["greeting"] == "hello def endpoint"
    assert from_async["greeting"] == "hello async endpoint"
    assert from_def["loop"] == from_async["loop"] == server_loop


def test_stats_route_and_state() -> None:
    """The stats route and app.state.asyncbridge report the live bridge."""
    with serve(make_app()) as client:
        client.get("/trio-portal")  # starts the trio portal
        client.get("/legacy")  # uses the default pool
        stats = client.get("/asyncbridge/stats").json()
        state = client.get("/state").json()
    assert "default" in stats["executors"]
    assert set(stats["executors"]["default"]) == {
        "workers",
        "busy",
        "queued",
        "completed",
    }
    assert stats["executors"]["default"]["completed"] >= 1
    assert {"backend": "trio", "thread": "asyncbridge-portal-trio", "loop": "trio"} in (
        stats["portals"]
    )
    assert stats["watches"] == []
    assert "default" in state["executors"]
    assert state["watching"] is False
    assert state["snapshot"]["executors"].keys() == stats["executors"].keys()


def test_the_bridge_stops_with_the_app() -> None:
    """At shutdown the lifespan shuts the bridge down: portals and pools are gone."""
    with serve(make_app()) as client:
        assert client.get("/trio-portal").json() == "asyncbridge-portal-trio"
        assert "trio" in running_portals()
    assert running_portals() == {}
    assert "default" not in ab.executors.stats()


def test_shutdown_false_keeps_the_bridge() -> None:
    """bridge_lifespan(shutdown=False) leaves the bridge running after the app."""
    with serve(make_app(shutdown=False)) as client:
        client.get("/trio-portal")
    try:
        assert "trio" in running_portals()
    finally:
        ab.executors.shutdown()


def test_watch_threshold_reports_a_blocking_endpoint() -> None:
    """watch_threshold watches uvicorn's loop: a blocking endpoint is reported."""
    events: list[Event] = []
    hook = ab.instrumentation.add_hook(events.append)
    try:
        app = make_app(watch_threshold=0.2)
        with serve(app) as client:
            assert client.get("/state").json()["watching"] is True
            assert client.get("/blocks").json() == "blocked"
            watch = app.state.asyncbridge.watch
            reports = list(watch.reports)
    finally:
        ab.instrumentation.remove_hook(hook)
    [report] = [r for r in reports if r.function == "blocks"]
    assert report.thread == "uvicorn"
    assert "threading.Event().wait(0.001)  # the endpoint's blocking line" in (
        report.stack
    )
    assert [e for e in events if isinstance(e, LoopBlocked)] == reports
    assert repr(watch).startswith("<LoopWatch stopped")


def test_plain_starlette_and_state_passthrough() -> None:
    """A Starlette app: no inner lifespan, or one yielding state, both work."""

    async def hello(request: Any) -> Any:
        return JSONResponse({"state": getattr(request.state, "greeting", None)})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, str]]:
        yield {"greeting": "hi"}

    for wrapped, expected in (
        (bridge_lifespan(), None),
        (bridge_lifespan(lifespan), "hi"),
    ):
        app = Starlette(
            routes=[Route("/", hello), Route("/stats", stats_endpoint)],
            lifespan=wrapped,
        )
        with serve(app) as client:
            assert client.get("/").json() == {"state": expected}
            assert "executors" in client.get("/stats").json()
    assert bridge_lifespan(lifespan).__name__ == "lifespan"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: bridge_lifespan(3), TypeError, "lifespan must be a function"),  # type: ignore[call-overload]
        (lambda: bridge_lifespan(watch_threshold=0), ValueError, "watch_threshold"),
        (lambda: bridge_lifespan(shutdown=1), TypeError, "shutdown must be True"),  # type: ignore[call-overload]
        (lambda: stats_route("stats"), TypeError, "path must be a str starting"),
        (lambda: stats_route(name=3), TypeError, "name must be a str"),  # type: ignore[arg-type]
    ],
)
def test_bad_arguments(call: Any, error: type[Exception], match: str) -> None:
    """Bad arguments raise at once, naming the parameter."""
    with pytest.raises(error, match=match):
        call()


def test_missing_starlette_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without Starlette, the route factory says which extra to install."""
    monkeypatch.setitem(sys.modules, "starlette.routing", None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'asyncbridge\[api\]'"):
        stats_route()
    monkeypatch.setitem(sys.modules, "starlette.responses", None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'asyncbridge\[api\]'"):
        asyncio.run(stats_endpoint(None))  # type: ignore[arg-type]
