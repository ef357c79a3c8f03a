"""Instrumentation: hooks receive an event for every path; no hook costs nothing."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest
from prometheus_client import CollectorRegistry

import asyncbridge as ab
from asyncbridge._core import _hooks
from asyncbridge._engine import _offload, _sync
from asyncbridge.instrumentation import (
    BridgeHop,
    Event,
    LoggingHook,
    LoopBlocked,
    PoolCeilingReached,
    PoolSlotLent,
    PrometheusHook,
    RetryGivenUp,
    RetryScheduled,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def events() -> Iterator[list[Event]]:
    """The events of the test, recorded by a hook registered for its length."""
    recorded: list[Event] = []
    hook = ab.instrumentation.add_hook(recorded.append)
    yield recorded
    ab.instrumentation.remove_hook(hook)
    assert ab.instrumentation.get_hooks() == ()


def hops(events: list[Event]) -> list[BridgeHop]:
    return [e for e in events if isinstance(e, BridgeHop)]


async def where() -> str:
    await anyio.sleep(0)
    return threading.current_thread().name


async def fail() -> None:
    await anyio.sleep(0)
    raise ValueError("from the coroutine")


def thread_name() -> str:
    return threading.current_thread().name


# ------------------------------------------------------------------ bridge hops


def test_run_sync_hop_to_the_portal(events: list[Event]) -> None:
    """run_sync from a plain thread: one hop, route portal, with both threads."""
    ran_on = ab.run_sync(where)
    [hop] = hops(events)
    assert (hop.api, hop.route, hop.path) == ("run_sync", "portal", "run_sync:portal")
    assert hop.target == f"{__name__}.where"
    assert hop.caller_thread == threading.current_thread().name
    assert hop.runner_thread == ran_on == "asyncbridge-portal-asyncio"
    assert 0 <= hop.queued <= hop.duration
    assert hop.error is None
    assert str(hop).startswith(f"run_sync:portal {__name__}.where from 'MainThread'")
    assert str(hop).endswith(", ok")


def test_run_sync_of_an_awaitable_and_syncify(events: list[Event]) -> None:
    """A coroutine object and a syncify wrapper are reported the same way."""
    ab.run_sync(where())
    ab.syncify(where)()
    assert [h.target for h in hops(events)] == ["where", f"{__name__}.where"]


def test_own_loop_is_the_same_thread(events: list[Event]) -> None:
    """Under sync_loop="thread" the coroutine runs in the caller's thread."""
    ab.configure(sync_loop="thread")  # restored by conftest
    done = threading.Event()

    def in_a_thread() -> None:
        ab.run_sync(where)
        done.set()

    thread = threading.Thread(target=in_a_thread, name="caller")
    thread.start()
    thread.join()
    assert done.is_set()
    [hop] = hops(events)
    assert (hop.route, hop.caller_thread, hop.runner_thread) == (
        "same_thread",
        "caller",
        "caller",
    )


async def test_nested_hops_on_every_backend(
    anyio_backend: object, events: list[Event]
) -> None:
    """run_in_thread → run_sync back to the parent loop: two hops, routes and threads."""

    def sync_part() -> str:
        return ab.run_sync(where)

    loop_thread = threading.current_thread().name
    assert await ab.run_in_thread(sync_part) == loop_thread
    inner, outer = hops(events)  # the inner hop ends first
    assert (inner.api, inner.route, inner.runner_thread) == (
        "run_sync",
        "parent_loop",
        loop_thread,
    )
    assert (outer.api, outer.route, outer.caller_thread) == (
        "run_in_thread",
        "thread_pool",
        loop_thread,
    )
    assert inner.caller_thread == outer.runner_thread
    assert outer.target.endswith("sync_part")
    assert outer.duration >= inner.duration


