"""Run Python source in a fresh interpreter, as the process-level tests do.

Shared by tests/test_process.py and tests/engine/test_greenlet.py (tests/ is on
``sys.path``: pytest puts the directory of the root conftest.py there).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

# A hang fails the test through this timeout rather than holding CI.
PROCESS_TIMEOUT = 45


def run_script(source: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run *source* (dedented) with ``python -c``; return its captured output."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(source)],
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
        check=False,
        **kwargs,  # type: ignore[arg-type]
    )


def interrupt_when_started(script: str) -> tuple[subprocess.Popen[str], str, str]:
    """Run *script*, send SIGINT once it prints "started", return its output."""
    with subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "started"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=PROCESS_TIMEOUT)
    return proc, out, err
