"""Drop-in replacements for other libraries' bridging APIs, on asyncbridge's engine.

* `asyncbridge.compat.asgiref`: asgiref's ``asgiref.sync`` (``async_to_sync``,
  ``sync_to_async``, ...), with an opt-in ``install()`` for Django projects.

These modules use only asyncbridge's public API, as any user would.
"""

__all__: list[str] = []
