"""The retry decisions, sans I/O: after an attempt, retry in N seconds, give up, or return.

A `RetryRun` holds one call's retry state (or one pass of a ``retrying()`` block)
and only decides: the drivers pass the time in, then carry out the `Decision`
(log, hooks, sleep, the next attempt), in the style of h11's state machines. It
reads no clock, sleeps not, calls no hook and logs nothing; the only user code it
calls is what decides: ``on``, ``retry_if_result``, ``wait`` and ``wait_hint``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from asyncbridge._core._errors import RetryError

from ._policy import RetryPolicy, RetryState
from ._schedule import next_wait

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

__all__ = ["Action", "Decision", "RetryRun", "add_note", "chain", "chained"]

NOTE: Final = "asyncbridge.retry: "


class Action(enum.Enum):
    """What the driver does next."""

    RETURN = "return"  # the value is accepted: return it
    RAISE = "raise"  # `on` rejects the error: raise it, no hook
    RETRY = "retry"  # log, before_sleep, sleep `state.wait`, then `before_attempt`
    GIVE_UP = "give up"  # on_giveup, then raise `error` (None: return `value`)


@dataclass(frozen=True, slots=True)
class Decision:
    """One decision of a `RetryRun`."""

    action: Action
    state: RetryState | None = None  # for RETRY and GIVE_UP: what hooks are given
    error: BaseException | None = None  # what to raise (RAISE, GIVE_UP)
    value: Any = None  # what to return (RETURN, GIVE_UP without an error)


def add_note(error: BaseException, note: str) -> None:
    """Add *note* to *error* if its type allows it; never replace the error.

    An exception type that refuses new attributes (a frozen dataclass, a custom
    ``__setattr__``, a ``__notes__`` that is not a list) keeps its identity, so
    ``except ThatType`` still catches it; it just goes without the note.
    """
    try:
        error.add_note(note)
    except Exception:
        pass


def chain(exc: BaseException, error: BaseException) -> None:
    """Show *error* as the context of *exc*, which user code raised while handling it.

    Python chains an exception raised inside an ``except`` block to the one being
    handled; a predicate, wait function or hook runs outside one, so do the same:
    attach *error* at the end of *exc*'s context chain, unless it is there already
    or the link would make a cycle. It is set the way the interpreter sets it, so a
    type that refuses new attributes is chained too.
    """
    if exc is error:
        return
    seen = {id(exc)}
    node = exc
    while node.__context__ is not None:
        node = node.__context__
        if node is error or id(node) in seen:
            return
        seen.add(id(node))
    probe: BaseException | None = error
    probed: set[int] = set()
    while probe is not None and id(probe) not in probed:
        if id(probe) in seen:
            return  # *error* already leads to *exc*: linking back would loop
        probed.add(id(probe))
        probe = probe.__context__
    object.__setattr__(node, "__context__", error)


class chained:  # noqa: N801 - used like a function: `with chained(error):`
    """A ``with`` block in which user code runs about *error*: see `chain`.

    An `Exception` leaving the block shows *error* (if not None) as its context;
    control flow (cancellation, KeyboardInterrupt) is left alone.
    """

    __slots__ = ("_error",)

    def __init__(self, error: BaseException | None) -> None:
        self._error = error

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if isinstance(exc, Exception) and self._error is not None:
            chain(exc, self._error)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


class RetryRun:
    """The retry decisions of one call, from its first failure on.

    Args:
        policy: the settings.
        name: ``module.qualname`` of the function, for states, notes and logs.
        start: when the retry clock started (the call's start when ``timeout``
            is set, else the first failure): the deadline counts from it.
        cap: at most this many attempts (the testing switch), or None.
        waits: False to decide every wait as 0 (the testing switch).
        random: a float in [0, 1) per call, for jitter.
    """

    __slots__ = (
        "attempt",
        "cap",
        "deadline",
        "history",
        "max_attempts",
        "name",
        "pending",
        "policy",
        "random",
        "start",
        "waits",
    )

    def __init__(
        self,
        policy: RetryPolicy,
        name: str,
        *,
        start: float,
        cap: int | None,
        waits: bool,
        random: Callable[[], float],
    ) -> None:
        self.policy = policy
        self.name = name
        self.start = start
        self.deadline = None if policy.timeout is None else start + policy.timeout
        self.cap = cap is not None and cap < policy.max_attempts
        self.max_attempts = cap if cap is not None and self.cap else policy.max_attempts
        self.waits = waits
        self.random = random
        self.history: list[RetryState] | None = None if policy.reraise else []
        self.attempt = 1  # the number of the attempt last started
        self.pending: tuple[Exception | None, Any] = (None, None)

    # ---------------------------------------------------------------- outcomes

    def after_error(self, error: Exception, now: float) -> Decision:
        """Decide after the current attempt raised *error* (an `Exception`)."""
        with chained(error):
            retry = self.policy.retryable(error)
        if not retry:
            if self.attempt > 1:  # a first error `on` rejects goes out untouched
                add_note(
                    error,
                    f"{NOTE}{self.name} raised this on attempt {self.attempt} "
                    f"(elapsed {now - self.start:.3f} s); "
                    "not retried: `on` does not match it",
                )
            return Decision(Action.RAISE, error=error)
        return self._failed(error, None, now)

    def after_value(self, value: Any, now: float) -> Decision:
        """Decide after the current attempt returned *value*."""
        check = self.policy.retry_if_result
        if check is None or not check(value):
            return Decision(Action.RETURN, value=value)
        return self._failed(None, value, now)

    def after_rejected(self, value: Any, now: float) -> Decision:
        """Decide after ``retry_if_result`` rejected *value* (already checked)."""
        return self._failed(None, value, now)

    def before_attempt(self, now: float) -> Decision | None:
        """Decide right before the next attempt starts: None to start it.

        No attempt starts at or after the deadline: a wait that overran, or slow
        hooks, end the retries here instead.
        """
        if self.deadline is not None and now >= self.deadline:
            error, value = self.pending
            state = self._state(error, value, 0.0, now)
            if self.history is not None:
                self.history[-1] = state
            reason = (
                f"timeout={self.policy.timeout:g} s reached before attempt "
                f"{self.attempt + 1} could start"
            )
            return self._give_up(state, reason, error, value)
        self.attempt += 1
        return None

    # ---------------------------------------------------------------- internals

    def _state(
        self, error: Exception | None, value: Any, wait: float, now: float
    ) -> RetryState:
        return RetryState(
            self.name,
            self.attempt,
            error,
            wait,
            now - self.start,
            None if error is not None else value,
        )

    def _failed(self, error: Exception | None, value: Any, now: float) -> Decision:
        """After a retryable failure: retry after a wait, or give up, and why."""
        policy = self.policy
        wait = 0.0
        reason: str | None = None
        if self.attempt >= self.max_attempts:
            reason = (
                "attempts capped by retry_testing()"
                if self.cap
                else f"max_attempts={policy.max_attempts} reached"
            )
        else:
            hinted = False
            if self.waits:
                with chained(error):
                    wait, hinted = next_wait(policy, self.attempt, error, self.random)
            if self.deadline is not None:
                reason = self._past_deadline(self.deadline, wait, hinted, now)
            if (
                reason is None
                and policy.budget is not None
                and not policy.budget.try_withdraw()
            ):
                reason = "the retry budget was exhausted, so it failed fast"
        state = self._state(error, value, 0.0 if reason else wait, now)
        if self.history is not None:
            self.history.append(state)
        if reason is not None:
            return self._give_up(state, reason, error, value)
        self.pending = (error, value)
        return Decision(Action.RETRY, state)

    def _past_deadline(
        self, deadline: float, wait: float, hinted: bool, now: float
    ) -> str | None:
        """Why the next attempt could not start before the deadline, or None.

        Sleeping up to the deadline only to give up helps nobody: a wait that
        would end at or past it ends the retries now.
        """
        left = deadline - now
        timeout = f"timeout={self.policy.timeout:g} s"
        if left <= 0:
            return f"{timeout} reached"
        if wait < left:
            return None
        what = "the wait hint" if hinted else "the next wait"
        return f"{what} of {wait:g} s would end past {timeout}"

    def _give_up(
        self, state: RetryState, reason: str, error: Exception | None, value: Any
    ) -> Decision:
        summary = (
            f"gave up on {self.name} after {_plural(state.attempt, 'attempt')} "
            f"in {state.elapsed:.3f} s ({reason})"
        )
        history = tuple(self.history or ())
        if error is None:
            if self.policy.reraise:
                return Decision(Action.GIVE_UP, state, value=value)
            failure = RetryError(
                f"{summary}; retry_if_result rejected the last value", history
            )
            failure.__cause__ = None  # as `raise ... from None`
            return Decision(Action.GIVE_UP, state, error=failure)
        if self.policy.reraise:
            add_note(error, NOTE + summary)
            return Decision(Action.GIVE_UP, state, error=error)
        failure = RetryError(
            f"{summary}; the last attempt raised {type(error).__qualname__}", history
        )
        failure.__cause__ = error
        return Decision(Action.GIVE_UP, state, error=failure)
