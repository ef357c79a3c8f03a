# pyright: standard
# pyright: reportUnnecessaryTypeIgnoreComment=true
"""Type-checked, never run: the documented DualInterface client, as users write it.

`WeatherClient` is docs/dual-interface.md's example, copied as is: its sync side
(``with``, ``close()``, ``temperature()``) must type-check under mypy --strict and
pyright, as must twins of methods returning ``Self`` and the typed generated
protocol methods (``with``, ``for``, ``close()``) of subclasses.

A line ending in ``# type: ignore[<code>]`` must be an error: with mypy's
``warn_unused_ignores`` (part of --strict), an ignore that is not needed fails.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from typing import Any, Self, assert_type

import httpx

import asyncbridge as ab
from asyncbridge.typing import SyncTwin

BASE_URL = "http://127.0.0.1:8000"

# ------------------------------------------- docs/dual-interface.md, verbatim


class WeatherClient(ab.DualInterface):
    """A weather service client with a sync and an async API."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._http: httpx.AsyncClient | None = None

    async def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(base_url=self.base_url)
        return self._http

    async def temperature_async(self, city: str) -> int:
        """Return the temperature in `city`, in degrees Celsius."""
        response = await (await self._client()).get(f"/weather/{city}")
        response.raise_for_status()
        return int(response.json()["celsius"])

    temperature = ab.sync_twin(temperature_async)  # explicit: typed

    async def aclose(self) -> None:
        """Close the connection pool."""
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def sync_users() -> None:
    with WeatherClient(BASE_URL) as weather:
        assert_type(weather, WeatherClient)
        assert_type(weather.temperature("Oslo"), int)
    weather = WeatherClient(BASE_URL)
    assert_type(weather.close(), None)  # generated from aclose()
    weather.temperature(4)  # type: ignore[arg-type]


async def async_users() -> list[int]:
    async with WeatherClient(BASE_URL) as weather:
        return await ab.gather_limited(
            weather.temperature_async("Rome"),
            weather.temperature_async("Nairobi"),
            limit=2,
        )


assert_type(asyncio.run(async_users()), list[int])

# ------------------------------------------------------ twins returning Self


class Connection(ab.DualInterface):
    async def connect_async(self, host: str, *, port: int = 80) -> Self:
        del host, port
        return self

    connect = ab.sync_twin(connect_async)

    def reset(self) -> Self:
        return self

    reset_async = ab.async_twin(reset)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        pass

    __enter__ = ab.sync_twin(__aenter__)  # declared, as the generated one would be
    __exit__ = ab.sync_twin(__aexit__)


class TlsConnection(Connection):
    pass


def self_twins() -> None:
    assert_type(Connection().connect("h"), Connection)
    assert_type(TlsConnection().connect("h", port=443), TlsConnection)
    assert_type(
        TlsConnection().reset_async(), Coroutine[Any, Any, TlsConnection]
    ).close()
    assert_type(Connection.connect(TlsConnection(), "h"), TlsConnection)
    with TlsConnection() as connection:
        assert_type(connection, TlsConnection)
    Connection().connect(443)  # type: ignore[arg-type]
    Connection().connect("h", port="443")  # type: ignore[arg-type]


# -------------------------------------- generated protocol methods, typed


class Feed(ab.DualInterface):
    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b""

    async def aclose(self) -> bool:
        return True

    async def __aenter__(self) -> str:
        return "session"

    async def __aexit__(self, *exc_info: object) -> bool:
        return False


class OwnClose(ab.DualInterface):
    """Defines its own sync side: the declarations do not get in its way."""

    def close(self) -> str:
        return "closed"

    def __enter__(self) -> int:
        return 1

    def __exit__(self, *exc_info: object) -> None:
        pass

    async def aclose_async(self) -> None:
        pass

    aclose_twin: SyncTwin[OwnClose, [], None] = ab.sync_twin(aclose_async)


def generated() -> None:
    for chunk in Feed():
        assert_type(chunk, bytes)
    assert_type(Feed().close(), bool)
    with Feed() as session:
        assert_type(session, str)
    assert_type(OwnClose().close(), str)
    with OwnClose() as number:
        assert_type(number, int)
