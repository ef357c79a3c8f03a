"""DualInterface, sync_twin and async_twin: one implementation, both APIs."""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import http.server
import inspect
import pickle
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any, Self

import anyio
import httpx
import pytest
import trio

import asyncbridge as ab


def in_plain_thread(fn: Any, *args: Any) -> Any:
    """Call fn(*args) in a new thread that works for no loop; return its result."""
    results: list[Any] = []
    thread = threading.Thread(target=lambda: results.append(fn(*args)))
    thread.start()
    thread.join()
    return results[0]


def native_loop() -> object:
    """The running asyncio loop or trio token."""
    if ab.current_backend() == "trio":
        return trio.lowlevel.current_trio_token()
    return asyncio.get_running_loop()


class Store(ab.DualInterface):
    """Async methods only; the sync API is generated."""

    def __init__(self) -> None:
        self.lock: asyncio.Lock | None = None
        self.value = 0
        self.loops: list[object] = []
        self.closed = False
        self.finished: list[str] = []

    async def put_async(self, n: int, *, times: int = 1) -> int:
        """Add *n*, *times* times; return the new value."""
        self.loops.append(native_loop())
        if ab.current_backend() == "asyncio":
            # An asyncio.Lock binds to the loop that first waits on it.
            self.lock = self.lock or asyncio.Lock()
            async with self.lock:
                await asyncio.sleep(0)
                self.value += n * times
        else:
            await anyio.sleep(0)
            self.value += n * times
        return self.value

    async def fail_async(self) -> None:
        await anyio.sleep(0)
        raise ValueError("failed inside")

    async def count_async(self, n: int) -> AsyncIterator[int]:
        try:
            for i in range(n):
                await anyio.sleep(0)
                yield i
        finally:
            self.finished.append("count")

    async def aclose(self) -> None:
        await anyio.sleep(0)
        self.closed = True


# --------------------------------------------------------------- generation


def test_generated_twin_runs_the_async_method() -> None:
    """`put` is generated from `put_async` and returns its result, kwargs included."""
    store = Store()
    assert store.put(2) == 2  # type: ignore[attr-defined]
    assert store.put(1, times=3) == 5  # type: ignore[attr-defined]


def test_generated_twin_keeps_metadata() -> None:
    """The twin has the async method's doc, signature and a fitting name."""
    twin = Store.put  # type: ignore[attr-defined]
    assert twin.__name__ == "put"
    assert twin.__qualname__ == "Store.put"
    assert twin.__doc__ == Store.put_async.__doc__
    bound = Store().put  # type: ignore[attr-defined]
    assert str(inspect.signature(bound)) == "(n: 'int', *, times: 'int' = 1) -> 'int'"
    assert not inspect.iscoroutinefunction(bound)
    assert not ab.is_async_callable(bound)


def test_exception_comes_through_unchanged() -> None:
    """An exception raised by the async method is raised by the twin, with its frame."""
    with pytest.raises(ValueError, match="failed inside") as info:
        Store().fail()  # type: ignore[attr-defined]
    assert info.traceback[-1].name == "fail_async"


def test_explicit_twin_wins() -> None:
    """A sync method written by hand is kept; nothing is generated over it."""

    class Client(ab.DualInterface):
        async def get_async(self) -> str:
            return "async"

        def get(self) -> str:
            return "hand-written"

    assert Client().get() == "hand-written"


def test_suffix_keyword_and_inheritance() -> None:
    """`suffix` picks the marker; subclasses inherit it unless they set their own."""

    class Aio(ab.DualInterface, suffix="_aio"):
        async def ping_aio(self) -> str:
            return "pong"

        async def ping_async(self) -> str:
            return "not a twin source here"

    class Child(Aio):
        async def echo_aio(self, text: str) -> str:
            return text

    assert Aio().ping() == "pong"  # type: ignore[attr-defined]
    assert not hasattr(Aio, "ping_")
    assert Child().echo("x") == "x"  # type: ignore[attr-defined]


def test_generation_can_be_turned_off() -> None:
    """With generate=False no twin appears, while explicit ones still work."""

    class Manual(ab.DualInterface, generate=False):
        async def get_async(self) -> int:
            return 1

        get_sync = ab.sync_twin(get_async)

    assert not hasattr(Manual, "get")
    assert Manual().get_sync() == 1


