"""Agents: what an agent is, the built-in simulated team, and how one is called.

An agent is any callable taking a task's description: a plain function (blocking
code, possibly legacy code that runs its own event loop) or an ``async def``.
:func:`call_agent` is the one place that decides where an agent runs:

- an async agent is awaited on the caller's loop;
- a sync agent runs in a worker thread (``ab.run_in_thread``), never on the loop,
  so a blocking agent stalls nobody and a legacy one may call ``asyncio.run``
  there (no loop runs in that thread). The seed's "blocking calls ran on the loop"
  and "asyncio.run() cannot be called from a running event loop" both go away.

It also records the thread the agent ran on, for the command line's "what ran
where" table. The built-in agents are all backed by one `Perfect21SDK`.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Mapping
from typing import Any, cast

import anyio

import asyncbridge as ab

from ._sdk import FAIL_MARKER, Perfect21Error, Perfect21SDK

__all__ = ["Agent", "agent_kind", "builtin_agents", "call_agent", "check_agents"]

#: A sync or async callable given a task's description; its return value is the output.
Agent = Callable[[str], Any]


def agent_kind(agent: Agent) -> str:
    """``"async"`` for an agent whose call must be awaited, else ``"sync"``."""
    return "async" if ab.is_async_callable(agent) else "sync"


def _ignore(thread: str) -> None:
    pass


async def call_agent(
    agent: Agent, description: str, *, ran_on: Callable[[str], object] = _ignore
) -> Any:
    """Run *agent* on *description* where it belongs and return its output.

    Args:
        agent: a sync or async agent.
        description: the task's description.
        ran_on: called with the name of the thread the agent runs on, before it
            runs (from that thread).

    Raises:
        Exception: whatever the agent raises, unchanged.
    """
    if ab.is_async_callable(agent):
        ran_on(threading.current_thread().name)
        return await agent(description)

    def in_worker() -> Any:
        ran_on(threading.current_thread().name)
        return agent(description)

    output = await ab.run_in_thread(in_worker)
    if inspect.isawaitable(output):  # a sync callable that returned an awaitable
        output = await output
    return output


def check_agents(agents: object, func: str) -> dict[str, Agent]:
    """Return *agents* as a dict after checking it maps names to callables.

    Raises:
        TypeError: not a mapping of str to callables.
    """
    if not isinstance(agents, Mapping):
        msg = f"{func} agents must be a mapping of agent name to callable, got {type(agents).__name__}"
        raise TypeError(msg)
    checked: dict[str, Agent] = {}
    for name, agent in cast("Mapping[object, object]", agents).items():
        if not isinstance(name, str) or not callable(agent):
            msg = f"{func} agents must map str names to callables; {name!r} maps to {agent!r}"
            raise TypeError(msg)
        checked[name] = agent
    return checked


def builtin_agents(sdk: Perfect21SDK | None = None) -> dict[str, Agent]:
    """Return the built-in simulated agents, all backed by *sdk*.

    Three kinds, as in a real migration:

    - sync agents call the SDK's blocking ``task()``;
    - async agents do their own (simulated) non-blocking I/O with ``anyio.sleep``,
      so they run on asyncio and trio alike;
    - legacy agents call ``sdk.analyze()``, which runs ``asyncio.run`` inside.

    Args:
        sdk: the SDK to use (a new `Perfect21SDK()` by default).
    """
    sdk = sdk if sdk is not None else Perfect21SDK()

    def sync_agent(name: str) -> Agent:
        def agent(description: str) -> str:
            return f"{name}: {sdk.task(description)['stdout']}"

        agent.__name__ = agent.__qualname__ = name.replace("-", "_")
        return agent

    def async_agent(name: str) -> Agent:
        async def agent(description: str) -> str:
            await anyio.sleep(sdk.latency)
            if FAIL_MARKER in description:
                msg = f"{name} could not do: {description}"
                raise Perfect21Error(msg)
            return f"{name}: drafted {description}"

        agent.__name__ = agent.__qualname__ = name.replace("-", "_")
        return agent

    def legacy_agent(name: str) -> Agent:
        def agent(description: str) -> str:
            analysis = sdk.analyze(description)  # asyncio.run inside
            if FAIL_MARKER in description:
                msg = f"{name} could not do: {description}"
                raise Perfect21Error(msg)
            team = ", ".join(task.agent_name for task in analysis.agent_tasks)
            return f"{name}: {analysis.project_type} project for {team}"

        agent.__name__ = agent.__qualname__ = name.replace("-", "_")
        return agent

    kinds: dict[str, Callable[[str], Agent]] = {
        "backend-architect": sync_agent,
        "database-specialist": sync_agent,
        "security-auditor": sync_agent,
        "test-engineer": sync_agent,
        "devops-engineer": sync_agent,
        "fullstack-engineer": sync_agent,
        "api-designer": async_agent,
        "frontend-specialist": async_agent,
        "ux-designer": async_agent,
        "monitoring-specialist": async_agent,
        "business-analyst": legacy_agent,
        "code-reviewer": legacy_agent,
    }
    return {name: make(name) for name, make in kinds.items()}
