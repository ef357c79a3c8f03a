"""Start serve.py in a child process and wait until it accepts connections.

Used by tests/compat/test_django.py and benchmarks/bench_asgiref.py.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

HERE = Path(__file__).resolve().parent
START_SECONDS = 30.0


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(
    db: Path, *, compat: bool, cpus: Iterable[int] = ()
) -> tuple[subprocess.Popen[bytes], str]:
    """Serve the project on a free port with database *db*; return it and its URL.

    *cpus*, if given, are the only CPUs the server may run on (Linux).

    Raises:
        RuntimeError: the server exited, or did not listen within START_SECONDS.
    """
    port = free_port()
    args = [sys.executable, "serve.py", "--port", str(port), "--db", str(db)]
    if compat:
        args.append("--compat")
    if cpus:
        args += ["--cpus", ",".join(map(str, cpus))]
    proc = subprocess.Popen(args, cwd=HERE)  # noqa: S603
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"serve.py exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise RuntimeError(f"serve.py did not listen within {START_SECONDS} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server started by `start`."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
