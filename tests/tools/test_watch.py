"""watch_loop: the report names the line that blocks the loop, once per site."""

from __future__ import annotations

import asyncio
import inspect
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest
import trio
import uvloop

import asyncbridge as ab
from asyncbridge._tools import _watch
from asyncbridge.instrumentation import LoopBlocked

pytestmark = pytest.mark.anyio

# Large enough that a busy machine does not stall a test's loop that long by itself
# (the tests' blocks end when the watchdog reports them, whatever the threshold).
THRESHOLD = 0.25
LIMIT = 30.0  # seconds a blocking test body waits for the watchdog at most


def block_until(condition: Callable[[], bool]) -> None:
    """Block the calling thread (the loop's, in these tests) until *condition* holds.

    The block is what the tests make the watchdog find; it ends as soon as the
    watchdog has reported it, so no test depends on how fast the machine is.
    """
    deadline = time.monotonic() + LIMIT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("the watchdog never reported the block")
        time.sleep(0.001)


def line_of(func: Callable[..., Any], marker: str) -> int:
    """The line number of the line of *func* that ends with *marker* (a comment)."""
    lines, first = inspect.getsourcelines(func)
    [offset] = [i for i, line in enumerate(lines) if line.rstrip().endswith(marker)]
    return first + offset


def reports_in(watch: ab.LoopWatch, function: str) -> list[LoopBlocked]:
    """The reports whose blocking call is in *function* (ignoring any other stall)."""
    return [r for r in watch.reports if r.function == function]


async def until_turned(watch: ab.LoopWatch) -> None:
    """Yield to the loop until the watch's heartbeat has run once more."""
    due = watch._next_due
    while watch._next_due == due:
        await anyio.sleep(0)


@pytest.fixture
def no_watch_left() -> Iterator[None]:
    """Every watch started in the test is stopped, and its watchdog thread gone."""
    yield
    assert _watch.active_watches() == []
    assert not [
        t for t in threading.enumerate() if t.name.startswith("asyncbridge-watch")
    ]


async def test_report_names_the_blocking_line(
    anyio_backend: object, backend_name: str, no_watch_left: None
) -> None:
    """A coroutine blocking the loop is reported with its own file and line."""
    watch = ab.watch_loop(THRESHOLD, log=False)
    async with watch:
        await anyio.sleep(0)
        block_until(lambda: bool(watch.reports))  # the blocking line
    [report] = reports_in(watch, "test_report_names_the_blocking_line")
    expected = line_of(test_report_names_the_blocking_line, "# the blocking line")
    assert report.filename == __file__
    assert report.lineno == expected
    assert report.function == "test_report_names_the_blocking_line"
    assert (
        report.site == f"{__file__}:{expected} in test_report_names_the_blocking_line()"
    )
    assert report.backend == backend_name
    assert report.thread == threading.current_thread().name
    assert report.duration >= THRESHOLD
    assert report.threshold == THRESHOLD
    assert "block_until(lambda: bool(watch.reports))" in report.stack
    assert "run_in_thread" in report.hint
    assert "mixed_execution_safe" in report.hint
    text = str(report)
    assert f"has not turned for {report.duration:.3f} s" in text
    assert report.stack in text
    assert report.hint in text


async def nested_blocker(watch: ab.LoopWatch) -> None:
    """An inner coroutine that blocks: the report names its line, not the caller's."""
    await anyio.sleep(0)
    block_until(lambda: bool(watch.reports))  # nested blocking line


async def test_the_innermost_coroutine_is_the_site(anyio_backend: object) -> None:
    """The site is the innermost coroutine frame; the stack shows its callers."""
    async with ab.watch_loop(THRESHOLD, log=False) as watch:
        await nested_blocker(watch)
    [report] = reports_in(watch, "nested_blocker")
    assert report.function == "nested_blocker"
    assert report.lineno == line_of(nested_blocker, "# nested blocking line")
    assert "await nested_blocker(watch)" in report.stack
    assert report.stack.index("await nested_blocker") < report.stack.index(
        "block_until(lambda"
    )


