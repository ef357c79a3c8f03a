"""The pytest plugin, run through pytester beside pytest-asyncio and anyio's plugin."""

from __future__ import annotations

# The modules the inner runs use are imported here, once: in-process runs forget the
# modules they import, and importing hypothesis and trio again each time costs
# seconds per run.
import hypothesis  # noqa: F401
import pytest
import pytest_asyncio  # noqa: F401
import trio  # noqa: F401
import uvloop  # noqa: F401

import asyncbridge.pytest_plugin  # noqa: F401

pytest_plugins = ["pytester"]

# Every inner run: the plugins as a user has them (entry points), strict markers
# and warnings as errors, pytest-asyncio's loop scope set to keep it quiet.
INI = """
[pytest]
addopts = --strict-markers -p no:cacheprovider
asyncio_default_fixture_loop_scope = function
filterwarnings = error
"""

# The same with LoopBlockedWarning shown, not raised: what strict mode adds is
# visible. (In-process runs start from the outer run's filters, so say it.)
INI_WARNINGS_SHOWN = INI.replace(
    "filterwarnings = error\n",
    "filterwarnings =\n    error\n    default::asyncbridge.LoopBlockedWarning\n",
)

BACKENDS = """
import pytest

@pytest.fixture(params=[
    pytest.param(("asyncio", {}), id="asyncio"),
    pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop"),
    pytest.param(("trio", {}), id="trio"),
])
def anyio_backend(request):
    return request.param
"""

BLOCK = """
import time

def block_until_reported(watch):
    deadline = time.monotonic() + 30
    while not watch.reports and time.monotonic() < deadline:
        time.sleep(0.001)
"""


