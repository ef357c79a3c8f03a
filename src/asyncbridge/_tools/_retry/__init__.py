"""Retry sync and async callables: `async_retry`, `retrying`, `retry_testing`.

A tool package. One job per module, each importing only the ones above it:

    _budget     RetryBudget: a limit on retries shared between calls
    _policy     RetryPolicy: the options, listed once, checked once; RetryState
    _schedule   the wait before the next attempt (backoff, fixed, custom, hint)
    _core       RetryRun: the decisions, sans I/O (retry in N s / give up / return)
    _testing    retry_testing: the testing switch, a context variable
    _drivers    carry decisions out, sync and async: log, hooks, sleep, raise
    _decorator  async_retry and the wrappers it makes
    _block      retrying: the block form's sync and async iterators

`RetryError` lives with the other exceptions, in `asyncbridge._errors`. The
engine (`_sync`) is imported lazily, by the drivers only: to run an async hook
from sync code, and to warn when a sync wait blocks a running loop.
"""

from __future__ import annotations

from ._block import Attempt as Attempt
from ._block import Retrying as Retrying
from ._block import retrying as retrying
from ._budget import RetryBudget as RetryBudget
from ._decorator import RetryDecorator as RetryDecorator
from ._decorator import async_retry as async_retry
from ._policy import RetryHook as RetryHook
from ._policy import RetryOn as RetryOn
from ._policy import RetryState as RetryState
from ._policy import WaitFn as WaitFn
from ._policy import WaitHint as WaitHint
from ._testing import RetryTesting as RetryTesting
from ._testing import retry_testing as retry_testing

__all__ = [
    "Attempt",
    "RetryBudget",
    "RetryDecorator",
    "RetryHook",
    "RetryOn",
    "RetryState",
    "RetryTesting",
    "Retrying",
    "WaitFn",
    "WaitHint",
    "async_retry",
    "retry_testing",
    "retrying",
]
