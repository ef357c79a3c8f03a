"""asyncbridge's pytest plugin: scoped settings, strict mode, retries, blocked loops.

pytest loads it wherever asyncbridge is installed (the ``asyncbridge`` entry point
of the ``pytest11`` group); it does nothing until a test asks for it:

* fixtures: ``asyncbridge_configure`` (``ab.configure(...)`` for one test),
  ``retry_testing`` (``ab.retry_testing()`` for one test), ``asyncbridge_watch_loop``
  (fail an async test whose event loop is blocked) and ``asyncbridge_events`` (the
  instrumentation events of one test);
* markers: ``asyncbridge_strict``, ``asyncbridge_watch_loop(threshold=0.1)``,
  ``asyncbridge_retry_testing(attempts=1, wait=False)``;
* options (and ini keys): ``--asyncbridge-strict`` (``asyncbridge_strict``) and
  ``--asyncbridge-block-threshold=SECONDS`` (``asyncbridge_block_threshold``).

It works beside pytest-asyncio and anyio's plugin, on asyncio, uvloop and trio: an
async test is wrapped (for the length of its call) in a coroutine function that
enters the loop watch inside the test's own task, whichever plugin runs it.
"""

from __future__ import annotations

import functools
import inspect
from typing import TYPE_CHECKING, Any, Final

import pytest

import asyncbridge as ab
from asyncbridge._core._validate import check_seconds

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterator, Mapping

    from asyncbridge._core._config import Settings
    from asyncbridge._tools._retry import RetryTesting
    from asyncbridge.instrumentation import Event

__all__ = [
    "asyncbridge_configure",
    "asyncbridge_events",
    "asyncbridge_watch_loop",
    "pytest_addoption",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_runtest_call",
    "pytest_runtest_setup",
    "pytest_runtest_teardown",
    "retry_testing",
]

