"""The REST API's implementation; the public names are in `asyncbridge.adapters.perfect21.api`."""

from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import anyio

import asyncbridge as ab

from ._checks import check_int
from ._results import error_text
from ._sdk import Perfect21SDK

try:
    from fastapi import (
        APIRouter,
        BackgroundTasks,
        Depends,
        FastAPI,
        HTTPException,
        Request,
        WebSocket,
        WebSocketDisconnect,
    )
    from pydantic import BaseModel, Field
except ImportError as exc:  # pragma: no cover - depends on the environment
    msg = "asyncbridge.adapters.perfect21.api needs FastAPI: pip install 'asyncbridge[api]'"
    raise ImportError(msg) from exc

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Callable

__all__ = [
    "TaskRequest",
    "TaskResponse",
    "TaskStore",
    "create_app",
    "get_async_sdk",
    "router",
]

logger = logging.getLogger(__name__)


def _task(
    sdk: Perfect21SDK,
    description: str,
    timeout: float,
    verbose: bool,
    progress: Callable[[int, int], object] | None,
) -> dict[str, Any]:
    return sdk.task(description, timeout, verbose, progress)


# One wrapper for every request: the SDK call runs in asyncbridge's default pool.
_run_task = ab.asyncify(_task)


class TaskRequest(BaseModel):
    """The body of ``POST /task``, ``/task/async`` and ``/task/blocking``."""

    description: str = Field(min_length=1, description="what to do")
    timeout: float = Field(default=300, gt=0, description="seconds the task may take")
    verbose: bool = False


class TaskResponse(BaseModel):
    """A task's state: ``queued``, ``running``, ``completed`` or ``failed``."""

    success: bool
    task_id: str | None = None
    status: str
    output: str | None = None
    error: str | None = None


@dataclass
class _Record:
    task_id: str
    status: str = "queued"
    output: str | None = None
    error: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    changed: anyio.Event = field(default_factory=anyio.Event)

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "failed")

    def response(self) -> TaskResponse:
        return TaskResponse(
            success=self.status == "completed",
            task_id=self.task_id,
            status=self.status,
            output=self.output,
            error=self.error,
        )


class TaskStore:
    """Tasks by id, at most *max_tasks*, the oldest finished ones dropped first.

    Used only on the server's event loop (no lock needed): the SDK's worker
    threads reach it through ``ab.run_sync``, which runs on that loop.
    """

    def __init__(self, max_tasks: int) -> None:
        self.max_tasks = check_int(max_tasks, "TaskStore()", "max_tasks", minimum=1)
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def __len__(self) -> int:
        return len(self._records)

    def add(self) -> _Record:
        """Make room if needed and return a new queued record.

        Raises:
            HTTPException: 503, every kept task is still unfinished.
        """
        if len(self._records) >= self.max_tasks:
            oldest = next((k for k, r in self._records.items() if r.finished), None)
            if oldest is None:
                raise HTTPException(503, "too many unfinished tasks; retry later")
            del self._records[oldest]
        record = _Record(uuid.uuid4().hex)
        self._records[record.task_id] = record
        return record

    def get(self, task_id: str) -> _Record:
        """Return the record of *task_id*.

        Raises:
            HTTPException: 404, no such task (or it was dropped).
        """
        record = self._records.get(task_id)
        if record is None:
            raise HTTPException(404, f"unknown task id {task_id!r}")
        return record


async def _publish(record: _Record, event: dict[str, Any]) -> None:
    """Append *event* and wake whoever waits for the record (on the server's loop)."""
    record.events.append(event)
    record.changed.set()
    record.changed = anyio.Event()


class _SDKHolder:
    def __init__(self, factory: Callable[[], Perfect21SDK]) -> None:
        self.factory = factory
        self.sdk: Perfect21SDK | None = None
        self.lock = threading.Lock()

    def create(self) -> Perfect21SDK:
        with self.lock:
            if self.sdk is None:
                self.sdk = self.factory()
            return self.sdk


@asynccontextmanager
async def get_async_sdk(app: FastAPI) -> AsyncGenerator[Perfect21SDK, None]:
    """Give the app's SDK, creating it on first use: once, under a lock, off the loop.

    Raises:
        HTTPException: 502, the SDK could not be created.
    """
    holder: _SDKHolder = app.state.perfect21_sdk
    sdk = holder.sdk
    if sdk is None:
        try:
            sdk = await ab.run_in_thread(holder.create)
        except Exception as exc:
            logger.exception("Perfect21 SDK could not start")
            raise HTTPException(502, f"Perfect21 SDK could not start: {exc}") from exc
    yield sdk


async def _sdk_dependency(request: Request) -> AsyncIterator[Perfect21SDK]:
    async with get_async_sdk(request.app) as sdk:
        yield sdk


