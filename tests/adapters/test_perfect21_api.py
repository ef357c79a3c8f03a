"""The Perfect21 REST API: endpoints, status codes, the non-blocking loop, a real server."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import anyio
import httpx
import pytest
import uvicorn
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from asyncbridge.adapters.perfect21 import Perfect21Error, Perfect21SDK
from asyncbridge.adapters.perfect21.api import TaskStore, create_app, get_async_sdk

pytestmark = pytest.mark.anyio


class GatedSDK(Perfect21SDK):
    """An SDK whose tasks wait for a gate (a threading.Event), to hold a request in flight."""

    def __init__(self) -> None:
        super().__init__(latency=0)
        self.gate = threading.Event()
        self.entered = threading.Event()

    def task(self, description, timeout=300, verbose=False, progress=None):
        self.entered.set()
        assert self.gate.wait(30)
        return super().task(description, timeout, verbose, progress)


def client_for(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    )


def fast_app(**kwargs):
    return create_app(sdk_factory=lambda: Perfect21SDK(latency=0), **kwargs)


async def test_post_task_returns_result(anyio_backend) -> None:
    """POST /task runs the SDK and returns 200 with its output and a task id."""
    async with client_for(fast_app()) as client:
        response = await client.post("/task", json={"description": "write docs"})
        assert response.status_code == 200
        body = response.json()
        assert body["success"] is True
        assert body["status"] == "completed"
        assert body["output"] == "done: write docs"
        status = await client.get(f"/status/{body['task_id']}")
        assert status.status_code == 200
        assert status.json() == body


@pytest.mark.parametrize(
    "payload",
    [{}, {"description": ""}, {"description": "x", "timeout": 0}, {"description": 5}],
    ids=["missing", "empty", "zero-timeout", "not-a-string"],
)
async def test_invalid_body_is_422(anyio_backend, payload) -> None:
    """An invalid body gets FastAPI's 422 with its usual detail list."""
    async with client_for(fast_app()) as client:
        for path in ("/task", "/task/async", "/task/blocking"):
            response = await client.post(path, json=payload)
            assert response.status_code == 422
            assert isinstance(response.json()["detail"], list)


async def test_sdk_error_is_502_with_message(anyio_backend) -> None:
    """An SDK failure is a 502 carrying the SDK's message, on both task endpoints."""
    async with client_for(fast_app()) as client:
        for path in ("/task", "/task/blocking"):
            response = await client.post(path, json={"description": "deploy [fail]"})
            assert response.status_code == 502
            assert (
                "Perfect21Error: task failed: deploy [fail]"
                in response.json()["detail"]
            )


async def test_sdk_that_cannot_start_is_502(anyio_backend) -> None:
    """An SDK whose constructor raises gives 502 naming the problem, not a 500."""

    def broken() -> Perfect21SDK:
        raise Perfect21Error("licence expired")

    async with client_for(create_app(sdk_factory=broken)) as client:
        response = await client.post("/task", json={"description": "x"})
        assert response.status_code == 502
        assert "licence expired" in response.json()["detail"]


async def test_unknown_id_is_404(anyio_backend) -> None:
    """GET /status of an unknown id is 404 naming the id."""
    async with client_for(fast_app()) as client:
        response = await client.get("/status/nope")
        assert response.status_code == 404
        assert "nope" in response.json()["detail"]


async def test_async_task_is_202_then_completed(anyio_backend) -> None:
    """POST /task/async answers 202; the background task's result is then in /status."""
    async with client_for(fast_app()) as client:
        response = await client.post("/task/async", json={"description": "bg"})
        assert response.status_code == 202
        task_id = response.json()["task_id"]
        assert response.json()["status"] == "queued"
        with anyio.fail_after(10):
            while (status := (await client.get(f"/status/{task_id}")).json())[
                "status"
            ] != "completed":
                await anyio.sleep(0.01)
        assert status["output"] == "done: bg"


async def test_async_task_failure_is_recorded(anyio_backend) -> None:
    """A failing background task is recorded as failed with the SDK's message."""
    async with client_for(fast_app()) as client:
        task_id = (
            await client.post("/task/async", json={"description": "x [fail]"})
        ).json()["task_id"]
        with anyio.fail_after(10):
            while (status := (await client.get(f"/status/{task_id}")).json())[
                "status"
            ] != "failed":
                await anyio.sleep(0.01)
        assert status["success"] is False
        assert "task failed" in status["error"]


async def test_store_is_bounded(anyio_backend) -> None:
    """The store keeps at most max_tasks: the oldest finished task is dropped first."""
    async with client_for(fast_app(max_tasks=2)) as client:
        ids = [
            (await client.post("/task", json={"description": f"t{i}"})).json()[
                "task_id"
            ]
            for i in range(3)
        ]
        assert (await client.get(f"/status/{ids[0]}")).status_code == 404
        assert (await client.get(f"/status/{ids[2]}")).status_code == 200