@pytest.mark.parametrize(
    ("keywords", "error", "match"),
    [
        ({"suffix": ""}, ValueError, "suffix"),
        ({"suffix": "-x"}, ValueError, "suffix"),
        ({"suffix": 3}, TypeError, "suffix"),
        ({"generate": "yes"}, TypeError, "generate"),
        ({"loop_bound": 1}, TypeError, "loop_bound"),
        ({"backend": "curio"}, ValueError, "backend"),
    ],
)
def test_bad_class_keywords(keywords: dict[str, Any], error: type, match: str) -> None:
    """Bad class keywords fail at class creation, naming the keyword."""
    with pytest.raises(error, match=match):
        type("Bad", (ab.DualInterface,), {}, **keywords)


def test_subclass_override_reaches_both_twins() -> None:
    """Overriding the async method changes the generated and the explicit twin."""

    class Base(ab.DualInterface):
        async def name_async(self) -> str:
            return "base"

        label = ab.sync_twin(name_async)

    class Derived(Base):
        async def name_async(self) -> str:
            return "derived"

    assert Derived().name() == "derived"  # type: ignore[attr-defined]
    assert Derived().label() == "derived"
    assert Base().label() == "base"


def test_no_super_init_needed() -> None:
    """A subclass whose __init__ never calls super().__init__() works."""

    class Plain(ab.DualInterface):
        def __init__(self, start: int) -> None:
            self.start = start

        async def get_async(self) -> int:
            return self.start

    assert Plain(7).get() == 7  # type: ignore[attr-defined]


def test_class_and_static_methods_get_twins() -> None:
    """Async classmethods and staticmethods get sync twins of the same kind."""

    class Factory(ab.DualInterface):
        def __init__(self, value: int) -> None:
            self.value = value

        @classmethod
        async def create_async(cls, value: int) -> Factory:
            await anyio.sleep(0)
            return cls(value)

        @staticmethod
        async def version_async() -> str:
            return "1.0"

    made = Factory.create(3)  # type: ignore[attr-defined]
    assert isinstance(made, Factory)
    assert made.value == 3
    assert Factory.version() == "1.0"  # type: ignore[attr-defined]
    assert made.version() == "1.0"


def test_async_generator_method_gets_sync_generator() -> None:
    """An async generator method's twin is a sync generator; break closes it at once."""
    store = Store()
    assert list(store.count(3)) == [0, 1, 2]  # type: ignore[attr-defined]
    assert store.finished == ["count"]
    for item in store.count(10):  # type: ignore[attr-defined]
        if item == 1:
            break
    assert store.finished == ["count", "count"]


def test_sync_twin_rejects_bad_input() -> None:
    """sync_twin needs an async method: clear TypeErrors otherwise."""

    def plain(self: object) -> None: ...

    async def coro_fn(self: object) -> None: ...

    with pytest.raises(TypeError, match="async_twin"):
        ab.sync_twin(plain)  # type: ignore[arg-type]
    coro = coro_fn(None)
    with pytest.raises(TypeError, match="parentheses"):
        ab.sync_twin(coro)  # type: ignore[call-overload]
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED
    with pytest.raises(TypeError, match="staticmethod"):
        ab.sync_twin(staticmethod(coro_fn))  # type: ignore[call-overload]
    with pytest.raises(TypeError):
        ab.sync_twin(42)  # type: ignore[call-overload]


def test_async_twin_rejects_bad_input() -> None:
    """async_twin needs a blocking method: clear TypeErrors otherwise."""

    async def coro_fn(self: object) -> None: ...

    def gen(self: object) -> Iterator[int]:
        yield 1

    with pytest.raises(TypeError, match="async function"):
        ab.async_twin(coro_fn)
    with pytest.raises(TypeError, match="iterate_in_thread"):
        ab.async_twin(gen)
    with pytest.raises(TypeError, match="cancellable"):
        ab.async_twin(len, cancellable="no")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="executor"):
        ab.async_twin(len, executor=3)  # type: ignore[arg-type]


# ----------------------------------------------------------------- home loop


def test_sync_calls_from_threads_share_one_loop() -> None:
    """Sync twins from 4 threads all run on one loop: a contended asyncio.Lock works."""
    store = Store()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: store.put(1), range(40)))  # type: ignore[attr-defined]
    assert store.value == 40
    assert len({id(loop) for loop in store.loops}) == 1
    assert store.loops[0] is not None


@pytest.mark.anyio
async def test_async_use_makes_the_running_loop_home(anyio_backend: object) -> None:
    """After an await, sync twins (here from a worker thread) run on that same loop."""
    store = Store()
    await store.put_async(1)
    assert await ab.run_in_thread(store.put, 2) == 3  # type: ignore[attr-defined]
    assert store.loops == [native_loop(), native_loop()]