async def test_once_per_site_every_block_counted(anyio_backend: object) -> None:
    """A site blocking again is counted but not reported again; a new site is."""
    async with ab.watch_loop(THRESHOLD, log=False) as watch:
        for n in (1, 2):
            block_until(lambda n=n: watch.blocks >= n)  # one site, twice
            await until_turned(watch)
        block_until(lambda: watch.blocks >= 3)  # another site
        await until_turned(watch)
    assert watch.blocks >= 3
    first, second = reports_in(watch, "test_once_per_site_every_block_counted")
    assert first.lineno != second.lineno


async def test_no_report_when_nothing_blocks(anyio_backend: object) -> None:
    """A loop that keeps turning (work in threads, sleeps) is never reported."""
    async with ab.watch_loop(THRESHOLD, log=False) as watch:
        for _ in range(3):
            await ab.run_in_thread(time.sleep, THRESHOLD)
        await anyio.sleep(THRESHOLD * 2)
    assert watch.reports == []
    assert watch.blocks == 0


async def test_reports_go_to_log_callback_and_hooks(
    anyio_backend: object, caplog: pytest.LogCaptureFixture
) -> None:
    """Each report is logged, given to on_block and sent to the instrumentation hooks."""
    seen: list[LoopBlocked] = []
    events: list[object] = []
    hook = ab.instrumentation.add_hook(events.append)
    try:
        with caplog.at_level(logging.WARNING, logger="asyncbridge.watch"):
            async with ab.watch_loop(THRESHOLD, on_block=seen.append) as watch:
                block_until(lambda: bool(watch.reports))
    finally:
        ab.instrumentation.remove_hook(hook)
    assert seen == watch.reports
    assert [e for e in events if isinstance(e, LoopBlocked)] == watch.reports
    [record] = caplog.records
    assert record.name == "asyncbridge.watch"
    assert watch.reports[0].site in record.getMessage()


async def test_a_failing_callback_is_logged_and_the_watch_goes_on(
    anyio_backend: object, caplog: pytest.LogCaptureFixture
) -> None:
    """on_block raising is logged; later sites are still reported."""

    def broken(report: LoopBlocked) -> None:
        raise RuntimeError("broken callback")

    async with ab.watch_loop(THRESHOLD, on_block=broken, log=False) as watch:
        block_until(lambda: len(watch.reports) >= 1)
        await until_turned(watch)
        block_until(lambda: len(watch.reports) >= 2)
    assert len(watch.reports) == 2
    failures = [r for r in caplog.records if "on_block" in r.getMessage()]
    assert len(failures) == 2
    assert failures[0].exc_info is not None
    assert str(failures[0].exc_info[1]) == "broken callback"


async def slow_answer(release: threading.Event) -> int:
    await anyio.to_thread.run_sync(release.wait, LIMIT)
    return 1


async def test_run_sync_blocking_a_loop_gets_its_own_hint(
    anyio_backend: object,
) -> None:
    """A loop blocked in run_sync() is told to await the async API instead."""
    release = threading.Event()
    async with ab.watch_loop(
        THRESHOLD, on_block=lambda _: release.set(), log=False
    ) as w:
        with pytest.warns(ab.LoopBlockedWarning):
            assert ab.run_sync(slow_answer, release) == 1
    [report] = reports_in(w, "test_run_sync_blocking_a_loop_gets_its_own_hint")
    assert report.hint == _watch.HINT_RUN_SYNC
    assert report.function == "test_run_sync_blocking_a_loop_gets_its_own_hint"


def run_loop_in_thread(
    factory: Callable[[], asyncio.AbstractEventLoop],
) -> tuple[asyncio.AbstractEventLoop, threading.Thread]:
    loop = factory()
    thread = threading.Thread(target=loop.run_forever, name="watched-loop")
    thread.start()
    return loop, thread