@pytest.fixture
def tester(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester directory with the ini above and the three anyio backends."""
    pytester.makeini(INI)
    pytester.makeconftest(BACKENDS + BLOCK)
    return pytester


def test_inert_unless_asked(tester: pytest.Pytester) -> None:
    """Loaded by its entry point, the plugin changes nothing for a plain suite."""
    tester.makepyfile(
        """
        import time
        import pytest
        import asyncbridge as ab
        from asyncbridge._core._config import settings

        @pytest.mark.anyio
        async def test_blocking_is_not_our_business(anyio_backend):
            time.sleep(0.01)

        def test_defaults():
            assert settings.on_loop_conflict == "thread"
        """
    )
    result = tester.runpytest("--trace-config")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*asyncbridge*pytest_plugin*"])


def test_configure_fixture_scopes_settings(tester: pytest.Pytester) -> None:
    """asyncbridge_configure changes settings for one test and restores them after."""
    tester.makepyfile(
        """
        from asyncbridge._core._config import settings

        def test_changes(asyncbridge_configure):
            assert asyncbridge_configure(sync_loop="thread") == {"sync_loop": "portal"}
            asyncbridge_configure(sync_loop="portal", exit_grace=1.0)
            asyncbridge_configure(sync_loop="thread")
            assert (settings.sync_loop, settings.exit_grace) == ("thread", 1.0)

        def test_restored():
            assert (settings.sync_loop, settings.exit_grace) == ("portal", 5.0)
        """
    )
    tester.runpytest().assert_outcomes(passed=2)


def test_strict_marker(tester: pytest.Pytester) -> None:
    """asyncbridge_strict: LoopBlockedWarning fails the test; run_sync raises."""
    tester.makeini(INI_WARNINGS_SHOWN)
    tester.makepyfile(
        """
        import asyncio
        import pytest
        import asyncbridge as ab
        from asyncbridge._core._config import settings

        @ab.mixed_execution_safe
        def legacy():
            return asyncio.run(asyncio.sleep(0, "done"))

        async def one():
            return 1

        @pytest.mark.anyio
        @pytest.mark.asyncbridge_strict
        async def test_warning_fails(anyio_backend):
            legacy()

        @pytest.mark.anyio
        async def test_warning_without_strict_passes(anyio_backend):
            assert legacy() == "done"

        @pytest.mark.anyio
        @pytest.mark.asyncbridge_strict
        async def test_run_sync_raises(anyio_backend):
            with pytest.raises(ab.LoopConflictError, match="on_loop_conflict='raise'"):
                ab.run_sync(one)

        @pytest.fixture
        def in_fixture():
            return settings.on_loop_conflict

        @pytest.mark.asyncbridge_strict
        def test_fixtures_see_it_too(in_fixture):
            assert in_fixture == "raise"

        def test_then_restored():
            assert settings.on_loop_conflict == "thread"
        """
    )
    result = tester.runpytest()
    result.assert_outcomes(passed=8, failed=3)
    result.stdout.fnmatch_lines(
        ["*LoopBlockedWarning: calling the mixed_execution_safe function 'legacy'*"]
    )


def test_strict_option_and_ini(tester: pytest.Pytester) -> None:
    """--asyncbridge-strict and the ini key turn strict mode on for every test."""
    tester.makeini(INI_WARNINGS_SHOWN)
    tester.makepyfile(
        """
        import asyncio
        import pytest
        import asyncbridge as ab
        from asyncbridge._core._config import settings

        async def one():
            return 1

        def test_strict():
            assert settings.on_loop_conflict == "raise"

        def test_warning_is_an_error():
            async def main():
                with pytest.raises(ab.LoopBlockedWarning):
                    ab.run_sync(one, on_loop_conflict="thread")
            asyncio.run(main())
        """
    )
    tester.runpytest("--asyncbridge-strict").assert_outcomes(passed=2)
    tester.makeini(INI_WARNINGS_SHOWN + "asyncbridge_strict = true\n")
    tester.runpytest().assert_outcomes(passed=2)


def test_strict_with_pytest_asyncio(tester: pytest.Pytester) -> None:
    """Strict mode works in a pytest-asyncio test too."""
    tester.makepyfile(
        """
        import pytest
        import asyncbridge as ab

        async def one():
            return 1

        @pytest.mark.asyncio
        @pytest.mark.asyncbridge_strict
        async def test_raises():
            with pytest.raises(ab.LoopConflictError):
                ab.run_sync(one)
        """
    )
    tester.runpytest().assert_outcomes(passed=1)


def test_retry_testing_fixture_and_marker(tester: pytest.Pytester) -> None:
    """retry_testing: one attempt by default, the marker's attempts, async tests too."""
    tester.makepyfile(
        """
        import pytest
        import asyncbridge as ab

        calls = []

        @ab.async_retry(max_attempts=5, wait_initial=60)
        async def flaky():
            calls.append(1)
            raise ConnectionError

        @ab.async_retry(max_attempts=5, wait_initial=60)
        def flaky_sync():
            calls.append(1)
            raise ConnectionError

        @pytest.fixture(autouse=True)
        def reset():
            calls.clear()

        def test_sync(retry_testing):
            with pytest.raises(ConnectionError):
                flaky_sync()
            assert calls == [1]
            assert repr(retry_testing) == "retry_testing(attempts=1, wait=False)"

        @pytest.mark.asyncbridge_retry_testing(attempts=3)
        async def test_async_anyio(retry_testing, anyio_backend):
            with pytest.raises(ConnectionError):
                await flaky()
            assert calls == [1, 1, 1]

        @pytest.mark.asyncio
        @pytest.mark.asyncbridge_retry_testing(attempts=2)
        async def test_async_pytest_asyncio():
            with pytest.raises(ConnectionError):
                await flaky()
            assert calls == [1, 1]
        """
    )
    tester.runpytest().assert_outcomes(passed=5)


def test_bad_markers_fail_the_test(tester: pytest.Pytester) -> None:
    """A marker with bad arguments fails its test with a message naming it."""
    tester.makepyfile(
        """
        import pytest

        @pytest.mark.asyncbridge_retry_testing(attempts=0)
        def test_retry():
            pass

        @pytest.mark.anyio
        @pytest.mark.asyncbridge_watch_loop(threshold="soon")
        async def test_watch(anyio_backend):
            pass
        """
    )
    result = tester.runpytest()
    result.assert_outcomes(failed=4)
    result.stdout.fnmatch_lines(
        [
            "*test_retry: asyncbridge_retry_testing marker: *attempts*",
            "*asyncbridge_watch_loop(threshold=...) must be a number of seconds*",
        ]
    )


def test_watch_marker_fails_a_blocking_test(tester: pytest.Pytester) -> None:
    """The marker fails a test that blocks its loop, naming the line, on 3 backends."""
    path = tester.makepyfile(
        test_blocking="""
        import pytest
        from conftest import block_until_reported

        @pytest.mark.anyio
        @pytest.mark.asyncbridge_watch_loop(threshold=0.2)
        async def test_blocks(anyio_backend, asyncbridge_watch_loop):
            block_until_reported(asyncbridge_watch_loop)  # blocks here

        @pytest.mark.anyio
        @pytest.mark.asyncbridge_watch_loop(0.2)
        async def test_does_not_block(anyio_backend):
            import anyio
            await anyio.to_thread.run_sync(__import__("time").sleep, 0.1)
        """
    )
    lines = path.read_text().splitlines()
    [line] = [i + 1 for i, text in enumerate(lines) if text.endswith("# blocks here")]
    result = tester.runpytest()
    result.assert_outcomes(passed=3, failed=3)
    result.stdout.fnmatch_lines(
        [
            "*test_blocks*the test's event loop was blocked for longer than 0.2 s*",
            f"*it is blocked at *test_blocking.py:{line} in test_blocks()*",
            "*block_until_reported(asyncbridge_watch_loop)  # blocks here*",
            "Fix: move the blocking call off the loop*",
        ]
    )
    for backend in ("asyncio", "trio"):
        result.stdout.fnmatch_lines([f"*the {backend} event loop of thread*"])


def test_watch_fixture_with_pytest_asyncio(tester: pytest.Pytester) -> None:
    """The fixture works in pytest-asyncio tests; an error keeps the report as a note."""
    tester.makepyfile(
        """
        import pytest
        from conftest import block_until_reported

        @pytest.mark.asyncio
        async def test_blocks(asyncbridge_watch_loop):
            assert asyncbridge_watch_loop.threshold == 0.1
            block_until_reported(asyncbridge_watch_loop)

        @pytest.mark.asyncio
        async def test_blocks_then_raises(asyncbridge_watch_loop):
            block_until_reported(asyncbridge_watch_loop)
            raise KeyError("the test's own failure")
        """
    )
    result = tester.runpytest()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            '*KeyError: "the test\'s own failure"*',
            "*the test's event loop was blocked for longer than 0.1 s*",
        ]
    )


