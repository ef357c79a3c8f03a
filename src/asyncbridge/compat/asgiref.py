"""asgiref's ``asgiref.sync`` API on asyncbridge's engine: a drop-in replacement.

Switch by changing an import::

    from asyncbridge.compat.asgiref import async_to_sync, sync_to_async

or, for code that imports ``asgiref.sync`` itself (Django), call `install` before
that code is imported. The names, signatures and semantics are asgiref 3.13's,
judged by asgiref's own test suite (``make compat``). See
``docs/coming-from-asgiref.md`` for what changes (speed, no thread per call,
deadlocks detected) and what does not.
"""

from ._asgiref_contexts import AsyncSingleThreadContext as AsyncSingleThreadContext
from ._asgiref_contexts import ThreadSensitiveContext as ThreadSensitiveContext
from ._asgiref_install import install as install
from ._asgiref_install import uninstall as uninstall
from ._asgiref_sync import AsyncToSync as AsyncToSync
from ._asgiref_sync import SyncToAsync as SyncToAsync
from ._asgiref_sync import async_to_sync as async_to_sync
from ._asgiref_sync import iscoroutinefunction as iscoroutinefunction
from ._asgiref_sync import markcoroutinefunction as markcoroutinefunction
from ._asgiref_sync import sync_to_async as sync_to_async

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