@pytest.mark.anyio
async def test_home_loop_from_another_loop_conflicts(anyio_backend: object) -> None:
    """Awaited on another loop than its home, the instance raises, naming both."""
    store = Store()
    await ab.run_in_thread(in_plain_thread, store.put, 1)  # type: ignore[attr-defined]
    with pytest.raises(ab.LoopConflictError, match="home loop") as info:
        await store.put_async(1)
    message = str(info.value)
    assert "portal" in message
    assert f"{id(native_loop()):#x}" in message
    assert "Store" in message
    assert "loop_bound=False" in message


def test_closed_home_loop_conflicts() -> None:
    """A home loop that has closed is reported, from sync and from async use."""
    store = Store()
    asyncio.run(store.put_async(1))
    with pytest.raises(ab.LoopConflictError, match="closed"):
        store.put(1)  # type: ignore[attr-defined]
    with pytest.raises(ab.LoopConflictError, match="now closed"):
        asyncio.run(store.put_async(1))


def test_finished_trio_home_conflicts() -> None:
    """A trio run that was the home loop and has finished is reported, by name."""
    store = Store()
    trio.run(store.put_async, 1)
    with pytest.raises(
        ab.LoopConflictError, match=r"home loop .*that loop has finished"
    ):
        store.put(1)  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_sync_twin_on_home_loop_thread_is_refused(anyio_backend: object) -> None:
    """A sync twin called on its home loop's own thread raises instead of hanging."""
    store = Store()
    await store.put_async(1)
    with pytest.raises(ab.LoopConflictError, match="wait for itself"):
        store.put(1)  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_sync_twin_under_another_running_loop(anyio_backend: object) -> None:
    """Where another loop runs, the on_loop_conflict policy applies."""
    store = Store()
    await ab.run_in_thread(in_plain_thread, store.put, 1)  # type: ignore[attr-defined]
    with pytest.warns(ab.LoopBlockedWarning):
        assert store.put(1) == 2  # type: ignore[attr-defined]
    ab.configure(on_loop_conflict="raise")
    with pytest.raises(ab.LoopConflictError, match="on_loop_conflict"):
        store.put(1)  # type: ignore[attr-defined]


def test_sync_twin_in_a_worker_its_portal_waits_for() -> None:
    """Sync code run for a coroutine on the home portal cannot call a twin: it says so."""
    store = Store()
    store.put(1)  # type: ignore[attr-defined]  # home: the portal

    @ab.mixed_execution_safe
    def legacy() -> int:
        return store.put(1)  # type: ignore[attr-defined, no-any-return]

    async def on_the_portal() -> int:
        return legacy()

    with (
        pytest.warns(ab.LoopBlockedWarning),
        pytest.raises(ab.LoopConflictError, match="blocked waiting for"),
    ):
        ab.run_sync(on_the_portal)


def test_loop_bound_false_moves_between_loops() -> None:
    """loop_bound=False keeps no home: any loop may await it."""

    class Stateless(ab.DualInterface, loop_bound=False):
        async def echo_async(self, text: str) -> str:
            await asyncio.sleep(0)
            return text

    stateless = Stateless()
    assert asyncio.run(stateless.echo_async("a")) == "a"
    assert asyncio.run(stateless.echo_async("b")) == "b"
    assert stateless.echo("c") == "c"  # type: ignore[attr-defined]


def test_trio_backend_keyword() -> None:
    """backend='trio' makes a sync call's home the trio portal."""

    class TrioOnly(ab.DualInterface, backend="trio"):
        async def where_async(self) -> str | None:
            await trio.sleep(0)
            return ab.current_backend()

    assert TrioOnly().where() == "trio"  # type: ignore[attr-defined]


class Tally(ab.DualInterface):
    def __init__(self) -> None:
        self.count = 0

    async def bump_async(self) -> int:
        await asyncio.sleep(0)
        self.count += 1
        return self.count


def test_copies_and_pickles() -> None:
    """A copy shares the home loop; a deep copy or an unpickled one has none."""
    tally = Tally()
    tally.bump()  # type: ignore[attr-defined]
    with pytest.raises(ab.LoopConflictError):
        asyncio.run(copy.copy(tally).bump_async())
    for fresh in (copy.deepcopy(tally), pickle.loads(pickle.dumps(tally))):  # noqa: S301
        assert asyncio.run(fresh.bump_async()) == 2


def test_twins_work_outside_dual_interface() -> None:
    """sync_twin and async_twin also work in a plain class."""

    class Plain:
        async def get_async(self) -> int:
            await asyncio.sleep(0)
            return id(asyncio.get_running_loop())

        get = ab.sync_twin(get_async)

        def compute(self, x: int) -> int:
            return x * 2

        compute_async = ab.async_twin(compute)

    plain = Plain()
    assert plain.get() == plain.get()
    assert asyncio.run(plain.compute_async(4)) == 8


