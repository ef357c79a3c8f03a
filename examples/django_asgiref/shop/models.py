"""One model."""

from django.db import models


class Item(models.Model):
    """A thing in the shop."""

    name = models.CharField(max_length=50)
    quantity = models.IntegerField()

    class Meta:
        app_label = "shop"
        ordering = ("id",)
