"""What only a real process shows: interpreter exit, fork, and Ctrl-C."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from subprocesses import PROCESS_TIMEOUT, interrupt_when_started, run_script


def test_exit_with_work_pending_returns() -> None:
    """Exit is not held by a stuck portal call, a stuck worker, or a queued job."""
    proc = run_script(
        """
        import threading, anyio, asyncbridge as ab

        ab.configure(exit_grace=0.2)
        never = threading.Event()
        started = threading.Barrier(3)

        async def forever():
            try:
                started.wait()
                await anyio.sleep_forever()
            finally:
                print("portal cleanup ran", flush=True)

        def stuck_worker():
            started.wait()
            never.wait()  # blocking code that never returns

        async def offload():
            await ab.run_in_thread(stuck_worker)

        threading.Thread(target=ab.run_sync, args=(forever,), daemon=True).start()
        threading.Thread(target=anyio.run, args=(offload,), daemon=True).start()
        started.wait()
        print("main done", flush=True)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert "main done" in proc.stdout
    assert "portal cleanup ran" in proc.stdout


def test_exit_waits_for_running_work_within_grace() -> None:
    """Work that finishes within exit_grace is allowed to finish at exit."""
    proc = run_script(
        """
        import threading, time, asyncbridge as ab

        ab.configure(exit_grace=30)
        started = threading.Event()

        def finishing():
            started.set()
            time.sleep(0.2)
            print("worker finished", flush=True)

        ab.executors.get().submit(finishing)
        started.wait()
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert "worker finished" in proc.stdout


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_then_run_sync_in_child() -> None:
    """After fork the child gets a fresh portal and pools; inherited ones refuse work."""
    proc = run_script(
        """
        import asyncio, os, sys, threading, warnings
        import asyncbridge as ab

        async def loop_id():
            return id(asyncio.get_running_loop())

        parent_loop = ab.run_sync(loop_id)
        pool = ab.executors.get()
        pool.submit(int).result()

        async def offload():
            return await ab.run_in_thread(threading.get_ident)

        asyncio.run(offload())
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                assert ab.run_sync(loop_id) != parent_loop
                assert ab.executors.get() is not pool
                try:
                    pool.submit(int)
                except ab.ExecutorShutdownError as exc:
                    assert "fork" in str(exc)
                else:
                    raise AssertionError("inherited pool accepted work")
                assert asyncio.run(offload()) != threading.get_ident()
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        print("child exit", os.waitstatus_to_exitcode(status))
        assert ab.run_sync(loop_id) == parent_loop  # the parent is untouched
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert "child exit 0" in proc.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_fork_child_refuses_an_instance_homed_in_the_parent() -> None:
    """After fork, a DualInterface homed on the parent's portal raises, not hangs."""
    proc = run_script(
        """
        import os, asyncbridge as ab

        class Client(ab.DualInterface):
            async def ping_async(self):
                return "pong"

        client = Client()
        print("parent", client.ping(), flush=True)
        pid = os.fork()
        if pid == 0:
            try:
                client.ping()
            except ab.LoopConflictError as exc:
                print("child refused:", "parent process" in str(exc), flush=True)
            print("child fresh", Client().ping(), flush=True)
            os._exit(0)
        os.waitpid(pid, 0)
        print("parent again", client.ping(), flush=True)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "parent pong",
        "child refused: True",
        "child fresh pong",
        "parent again pong",
    ]


def test_exit_cancels_a_non_daemon_thread_waiting_in_run_sync() -> None:
    """Exit is not held by a non-daemon thread waiting in run_sync: it is cancelled."""
    proc = run_script(
        """
        import threading, anyio, asyncbridge as ab

        ab.configure(exit_grace=0.2)
        started = threading.Event()

        async def forever():
            started.set()
            await anyio.sleep_forever()

        def waiter():
            try:
                ab.run_sync(forever)
            except ab.ExecutorShutdownError:
                print("waiter cancelled at exit", flush=True)

        threading.Thread(target=waiter).start()  # not a daemon
        started.wait()
        print("main thread done", flush=True)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "main thread done",
        "waiter cancelled at exit",
    ]


def test_sigint_cancels_coroutine_then_raises() -> None:
    """Ctrl-C while run_sync waits: the coroutine's finally runs, then KeyboardInterrupt."""
    script = textwrap.dedent(
        """
        import anyio, asyncbridge as ab

        async def long_job():
            try:
                print("started", flush=True)
                await anyio.sleep_forever()
            finally:
                print("cleanup ran", flush=True)

        try:
            ab.run_sync(long_job)
        except KeyboardInterrupt:
            print("KeyboardInterrupt raised", flush=True)
            raise
        """
    )
    proc, out, err = interrupt_when_started(script)
    assert out.splitlines() == ["cleanup ran", "KeyboardInterrupt raised"]
    assert "KeyboardInterrupt" in err
    assert proc.returncode != 0


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigint_in_thread_mode() -> None:
    """Ctrl-C under sync_loop='thread' also runs the cleanup, then KeyboardInterrupt."""
    script = textwrap.dedent(
        """
        import anyio, asyncbridge as ab
        ab.configure(sync_loop="thread")

        async def long_job():
            try:
                print("started", flush=True)
                await anyio.sleep_forever()
            finally:
                print("cleanup ran", flush=True)

        ab.run_sync(long_job)
        """
    )
    proc, out, err = interrupt_when_started(script)
    assert out.splitlines() == ["cleanup ran"]
    assert "KeyboardInterrupt" in err
    assert proc.returncode != 0


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_resource_warnings_at_portal_exit_say_whose_object(
    loop: str, tmp_path: Path
) -> None:
    """A task left on the portal is named at its own line; what it held, as such."""
    script = tmp_path / "leaky.py"
    script.write_text(
        textwrap.dedent(
            """\
                import asyncio, socket
                import asyncbridge as ab

                async def hold(sock):
                    await asyncio.Event().wait()  # line 5: never returns

                async def leak():
                    left, right = socket.socketpair()
                    asyncio.get_running_loop().create_task(hold(left))
                    right.close()

                ab.run_sync(leak)
                """
        )
    )
    done = subprocess.run(
        [sys.executable, "-W", "always::ResourceWarning", str(script)],
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
        check=False,
        env={**os.environ, "ASYNCBRIDGE_PORTAL_LOOP": loop},
    )
    assert done.returncode == 0, done.stderr
    assert f"{script}:5: ResourceWarning: task 'Task-" in done.stderr
    assert "(hold) was still running on asyncbridge's portal loop" in done.stderr
    unclosed = done.stderr.split("unclosed <socket.socket", 1)
    assert len(unclosed) == 2, done.stderr
    source_line = unclosed[1].splitlines()[1]
    assert "held by a task left running on the portal" in source_line
    assert "_portal.py" not in done.stderr


def test_portal_cleanup_survives_resource_warnings_as_errors() -> None:
    """Under ``-W error`` the left task's warning is logged; cleanup runs, it closes."""
    done = subprocess.run(
        [
            sys.executable,
            "-W",
            "error::ResourceWarning",
            "-c",
            textwrap.dedent(
                """\
                import asyncio, logging
                import asyncbridge as ab
                from asyncbridge._engine import _portal
                logging.basicConfig()

                async def wait_forever():
                    try:
                        await asyncio.Event().wait()
                    finally:
                        print("cleaned up")

                async def leave_a_task():
                    asyncio.get_running_loop().create_task(wait_forever())

                ab.run_sync(leave_a_task)
                portal = _portal.running_portals()["asyncio"]
                ab.executors.shutdown()
                portal.thread.join(10)
                print("open" if portal.thread.is_alive() else "closed")
                """
            ),
        ],
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["cleaned", "up", "closed"]
    assert "ResourceWarning: task 'Task-" in done.stderr
    assert "Traceback" not in done.stderr