def test_typed_protocol_methods_exist_for_type_checkers_only() -> None:
    """DualInterface declares with/for/close() for type checkers, not at run time."""

    class Nothing(ab.DualInterface):
        pass

    for name in ("__enter__", "__exit__", "close", "__iter__"):
        assert name not in vars(ab.DualInterface)
        assert not hasattr(Nothing(), name)  # no async side: nothing generated


def test_twin_of_a_method_returning_self() -> None:
    """A twin of a method returning Self returns the instance, a subclass's too."""

    class Conn(ab.DualInterface):
        async def connect_async(self, host: str) -> Self:
            self.host = host
            return self

        connect = ab.sync_twin(connect_async)

        def reset(self) -> Self:
            return self

        reset_async = ab.async_twin(reset)

    class Tls(Conn):
        pass

    tls = Tls()
    assert tls.connect("h") is tls
    assert tls.host == "h"
    assert asyncio.run(tls.reset_async()) is tls


# ------------------------------------------------------------ async twins


class Sync(ab.DualInterface):
    def __init__(self) -> None:
        self.threads: list[str] = []

    def compute(self, x: int, *, scale: int = 1) -> int:
        """Multiply x by scale, blocking."""
        self.threads.append(threading.current_thread().name)
        return x * scale

    compute_async = ab.async_twin(compute)

    def fail(self) -> None:
        raise KeyError("sync failure")

    fail_async = ab.async_twin(fail)


@pytest.mark.anyio
async def test_async_twin_offloads(anyio_backend: object) -> None:
    """The async twin runs the sync method in a worker thread, kwargs included."""
    obj = Sync()
    assert await obj.compute_async(3, scale=2) == 6
    assert obj.threads[0] != threading.current_thread().name
    with pytest.raises(KeyError, match="sync failure"):
        await obj.fail_async()
    assert inspect.iscoroutinefunction(obj.compute_async)
    assert str(inspect.signature(obj.compute_async)) == str(
        inspect.signature(obj.compute)
    )
    assert Sync.compute_async.__doc__ == "Multiply x by scale, blocking."


@pytest.mark.anyio
async def test_async_twin_calls_sync_twin_of_same_instance(
    anyio_backend: object,
) -> None:
    """Sync code in an async twin may call sync twins; they run on the home loop."""

    class Mixed(ab.DualInterface):
        async def load_async(self) -> object:
            await anyio.sleep(0)
            return native_loop()

        def report(self) -> object:
            return self.load()  # type: ignore[attr-defined]

        report_async = ab.async_twin(report)

    mixed = Mixed()
    assert await mixed.load_async() is native_loop()
    assert await mixed.report_async() is native_loop()


# ------------------------------------------------------- protocol twins


class Session(ab.DualInterface):
    """An async context manager and async iterable, with a task group inside."""

    def __init__(self, *, suppress: bool = False) -> None:
        self.suppress = suppress
        self.tasks: list[object] = []
        self.seen: list[BaseException | None] = []
        self.finished = False
        self._group: anyio.abc.TaskGroup | None = None

    async def __aenter__(self) -> Self:
        self.tasks.append(anyio.get_current_task().id)
        self._group = anyio.create_task_group()
        await self._group.__aenter__()  # bound to this task
        return self

    async def __aexit__(
        self, exc_type: object, exc: BaseException | None, tb: object
    ) -> bool:
        self.tasks.append(anyio.get_current_task().id)
        self.seen.append(exc)
        assert self._group is not None
        await self._group.__aexit__(None, None, None)
        return self.suppress

    async def __aiter__(self) -> AsyncIterator[int]:
        try:
            for i in range(5):
                await anyio.sleep(0)
                yield i
        finally:
            self.finished = True


class TrioSession(Session, backend="trio"):
    """The same, at home on the trio portal when first used from sync code."""


PORTALS = [pytest.param(Session, id="asyncio"), pytest.param(TrioSession, id="trio")]


@pytest.mark.parametrize("kind", PORTALS)
def test_with_from_async_with(kind: type[Session]) -> None:
    """`with` runs __aenter__ and __aexit__ in one task, so task-bound state works."""
    session = kind()
    with session as entered:
        assert entered is session
    assert session.tasks[0] == session.tasks[1]
    assert session.seen == [None]


@pytest.mark.parametrize("kind", PORTALS)
def test_with_passes_exceptions_and_suppression(kind: type[Session]) -> None:
    """The block's exception reaches __aexit__; True suppresses it, False does not."""
    error = KeyError("in block")
    with pytest.raises(KeyError) as info, kind() as session:
        raise error
    assert info.value is error
    assert session.seen == [error]
    with kind(suppress=True) as quiet:
        raise error
    assert quiet.seen == [error]