async def test_depth_three_chain(anyio_backend: object, events: list[Event]) -> None:
    """sync→async→sync→async three deep: every hop reported, innermost first."""

    async def deepest() -> int:
        return 3

    async def middle() -> int:
        return await ab.run_in_thread(lambda: ab.run_sync(deepest))

    def top() -> int:
        return ab.run_sync(middle)

    assert await ab.run_in_thread(top) == 3
    assert [h.path for h in hops(events)] == [
        "run_sync:parent_loop",
        "run_in_thread:thread_pool",
        "run_sync:parent_loop",
        "run_in_thread:thread_pool",
    ]


def test_errors_and_cancellation_are_in_the_hop(events: list[Event]) -> None:
    """What the bridged code raised, a timeout's cancellation included, is reported."""
    with pytest.raises(ValueError, match="from the coroutine"):
        ab.run_sync(fail)

    async def forever() -> None:
        await asyncio.Event().wait()

    with pytest.raises(TimeoutError):
        ab.run_sync(forever, timeout=0.01)

    async def offload_failure() -> None:
        await ab.run_in_thread(int, "not a number")

    with pytest.raises(ValueError, match="invalid literal"):
        asyncio.run(offload_failure())
    raised, cancelled, offloaded = hops(events)
    assert isinstance(raised.error, ValueError)
    assert str(raised).endswith("raised ValueError")
    assert isinstance(cancelled.error, asyncio.CancelledError)
    assert isinstance(offloaded.error, ValueError)
    assert offloaded.target == "builtins.int"


def test_foreign_executors_are_not_reported(events: list[Event]) -> None:
    """An executor that may leave the process (not a thread pool) gets no hop."""

    class Inline(concurrent.futures.Executor):
        def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
            future: concurrent.futures.Future[Any] = concurrent.futures.Future()
            future.set_result(fn(*args, **kwargs))
            return future

    async def main() -> int:
        return await ab.run_in_thread(abs, -2, executor=Inline())

    assert asyncio.run(main()) == 2
    assert hops(events) == []


def test_a_thread_pool_executor_is_reported(events: list[Event]) -> None:
    """A concurrent.futures thread pool is a thread hop like the default pool."""
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="tpe") as pool:

        async def main() -> str:
            return await ab.run_in_thread(thread_name, executor=pool)

        ran_on = asyncio.run(main())
    [hop] = hops(events)
    assert hop.runner_thread == ran_on
    assert ran_on.startswith("tpe")


def test_many_threads_at_once(events: list[Event]) -> None:
    """Hops from many threads released together are each reported once."""
    n = 12
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def caller() -> None:
        try:
            barrier.wait()
            ab.run_sync(where)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=caller, name=f"caller-{i}") for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(h.caller_thread for h in hops(events)) == sorted(
        t.name for t in threads
    )


