"""The sync and async drivers: carry out what the core decides.

`settle_sync` / `settle_async` are the one place where a decision becomes
actions, in this order: for a retry, the log line, ``before_sleep``, the sleep and
the deadline check before the next attempt; for giving up, ``on_giveup``, then the
raise (or the return of a rejected value). The decorator's loops below and the
block form (`_block`) both use them. The clock, the sleeps and the randomness come
from `Env`, which tests swap.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, cast

import anyio

from asyncbridge._core._detect import current_backend
from asyncbridge._core._hooks import HOOKS, emit_retry_given_up, emit_retry_scheduled
from asyncbridge._core._wrapping import is_awaitable

from ._core import Action, Decision, RetryRun, chained
from ._testing import current_testing

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from ._policy import RetryHook, RetryPolicy, RetryState

__all__ = [
    "NEXT",
    "Env",
    "await_first",
    "current_env",
    "env_var",
    "first_decision",
    "retry_async",
    "retry_sync",
    "settle_async",
    "settle_sync",
    "start_run",
]

_log: Final = logging.getLogger("asyncbridge.retry")

#: What `settle_sync` / `settle_async` return when the next attempt may start.
NEXT: Final = object()


@dataclass(frozen=True, slots=True)
class Env:
    """The clock, sleeps and randomness retries use; tests swap them (`env_var`)."""

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], object] = time.sleep
    async_sleep: Callable[[float], Awaitable[object]] = anyio.sleep
    rand: Callable[[], float] = random.random


# The default is immutable (a frozen dataclass), so sharing it is safe.
env_var: Final[contextvars.ContextVar[Env]] = contextvars.ContextVar(
    "asyncbridge_retry_env",
    default=Env(),  # noqa: B039
)
current_env: Final = env_var.get


def start_run(
    policy: RetryPolicy, name: str, started: float | None
) -> tuple[RetryRun, Env]:
    """The state of one call at its first failure, under the testing switch."""
    env = env_var.get()
    testing = current_testing()
    run = RetryRun(
        policy,
        name,
        start=env.clock() if started is None else started,
        cap=None if testing is None else testing.attempts,
        waits=True if testing is None else testing.wait,
        random=env.rand,
    )
    return run, env


# ------------------------------------------------------------------ the actions


def _given_up(decision: Decision) -> None:
    """Report a give-up to the instrumentation hooks, if any is registered."""
    state = decision.state
    if HOOKS and state is not None:
        emit_retry_given_up(
            state.fn_name, state.attempt, state.elapsed, state.exception
        )


def _log_retry(state: RetryState) -> None:
    """The one WARNING line per retry: function, attempt, wait; no arguments."""
    if HOOKS:
        emit_retry_scheduled(
            state.fn_name, state.attempt, state.wait, state.elapsed, state.exception
        )
    cause = (
        type(state.exception).__qualname__
        if state.exception is not None
        else "a result rejected by retry_if_result"
    )
    _log.warning(
        "retrying %s in %.3f s: attempt %d failed (%s)",
        state.fn_name,
        state.wait,
        state.attempt,
        cause,
        extra={
            "retry_fn": state.fn_name,
            "retry_attempt": state.attempt,
            "retry_wait": state.wait,
        },
    )


def _hook_sync(hook: RetryHook, is_async: bool, state: RetryState) -> None:
    """Run a hook from sync code; an async one runs through `run_sync`.

    The engine is imported here, lazily: only an async hook given to sync code
    needs it. An error the hook raises shows the attempt's error as its context.
    """
    with chained(state.exception):
        if is_async:
            from asyncbridge._engine._sync import run_sync  # noqa: PLC0415

            run_sync(cast("Callable[[RetryState], Awaitable[object]]", hook), state)
            return
        outcome = hook(state)
        if is_awaitable(outcome):  # a sync callable that returned a coroutine
            from asyncbridge._engine._sync import run_sync  # noqa: PLC0415

            run_sync(cast("Awaitable[object]", outcome))


async def _hook_async(hook: RetryHook, state: RetryState) -> None:
    with chained(state.exception):
        outcome = hook(state)
        if is_awaitable(outcome):
            await cast("Awaitable[object]", outcome)


def _sleep_sync(run: RetryRun, env: Env, state: RetryState) -> None:
    """Sleep before the next attempt; warn if that blocks a running event loop."""
    here = current_backend()
    if here is not None:
        from asyncbridge._engine._route import warn_blocking  # noqa: PLC0415

        what = (
            f"async_retry's wait between attempts of {run.name}"
            if run.policy.api == "async_retry"
            else f"the wait between attempts of the retrying() loop in {run.name}"
        )
        with chained(state.exception):  # in case the warning is an error here
            warn_blocking(what, here)
    env.sleep(state.wait)


def settle_sync(run: RetryRun, decision: Decision, env: Env) -> Any:
    """Carry out *decision* in sync code: `NEXT`, the call's value, or a raise."""
    policy = run.policy
    if decision.action is Action.RETRY:
        state = cast("RetryState", decision.state)
        _log_retry(state)
        if policy.before_sleep is not None:
            _hook_sync(policy.before_sleep, policy.before_sleep_async, state)
        if state.wait > 0:
            _sleep_sync(run, env, state)
        follow = run.before_attempt(env.clock())
        if follow is None:
            return NEXT
        decision = follow
    if decision.action is Action.GIVE_UP:
        _given_up(decision)
        if policy.on_giveup is not None:
            state = cast("RetryState", decision.state)
            _hook_sync(policy.on_giveup, policy.on_giveup_async, state)
    if decision.error is not None:
        raise decision.error
    return decision.value


