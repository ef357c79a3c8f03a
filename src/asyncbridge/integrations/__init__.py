"""Integrations with frameworks (each imports its framework lazily).

* `asyncbridge.integrations.starlette`: Starlette and FastAPI (extra ``api``).
"""

__all__: list[str] = []
