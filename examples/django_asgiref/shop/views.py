"""A sync view, an async view using sync_to_async, an async view on the async ORM."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from django.http import JsonResponse

from shop.models import Item

if TYPE_CHECKING:
    from django.http import HttpRequest


def _items(limit: int) -> list[dict[str, Any]]:
    return list(Item.objects.values("id", "name", "quantity")[:limit])


def _total() -> int:
    return sum(Item.objects.values_list("quantity", flat=True))


def sync_items(request: HttpRequest) -> JsonResponse:
    """Sync view: two ORM queries in the request's thread."""
    return JsonResponse({"items": _items(5), "total": _total()})


async def async_items(request: HttpRequest) -> JsonResponse:
    """Async view: the same two queries, each through sync_to_async."""
    items = await sync_to_async(_items)(5)
    total = await sync_to_async(_total)()
    return JsonResponse({"items": items, "total": total})


async def async_orm_items(request: HttpRequest) -> JsonResponse:
    """Async view on Django's async ORM API (sync_to_async inside Django)."""
    first = await Item.objects.afirst()
    count = await Item.objects.acount()
    items = [item async for item in Item.objects.values("id", "name")[:3]]
    return JsonResponse(
        {"first": first.name if first else None, "count": count, "items": items}
    )
