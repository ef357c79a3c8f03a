"""How async_retry binds: methods, classmethods (either order) and staticmethods."""

from __future__ import annotations

import asyncio
import inspect

import anyio
import anyio.lowlevel
import pytest
from retry_helpers import (
    Counter,
)

import asyncbridge as ab


class Service:
    """Methods of every kind, each failing once before succeeding."""

    def __init__(self) -> None:
        self.calls = 0

    def _step(self) -> int:
        self.calls += 1
        if self.calls % 2:
            raise OSError
        return self.calls

    @ab.async_retry(wait=0)
    def method(self, x: int) -> tuple[int, int]:
        return x, self._step()

    @ab.async_retry(wait=0)
    async def amethod(self, x: int) -> tuple[int, int]:
        await anyio.lowlevel.checkpoint()
        return x, self._step()

    shared = Counter()

    @classmethod
    @ab.async_retry(wait=0)
    def cls_outer(cls, x: int) -> tuple[type, int]:
        cls.shared.calls += 1
        if cls.shared.calls % 2:
            raise OSError
        return cls, x

    @ab.async_retry(wait=0)
    @classmethod
    def cls_inner(cls, x: int) -> tuple[type, int]:
        cls.shared.calls += 1
        if cls.shared.calls % 2:
            raise OSError
        return cls, x

    @ab.async_retry(wait=0)
    @staticmethod
    async def static_inner(x: int) -> int:
        Service.shared.calls += 1
        if Service.shared.calls % 2:
            raise OSError
        return x


def test_methods_classmethods_and_staticmethods() -> None:
    """Methods, classmethods (either order) and staticmethods retry and bind."""
    Service.shared.calls = 0
    service = Service()
    assert service.method(7) == (7, 2)
    assert Service.cls_outer(1) == (Service, 1)
    assert Service.cls_inner(2) == (Service, 2)
    assert service.cls_inner(3) == (Service, 3)
    assert inspect.iscoroutinefunction(Service.static_inner)
    assert asyncio.run(Service.static_inner(4)) == 4


@pytest.mark.anyio
async def test_async_method_retries() -> None:
    """An async method keeps its kind and binds self."""
    service = Service()
    assert inspect.iscoroutinefunction(service.amethod)
    assert await service.amethod(5) == (5, 2)
