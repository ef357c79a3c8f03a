"""`retrying`: the block form, ``for attempt in retrying(...): with attempt: ...``.

The sync and async iterators run the same core as the decorator (`RetryRun`) and
carry out its decisions with the same drivers (`settle_sync`, `settle_async`).
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any, NoReturn, Self, cast

from ._core import Action, Decision, RetryRun
from ._drivers import NEXT, Env, current_env, settle_async, settle_sync, start_run
from ._policy import BLOCK_OPTIONS, RetryPolicy

if TYPE_CHECKING:
    from types import TracebackType

    from ._budget import RetryBudget
    from ._policy import RetryHook, RetryOn, WaitFn, WaitHint

__all__ = ["Attempt", "Retrying", "retrying"]


class Attempt:
    """One attempt of a `retrying` loop; use it as ``with attempt:``.

    An exception the loop retries is captured by the ``with`` block and decided
    on by the loop; any other exception (and all control flow) passes through.
    Keep the attempt's whole work inside the block: code after it in the loop
    body also runs after a failed attempt.

    Attributes:
        number: this attempt's number, counting from 1.
    """

    __slots__ = ("_loop", "number")

    def __init__(self, loop: _Loop, number: int) -> None:
        self._loop = loop
        self.number = number

    def __repr__(self) -> str:
        return f"<Attempt {self.number}>"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if not isinstance(exc, Exception):  # no error, or control flow
            return False
        return self._loop.failed(exc)


class _Loop:
    """One pass over a `retrying` block: shared by the sync and async iterators."""

    __slots__ = ("current", "decision", "done", "name", "policy", "session", "started")

    def __init__(self, policy: RetryPolicy, name: str) -> None:
        self.policy = policy
        self.name = name
        self.session: tuple[RetryRun, Env] | None = None  # from the first failure on
        self.current: Attempt | None = None
        self.decision: Decision | None = None  # what the last failure called for
        self.done = False
        self.started: float | None = None

    def first(self) -> Attempt:
        if self.policy.budget is not None:
            self.policy.budget.deposit()
        if self.policy.timeout is not None:
            self.started = current_env().clock()
        self.current = Attempt(self, 1)
        return self.current

    def failed(self, error: Exception) -> bool:
        """Decide on the block's *error*: True to capture it, False to let it out."""
        if self.session is None:
            self.session = start_run(self.policy, self.name, self.started)
        run, env = self.session
        try:
            decision = run.after_error(error, env.clock())
        except (StopIteration, StopAsyncIteration) as exc:  # from `on` or a wait
            self.escaped(exc)
        if decision.action is Action.RAISE:
            self.done = True
            return False
        self.decision = decision
        return True

    def pending(self) -> tuple[RetryRun, Decision, Env] | None:
        """The decision the last attempt left, or None when it succeeded."""
        decision, self.decision = self.decision, None
        self.done = True  # until the decision says to go on
        if decision is None:
            return None
        run, env = cast("tuple[RetryRun, Env]", self.session)  # set with the decision
        return run, decision, env

    def next_attempt(self, outcome: object) -> Attempt:
        if outcome is not NEXT:  # pragma: no cover - blocks have no result to return
            raise AssertionError(outcome)
        self.done = False
        number = cast("Attempt", self.current).number + 1
        self.current = Attempt(self, number)
        return self.current

    def escaped(self, exc: BaseException) -> NoReturn:
        """Raise for a StopIteration that could end the loop silently.

        Raised from ``__next__`` (``__anext__``), it would end the loop as if the
        block had succeeded; raised from the ``with`` block, it would leave the
        loop and could end an enclosing iteration the same way. Either way: a
        RuntimeError, as PEP 479 does for generators.
        """
        raise RuntimeError(
            f"retrying() in {self.name}: {type(exc).__name__} escaped from the retry "
            "loop (raised by a hook, a wait function or the block itself); it would "
            "have ended the loop as if the block had succeeded"
        ) from exc


class _SyncAttempts(_Loop, Iterator[Attempt]):
    __slots__ = ()

    def __next__(self) -> Attempt:
        if self.done:
            raise StopIteration
        if self.current is None:
            return self.first()
        pending = self.pending()
        if pending is None:
            raise StopIteration
        try:
            outcome = settle_sync(*pending)
        except StopIteration as exc:  # raised from __next__ it would end the loop
            self.escaped(exc)
        return self.next_attempt(outcome)