@pytest.mark.parametrize("kind", ["asyncio", "uvloop"])
def test_watch_a_loop_from_another_thread(kind: str, no_watch_left: None) -> None:
    """loop= watches a loop running in another thread; stop() from here ends it."""
    factory = uvloop.new_event_loop if kind == "uvloop" else asyncio.new_event_loop
    loop, thread = run_loop_in_thread(factory)
    try:
        watch = ab.watch_loop(THRESHOLD, loop=loop, log=False)
        with watch:
            future = asyncio.run_coroutine_threadsafe(blocking_coroutine(watch), loop)
            future.result(LIMIT)
        [report] = reports_in(watch, "blocking_coroutine")
        assert report.thread == "watched-loop"
        assert report.function == "blocking_coroutine"
        assert repr(watch).startswith("<LoopWatch stopped")
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


async def blocking_coroutine(watch: ab.LoopWatch) -> None:
    await asyncio.sleep(0)
    block_until(lambda: bool(watch.reports))


def test_watch_a_trio_run_from_another_thread(no_watch_left: None) -> None:
    """loop= takes a trio token: the trio run in another thread is watched."""
    got_token: list[Any] = []
    ready = threading.Event()

    async def main() -> None:
        finished = trio.Event()
        got_token.append((trio.lowlevel.current_trio_token(), finished))
        ready.set()
        await finished.wait()

    thread = threading.Thread(target=trio.run, args=(main,), name="trio-loop")
    thread.start()
    ready.wait(LIMIT)
    token, finished = got_token[0]
    with ab.watch_loop(THRESHOLD, loop=token, log=False) as watch:

        async def block() -> None:
            await trio.sleep(0)
            block_until(lambda: bool(watch.reports))

        trio.from_thread.run(block, trio_token=token)
    trio.from_thread.run_sync(finished.set, trio_token=token)
    thread.join()
    [report] = reports_in(watch, "block")
    assert (report.backend, report.thread, report.function) == (
        "trio",
        "trio-loop",
        "block",
    )


def test_a_paused_loop_is_not_blocked(no_watch_left: None) -> None:
    """An asyncio loop between two runs is idle, not blocked: nothing is reported."""
    loop = asyncio.new_event_loop()
    try:
        watch = ab.watch_loop(THRESHOLD, loop=loop, log=False).start()
        loop.run_until_complete(asyncio.sleep(0))  # installs the heartbeat
        deadline = time.monotonic() + LIMIT
        while watch._overdue == 0:  # the watchdog has seen the pause
            assert time.monotonic() < deadline
            time.sleep(0.001)
        loop.run_until_complete(asyncio.sleep(0))  # the late beat runs
        watch.stop()
        assert watch.reports == []
        assert watch.blocks == 0
    finally:
        loop.close()


def test_a_closed_loop_ends_its_watchdog() -> None:
    """A watch left running on a loop that closes stops its watchdog by itself."""
    loop = asyncio.new_event_loop()
    watch = ab.watch_loop(THRESHOLD, loop=loop, log=False).start()
    loop.run_until_complete(asyncio.sleep(0))
    watchdog = watch._watchdog
    assert watchdog is not None
    loop.close()
    watchdog.join(LIMIT)
    assert not watchdog.is_alive()
    watch.stop()
    assert watch.reports == []


def idle_frame(
    start: Callable[[], threading.Thread], backend: str
) -> tuple[bool, threading.Thread]:
    """Whether `is_idle` answers True for the thread *start* starts, once it idles."""
    thread = start()
    deadline = time.monotonic() + LIMIT
    while time.monotonic() < deadline:
        frame = sys._current_frames().get(thread.ident)  # type: ignore[arg-type]
        if frame is not None and _watch.is_idle(frame, backend):
            return True, thread
        time.sleep(0.001)
    return False, thread


@pytest.mark.parametrize("kind", ["asyncio", "uvloop", "trio"])
def test_an_idle_loop_thread_is_recognised(kind: str) -> None:
    """A loop waiting for I/O is idle (a late heartbeat there is no blocking call)."""
    stop = threading.Event()
    if kind == "trio":

        async def wait() -> None:
            await trio.to_thread.run_sync(stop.wait, abandon_on_cancel=False)

        def start() -> threading.Thread:
            t = threading.Thread(target=trio.run, args=(wait,))
            t.start()
            return t

        idle, thread = idle_frame(start, "trio")
        stop.set()
        thread.join()
    else:
        loop = (uvloop.new_event_loop if kind == "uvloop" else asyncio.new_event_loop)()

        def start() -> threading.Thread:
            t = threading.Thread(target=loop.run_forever)
            t.start()
            return t

        idle, thread = idle_frame(start, "asyncio")
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
    assert idle


