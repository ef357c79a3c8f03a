"""asgiref's ``asgiref.sync`` API on asyncbridge's engine: a drop-in replacement.

Switch by changing an import::

    from asyncbridge.compat.asgiref import async_to_sync, sync_to_async

or, for code that imports ``asgiref.sync`` itself (Django), call `install` before
that code is imported. The names, signatures and semantics are asgiref 3.13's,
judged by asgiref's own test suite (``make compat``). See
``docs/coming-from-asgiref.md`` for what changes (speed, no thread per call,
deadlocks detected) and what does not.
"""

from ._asgiref import AsyncSingleThreadContext as AsyncSingleThreadContext
from ._asgiref import AsyncToSync as AsyncToSync
from ._asgiref import SyncToAsync as SyncToAsync
from ._asgiref import ThreadSensitiveContext as ThreadSensitiveContext
from ._asgiref import async_to_sync as async_to_sync
from ._asgiref import install as install
from ._asgiref import iscoroutinefunction as iscoroutinefunction
from ._asgiref import markcoroutinefunction as markcoroutinefunction
from ._asgiref import sync_to_async as sync_to_async
from ._asgiref import uninstall as uninstall

__all__ = [
    "AsyncSingleThreadContext",
    "AsyncToSync",
    "SyncToAsync",
    "ThreadSensitiveContext",
    "async_to_sync",
    "install",
    "iscoroutinefunction",
    "markcoroutinefunction",
    "sync_to_async",
    "uninstall",
]
