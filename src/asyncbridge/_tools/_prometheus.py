"""`PrometheusHook`: instrumentation events as Prometheus metrics (extra ``prometheus``).

``prometheus_client`` is imported when a hook is created, never before.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from typing import TYPE_CHECKING, Any

from asyncbridge._core._hooks import (
    BridgeHop,
    Event,
    LoopBlocked,
    PoolCeilingReached,
    PoolSlotLent,
    RetryGivenUp,
    RetryScheduled,
)
from asyncbridge._core._optional import require

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = ["PrometheusHook"]


def _error_type(error: BaseException | None) -> str:
    if error is None:
        return ""
    if isinstance(error, asyncio.CancelledError) or type(error).__name__ == "Cancelled":
        return "cancelled"
    return type(error).__qualname__


class _Metrics:
    """The metrics of one (registry, namespace): created once, shared by hooks."""

    def __init__(self, registry: CollectorRegistry, namespace: str) -> None:
        from prometheus_client import Counter, Histogram  # noqa: PLC0415

        def counter(name: str, doc: str, *labels: str) -> Any:
            return Counter(f"{namespace}_{name}", doc, labels, registry=registry)

        self.hops = counter(
            "bridge_hops_total",
            "Bridged calls, by API, route and error type ('' when it returned).",
            "api",
            "route",
            "error_type",
        )
        self.hop_seconds = Histogram(
            f"{namespace}_bridge_hop_seconds",
            "Seconds from a bridged call until its code finished.",
            ("api", "route"),
            registry=registry,
        )
        self.retries = counter(
            "retries_total",
            "Retries scheduled, by function and error type.",
            "target",
            "error_type",
        )
        self.giveups = counter(
            "retry_giveups_total",
            "Retried calls that gave up, by function and error type.",
            "target",
            "error_type",
        )
        self.slots_lent = counter(
            "pool_slots_lent_total", "Slots lent by a pool to a nested wait.", "pool"
        )
        self.ceilings = counter(
            "pool_ceiling_reached_total",
            "Times a pool could not lend a slot: its ceiling was reached.",
            "pool",
        )
        self.blocked = counter(
            "loop_blocked_total",
            "Blocked event loops reported by watch_loop (once per blocking site).",
            "backend",
        )
        self.blocked_seconds = Histogram(
            f"{namespace}_loop_blocked_seconds",
            "How long a blocked event loop had not turned when it was reported.",
            ("backend",),
            registry=registry,
        )


# By registry (weakly: a registry dropped takes its metrics along), then namespace.
_metrics: weakref.WeakKeyDictionary[CollectorRegistry, dict[str, _Metrics]] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()


class PrometheusHook:
    """An instrumentation hook that counts events in Prometheus metrics.

    Metrics (with the default namespace ``asyncbridge``):
    ``asyncbridge_bridge_hops_total{api,route,error_type}`` and the histogram
    ``asyncbridge_bridge_hop_seconds{api,route}``;
    ``asyncbridge_retries_total{target,error_type}``,
    ``asyncbridge_retry_giveups_total{target,error_type}``;
    ``asyncbridge_pool_slots_lent_total{pool}``,
    ``asyncbridge_pool_ceiling_reached_total{pool}``;
    ``asyncbridge_loop_blocked_total{backend}`` and the histogram
    ``asyncbridge_loop_blocked_seconds{backend}``. ``error_type`` is the exception's
    class name (``cancelled`` for a cancellation, empty when none was raised).
    Hooks created for the same registry and namespace share the metrics.

    Args:
        registry: where to register the metrics (default: prometheus_client's
            global ``REGISTRY``).
        namespace: prefix of the metric names.

    Raises:
        ModuleNotFoundError: prometheus-client is not installed (the message gives
            the install command).

    Example:
        >>> import asyncbridge as ab
        >>> from prometheus_client import CollectorRegistry
        >>> hook = ab.instrumentation.PrometheusHook(CollectorRegistry())
    """

    __slots__ = ("_m",)

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        namespace: str = "asyncbridge",
    ) -> None:
        prometheus_client = require("prometheus_client", "prometheus", "PrometheusHook")
        given: object = namespace  # checked at run time whatever the annotation says
        if not isinstance(given, str) or not given:
            raise TypeError(
                f"PrometheusHook(): namespace must be a non-empty str, got {namespace!r}"
            )
        chosen: CollectorRegistry = (
            prometheus_client.REGISTRY if registry is None else registry
        )
        with _lock:
            by_namespace = _metrics.setdefault(chosen, {})
            metrics = by_namespace.get(namespace)
            if metrics is None:
                metrics = by_namespace[namespace] = _Metrics(chosen, namespace)
        self._m = metrics

    def __call__(self, event: Event, /) -> None:
        """Count *event* in its metrics."""
        m = self._m
        if isinstance(event, BridgeHop):
            m.hops.labels(event.api, event.route, _error_type(event.error)).inc()
            m.hop_seconds.labels(event.api, event.route).observe(event.duration)
        elif isinstance(event, RetryScheduled):
            m.retries.labels(event.target, _error_type(event.error)).inc()
        elif isinstance(event, RetryGivenUp):
            m.giveups.labels(event.target, _error_type(event.error)).inc()
        elif isinstance(event, PoolSlotLent):
            m.slots_lent.labels(event.pool).inc()
        elif isinstance(event, PoolCeilingReached):
            m.ceilings.labels(event.pool).inc()
        elif isinstance(event, LoopBlocked):
            m.blocked.labels(event.backend).inc()
            m.blocked_seconds.labels(event.backend).observe(event.duration)
