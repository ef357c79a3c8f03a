"""Two middlewares: one counts ORM queries and their threads, one is sync-only."""

from __future__ import annotations

import contextvars
import threading
from typing import TYPE_CHECKING, Any

from asgiref.sync import markcoroutinefunction
from django.db.backends.signals import connection_created
from django.utils.decorators import async_only_middleware

from shop.models import Item

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from django.http import HttpRequest, HttpResponse

# The list of thread idents of this request's queries (shared by reference with the
# copies of the context that sync_to_async and async_to_sync make).
_queries: contextvars.ContextVar[list[int]] = contextvars.ContextVar("queries")


def _record(execute: Any, sql: Any, params: Any, many: Any, context: Any) -> Any:
    queries = _queries.get(None)
    if queries is not None:
        queries.append(threading.get_ident())
    return execute(sql, params, many, context)


def _on_connection(sender: Any, connection: Any, **kwargs: Any) -> None:
    connection.execute_wrappers.append(_record)


connection_created.connect(_on_connection)


@async_only_middleware
def record_orm_threads(
    get_response: Callable[[HttpRequest], Awaitable[HttpResponse]],
) -> Callable[[HttpRequest], Awaitable[HttpResponse]]:
    """Add X-ORM-Queries and X-ORM-Threads (distinct threads) to each response."""

    async def middleware(request: HttpRequest) -> HttpResponse:
        queries: list[int] = []
        token = _queries.set(queries)
        try:
            response = await get_response(request)
        finally:
            _queries.reset(token)
        response["X-ORM-Queries"] = str(len(queries))
        response["X-ORM-Threads"] = str(len(set(queries)))
        return response

    return markcoroutinefunction(middleware)


class SyncAudit:
    """A sync-only middleware that queries the database before the view."""

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        count = Item.objects.count()
        response = self.get_response(request)
        response["X-Items"] = str(count)
        return response