def test_no_hook_no_tracing(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no hook registered, the bridges never call the tracing helpers."""

    def refuse(*args: object) -> None:
        raise AssertionError("traced without a hook")

    monkeypatch.setattr(_sync, "trace_run_sync", refuse)
    monkeypatch.setattr(_offload, "trace_run_in_thread", refuse)
    assert _hooks.HOOKS == []

    async def main() -> int:
        return await ab.run_in_thread(lambda: ab.run_sync(one))

    async def one() -> int:
        return 1

    assert ab.run_sync(one) == 1
    assert asyncio.run(main()) == 1


# ------------------------------------------------------------- hook behaviour


def test_a_failing_hook_is_logged_and_skipped(
    events: list[Event], caplog: pytest.LogCaptureFixture
) -> None:
    """A hook that raises is logged; the call and the other hooks are unaffected."""

    def broken(event: Event) -> None:
        raise RuntimeError("hook bug")

    ab.instrumentation.add_hook(broken)
    try:
        assert ab.run_sync(where) == "asyncbridge-portal-asyncio"
    finally:
        ab.instrumentation.remove_hook(broken)
    assert len(hops(events)) == 1
    [record] = [r for r in caplog.records if "hook" in r.getMessage()]
    assert "failed on BridgeHop" in record.getMessage()
    assert record.exc_info is not None
    assert str(record.exc_info[1]) == "hook bug"


def test_a_hook_that_bridges_is_not_fed_its_own_calls(events: list[Event]) -> None:
    """Bridge calls made by a hook (and theirs in turn) are not reported again."""
    seen_by_hook: list[Event] = []

    def bridging_hook(event: Event) -> None:
        seen_by_hook.append(event)
        ab.run_sync(where)  # in the worker thread: back to the parent loop

    async def main() -> str:
        return await ab.run_in_thread(thread_name)

    ab.instrumentation.add_hook(bridging_hook)
    try:
        asyncio.run(main())
    finally:
        ab.instrumentation.remove_hook(bridging_hook)
    assert seen_by_hook == events
    assert [e.path for e in hops(events)] == ["run_in_thread:thread_pool"]


def test_registry_rules() -> None:
    """add_hook is idempotent and returns the hook; remove/add check their argument."""
    hook = ab.instrumentation.add_hook(print)
    try:
        assert ab.instrumentation.add_hook(print) is print
        assert ab.instrumentation.get_hooks() == (hook,)
    finally:
        ab.instrumentation.remove_hook(print)
    with pytest.raises(ValueError, match="is not registered"):
        ab.instrumentation.remove_hook(print)
    with pytest.raises(TypeError, match="expected a callable"):
        ab.instrumentation.add_hook(3)  # type: ignore[arg-type]


# ----------------------------------------------- events wired by other modules

EMITTED: list[tuple[Callable[..., None], tuple[Any, ...], Event]] = [
    (
        _hooks.emit_retry_scheduled,
        ("mod.fetch", 2, 0.5, 1.25, ConnectionError("x")),
        RetryScheduled("mod.fetch", 2, 0.5, 1.25, ConnectionError("x")),
    ),
    (
        _hooks.emit_retry_given_up,
        ("mod.fetch", 3, 2.0, None),
        RetryGivenUp("mod.fetch", 3, 2.0, None),
    ),
    (_hooks.emit_pool_slot_lent, ("default", 2, 8), PoolSlotLent("default", 2, 8)),
    (
        _hooks.emit_pool_ceiling_reached,
        ("default", 8),
        PoolCeilingReached("default", 8),
    ),
]


@pytest.mark.parametrize(
    ("emit", "args", "expected"),
    EMITTED,
    ids=["retry_scheduled", "retry_given_up", "slot_lent", "ceiling"],
)
def test_emit_functions(
    emit: Callable[..., None],
    args: tuple[Any, ...],
    expected: Event,
    events: list[Event],
) -> None:
    """Each emit_... function delivers its event, fields in order."""
    emit(*args)
    [event] = events
    assert type(event) is type(expected)
    assert (
        repr(event)[: repr(event).find("error=")]
        == (repr(expected)[: repr(expected).find("error=")])
    )
    assert str(event)


def test_emit_functions_without_hooks_do_nothing() -> None:
    """With no hook, emit_... returns at once (callers still guard with HOOKS)."""
    for emit, args, _ in EMITTED:
        assert emit(*args) is None


def test_event_texts() -> None:
    """Every event reads as one informative line (the logging hook's message)."""
    assert str(RetryScheduled("m.f", 1, 0.25, 0.5, OSError())) == (
        "retry of m.f scheduled: attempt 1 failed (OSError), next in 0.250 s "
        "(0.500 s elapsed)"
    )
    assert "(result)" in str(RetryScheduled("m.f", 1, 0.25, 0.5, None))
    assert str(RetryGivenUp("m.f", 3, 1.5, None)) == (
        "retry of m.f gave up after 3 attempt(s) in 1.500 s (result)"
    )
    assert "(KeyError)" in str(RetryGivenUp("m.f", 3, 1.5, KeyError()))
    assert str(PoolSlotLent("io", 1, 4)) == "pool 'io' lent a slot (1 of 4 lent)"
    assert str(PoolCeilingReached("io", 4)) == (
        "pool 'io' reached its ceiling of 4 lent slots"
    )


# -------------------------------------------------------------- built-in hooks


def blocked(duration: float = 0.2) -> LoopBlocked:
    return LoopBlocked(
        "asyncio", "MainThread", duration, 0.1, "app.py", 3, "handler", "stack", "fix"
    )


def test_logging_hook_levels(caplog: pytest.LogCaptureFixture) -> None:
    """Each event is logged at its type's level with the event on the record."""
    hook = LoggingHook()
    caplog.set_level(logging.DEBUG, logger="asyncbridge.instrumentation")
    for event in (
        PoolSlotLent("p", 1, 2),
        RetryScheduled("m.f", 1, 0.1, 0.1, None),
        blocked(),
    ):
        hook(event)
    levels = [(r.levelno, r.asyncbridge_event) for r in caplog.records]  # type: ignore[attr-defined]
    assert [level for level, _ in levels] == [
        logging.DEBUG,
        logging.INFO,
        logging.WARNING,
    ]
    assert caplog.records[2].getMessage() == str(blocked())
    assert repr(hook) == "LoggingHook(logger='asyncbridge.instrumentation')"


def test_logging_hook_options(caplog: pytest.LogCaptureFixture) -> None:
    """A logger object and per-type levels are honoured; disabled levels log nothing."""
    logger = logging.getLogger("my.app")
    hook = LoggingHook(logger, levels={PoolSlotLent: logging.ERROR})
    caplog.set_level(logging.WARNING, logger="my.app")
    hook(PoolSlotLent("p", 1, 2))
    hook(BridgeHop("run_sync", "portal", "f", "a", "b", 0.0, 0.0, None))  # DEBUG
    [record] = caplog.records
    assert (record.name, record.levelno) == ("my.app", logging.ERROR)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"logger": 3}, "logger must be a logging.Logger"),
        ({"levels": {int: 10}}, "levels keys must be event types"),
        ({"levels": {BridgeHop: "DEBUG"}}, "the level for BridgeHop must be an int"),
    ],
)
def test_logging_hook_bad_arguments(kwargs: dict[str, Any], match: str) -> None:
    """Bad LoggingHook arguments raise TypeError naming them."""
    with pytest.raises(TypeError, match=match):
        LoggingHook(**kwargs)


