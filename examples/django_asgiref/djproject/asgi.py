"""ASGI entry point: install asyncbridge's asgiref.sync first when asked to."""

import os

if os.environ.get("ASYNCBRIDGE_COMPAT") == "1":
    from asyncbridge.compat import asgiref

    asgiref.install()  # before Django imports asgiref.sync's names

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djproject.settings")

from django.core.asgi import get_asgi_application

application = get_asgi_application()
