"""`python -m asyncbridge doctor`: what a bug report needs, for people and machines."""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import os
import subprocess
import sys
from typing import Any

import pytest

import asyncbridge as ab
from asyncbridge import _doctor
from asyncbridge.__main__ import main

LIMIT = 60


def doctor(
    *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the command in a fresh interpreter, as a user would."""
    return subprocess.run(
        [sys.executable, "-W", "error", "-m", "asyncbridge", *args],
        capture_output=True,
        text=True,
        timeout=LIMIT,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_doctor_prints_a_report() -> None:
    """The text report: versions, backends, portal loop, checks, portals, settings."""
    proc = doctor("doctor")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("asyncbridge doctor: paste this into your bug report")
    for label in (
        "Python",
        "asyncbridge",
        "Packages",
        "Backends",
        "Portal loop",
        "Settings",
        "Portals",
        "Executors",
        "Loop watches",
        "Hooks",
    ):
        assert f"\n{label}" in out, label
    assert "Backends     asyncio: yes · uvloop: yes · trio: yes · greenlet: yes" in out
    assert "Portal loop  uvloop.Loop" in out
    assert "run_sync (asyncio portal): ok" in out
    assert "run_sync (trio portal): ok" in out
    assert "asyncio on thread 'asyncbridge-portal-asyncio' (uvloop.Loop)" in out
    assert "on_loop_conflict='thread'" in out
    assert "default: workers=" in out


def test_doctor_json_for_machines() -> None:
    """--json gives the same facts as data; every check passed."""
    proc = doctor("doctor", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["packages"]["asyncbridge"] == ab_version()
    assert report["packages"]["anyio"]
    assert report["backends"] == {
        "asyncio": True,
        "uvloop": True,
        "trio": True,
        "greenlet": True,
    }
    assert report["settings"]["on_loop_conflict"] == "thread"
    assert set(report["checks"]) == {
        "run_sync (asyncio portal)",
        "run_in_thread (asyncio)",
        "run_in_thread (uvloop)",
        "run_sync (trio portal)",
        "run_in_thread (trio)",
    }
    assert all(c["ok"] for c in report["checks"].values())
    assert report["checks"]["run_sync (trio portal)"]["ran_on"] == (
        "asyncbridge-portal-trio"
    )
    backends = {p["backend"]: p["loop"] for p in report["portals"]}
    assert backends == {"asyncio": "uvloop.Loop", "trio": "trio"}
    assert report["executors"]["default"]["completed"] >= 3
    assert report["hooks"] == []
    assert report["watches"] == []


def test_doctor_no_check_and_environment() -> None:
    """--no-check starts nothing; ASYNCBRIDGE_* settings of the environment show."""
    proc = doctor(
        "doctor", "--json", "--no-check", env={"ASYNCBRIDGE_PORTAL_LOOP": "asyncio"}
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert "checks" not in report
    assert report["portals"] == []
    assert report["executors"] == {}
    assert report["environment"] == {"ASYNCBRIDGE_PORTAL_LOOP": "asyncio"}
    assert report["portal_loop"].startswith("asyncio.")


def test_no_command_is_a_usage_error() -> None:
    """`python -m asyncbridge` alone prints the usage and exits 2."""
    proc = doctor()
    assert proc.returncode == 2
    assert "doctor" in proc.stderr


def ab_version() -> str:
    return importlib.metadata.version("asyncbridge")


# In process too: what the subprocess runs is not measured by coverage.


def test_main_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    """main() prints the report and the live state of this process's bridge."""
    hook = ab.instrumentation.add_hook(print)
    loop = asyncio.new_event_loop()
    try:
        with ab.watch_loop(1.0, loop=loop):
            assert main(["doctor", "--no-check"]) == 0
    finally:
        ab.instrumentation.remove_hook(hook)
        loop.close()
    out = capsys.readouterr().out
    assert "Hooks        <built-in function print>" in out
    assert "Loop watches <LoopWatch running threshold=1s asyncio>" in out
    assert main(["doctor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["checks"]["run_sync (asyncio portal)"]["ok"] is True


def test_a_failed_check_is_reported_and_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bridge that fails its check shows FAILED with the error, and exit status 1."""

    def broken(*args: object, **kwargs: object) -> Any:
        raise RuntimeError("portal is broken")

    monkeypatch.setattr(_doctor, "run_sync", broken)
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "run_sync (asyncio portal): FAILED: RuntimeError: portal is broken" in out
    assert "run_in_thread (asyncio): ok" in out


def test_render_without_optional_packages() -> None:
    """A report from a machine with nothing optional still renders."""
    report = _doctor.collect(check=False)
    report["packages"] = dict.fromkeys(report["packages"])
    report["backends"] = {"asyncio": True, "uvloop": False, "trio": False}
    report["python"]["gil_enabled"] = False
    report["python"]["dev_mode"] = True
    text = _doctor.render(report)
    assert "asyncbridge  not installed" in text
    assert "Packages     none" in text
    assert "free-threaded, dev mode" in text
    assert "uvloop: no" in text