def test_prometheus_hook_counts_events() -> None:
    """Each event type lands in its metric; hooks on one registry share them."""
    registry = CollectorRegistry()
    hook = PrometheusHook(registry)
    assert PrometheusHook(registry)._m is hook._m
    hook(BridgeHop("run_sync", "portal", "f", "a", "b", 0.001, 0.002, None))
    hook(BridgeHop("run_in_thread", "thread_pool", "f", "a", "b", 0, 0.5, ValueError()))
    hook(
        BridgeHop("run_sync", "portal", "f", "a", "b", 0, 0.5, asyncio.CancelledError())
    )
    hook(RetryScheduled("m.f", 1, 0.1, 0.1, OSError()))
    hook(RetryGivenUp("m.f", 3, 0.1, None))
    hook(PoolSlotLent("default", 1, 4))
    hook(PoolCeilingReached("default", 4))
    hook(blocked(0.25))

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert (
        value(
            "asyncbridge_bridge_hops_total",
            api="run_sync",
            route="portal",
            error_type="",
        )
        == 1
    )
    assert (
        value(
            "asyncbridge_bridge_hops_total",
            api="run_in_thread",
            route="thread_pool",
            error_type="ValueError",
        )
        == 1
    )
    assert (
        value(
            "asyncbridge_bridge_hops_total",
            api="run_sync",
            route="portal",
            error_type="cancelled",
        )
        == 1
    )
    assert (
        value("asyncbridge_bridge_hop_seconds_count", api="run_sync", route="portal")
        == 2
    )
    assert value("asyncbridge_retries_total", target="m.f", error_type="OSError") == 1
    assert value("asyncbridge_retry_giveups_total", target="m.f", error_type="") == 1
    assert value("asyncbridge_pool_slots_lent_total", pool="default") == 1
    assert value("asyncbridge_pool_ceiling_reached_total", pool="default") == 1
    assert value("asyncbridge_loop_blocked_total", backend="asyncio") == 1
    assert value("asyncbridge_loop_blocked_seconds_sum", backend="asyncio") == 0.25


