"""URLs: one sync view, two async views."""

from django.urls import path
from shop import views

urlpatterns = [
    path("sync/", views.sync_items),
    path("async/", views.async_items),
    path("async-orm/", views.async_orm_items),
]
