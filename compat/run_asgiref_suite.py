"""Judge asyncbridge.compat.asgiref by asgiref's own test suite.

Takes the tests of asgiref's source release from the package index (downloaded
once into compat/.asgiref-cache/, which git ignores), and runs every test of the
suites below twice, each in its own process with a timeout (a deadlock cannot take
the rest down), two at a time:

* ``real``: as shipped, against the installed asgiref (the measured baseline);
* ``compat``: with only their ``from asgiref.sync import`` lines rewritten to
  ``from asyncbridge.compat.asgiref import``.

Prints one line per test and the totals. Exits 1 when a test that passes against
real asgiref fails (or hangs) against the compat module, unless KNOWN lists it
with its reason; a KNOWN test that passes is reported, so the list can shrink.

    python compat/run_asgiref_suite.py [--jobs 2] [--timeout 60] [-k SUBSTRING] [-v]

A test listed in KNOWN as a deadlock gets --known-timeout (10 s) instead: it is
expected to hang, and the whole run stays short.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

VERSION = "3.13.0"
SUITES = (
    "test_sync.py",
    "test_sync_contextvars.py",
    "test_sync_thread_sensitive_context.py",
)
HERE = Path(__file__).resolve().parent
CACHE = HERE / ".asgiref-cache"
IMPORT = re.compile(r"^from asgiref\.sync import", re.MULTILINE)
COMPAT_IMPORT = "from asyncbridge.compat.asgiref import"
PYTEST_INI = (
    "[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n"
)

# Tests that pass against asgiref and may fail against the compat module, and why.
# Not a compatibility promise of asgiref itself: it overrides a private hook.
PRIVATE = {
    "test_sync.py::test_sync_to_async_thread_handler_child_is_partial": (
        "overrides SyncToAsync.thread_handler, a private hook (asgiref: 'not a "
        "compatibility promise')"
    ),
}
# Tests that pass against asgiref but not against the compat module, and why
# (each one a known gap to close; the script says when one starts passing).
KNOWN: dict[str, str] = {}
DEADLOCK = ": deadlock"  # a KNOWN reason ending so gets --known-timeout

OK = {"passed", "xfailed", "xpassed", "skipped"}


@dataclass
class Result:
    outcome: str  # passed failed error xfailed xpassed skipped hang
    seconds: float
    output: str


def sdist() -> Path:
    """Return the cached sdist, downloading it on first use."""
    tarball = CACHE / f"asgiref-{VERSION}.tar.gz"
    if not tarball.exists():
        CACHE.mkdir(exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                f"asgiref=={VERSION}",
                "--no-deps",
                "--no-binary",
                ":all:",
                "--quiet",
                "-d",
                str(CACHE),
            ],
            check=True,
        )
    return tarball


def prepare(root: Path) -> dict[str, Path]:
    """Extract the suites into root/real and root/compat (rewritten); return both."""
    prefix = f"asgiref-{VERSION}/tests/"
    dirs = {"real": root / "real", "compat": root / "compat"}
    with tarfile.open(sdist()) as tar:
        for suite in SUITES:
            member = tar.extractfile(prefix + suite)
            assert member is not None, suite
            source = member.read().decode()
            for flavour, path in dirs.items():
                path.mkdir(exist_ok=True)
                text = (
                    source if flavour == "real" else IMPORT.sub(COMPAT_IMPORT, source)
                )
                (path / suite).write_text(text)
    for path in dirs.values():
        (path / "pytest.ini").write_text(PYTEST_INI)
    changed = sum(
        (dirs["real"] / s).read_text() != (dirs["compat"] / s).read_text()
        for s in SUITES
    )
    assert changed == len(SUITES), "every suite imports from asgiref.sync"
    return dirs


def pytest_cmd(*args: str) -> list[str]:
    # Only the plugin the suites need: starting every installed one costs ~1 s a test.
    return [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "pytest_asyncio.plugin",
        "-p",
        "no:cacheprovider",
        *args,
    ]


ENV = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}


def collect(directory: Path) -> list[str]:
    done = subprocess.run(
        pytest_cmd("--collect-only", "-q", *SUITES),
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **ENV},
    )
    ids = [line for line in done.stdout.splitlines() if "::" in line]
    if not ids:
        sys.exit(f"collected no tests in {directory}:\n{done.stdout}{done.stderr}")
    return ids


SUMMARY = re.compile(r"\b(\d+) (passed|failed|error|errors|xfailed|xpassed|skipped)\b")


def run_one(directory: Path, test_id: str, timeout: float) -> Result:
    start = time.monotonic()
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **ENV}
    with subprocess.Popen(
        pytest_cmd("-q", "-rN", "--no-header", test_id),
        cwd=directory,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env=env,
    ) as proc:
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the test and anything it started
            output, _ = proc.communicate()
            return Result("hang", time.monotonic() - start, output)
    seconds = time.monotonic() - start
    found = {
        word for _, word in SUMMARY.findall(output.splitlines()[-1] if output else "")
    }
    for word in (
        "failed",
        "error",
        "errors",
        "xpassed",
        "xfailed",
        "passed",
        "skipped",
    ):
        if word in found:
            return Result("error" if word == "errors" else word, seconds, output)
    return Result("error", seconds, output)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds a test")
    parser.add_argument(
        "--known-timeout", type=float, default=10.0, help="for KNOWN deadlocks"
    )
    parser.add_argument("-k", dest="only", default="", help="run ids containing this")
    parser.add_argument(
        "-v", dest="verbose", action="store_true", help="print failures"
    )
    options = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="asgiref-suite-"))
    try:
        dirs = prepare(root)
        ids = [i for i in collect(dirs["compat"]) if options.only in i]
        jobs = [(flavour, i) for i in ids for flavour in ("real", "compat")]
        with ThreadPoolExecutor(options.jobs) as pool:
            futures = {
                job: pool.submit(
                    run_one,
                    dirs[job[0]],
                    job[1],
                    options.known_timeout
                    if job[0] == "compat" and KNOWN.get(job[1], "").endswith(DEADLOCK)
                    else options.timeout,
                )
                for job in jobs
            }
            results = {job: f.result() for job, f in futures.items()}
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return report(ids, results, verbose=options.verbose)


def report(
    ids: list[str], results: dict[tuple[str, str], Result], *, verbose: bool
) -> int:
    regressions, known_failing, known_passing = [], [], []
    totals: dict[str, dict[str, int]] = {"real": {}, "compat": {}}
    for test_id in ids:
        real, ours = results["real", test_id], results["compat", test_id]
        for flavour, res in (("real", real), ("compat", ours)):
            totals[flavour][res.outcome] = totals[flavour].get(res.outcome, 0) + 1
        why = PRIVATE.get(test_id) or KNOWN.get(test_id)
        note = ""
        if real.outcome in OK and ours.outcome not in OK:
            if why:
                known_failing.append(test_id)
                note = f"  [known: {why}]"
            else:
                regressions.append(test_id)
                note = "  [REGRESSION]"
        elif test_id in KNOWN and ours.outcome in OK:
            known_passing.append(test_id)
            note = "  [listed in KNOWN but passes: remove it]"
        print(
            f"{ours.outcome.upper():8} {test_id}  ({ours.seconds:.1f} s; "
            f"asgiref: {real.outcome}){note}",
            flush=True,
        )
        if verbose and ours.outcome not in OK:
            print("    " + "\n    ".join(ours.output.splitlines()[-40:]))
    for flavour in ("real", "compat"):
        counts = ", ".join(f"{n} {k}" for k, n in sorted(totals[flavour].items()))
        label = (
            "asgiref " + VERSION if flavour == "real" else "asyncbridge.compat.asgiref"
        )
        print(f"{label}: {len(ids)} tests: {counts}")
    print(
        f"compat vs asgiref: {len(regressions)} regressions, {len(known_failing)} known "
        f"failures, {len(known_passing)} known failures now passing"
    )
    return 1 if regressions else 0


if __name__ == "__main__":
    sys.exit(main())
