"""Create the database if needed, then serve the project with uvicorn on loopback.

python serve.py --port 8000 [--compat] [--db PATH] [--cpus 0,1]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--compat", action="store_true", help="install() the compat")
    parser.add_argument("--db", default=str(HERE / "db.sqlite3"))
    parser.add_argument("--cpus", help="run on these CPUs only (Linux), e.g. 0 or 0,1")
    options = parser.parse_args()
    if options.cpus:
        # Before any thread starts, so every thread of the server inherits it.
        os.sched_setaffinity(0, {int(cpu) for cpu in options.cpus.split(",")})
    os.environ["DJANGO_DB_PATH"] = options.db
    os.environ["ASYNCBRIDGE_COMPAT"] = "1" if options.compat else "0"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djproject.settings")
    sys.path.insert(0, str(HERE))

    import uvicorn  # noqa: PLC0415
    from djproject.asgi import application  # noqa: PLC0415  (install() comes first)
    from shop.setup import create_database  # noqa: PLC0415

    create_database()
    uvicorn.run(
        application,
        host="127.0.0.1",
        port=options.port,
        log_level="warning",
        lifespan="off",
        # Longer than any pause of a client under load: a connection closed by the
        # server while the client reuses it would fail that request.
        timeout_keep_alive=60,
    )


if __name__ == "__main__":
    main()
