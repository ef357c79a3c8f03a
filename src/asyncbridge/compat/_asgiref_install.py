"""asgiref compatibility: put our implementations into ``asgiref.sync``, and back."""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, Any, Final

from ._asgiref_contexts import AsyncSingleThreadContext, ThreadSensitiveContext
from ._asgiref_sync import (
    AsyncToSync,
    SyncToAsync,
    async_to_sync,
    iscoroutinefunction,
    markcoroutinefunction,
    sync_to_async,
)

if TYPE_CHECKING:
    from types import ModuleType

__all__ = ["REPLACED", "install", "uninstall"]

#: The names of ``asgiref.sync`` that `install` replaces, with their replacements.
REPLACED: Final[dict[str, Any]] = {
    "AsyncSingleThreadContext": AsyncSingleThreadContext,
    "AsyncToSync": AsyncToSync,
    "SyncToAsync": SyncToAsync,
    "ThreadSensitiveContext": ThreadSensitiveContext,
    "async_to_sync": async_to_sync,
    "iscoroutinefunction": iscoroutinefunction,
    "markcoroutinefunction": markcoroutinefunction,
    "sync_to_async": sync_to_async,
}
_install_lock = threading.Lock()
_saved: dict[str, Any] = {}


def _asgiref_sync() -> ModuleType:
    try:
        import asgiref.sync  # noqa: PLC0415
    except ImportError as exc:
        raise ImportError(
            "asyncbridge.compat.asgiref.install() needs asgiref: "
            "pip install 'asyncbridge[compat]'"
        ) from exc
    return asgiref.sync


def install() -> None:
    """Make ``asgiref.sync`` hand out these implementations, until `uninstall`.

    Exact effect: the attributes ``async_to_sync``, ``sync_to_async``,
    ``AsyncToSync``, ``SyncToAsync``, ``ThreadSensitiveContext``,
    ``AsyncSingleThreadContext``, ``iscoroutinefunction`` and
    ``markcoroutinefunction`` of the module ``asgiref.sync`` are replaced by this
    module's. Nothing else changes: other ``asgiref`` modules, and names a module
    bound with ``from asgiref.sync import ...`` *before* the call, keep asgiref's
    objects, so call it before importing Django (first lines of ``asgi.py``).
    Calling it again does nothing.

    Raises:
        ImportError: asgiref is not installed (``pip install 'asyncbridge[compat]'``).

    Example:
        >>> from asyncbridge.compat import asgiref as compat
        >>> compat.install()
        >>> import asgiref.sync
        >>> asgiref.sync.async_to_sync is compat.async_to_sync
        True
        >>> compat.uninstall()
    """
    module = _asgiref_sync()
    with _install_lock:
        if _saved:
            return
        for name, ours in REPLACED.items():
            _saved[name] = getattr(module, name)
            setattr(module, name, ours)


def uninstall() -> None:
    """Put asgiref's own objects back into ``asgiref.sync`` (undo `install`).

    Calling it when not installed does nothing.
    """
    with _install_lock:
        if not _saved:
            return
        module = sys.modules["asgiref.sync"]
        for name, value in _saved.items():
            setattr(module, name, value)
        _saved.clear()
