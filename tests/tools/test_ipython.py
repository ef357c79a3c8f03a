"""%load_ext asyncbridge: a real Jupyter kernel, driven cell by cell."""

from __future__ import annotations

import ast
import asyncio
import signal
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from jupyter_client.manager import start_new_kernel

import asyncbridge as ab
from asyncbridge._core._config import settings
from asyncbridge._tools import _ipython

CELL_TIMEOUT = 30  # seconds; a cell that hangs fails the test instead of CI


@dataclass
class Cell:
    """What one executed cell printed, returned and raised."""

    stdout: str = ""
    stderr: str = ""
    result: str | None = None
    error: str | None = None
    traceback: list[str] = field(default_factory=list)


class Notebook:
    """A kernel client that runs cells one at a time and collects their output."""

    def __init__(self, client: Any, manager: Any) -> None:
        self.client = client
        self.manager = manager

    def run(self, code: str) -> Cell:
        cell = Cell()

        def collect(msg: dict[str, Any]) -> None:
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                if content["name"] == "stdout":
                    cell.stdout += content["text"]
                else:
                    cell.stderr += content["text"]
            elif kind == "execute_result":
                cell.result = content["data"]["text/plain"]
            elif kind == "error":
                cell.error = f"{content['ename']}: {content['evalue']}"
                cell.traceback = content["traceback"]

        self.client.execute_interactive(
            textwrap.dedent(code), timeout=CELL_TIMEOUT, output_hook=collect
        )
        return cell

    def ok(self, code: str) -> Cell:
        """Run a cell that must not fail."""
        cell = self.run(code)
        assert cell.error is None, "\n".join(cell.traceback)
        return cell


@pytest.fixture
def notebook() -> Iterator[Notebook]:
    """A fresh kernel (ipykernel, this interpreter), shut down after the test."""
    manager, client = start_new_kernel(kernel_name="python3", startup_timeout=60)
    try:
        yield Notebook(client, manager)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


SERVER = """
import asyncio, httpx, asyncbridge as ab

async def handle(reader, writer):
    request = await reader.readuntil(b"\\r\\n\\r\\n")
    body = b"hello " + request.split(b" ")[1]
    writer.write(
        b"HTTP/1.1 200 OK\\r\\nConnection: close\\r\\nContent-Length: %d\\r\\n\\r\\n%s"
        % (len(body), body)
    )
    await writer.drain()
    writer.close()

# A server on the kernel's loop: it answers only while that loop runs.
server = await asyncio.start_server(handle, "127.0.0.1", 0)
port = server.sockets[0].getsockname()[1]
client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}")
print((await client.get("/first")).text)
"""

OBJECTS = """
class Api(ab.DualInterface):
    def __init__(self, client):
        self.client = client

    async def fetch_async(self, path):
        return (await self.client.get(path)).text

api = Api(client)
print(await api.fetch_async("/home"))  # home: the kernel's loop

@ab.async_safe
async def fetch_safe(path):
    return (await client.get(path)).text

# Another task on the kernel's loop, which a re-entry must let run.
started, answered = asyncio.Event(), asyncio.Event()

async def other():
    await started.wait()
    answered.set()

other_task = asyncio.ensure_future(other())

async def needs_other_task():
    started.set()
    await answered.wait()
    return "the loop served another task"
"""


def test_extension_lets_sync_cells_use_loop_bound_objects(notebook: Notebook) -> None:
    """With the extension, sync cells use objects made by await, on the kernel's loop."""
    assert notebook.ok("%load_ext asyncbridge").stderr == ""
    assert notebook.ok(SERVER).stdout == "hello /first\n"
    assert notebook.ok(OBJECTS).stdout == "hello /home\n"
    cell = notebook.ok(
        """
        print(ab.run_sync(client.get, "/run_sync").text)
        print(fetch_safe("/async_safe"))
        print(api.fetch("/twin"))
        print(ab.run_sync(needs_other_task))
        """
    )
    assert cell.stdout.splitlines() == [
        "hello /run_sync",
        "hello /async_safe",
        "hello /twin",
        "the loop served another task",
    ]
    assert cell.stderr == ""  # no LoopBlockedWarning
    # The next cell too: every cell runs in a prepared task.
    assert notebook.ok('print(api.fetch("/again"))').stdout == "hello /again\n"
    notebook.ok("await client.aclose(); server.close(); await server.wait_closed()")