def test_watch_option_covers_async_tests_only(tester: pytest.Pytester) -> None:
    """--asyncbridge-block-threshold watches every async test; sync tests run as is."""
    tester.makepyfile(
        """
        import time
        import pytest
        from conftest import block_until_reported

        @pytest.mark.anyio
        async def test_blocks(anyio_backend, asyncbridge_watch_loop):
            assert asyncbridge_watch_loop.threshold == 0.2
            block_until_reported(asyncbridge_watch_loop)

        def test_sync():
            time.sleep(0.01)
        """
    )
    result = tester.runpytest("--asyncbridge-block-threshold=0.2")
    result.assert_outcomes(passed=1, failed=3)
    tester.makeini(INI + "asyncbridge_block_threshold = 0.2\n")
    tester.runpytest().assert_outcomes(passed=1, failed=3)


def test_watch_on_a_sync_test_is_a_mistake(tester: pytest.Pytester) -> None:
    """Asking to watch a sync test's loop fails it with the reason."""
    tester.makepyfile(
        """
        import pytest

        @pytest.mark.asyncbridge_watch_loop
        def test_marker():
            pass

        def test_fixture(asyncbridge_watch_loop):
            pass
        """
    )
    result = tester.runpytest()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*it is not an async test*"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--asyncbridge-block-threshold=soon"], "*must be a number of seconds*"),
        (["--asyncbridge-block-threshold=-1"], "*must be a positive number*"),
    ],
)
def test_bad_threshold_is_a_usage_error(
    tester: pytest.Pytester, args: list[str], message: str
) -> None:
    """A threshold that is not a positive number stops the run with a usage error."""
    tester.makepyfile("def test_x(): pass")
    result = tester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_events_fixture(tester: pytest.Pytester) -> None:
    """asyncbridge_events records the test's instrumentation events, then stops."""
    tester.makepyfile(
        """
        import asyncbridge as ab

        async def one():
            return 1

        def test_records(asyncbridge_events):
            ab.run_sync(one)
            [hop] = asyncbridge_events
            assert hop.path == "run_sync:portal"

        def test_unregistered_after():
            assert ab.instrumentation.get_hooks() == ()
        """
    )
    tester.runpytest().assert_outcomes(passed=2)


def test_markers_are_registered(tester: pytest.Pytester) -> None:
    """`pytest --markers` lists the plugin's markers (so --strict-markers takes them)."""
    result = tester.runpytest("--markers")
    result.stdout.fnmatch_lines(
        [
            "@pytest.mark.asyncbridge_strict:*",
            "@pytest.mark.asyncbridge_watch_loop(threshold=0.1):*",
            "@pytest.mark.asyncbridge_retry_testing(attempts=1, wait=False):*",
        ]
    )