async def test_store_full_of_unfinished_tasks_is_503(anyio_backend) -> None:
    """When every kept task is unfinished, a new one is refused with 503."""
    store = TaskStore(1)
    store.add()
    with pytest.raises(Exception) as caught:
        store.add()
    assert caught.value.status_code == 503  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="max_tasks"):
        TaskStore(0)


async def test_health_reports_sdk_status(anyio_backend) -> None:
    """GET /health returns the SDK's status dict."""
    async with client_for(fast_app()) as client:
        response = await client.get("/health")
        assert response.status_code == 200
        assert response.json()["success"] is True


async def test_sdk_created_once_under_concurrent_first_requests(anyio_backend) -> None:
    """Many first requests at once create the app's SDK exactly once."""
    made: list[Perfect21SDK] = []

    def factory() -> Perfect21SDK:
        time.sleep(0.05)  # a slow SDK start-up, so the requests overlap
        made.append(Perfect21SDK(latency=0))
        return made[-1]

    app = create_app(sdk_factory=factory)
    async with client_for(app) as client, anyio.create_task_group() as group:
        for _ in range(20):
            group.start_soon(client.get, "/health")
    assert len(made) == 1
    async with get_async_sdk(app) as sdk:
        assert sdk is made[0]


async def test_loop_answers_while_slow_task_in_flight(anyio_backend) -> None:
    """While a slow POST /task is in flight, other requests are answered."""
    sdk = GatedSDK()
    app = create_app(sdk_factory=lambda: sdk)
    async with client_for(app) as client, anyio.create_task_group() as group:
        slow: list[httpx.Response] = []

        async def post() -> None:
            slow.append(await client.post("/task", json={"description": "slow"}))

        group.start_soon(post)
        assert await anyio.to_thread.run_sync(sdk.entered.wait, 20)
        with anyio.fail_after(20):
            for _ in range(5):
                assert (await client.get("/status/unknown")).status_code == 404
                assert (await client.get("/health")).status_code == 200
        assert not slow  # still in flight while the others were answered
        sdk.gate.set()
    assert slow[0].status_code == 200


@pytest.fixture(scope="module")
def real_server() -> Iterator[tuple[str, Perfect21SDK]]:
    """A real uvicorn serving the app on 127.0.0.1 (a port of its own), in a thread."""
    sdk = Perfect21SDK(latency=0.2)
    app = create_app(sdk_factory=lambda: sdk)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"127.0.0.1:{port}", sdk
    finally:
        server.should_exit = True
        thread.join(20)
        sock.close()


def test_real_server_http_and_websocket(real_server) -> None:
    """End to end on uvicorn: POST /task/async, watch it on the WebSocket, read /status."""
    address, _ = real_server
    with httpx.Client(base_url=f"http://{address}", timeout=20) as client:
        assert (
            client.post("/task", json={"description": "a"}).json()["output"]
            == "done: a"
        )
        accepted = client.post("/task/async", json={"description": "b"})
        assert accepted.status_code == 202
        task_id = accepted.json()["task_id"]
        with connect(f"ws://{address}/ws/tasks/{task_id}", open_timeout=20) as ws:
            events = [json.loads(message) for message in ws]
        assert events[-1]["type"] == "result"
        assert events[-1]["output"] == "done: b"
        assert any(e["type"] == "progress" for e in events)
        assert client.get(f"/status/{task_id}").json()["status"] == "completed"
        assert client.get("/status/unknown").status_code == 404


def test_websocket_streams_progress_then_result(real_server) -> None:
    """The WebSocket replays a finished task's events: status, every progress step, result."""
    address, _ = real_server
    with httpx.Client(base_url=f"http://{address}", timeout=20) as client:
        task_id = client.post("/task/async", json={"description": "ws"}).json()[
            "task_id"
        ]
        deadline = time.monotonic() + 20
        while client.get(f"/status/{task_id}").json()["status"] != "completed":
            assert time.monotonic() < deadline
            time.sleep(0.01)
    with connect(f"ws://{address}/ws/tasks/{task_id}", open_timeout=20) as ws:
        events = [json.loads(message) for message in ws]
    assert events[0] == {"type": "status", "status": "completed"}
    assert events[1] == {"type": "status", "status": "running"}
    assert [e["step"] for e in events[2:6]] == [1, 2, 3, 4]
    assert events[6]["type"] == "result"
    assert events[6]["output"] == "done: ws"
    assert len(events) == 7


def test_websocket_unknown_id_closes_4404(real_server) -> None:
    """A WebSocket for an unknown id gets an error event, then close code 4404."""
    address, _ = real_server
    with connect(f"ws://{address}/ws/tasks/nope", open_timeout=20) as ws:
        assert json.loads(ws.recv(timeout=20))["type"] == "error"
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=20)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4404