def test_prometheus_hook_namespace_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    """namespace prefixes the metrics; bad or missing prerequisites say what to do."""
    registry = CollectorRegistry()
    PrometheusHook(registry, namespace="svc")(PoolSlotLent("p", 1, 2))
    assert registry.get_sample_value("svc_pool_slots_lent_total", {"pool": "p"}) == 1
    with pytest.raises(TypeError, match="namespace must be a non-empty str"):
        PrometheusHook(registry, namespace="")
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    with pytest.raises(
        ModuleNotFoundError, match=r"pip install 'asyncbridge\[prometheus\]'"
    ):
        PrometheusHook()


def test_prometheus_hook_on_real_bridge_calls(events: list[Event]) -> None:
    """Registered as a hook, it counts the hops the bridges make."""
    registry = CollectorRegistry()
    hook = ab.instrumentation.add_hook(PrometheusHook(registry))
    try:
        ab.run_sync(where)
    finally:
        ab.instrumentation.remove_hook(hook)
    assert (
        registry.get_sample_value(
            "asyncbridge_bridge_hops_total",
            {"api": "run_sync", "route": "portal", "error_type": ""},
        )
        == 1
    )


def test_run_in_thread_from_a_hook_is_not_reported(events: list[Event]) -> None:
    """A hook offloading work (run_in_thread from inside a hook) adds no event."""
    seen: list[Event] = []

    def offloading_hook(event: Event) -> None:
        if len(seen) < 3:  # bounded, should the hook be fed its own hops
            seen.append(event)
            asyncio.run(ab.run_in_thread(thread_name))  # in the worker thread

    async def main() -> str:
        return await ab.run_in_thread(thread_name)

    ab.instrumentation.add_hook(offloading_hook)
    try:
        asyncio.run(main())
    finally:
        ab.instrumentation.remove_hook(offloading_hook)
    assert len(seen) == 1
    assert [e.path for e in hops(events)] == ["run_in_thread:thread_pool"]


async def test_greenlet_reentry_is_a_same_thread_hop(
    anyio_backend: object, events: list[Event]
) -> None:
    """Under on_loop_conflict="greenlet" the coroutine runs on the caller's own loop."""

    def sync_part() -> str:
        return ab.run_sync(where, on_loop_conflict="greenlet")

    async def main() -> str:
        return sync_part()

    loop_thread = threading.current_thread().name
    assert await ab.run_in_greenlet(main) == loop_thread
    [hop] = hops(events)
    assert (hop.route, hop.caller_thread, hop.runner_thread) == (
        "same_thread",
        loop_thread,
        loop_thread,
    )


def test_retries_and_give_ups_are_reported() -> None:
    """async_retry emits RetryScheduled per retry and RetryGivenUp at the end."""
    seen: list[object] = []
    calls = [0]

    @ab.async_retry(max_attempts=3, wait=0)
    def flaky() -> None:
        calls[0] += 1
        raise OSError("down")

    ab.instrumentation.add_hook(seen.append)
    try:
        with pytest.raises(OSError):
            flaky()
    finally:
        ab.instrumentation.remove_hook(seen.append)
    retries = [e for e in seen if isinstance(e, RetryScheduled)]
    given_up = [e for e in seen if isinstance(e, RetryGivenUp)]
    assert [e.attempt for e in retries] == [1, 2]
    assert len(given_up) == 1
    assert given_up[0].attempts == 3
    assert calls[0] == 3


def test_pool_lending_is_reported() -> None:
    """A pool thread waiting on nested work reports the slot it lends."""
    seen: list[object] = []

    def inner() -> int:
        return 1

    def outer() -> int:
        async def nested() -> int:
            return await ab.run_in_thread(inner)

        return asyncio.run(nested())  # this pool thread's own loop awaits the pool

    ab.instrumentation.add_hook(seen.append)
    try:
        assert asyncio.run(ab.run_in_thread(outer)) == 1
    finally:
        ab.instrumentation.remove_hook(seen.append)
    lent = [e for e in seen if isinstance(e, PoolSlotLent)]
    assert lent
    assert lent[0].pool == "default"
