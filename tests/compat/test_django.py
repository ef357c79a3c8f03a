"""A Django project served by uvicorn, with and without compat.asgiref.install()."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("django")
pytest.importorskip("uvicorn")

PROJECT = Path(__file__).resolve().parents[2] / "examples" / "django_asgiref"
sys.path.insert(0, str(PROJECT))
import launch  # noqa: E402  (examples/django_asgiref/launch.py)

PATHS = ("/sync/", "/async/", "/async-orm/")
CONCURRENT = (
    12  # requests per path released at once (the ORM thread pool is 1 per request)
)
# Headers that differ by nature (time, server) or measure the thread layout.
IGNORED = {"date", "server", "x-orm-threads"}


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory):
    """Start the project twice: asgiref's own asgiref.sync, and install()ed compat."""
    started = []
    try:
        urls = {}
        for flavour in ("asgiref", "compat"):
            db = tmp_path_factory.mktemp(flavour) / "db.sqlite3"
            proc, urls[flavour] = launch.start(db, compat=flavour == "compat")
            started.append(proc)
        yield urls
    finally:
        for proc in started:
            launch.stop(proc)


def _fetch_all(base: str) -> list[tuple[str, int, bytes, dict[str, str]]]:
    """Each path once in turn, then CONCURRENT at once per path (one Barrier)."""
    results = []
    with httpx.Client(base_url=base, timeout=20) as client:
        for path in PATHS:
            r = client.get(path)
            results.append((path, r.status_code, r.content, dict(r.headers)))
    barrier = threading.Barrier(CONCURRENT * len(PATHS))
    lock = threading.Lock()

    def one(path: str) -> None:
        with httpx.Client(base_url=base, timeout=20) as client:
            barrier.wait()
            r = client.get(path)
        with lock:
            results.append((path, r.status_code, r.content, dict(r.headers)))

    threads = [
        threading.Thread(target=one, args=(path,))
        for path in PATHS
        for _ in range(CONCURRENT)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == len(PATHS) * (CONCURRENT + 1)
    return sorted(results, key=lambda r: r[0])


@pytest.fixture(scope="module")
def responses(servers: dict[str, str]):
    return {flavour: _fetch_all(base) for flavour, base in servers.items()}


def _comparable(result: tuple[str, int, bytes, dict[str, str]]):
    path, status, body, headers = result
    kept = {k: v for k, v in headers.items() if k.lower() not in IGNORED}
    return path, status, body, sorted(kept.items())


def test_responses_identical_with_and_without_install(responses) -> None:
    """Every response of the compat server equals asgiref's (status, body, headers)."""
    ours = [_comparable(r) for r in responses["compat"]]
    theirs = [_comparable(r) for r in responses["asgiref"]]
    assert ours == theirs
    assert {status for _, status, _, _ in ours} == {200}


def test_asgiref_runs_a_requests_orm_calls_on_one_thread(responses) -> None:
    """With asgiref's own asgiref.sync, the ORM calls of a request share one thread."""
    assert {r[3]["x-orm-threads"] for r in responses["asgiref"]} == {"1"}


def test_compat_runs_a_requests_orm_calls_on_one_thread(responses) -> None:
    """With install(), the ORM calls of a request share one thread, as with asgiref."""
    assert {r[3]["x-orm-threads"] for r in responses["compat"]} == {"1"}
