"""``python -m asyncbridge doctor``: what a bug report needs, in one place.

`collect()` gathers versions, backends, the portal loop class, the settings, the
live bridge state (`bridge_snapshot()`: portals, executors with stats, loop watches,
instrumentation hooks) and, unless told not to, the result of a round trip over each
bridge; `render()` prints it for people, ``json.dumps`` for machines.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.metadata
import importlib.util
import os
import platform
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Final

from ._backends._asyncio import new_event_loop
from ._core._config import Settings, settings
from ._core._hooks import get_hooks
from ._engine._executors import stats
from ._engine._offload import run_in_thread
from ._engine._portal import running_portals
from ._engine._sync import run_sync
from ._tools._watch import active_watches

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["bridge_snapshot", "collect", "render"]

PACKAGES: Final = (
    "asyncbridge",
    "anyio",
    "sniffio",
    "typing_extensions",
    "trio",
    "outcome",
    "uvloop",
    "greenlet",
    "fastapi",
    "starlette",
    "uvicorn",
    "prometheus-client",
    "asgiref",
    "pytest",
    "pytest-asyncio",
    "pytest-trio",
    "nest-asyncio",
    "ipykernel",
)


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _importable(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def loop_class(token: object) -> str:
    """``module.Class`` of an asyncio loop, or ``trio`` for a trio token."""
    if isinstance(token, asyncio.AbstractEventLoop):
        cls = type(token)
        return f"{cls.__module__}.{cls.__qualname__}"
    return "trio"


def bridge_snapshot() -> dict[str, Any]:
    """The bridge's live state, JSON-able: portals, executors, watches, hooks."""
    return {
        "portals": [
            {
                "backend": backend,
                "thread": portal.thread.name,
                "loop": loop_class(portal.handle.token),
            }
            for backend, portal in sorted(running_portals().items())
            if portal.handle is not None
        ],
        "executors": {
            name: dataclasses.asdict(snapshot) for name, snapshot in stats().items()
        },
        "watches": active_watches(),
        "hooks": [repr(hook) for hook in get_hooks()],
    }


def _portal_loop_class() -> str:
    loop = new_event_loop()
    try:
        return loop_class(loop)
    finally:
        loop.close()


async def _answer() -> str:
    return threading.current_thread().name


def _timed(check: Callable[[], str]) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        where = check()
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return {
        "ok": True,
        "ms": round((time.perf_counter() - start) * 1e3, 3),
        "ran_on": where,
    }


def _thread_name() -> str:
    return threading.current_thread().name


def _run_checks() -> dict[str, dict[str, Any]]:
    """One call over each bridge, timed (the first one starts what it needs)."""

    async def offload() -> str:
        return await run_in_thread(_thread_name)

    checks: dict[str, Callable[[], str]] = {
        "run_sync (asyncio portal)": lambda: run_sync(_answer),
        "run_in_thread (asyncio)": lambda: asyncio.run(offload()),
    }
    if _importable("uvloop"):
        import uvloop  # noqa: PLC0415

        checks["run_in_thread (uvloop)"] = lambda: uvloop.run(offload())
    if _importable("trio"):
        import trio  # noqa: PLC0415

        checks["run_sync (trio portal)"] = lambda: run_sync(_answer, backend="trio")
        checks["run_in_thread (trio)"] = lambda: trio.run(offload)
    return {name: _timed(check) for name, check in checks.items()}


def collect(*, check: bool = True) -> dict[str, Any]:
    """Gather the report; with *check*, first make one call over each bridge."""
    report: dict[str, Any] = {
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
            "gil_enabled": getattr(sys, "_is_gil_enabled", lambda: True)(),
            "dev_mode": sys.flags.dev_mode,
        },
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "packages": {name: _version(name) for name in PACKAGES},
        "backends": {
            "asyncio": True,
            "uvloop": _importable("uvloop"),
            "trio": _importable("trio"),
            "greenlet": _importable("greenlet"),
        },
        "portal_loop": _portal_loop_class(),
        "environment": {
            key: value
            for key, value in sorted(os.environ.items())
            if key.startswith("ASYNCBRIDGE_") or key == "PYTHONASYNCIODEBUG"
        },
        "settings": {
            name: getattr(settings, name) for name in Settings.__annotations__
        },
    }
    if check:
        report["checks"] = _run_checks()
    report.update(bridge_snapshot())
    report["threads"] = sorted(t.name for t in threading.enumerate())
    return report


def _line(label: str, value: str) -> str:
    return f"{label:<13}{value}"


def _join(items: list[str]) -> str:
    return " · ".join(items) if items else "none"


def render(report: dict[str, Any]) -> str:
    """Format *report* (from `collect`) for a person."""
    py = report["python"]
    gil = "GIL enabled" if py["gil_enabled"] else "free-threaded"
    packages = [
        f"{name} {version}"
        for name, version in report["packages"].items()
        if version is not None and name != "asyncbridge"
    ]
    portals = [
        f"{p['backend']} on thread {p['thread']!r} ({p['loop']})"
        for p in report["portals"]
    ]
    executors = [
        f"{name}: " + " ".join(f"{k}={v}" for k, v in s.items())
        for name, s in report["executors"].items()
    ]
    lines = [
        "asyncbridge doctor: paste this into your bug report",
        "",
        _line(
            "Python",
            f"{py['version']} ({py['implementation']}, {gil}"
            + (", dev mode" if py["dev_mode"] else "")
            + f") on {report['platform']}, {report['cpus']} CPUs",
        ),
        _line("asyncbridge", report["packages"]["asyncbridge"] or "not installed"),
        _line("Packages", _join(packages)),
        _line(
            "Backends",
            _join(
                [
                    f"{name}: {'yes' if ok else 'no'}"
                    for name, ok in report["backends"].items()
                ]
            ),
        ),
        _line("Portal loop", report["portal_loop"]),
        _line(
            "Environment",
            _join([f"{k}={v}" for k, v in report["environment"].items()]),
        ),
        _line(
            "Settings",
            " ".join(f"{k}={v!r}" for k, v in report["settings"].items()),
        ),
    ]
    for name, result in report.get("checks", {}).items():
        outcome = (
            f"ok, {result['ms']} ms, ran on {result['ran_on']!r}"
            if result["ok"]
            else f"FAILED: {result['error']}"
        )
        lines.append(_line("Check", f"{name}: {outcome}"))
    lines += [
        _line("Portals", _join(portals)),
        _line("Executors", _join(executors)),
        _line("Loop watches", _join(report["watches"])),
        _line("Hooks", _join(report["hooks"])),
        _line("Threads", _join(report["threads"])),
    ]
    return "\n".join(lines)
