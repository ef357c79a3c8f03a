"""The exceptions: RetryError."""

from __future__ import annotations

import pickle

import asyncbridge as ab


def test_retry_error_pickles_with_its_attempts() -> None:
    """RetryError survives pickling (process pools) with its attempts."""
    error = ab.RetryError("gave up", (ab.RetryState("m.f", 1, OSError("x"), 0.0, 0.1),))
    clone = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert str(clone) == "gave up"
    assert clone.attempts[0].fn_name == "m.f"
    assert ab.RetryError("empty").last is None
