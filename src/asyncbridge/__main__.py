"""The command line: ``python -m asyncbridge doctor [--json] [--no-check]``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (1 if a check failed)."""
    parser = argparse.ArgumentParser(
        prog="python -m asyncbridge",
        description="asyncbridge's command line.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    doctor = commands.add_parser(
        "doctor",
        help="print what a bug report needs: versions, backends, portals, "
        "settings, executors, hooks",
        description="Print what a bug report needs: versions, backends and uvloop, "
        "the portal loop class, settings, executors with their stats, loop watches "
        "and instrumentation hooks. First makes one call over each bridge (run_sync, "
        "run_in_thread, on asyncio, uvloop and trio where installed) and reports it; "
        "exits 1 if one failed.",
    )
    doctor.add_argument(
        "--json", action="store_true", help="print the report as JSON, for machines"
    )
    doctor.add_argument(
        "--no-check",
        action="store_true",
        help="skip the calls over each bridge (report only)",
    )
    args = parser.parse_args(argv)

    from ._doctor import collect, render  # noqa: PLC0415  (after parsing: --help is quick)

    report = collect(check=not args.no_check)
    if args.json:
        print(json.dumps(report, indent=2, default=repr))  # noqa: T201
    else:
        print(render(report))  # noqa: T201
    failed = [name for name, r in report.get("checks", {}).items() if not r["ok"]]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