def _store_dependency(request: Request) -> TaskStore:
    store: TaskStore = request.app.state.perfect21_tasks
    return store


SDK = Annotated[Perfect21SDK, Depends(_sdk_dependency)]
Store = Annotated[TaskStore, Depends(_store_dependency)]


async def _execute(
    record: _Record, sdk: Perfect21SDK, body: TaskRequest, *, stream: bool
) -> None:
    """Run the task in a worker thread, publishing its events; record the outcome.

    With *stream*, the SDK's progress steps are published too (for WebSocket
    watchers of background tasks): each is one hop from the worker thread back
    to the loop, so ``POST /task``, whose caller waits for the result anyway,
    does without.
    """
    record.status = "running"
    await _publish(record, {"type": "status", "status": "running"})

    def progress(step: int, total: int) -> None:  # called in the SDK's worker thread
        ab.run_sync(
            _publish, record, {"type": "progress", "step": step, "total": total}
        )

    try:
        result = await _run_task(
            sdk,
            body.description,
            body.timeout,
            body.verbose,
            progress if stream else None,
        )
    except Exception as exc:
        logger.exception("Perfect21 SDK failed on task %s", record.task_id)
        record.status, record.error = "failed", error_text(exc)
    else:
        record.status, record.output = "completed", str(result.get("stdout", ""))
    await _publish(record, {"type": "result", **record.response().model_dump()})


router = APIRouter()


@router.post("/task")
async def execute_task(body: TaskRequest, sdk: SDK, store: Store) -> TaskResponse:
    """Run a task in a worker thread and return its result (502 if the SDK fails)."""
    record = store.add()
    await _execute(record, sdk, body, stream=False)
    if record.status == "failed":
        raise HTTPException(502, f"Perfect21 SDK failed: {record.error}")
    return record.response()


@router.post("/task/blocking")
async def execute_task_blocking(body: TaskRequest, sdk: SDK) -> TaskResponse:
    """The "before": call the blocking SDK on the loop (stalls every request)."""
    try:
        # Blocking call on the event loop, on purpose: the seed's "before".
        result = sdk.task(body.description, body.timeout, body.verbose)
    except Exception as exc:
        detail = f"Perfect21 SDK failed: {error_text(exc)}"
        raise HTTPException(502, detail) from exc
    return TaskResponse(
        success=True, status="completed", output=str(result.get("stdout", ""))
    )


@router.post("/task/async", status_code=202)
async def execute_task_async(
    body: TaskRequest, sdk: SDK, store: Store, background_tasks: BackgroundTasks
) -> TaskResponse:
    """Accept a task and run it in the background; see ``/status/{id}`` or the WebSocket."""
    record = store.add()
    background_tasks.add_task(_execute, record, sdk, body, stream=True)
    return record.response()


@router.get("/status/{task_id}")
async def get_task_status(task_id: str, store: Store) -> TaskResponse:
    """Return a task's status and result (404 if unknown)."""
    return store.get(task_id).response()


@router.get("/health")
async def health(sdk: SDK) -> dict[str, Any]:
    """Return the SDK's status (asked in a worker thread)."""
    return await ab.run_in_thread(sdk.status)


@router.websocket("/ws/tasks/{task_id}")
async def task_events(websocket: WebSocket, task_id: str) -> None:
    """Stream a task's events until its result, then close (code 4404: unknown id)."""
    await websocket.accept()
    store: TaskStore = websocket.app.state.perfect21_tasks
    try:
        record = store.get(task_id)
    except HTTPException as exc:
        await websocket.send_json({"type": "error", "message": exc.detail})
        await websocket.close(code=4404)
        return
    sent = 0
    try:
        await websocket.send_json({"type": "status", "status": record.status})
        while True:
            while sent < len(record.events):
                await websocket.send_json(record.events[sent])
                sent += 1
            if record.finished:
                break
            await record.changed.wait()
        await websocket.close()
    except WebSocketDisconnect:
        return


def create_app(
    *, sdk_factory: Callable[[], Perfect21SDK] = Perfect21SDK, max_tasks: int = 1000
) -> FastAPI:
    """Return the Perfect21 FastAPI app (its own SDK and task store).

    Args:
        sdk_factory: makes the app's SDK on first use (blocking is fine: it runs
            in a worker thread).
        max_tasks: the most tasks the status store keeps.

    >>> create_app().title
    'Perfect21 API'
    """
    app = FastAPI(title="Perfect21 API", version="asyncbridge")
    app.state.perfect21_sdk = _SDKHolder(sdk_factory)
    app.state.perfect21_tasks = TaskStore(max_tasks)
    app.include_router(router)
    return app