@pytest.mark.parametrize("kind", PORTALS)
def test_for_from_async_for(kind: type[Session]) -> None:
    """`for` iterates __aiter__; breaking out closes the async generator at once."""
    session = kind()
    assert list(session) == [0, 1, 2, 3, 4]
    session = kind()
    for item in session:
        if item == 2:
            break
    assert session.finished


def test_no_session_task_is_left_on_the_portal() -> None:
    """After `with` and `for`, only the checking task itself runs on the portal."""
    with Session():
        pass
    for _ in Session():
        break

    async def tasks_running() -> int:
        return len(asyncio.all_tasks())

    assert ab.run_sync(tasks_running) == 1


def test_no_thread_or_loop_per_call() -> None:
    """Many twin calls, `with` blocks and iterations start no thread and no loop."""
    session = Session()
    store = Store()
    store.put(1)  # type: ignore[attr-defined]
    with session:
        pass
    before = threading.active_count()
    for _ in range(50):
        store.put(1)  # type: ignore[attr-defined]
        with session:
            pass
        assert list(store.count(2)) == [0, 1]  # type: ignore[attr-defined]
    assert threading.active_count() <= before
    assert len({id(loop) for loop in store.loops}) == 1


class Resource(ab.DualInterface):
    """A blocking context manager with `close()`: the async side is generated."""

    def __init__(self) -> None:
        self.threads: list[str] = []
        self.seen: list[BaseException | None] = []
        self.closed_in: str | None = None

    def __enter__(self) -> Self:
        self.threads.append(threading.current_thread().name)
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> bool:
        self.threads.append(threading.current_thread().name)
        self.seen.append(exc)
        return isinstance(exc, LookupError)

    def close(self) -> None:
        self.closed_in = threading.current_thread().name


@pytest.mark.anyio
async def test_async_with_from_with(anyio_backend: object) -> None:
    """`async with` runs __enter__/__exit__ in threads; exceptions and suppression pass."""
    here = threading.current_thread().name
    resource = Resource()
    async with resource as entered:
        assert entered is resource
    assert resource.threads
    assert here not in resource.threads
    error = KeyError("suppressed")
    async with resource:
        raise error
    assert resource.seen == [None, error]
    with pytest.raises(ValueError, match="kept"):
        async with resource:
            raise ValueError("kept")


@pytest.mark.anyio
async def test_close_and_aclose_pair_up(anyio_backend: object) -> None:
    """aclose() gives close(), and close() gives aclose() (run in a thread)."""
    resource = Resource()
    await resource.aclose()  # type: ignore[attr-defined]
    assert resource.closed_in not in (None, threading.current_thread().name)
    store = Store()
    await ab.run_in_thread(store.close)  # type: ignore[attr-defined]
    assert store.closed


# ------------------------------------------------------- a real HTTP client


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: connections are reused

    def do_GET(self) -> None:
        body = self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.connections = 0

    def process_request(self, request: Any, client_address: Any) -> None:
        self.connections += 1
        super().process_request(request, client_address)


@pytest.fixture
def http_server() -> Iterator[_Server]:
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class ApiClient(ab.DualInterface):
    """A small client: one httpx.AsyncClient, created on first use, on its loop."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._client: httpx.AsyncClient | None = None
        self.clients_created = 0
        self.loops: set[int] = set()

    async def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(base_url=self.base_url)
            self.clients_created += 1
        return self._client

    async def get_text_async(self, path: str) -> str:
        self.loops.add(id(native_loop()))
        response = await (await self._http()).get(path)
        response.raise_for_status()
        return response.text

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()


class TrioApiClient(ApiClient, backend="trio"):
    """The same client, at home on the trio portal."""


@pytest.mark.parametrize(
    "client_class", [ApiClient, TrioApiClient], ids=["asyncio", "trio"]
)
def test_real_client_from_many_threads(
    http_server: _Server, client_class: type[ApiClient]
) -> None:
    """50 sync calls from 4 threads succeed on one httpx client and one loop."""
    host, port = http_server.server_address[:2]
    client = client_class(f"http://{host}:{port}")
    paths = [f"/item/{i}" for i in range(50)]
    try:
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            texts = list(pool.map(client.get_text, paths))  # type: ignore[attr-defined]
    finally:
        client.close()  # type: ignore[attr-defined]
    assert texts == paths
    assert client.clients_created == 1
    assert len(client.loops) == 1
    assert http_server.connections <= 4  # the pool's connections were reused
