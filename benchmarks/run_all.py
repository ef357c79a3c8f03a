"""Run every ``benchmarks/bench_*.py`` script in turn, each in its own process.

Options after the script name are passed to every benchmark (``--quick`` for a smoke
run). A fresh interpreter per script keeps one benchmark's portals, pools and
memory out of the next one's figures. Exits non-zero if any script failed to run
(a missed target is printed, never an exit status).

    .venv/bin/python benchmarks/run_all.py            # everything (make bench)
    .venv/bin/python benchmarks/run_all.py --quick    # smoke run, well under a minute
    .venv/bin/python benchmarks/run_all.py --only memory --quick
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PATTERN = "bench_*.py"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="WORD",
        help="run only scripts whose name contains WORD (repeatable)",
    )
    args, passthrough = parser.parse_known_args()
    scripts = sorted(HERE.glob(PATTERN))
    if args.only:
        scripts = [s for s in scripts if any(w in s.name for w in args.only)]
    if not scripts:
        print(f"no {PATTERN} scripts found in {HERE}")
        return 1
    failed: list[str] = []
    timings: list[tuple[str, float, int]] = []
    for script in scripts:
        command = [sys.executable, str(script), *passthrough]
        print(f"=== {script.name} {' '.join(passthrough)}".rstrip(), flush=True)
        start = time.perf_counter()
        code = subprocess.run(command, check=False).returncode  # noqa: S603
        elapsed = time.perf_counter() - start
        timings.append((script.name, elapsed, code))
        if code != 0:
            failed.append(script.name)
        print(flush=True)
    print("=== summary")
    for name, elapsed, code in timings:
        status = "ok" if code == 0 else f"FAILED (exit {code})"
        print(f"  {name:<32} {elapsed:7.1f} s  {status}")
    if failed:
        print(f"{len(failed)} benchmark(s) failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