def test_code_in_a_namespace_named_like_the_watch_is_not_idle() -> None:
    """A doctest or exec() namespace named after the watch module is user code."""
    namespace: dict[str, object] = {"__name__": _watch.__name__, "sys": sys}
    exec("def here():\n    return sys._getframe()", namespace)  # noqa: S102
    frame = namespace["here"]()  # type: ignore[operator]
    assert not _watch.is_idle(frame, "asyncio")
    assert not _watch.is_idle(frame, "trio")


def test_user_code_waiting_is_not_idle() -> None:
    """User code, even waiting on a lock or an Event, is a blocking call, not idle."""
    assert not _watch.is_idle(sys._getframe(), "asyncio")
    assert not _watch.is_idle(sys._getframe(), "trio")
    release = threading.Event()
    waiter = threading.Thread(target=release.wait)
    waiter.start()
    try:
        deadline = time.monotonic() + LIMIT
        frame = sys._current_frames().get(waiter.ident)  # type: ignore[arg-type]
        while frame is None or frame.f_code.co_name != "wait":
            assert time.monotonic() < deadline
            time.sleep(0.001)
            frame = sys._current_frames().get(waiter.ident)  # type: ignore[arg-type]
        assert not _watch.is_idle(frame, "asyncio")
        assert not _watch.is_idle(frame, "trio")
    finally:
        release.set()
        waiter.join()


async def test_stop_is_idempotent_and_a_watch_runs_once(anyio_backend: object) -> None:
    """stop() twice is fine; starting a used watch raises RuntimeError."""
    watch = ab.watch_loop(THRESHOLD)
    watch.stop()  # never started: nothing to do
    with pytest.raises(RuntimeError, match="already started"):
        watch.start()
    watch = ab.watch_loop(THRESHOLD)
    with watch:
        assert repr(watch).startswith("<LoopWatch running")
        assert [repr(watch)] == _watch.active_watches()
    watch.stop()
    with pytest.raises(RuntimeError, match="already started"):
        async with watch:
            pass


def test_no_running_loop_is_an_error() -> None:
    """Starting without loop= where no loop runs says what to do."""
    with pytest.raises(RuntimeError, match="no event loop running in this thread"):
        ab.watch_loop().start()


def test_a_closed_or_finished_loop_is_an_error() -> None:
    """A closed asyncio loop or a finished trio run cannot be watched."""
    loop = asyncio.new_event_loop()
    loop.close()
    with pytest.raises(LookupError, match="is closed"):
        ab.watch_loop(loop=loop).start()

    async def token() -> object:
        return trio.lowlevel.current_trio_token()

    with pytest.raises(LookupError, match="has finished"):
        ab.watch_loop(loop=trio.run(token)).start()
    assert _watch.active_watches() == []


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"threshold": 0}, ValueError, "threshold must be a positive number"),
        ({"threshold": -1}, ValueError, "threshold"),
        ({"threshold": "1"}, TypeError, "threshold must be a number"),
        ({"threshold": None}, TypeError, "threshold"),
        ({"loop": object()}, TypeError, "loop must be an asyncio event loop"),
        ({"on_block": 3}, TypeError, "on_block must be a callable"),
        ({"log": 1}, TypeError, "log must be True or False"),
    ],
)
def test_bad_arguments(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    """Bad arguments raise at once, naming the parameter."""
    with pytest.raises(error, match=match):
        ab.watch_loop(**kwargs)


async def test_many_watches_at_once(anyio_backend: object, no_watch_left: None) -> None:
    """Several watches on one loop each report the block (independent state)."""
    watches = [ab.watch_loop(THRESHOLD, log=False) for _ in range(3)]
    for w in watches:
        w.start()
    try:
        block_until(lambda: all(w.reports for w in watches))
    finally:
        for w in watches:
            w.stop()
    lines = {
        r.lineno for w in watches for r in reports_in(w, "test_many_watches_at_once")
    }
    assert len(lines) == 1
