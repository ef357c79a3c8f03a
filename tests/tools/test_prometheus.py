"""PrometheusHook (_tools/_prometheus): events counted in prometheus_client metrics."""

from __future__ import annotations

import asyncio
import sys
import threading

import anyio
import pytest
from prometheus_client import CollectorRegistry

import asyncbridge as ab
from asyncbridge.instrumentation import (
    BridgeHop,
    LoopBlocked,
    PoolCeilingReached,
    PoolSlotLent,
    PrometheusHook,
    RetryGivenUp,
    RetryScheduled,
)


def blocked(duration: float) -> LoopBlocked:
    return LoopBlocked(
        "asyncio", "MainThread", duration, 0.1, "app.py", 3, "handler", "stack", "fix"
    )


async def where() -> str:
    await anyio.sleep(0)
    return threading.current_thread().name


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


def test_prometheus_hook_on_real_bridge_calls() -> None:
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
