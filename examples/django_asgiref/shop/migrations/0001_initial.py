"""Create the Item table."""

from django.db import migrations, models


class Migration(migrations.Migration):
    """The first migration."""

    initial = True
    dependencies: list[tuple[str, str]] = []
    operations = [
        migrations.CreateModel(
            name="Item",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("name", models.CharField(max_length=50)),
                ("quantity", models.IntegerField()),
            ],
            options={"ordering": ("id",)},
        ),
    ]