@pytest.mark.parametrize(
    "code",
    [
        "ab.run_sync(forever)",  # sync code waiting in a re-entry
        "await forever()",  # a cell awaiting
        "try:\n    blocking()\nfinally:\n    print('cleanup ran', flush=True)",
    ],
    ids=["re-entry", "await", "blocking"],
)
def test_interrupt_stops_cell_after_cleanup(notebook: Notebook, code: str) -> None:
    """Interrupting the kernel stops a cell (waiting, awaiting or blocking) after its cleanup."""
    notebook.ok("%load_ext asyncbridge")
    notebook.ok(
        """
        import asyncio, time, asyncbridge as ab

        async def forever():
            try:
                print("started", flush=True)
                await asyncio.sleep(60)
            finally:
                print("cleanup ran", flush=True)

        def blocking():
            print("started", flush=True)
            time.sleep(60)
        """
    )
    client = notebook.client
    msg_id = client.execute(code)
    out, error = "", None
    while True:
        msg = client.get_iopub_msg(timeout=CELL_TIMEOUT)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            out += content["text"]
            if content["text"] == "started\n":
                notebook.manager.interrupt_kernel()
        elif kind == "error":
            error = content["ename"]
        elif kind == "status" and content["execution_state"] == "idle":
            break
    assert out == "started\ncleanup ran\n"
    assert error == "KeyboardInterrupt"
    assert notebook.ok("print('still alive')").stdout == "still alive\n"


def test_extension_keeps_cells_as_typed(notebook: Notebook) -> None:
    """Cells still display their last value, count lines as typed, and nest."""
    notebook.ok("%load_ext asyncbridge")
    assert notebook.ok("1 + 1").result == "2"
    failed = notebook.run("x = 1\nraise ValueError('on line 2')")
    assert failed.error == "ValueError: on line 2"
    assert any("line 2" in frame for frame in failed.traceback)
    nested = notebook.ok("get_ipython().run_cell('inner = 5'); print(inner)")
    assert nested.stdout == "5\n"
    assert notebook.ok("for i in range(2):\n    print(i)").stdout == "0\n1\n"


def test_unload_restores_the_policy(notebook: Notebook) -> None:
    """%unload_ext asyncbridge gives on_loop_conflict its previous value back."""
    notebook.ok("%load_ext asyncbridge")
    check = "from asyncbridge._core._config import settings; print(settings.on_loop_conflict)"
    assert notebook.ok(check).stdout == "greenlet\n"
    notebook.ok("%unload_ext asyncbridge")
    assert notebook.ok(check).stdout == "thread\n"


def test_without_extension_warns_once_per_session(notebook: Notebook) -> None:
    """Without the extension, run_sync blocks with one warning that says how to load it."""
    notebook.ok("import asyncbridge as ab\nasync def one():\n    return 1")
    first = notebook.ok("print(ab.run_sync(one))")
    assert first.stdout == "1\n"
    assert "LoopBlockedWarning" in first.stderr
    assert "%load_ext asyncbridge" in first.stderr
    second = notebook.ok("print(ab.run_sync(one))")
    assert second.stdout == "1\n"
    assert second.stderr == ""  # a new cell is a new code location: still silent


# ------------------------------------------------- the pieces, in this process


@pytest.fixture
def shell() -> Iterator[InteractiveShell]:
    """An in-process IPython shell (so that get_ipython() answers), cleared after."""
    instance = InteractiveShell.instance()
    try:
        yield instance
    finally:
        _ipython.unload_ipython_extension(instance)
        _ipython._warned = False
        InteractiveShell.clear_instance()


