"""Real resources, not mocks: sqlite3 on a dedicated thread, an httpx client on the portal."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import anyio
import httpx
import pytest

import asyncbridge as ab


@pytest.mark.anyio
async def test_sqlite_connection_on_dedicated_executor(anyio_backend: object) -> None:
    """One sqlite3 connection, owned by a dedicated thread, serves 50 concurrent calls."""
    db = ab.executors.dedicated(f"sqlite-{anyio_backend}")
    conn = db.submit(sqlite3.connect, ":memory:").result()  # check_same_thread=True
    try:
        db.submit(conn.execute, "CREATE TABLE t (n INTEGER)").result()

        def insert(n: int) -> int:
            conn.execute("INSERT INTO t VALUES (?)", (n,))
            return threading.get_ident()

        insert_here = ab.asyncify(insert, executor=db)
        threads: set[int] = set()

        async def one(n: int) -> None:
            threads.add(await insert_here(n))

        async with anyio.create_task_group() as tg:
            for n in range(50):
                tg.start_soon(one, n)

        count, total = await ab.run_in_thread(
            lambda: conn.execute("SELECT COUNT(*), SUM(n) FROM t").fetchone(),
            executor=db,
        )
        assert (count, total) == (50, sum(range(50)))
        assert len(threads) == 1
        with pytest.raises(sqlite3.ProgrammingError, match="same thread"):
            await ab.run_in_thread(conn.execute, "SELECT 1")  # another thread: refused
    finally:
        db.submit(conn.close).result()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse is visible

    def do_GET(self) -> None:
        self.server.peers.append(self.client_address)  # type: ignore[attr-defined]
        body = self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[ThreadingHTTPServer]:
    """A small HTTP/1.1 server on 127.0.0.1 that records each request's peer."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.peers = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def test_httpx_client_reused_across_run_sync_calls(
    http_server: ThreadingHTTPServer,
) -> None:
    """A client created in one run_sync call serves the next ten on one connection."""
    host, port = http_server.server_address[:2]

    async def make_client() -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=f"http://{host}:{port}")

    client = ab.run_sync(make_client)
    try:
        for i in range(10):

            async def fetch(i: int = i) -> str:
                response = await client.get(f"/item/{i}")
                return response.text

            assert ab.run_sync(fetch) == f"/item/{i}"
    finally:
        ab.run_sync(client.aclose)
    assert len(http_server.peers) == 10  # type: ignore[attr-defined]
    assert len(set(http_server.peers)) == 1  # type: ignore[attr-defined]