DEFAULT_THRESHOLD: Final = 0.1
_STRICT_FILTER: Final = "error::asyncbridge.LoopBlockedWarning"
_WATCH: Final = pytest.StashKey["ab.LoopWatch | None"]()
_RETRY: Final = pytest.StashKey["RetryTesting"]()
_STRICT_PREVIOUS: Final = pytest.StashKey["Settings"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add the ``--asyncbridge-*`` options and their ini keys."""
    group = parser.getgroup("asyncbridge")
    group.addoption(
        "--asyncbridge-strict",
        action="store_true",
        default=False,
        help="asyncbridge strict mode for every test: LoopBlockedWarning fails the "
        "test, and run_sync raises instead of blocking a running loop "
        "(on_loop_conflict='raise')",
    )
    group.addoption(
        "--asyncbridge-block-threshold",
        metavar="SECONDS",
        default=None,
        help="watch every async test's event loop: fail a test whose loop does not "
        "turn for this long, printing the blocking stack",
    )
    parser.addini(
        "asyncbridge_strict",
        "asyncbridge strict mode for every test (as --asyncbridge-strict)",
        type="bool",
        default=False,
    )
    parser.addini(
        "asyncbridge_block_threshold",
        "watch every async test's event loop with this threshold, in seconds "
        "(as --asyncbridge-block-threshold)",
        default="",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers (so ``--strict-markers`` accepts them); check options."""
    try:
        _configured_threshold(config)
    except (TypeError, ValueError) as exc:
        raise pytest.UsageError(str(exc)) from None
    for line in (
        (
            "asyncbridge_strict: fail the test on asyncbridge.LoopBlockedWarning and "
            "run it with on_loop_conflict='raise'"
        ),
        (
            "asyncbridge_watch_loop(threshold=0.1): fail the async test if its event "
            "loop does not turn for threshold seconds, printing the blocking stack"
        ),
        (
            "asyncbridge_retry_testing(attempts=1, wait=False): run the test under "
            "asyncbridge.retry_testing(attempts, wait=wait)"
        ),
    ):
        config.addinivalue_line("markers", line)


# ------------------------------------------------------------------ settings


def _threshold(value: object, where: str) -> float:
    """*value* as a threshold in seconds; ValueError/TypeError naming *where*."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ValueError(
                f"{where} must be a number of seconds, got {value!r}"
            ) from None
    seconds = check_seconds(value, where, none_ok=False, zero_ok=False)
    assert seconds is not None  # noqa: S101  (none_ok=False)
    return seconds


def _configured_threshold(config: pytest.Config) -> float | None:
    option = config.getoption("asyncbridge_block_threshold")
    if option is not None:
        return _threshold(option, "--asyncbridge-block-threshold")
    ini = config.getini("asyncbridge_block_threshold")
    if ini:
        return _threshold(ini, "asyncbridge_block_threshold")
    return None


def _strict(item: pytest.Item) -> bool:
    return (
        item.get_closest_marker("asyncbridge_strict") is not None
        or bool(item.config.getoption("asyncbridge_strict"))
        or bool(item.config.getini("asyncbridge_strict"))
    )


def _watch_for(item: pytest.Item, *, requested: bool = False) -> ab.LoopWatch | None:
    """The loop watch of *item*: made once, from its marker, the fixture or options."""
    if _WATCH in item.stash:
        return item.stash[_WATCH]
    marker = item.get_closest_marker("asyncbridge_watch_loop")
    threshold: float | None
    if marker is not None:
        value = marker.kwargs.get("threshold", marker.args[0] if marker.args else None)
        if value is None:
            threshold = _configured_threshold(item.config) or DEFAULT_THRESHOLD
        else:
            try:
                threshold = _threshold(value, "asyncbridge_watch_loop(threshold=...)")
            except (TypeError, ValueError) as exc:
                pytest.fail(f"{item.name}: {exc}", pytrace=False)
    else:
        threshold = _configured_threshold(item.config)
        if threshold is None and requested:
            threshold = DEFAULT_THRESHOLD
    watch = None if threshold is None else ab.watch_loop(threshold, log=False)
    item.stash[_WATCH] = watch
    return watch


def _retry_for(item: pytest.Item, *, requested: bool = False) -> RetryTesting | None:
    if _RETRY in item.stash:
        return item.stash[_RETRY]
    marker = item.get_closest_marker("asyncbridge_retry_testing")
    if marker is None and not requested:
        return None
    args: tuple[Any, ...] = () if marker is None else marker.args
    kwargs: Mapping[str, Any] = {} if marker is None else marker.kwargs
    try:
        switch = ab.retry_testing(*args, **kwargs)
    except (TypeError, ValueError) as exc:
        pytest.fail(
            f"{item.name}: asyncbridge_retry_testing marker: {exc}", pytrace=False
        )
    item.stash[_RETRY] = switch
    return switch


# --------------------------------------------------------------------- hooks


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """In strict mode, turn `LoopBlockedWarning` into an error for the test."""
    for item in items:
        if _strict(item):
            item.add_marker(pytest.mark.filterwarnings(_STRICT_FILTER))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    """In strict mode, run the test (fixtures included) with on_loop_conflict='raise'."""
    if _strict(item):
        item.stash[_STRICT_PREVIOUS] = ab.configure(on_loop_conflict="raise")
    return (yield)


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    """Restore what strict mode changed, once every fixture is torn down."""
    try:
        return (yield)
    finally:
        previous = item.stash.get(_STRICT_PREVIOUS, None)
        if previous is not None:
            del item.stash[_STRICT_PREVIOUS]
            ab.configure(**previous)


def _watched(test: Callable[..., Any], watch: ab.LoopWatch) -> Callable[..., Any]:
    @functools.wraps(test)
    async def watched(*args: Any, **kwargs: Any) -> Any:
        async with watch:
            return await test(*args, **kwargs)

    return watched


def _blocked_message(item: pytest.Item, watch: ab.LoopWatch) -> str:
    reports = "\n\n".join(str(r) for r in watch.reports)
    return (
        f"{item.name}: the test's event loop was blocked for longer than "
        f"{watch.threshold:g} s ({len(watch.reports)} blocking site(s)):\n\n{reports}"
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """Run the test under its retry switch and loop watch, if it asked for them."""
    if not isinstance(item, pytest.Function):
        return (yield)
    retry = _retry_for(item)
    watch = _watch_for(item)
    original = item.obj
    is_async = inspect.iscoroutinefunction(original)
    if watch is not None and not is_async:
        marker = item.get_closest_marker("asyncbridge_watch_loop")
        if marker is not None or "asyncbridge_watch_loop" in item.fixturenames:
            pytest.fail(
                f"{item.name} asks for asyncbridge_watch_loop, which watches an async "
                "test's event loop, but it is not an async test",
                pytrace=False,
            )
        watch = None  # --asyncbridge-block-threshold: sync tests have no loop
    if retry is None and watch is None:
        return (yield)
    test = original if retry is None else retry(original)
    item.obj = test if watch is None else _watched(test, watch)
    try:
        result = yield
    except BaseException as exc:
        if watch is not None and watch.reports:
            exc.add_note(_blocked_message(item, watch))
        raise
    finally:
        item.obj = original
    if watch is not None and watch.reports:
        pytest.fail(_blocked_message(item, watch), pytrace=False)
    return result


# ------------------------------------------------------------------ fixtures


@pytest.fixture
def asyncbridge_configure() -> Iterator[Callable[..., Settings]]:
    """Call ``ab.configure(...)`` for this test only: restored after it.

    The fixture's value is a function with ``ab.configure``'s options; it returns
    the previous values. Every change is undone at teardown, in reverse order.
    """
    changes: list[Settings] = []

    def configure(**options: Any) -> Settings:
        previous = ab.configure(**options)
        changes.append(previous)
        return previous

    yield configure
    for previous in reversed(changes):
        ab.configure(**previous)


@pytest.fixture
def retry_testing(request: pytest.FixtureRequest) -> Iterator[RetryTesting]:
    """Run this test under ``ab.retry_testing()``: one attempt, no waits.

    ``@pytest.mark.asyncbridge_retry_testing(attempts=3, wait=False)`` sets the
    arguments. The switch covers the fixtures set up after this one, and the test
    itself (an async test too, whichever plugin runs it).
    """
    switch = _retry_for(request.node, requested=True)
    assert switch is not None  # noqa: S101  (requested=True)
    with switch:
        yield switch


@pytest.fixture
def asyncbridge_watch_loop(request: pytest.FixtureRequest) -> ab.LoopWatch:
    """Fail this async test if its event loop is blocked; the value is the watch.

    The threshold is the ``asyncbridge_watch_loop`` marker's, else
    ``--asyncbridge-block-threshold`` (or the ini key), else 0.1 s. The watch runs for
    the length of the test's call (not its fixtures); each blocking site's stack is
    printed in the failure.
    """
    watch = _watch_for(request.node, requested=True)
    assert watch is not None  # noqa: S101  (requested=True)
    return watch


@pytest.fixture
def asyncbridge_events() -> Iterator[list[Event]]:
    """Record the instrumentation events of this test in a list (the value)."""
    events: list[Event] = []
    hook = ab.instrumentation.add_hook(events.append)
    yield events
    ab.instrumentation.remove_hook(hook)