def test_marker_added_and_removed(shell: InteractiveShell) -> None:
    """The marker line makes a cell async on a loop; the AST transformer drops it."""

    async def main() -> tuple[str, str, str]:
        ab.load_ipython_extension(shell)  # as by a cell running on the loop
        assert _ipython._loaded is not None
        _ipython._loaded.post_execute()  # that cell ends
        typed = "x = 1\nx"
        marked = shell.transform_cell(typed)
        tree = shell.transform_ast(ast.parse(marked))
        return marked, ast.unparse(tree), shell.transform_cell("   \n")

    marked, unmarked, blank = asyncio.run(main())
    assert marked == "x = 1\nx\nawait __asyncbridge_cell__()\n"
    assert unmarked == "x = 1\nx"
    assert "__asyncbridge_cell__" not in blank


def test_marker_skipped_where_it_would_change_meaning(shell: InteractiveShell) -> None:
    """No marker outside a loop, inside a running cell, or after a continuation."""
    ab.load_ipython_extension(shell)
    assert shell.transform_cell("x = 1\n") == "x = 1\n"  # no loop: terminal IPython
    extension = _ipython._loaded
    assert extension is not None

    async def main() -> tuple[str, str]:
        continued = shell.transform_cell("x = 1 + \\")
        extension.pre_execute()  # a cell is running: a nested run_cell is left alone
        nested = shell.transform_cell("y = 2")
        extension.post_execute()
        extension.post_execute()  # unpaired (an empty cell): never below zero
        return continued, nested

    continued, nested = asyncio.run(main())
    assert "__asyncbridge_cell__" not in continued + nested
    assert extension.depth == 0


def test_loading_twice_and_unloading_other_shell(shell: InteractiveShell) -> None:
    """A second load is a no-op; unloading for another shell changes nothing."""
    ab.load_ipython_extension(shell)
    first = _ipython._loaded
    ab.load_ipython_extension(shell)
    assert _ipython._loaded is first
    ab.unload_ipython_extension(object())
    assert settings.on_loop_conflict == "greenlet"  # the other shell did not undo it


def test_cell_marker_is_harmless() -> None:
    """If the marker ever ran, it would await a no-op."""
    assert asyncio.run(_ipython._cell_marker()) is None


def test_warning_outside_ipython_session_is_per_call_site() -> None:
    """IPython imported but no session running: the warnings module decides."""
    assert not _ipython.warn_in_session("text")


def test_warning_in_session_with_extension_has_no_load_hint(
    shell: InteractiveShell,
) -> None:
    """With the extension loaded, a fallback warning does not suggest loading it."""
    ab.load_ipython_extension(shell)
    with pytest.warns(ab.LoopBlockedWarning) as caught:
        assert _ipython.warn_in_session("blocked")
    assert str(caught[0].message) == "blocked"
    assert _ipython.warn_in_session("blocked again")  # once per session: silent


def test_interrupt_handler_in_process(shell: InteractiveShell) -> None:
    """During a cell, SIGINT raises where the cell's code runs, else at its await."""
    ab.load_ipython_extension(shell)  # no loop yet: prepared at the first cell
    extension = _ipython._loaded
    assert extension is not None

    async def other_task() -> None:
        extension.on_sigint(signal.SIGINT, None)  # the loop runs another task

    async def cell() -> None:
        before = signal.getsignal(signal.SIGINT)  # asyncio.run's own handler
        extension.pre_execute()
        try:
            assert signal.getsignal(signal.SIGINT) == extension.on_sigint
            with pytest.raises(KeyboardInterrupt):
                extension.on_sigint(signal.SIGINT, None)  # the cell's own code
            task = asyncio.current_task()
            assert task is not None
            asyncio.get_running_loop().create_task(other_task())
            with pytest.raises(KeyboardInterrupt):
                await asyncio.sleep(30)  # interrupted here, not cancelled
            assert task.cancelling() == 0
        finally:
            extension.post_execute()
        assert signal.getsignal(signal.SIGINT) is before

    asyncio.run(ab.run_in_greenlet(cell))