async def settle_async(run: RetryRun, decision: Decision, env: Env) -> Any:
    """Carry out *decision* in async code: `NEXT`, the call's value, or a raise."""
    policy = run.policy
    if decision.action is Action.RETRY:
        state = cast("RetryState", decision.state)
        _log_retry(state)
        if policy.before_sleep is not None:
            await _hook_async(policy.before_sleep, state)
        # Always a checkpoint (anyio.sleep(0) too), so the wait is cancellable.
        await env.async_sleep(state.wait)
        follow = run.before_attempt(env.clock())
        if follow is None:
            return NEXT
        decision = follow
    if decision.action is Action.GIVE_UP:
        _given_up(decision)
        if policy.on_giveup is not None:
            await _hook_async(policy.on_giveup, cast("RetryState", decision.state))
    if decision.error is not None:
        raise decision.error
    return decision.value


# --------------------------------------------------------- the decorator's loops


def first_decision(
    policy: RetryPolicy,
    name: str,
    started: float | None,
    error: Exception | None,
    rejected: Any,
) -> tuple[RetryRun, Env, Decision]:
    """Start the run at the first failure: *error*, or a value the check rejected."""
    run, env = start_run(policy, name, started)
    now = env.clock()
    if error is not None:
        return run, env, run.after_error(error, now)
    return run, env, run.after_rejected(rejected, now)


def retry_sync(
    call: Callable[[], Any],
    policy: RetryPolicy,
    name: str,
    started: float | None,
    error: Exception | None,
    rejected: Any,
) -> Any:
    """Retry a sync call after its first failure (raised *error* or *rejected*)."""
    run, env, decision = first_decision(policy, name, started, error, rejected)
    while (outcome := settle_sync(run, decision, env)) is NEXT:
        try:
            value = call()
        except Exception as exc:
            decision = run.after_error(exc, env.clock())
            continue
        if is_awaitable(value):
            # Switched to returning awaitables: go on retrying when awaited.
            return await_first(value, call, policy, name, started, run)
        decision = run.after_value(value, env.clock())
    return outcome


async def retry_async(
    attempt: Callable[[], Awaitable[Any]],
    run: RetryRun,
    env: Env,
    decision: Decision,
) -> Any:
    """Retry an async call from *decision* on, until a decision ends it."""
    while (outcome := await settle_async(run, decision, env)) is NEXT:
        try:
            value = await attempt()
        except Exception as exc:
            decision = run.after_error(exc, env.clock())
        else:
            decision = run.after_value(value, env.clock())
    return outcome


async def _call_and_await(call: Callable[[], Any]) -> Any:
    value = call()
    return (await value) if is_awaitable(value) else value


async def await_first(
    awaitable: Awaitable[Any],
    call: Callable[[], Any],
    policy: RetryPolicy,
    name: str,
    started: float | None,
    run: RetryRun | None,
) -> Any:
    """Await what a sync callable returned; on failure, call it again and retry."""
    error: Exception | None = None
    value: Any = None
    try:
        value = await awaitable
    except Exception as exc:
        error = exc
    else:
        check = policy.retry_if_result
        if run is None and (check is None or not check(value)):
            return value
    if run is None:  # the first attempt: *value*, if any, was rejected above
        run, env, decision = first_decision(policy, name, started, error, value)
    else:
        env = env_var.get()
        now = env.clock()
        decision = (
            run.after_value(value, now)
            if error is None
            else run.after_error(error, now)
        )
    return await retry_async(
        functools.partial(_call_and_await, call), run, env, decision
    )