class _AsyncAttempts(_Loop, AsyncIterator[Attempt]):
    __slots__ = ()

    async def __anext__(self) -> Attempt:
        if self.done:
            raise StopAsyncIteration
        if self.current is None:
            return self.first()
        pending = self.pending()
        if pending is None:
            raise StopAsyncIteration
        try:
            outcome = await settle_async(*pending)
        except StopAsyncIteration as exc:
            self.escaped(exc)
        return self.next_attempt(outcome)


class Retrying:
    """The iterable `retrying` returns: iterate it with ``for`` or ``async for``.

    Each iteration (each ``for`` loop over it) is a fresh run with its own attempt
    count, so one `Retrying` object may be kept and reused.
    """

    __slots__ = ("_name", "_policy")

    def __init__(self, policy: RetryPolicy, name: str) -> None:
        self._policy = policy
        self._name = name

    def __repr__(self) -> str:
        return f"<asyncbridge.retrying ({self._policy.max_attempts} attempts)>"

    def __iter__(self) -> Iterator[Attempt]:
        return _SyncAttempts(self._policy, self._name)

    def __aiter__(self) -> AsyncIterator[Attempt]:
        return _AsyncAttempts(self._policy, self._name)


def _caller_name() -> str:
    """``module.qualname`` of the function that called `retrying` (for logs)."""
    here = inspect.currentframe()  # this function's frame
    try:
        frame = here.f_back.f_back if here and here.f_back else None
        if frame is None:  # pragma: no cover - interpreters without frame support
            return "?"
        module = frame.f_globals.get("__name__", "?")
        return f"{module}.{frame.f_code.co_qualname}"
    finally:
        del here  # no frame -> local -> frame cycle left for the collector


def retrying(
    max_attempts: int = 3,
    *,
    on: RetryOn = Exception,
    timeout: float | None = None,
    wait_initial: float = 0.1,
    wait_max: float = 5.0,
    wait_exp_base: float = 2.0,
    wait_jitter: bool = True,
    wait: float | WaitFn | None = None,
    wait_hint: WaitHint | None = None,
    before_sleep: RetryHook | None = None,
    on_giveup: RetryHook | None = None,
    reraise: bool = True,
    budget: RetryBudget | None = None,
) -> Retrying:
    """Retry a block of code, sync (``for``) or async (``async for``).

    ``for attempt in ab.retrying(...): with attempt: ...``

    The block form of `async_retry`, with its parameters and semantics, for code
    that is not a function of its own. Iterate with ``for`` in sync code (waits
    use `time.sleep`, and warn `LoopBlockedWarning` if that blocks a running event
    loop) or ``async for`` in async code (waits use `anyio.sleep`, cancellable;
    async hooks are awaited). Each ``with attempt:`` captures an exception that
    *on* matches; the loop then waits and gives the next attempt, or gives up by
    raising it (with a note), or a `RetryError` when ``reraise=False``. A block
    that completes ends the loop. Other exceptions and control flow pass through
    the ``with`` at once. ``attempt.number`` counts from 1. Log lines and
    `RetryState.fn_name` name the function containing the loop.

    Two options of `async_retry` do not apply to a block, so it has none of them:
    ``retry_if_result`` (check the value inside the block and raise instead) and
    ``attempt_timeout`` (put ``with anyio.fail_after(t):`` inside the block).

    Args:
        max_attempts: see `async_retry`; likewise every other parameter.
        on: see `async_retry`.
        timeout: see `async_retry`.
        wait_initial: see `async_retry`.
        wait_max: see `async_retry`.
        wait_exp_base: see `async_retry`.
        wait_jitter: see `async_retry`.
        wait: see `async_retry`.
        wait_hint: see `async_retry`.
        before_sleep: see `async_retry`.
        on_giveup: see `async_retry`.
        reraise: see `async_retry`.
        budget: see `async_retry`.

    Returns:
        A reusable iterable of `Attempt` objects.

    Raises:
        TypeError, ValueError: bad settings, as for `async_retry`.
        RuntimeError: a hook or a wait function raised `StopIteration` (``for``)
            or `StopAsyncIteration` (``async for``), which would otherwise end the
            loop as if the block had succeeded.

    Example:
        >>> import asyncbridge as ab
        >>> outcomes = iter([OSError("down"), OSError("down"), "up"])
        >>> for attempt in ab.retrying(max_attempts=3, on=OSError, wait=0):
        ...     with attempt:
        ...         outcome = next(outcomes)
        ...         if isinstance(outcome, Exception):
        ...             raise outcome
        >>> outcome, attempt.number
        ('up', 3)
    """
    options: dict[str, Any] = dict(locals())  # the parameters, exactly as given
    policy = RetryPolicy.build("retrying", options, BLOCK_OPTIONS)
    return Retrying(policy, _caller_name())
