"""Create and fill the database once."""

from django.core.management import call_command


def create_database() -> None:
    """Migrate, and add the items if the table is empty."""
    call_command("migrate", verbosity=0, interactive=False)
    from shop.models import Item  # noqa: PLC0415  (needs the app registry)

    if not Item.objects.exists():
        Item.objects.bulk_create(
            Item(name=f"item-{i}", quantity=i * 3 % 7) for i in range(20)
        )
