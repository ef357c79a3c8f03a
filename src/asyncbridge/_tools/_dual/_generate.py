"""What `DualInterface` generates when a subclass is created: the missing twins.

`generate_suffixed` makes ``X`` from ``X_async`` (the suffix is a class keyword;
async classmethods and staticmethods get twins of their kind);
`generate_protocols` makes ``__enter__``/``__exit__`` from ``__aenter__``/``__aexit__``
and the reverse, ``__iter__`` from ``__aiter__``, ``close`` from ``aclose`` and the
reverse. A name defined anywhere in the class's MRO is never generated over:
explicit twins win.
"""

from __future__ import annotations

import inspect
from types import FunctionType
from typing import TYPE_CHECKING, Any, Final

from asyncbridge._core._detect import is_async_callable
from asyncbridge._core._wrapping import MethodWrapper, is_method_wrapper
from asyncbridge._engine._pinned import ThreadSessions
from asyncbridge._engine._sync import run_sync_internal
from asyncbridge._tools._iterators import (
    enter_async_cm,
    enter_in_thread,
    exit_async_cm,
    exit_in_thread,
    iterate_on,
)

from ._home import RAW, SESSIONS, claim_lock, config_of, home_route, name_of
from ._twins import AsyncTwin, SyncTwin, copy_names, rename

if TYPE_CHECKING:
    from collections.abc import Callable, Generator
    from types import TracebackType

__all__ = ["generate_protocols", "generate_suffixed"]

_MISSING: Final = object()


def _static(cls: type, name: str) -> Any:
    return inspect.getattr_static(cls, name, _MISSING)


def _sync_enter(self: Any) -> Any:
    chosen = home_route(self, "__enter__")
    session, value = enter_async_cm(chosen, self, f"{name_of(self)}.__enter__()")
    with claim_lock:
        sessions = self.__dict__.setdefault(SESSIONS, ThreadSessions())
    sessions.push(session)
    return value


def _sync_exit(
    self: Any,
    exc_type: type[BaseException] | None,
    exc: BaseException | None,
    tb: TracebackType | None,
) -> bool:
    sessions: ThreadSessions = self.__dict__.get(SESSIONS) or ThreadSessions()
    session = sessions.pop(name_of(self))
    return exit_async_cm(session, self, exc_type, exc, tb)


async def _async_enter(self: object) -> Any:
    kind: Any = type(self)  # generated only where it has __enter__ and __exit__
    return await enter_in_thread(kind.__enter__, kind.__exit__, self, None)


async def _async_exit(
    self: object,
    exc_type: type[BaseException] | None,
    exc: BaseException | None,
    tb: TracebackType | None,
) -> bool:
    kind: Any = type(self)
    return await exit_in_thread(kind.__exit__, self, exc_type, exc, tb, None)


def _sync_iter(self: Any) -> Generator[Any, None, None]:
    chosen = home_route(self, "__iter__")
    return iterate_on(chosen, self, f"{name_of(self)}.__iter__()")


_SYNC_CM_DOC: Final = "Sync twin of ``__aenter__`` / ``__aexit__`` (generated)."
_ASYNC_CM_DOC: Final = "Async twin of ``__enter__`` / ``__exit__`` (generated)."


def _generated(cls: type, name: str, template: Callable[..., Any], doc: str) -> Any:
    if inspect.iscoroutinefunction(template):

        async def async_method(self: Any, /, *args: Any) -> Any:
            return await template(self, *args)

        method: Any = async_method
    else:

        def sync_method(self: Any, /, *args: Any) -> Any:
            return template(self, *args)

        method = sync_method
    rename(method, cls, name)
    method.__doc__ = doc
    return method


def _class_twin(cls: type, async_name: str, raw: MethodWrapper) -> Any:
    """The sync twin of an async classmethod or staticmethod (by `run_sync` rules)."""
    fn = raw.__func__
    is_class = isinstance(raw, classmethod)

    def twin(*args: Any, **kwargs: Any) -> Any:
        owner = args[0] if is_class else cls
        target = getattr(owner, async_name)
        call_args = args[1:] if is_class else args
        backend = config_of(owner).backend
        return run_sync_internal(target, call_args, kwargs, None, None, backend)

    copy_names(twin, fn)
    return classmethod(twin) if is_class else staticmethod(twin)


def _suffix_twin(cls: type, name: str) -> Any:
    """The generated sync twin of the async attribute *name*, or None."""
    raw = _static(cls, name)
    if is_method_wrapper(raw):
        return _class_twin(cls, name, raw) if is_async_callable(raw.__func__) else None
    if isinstance(raw, FunctionType) and (
        inspect.iscoroutinefunction(raw) or inspect.isasyncgenfunction(raw)
    ):
        twin: SyncTwin[Any, ..., Any] = SyncTwin(getattr(raw, RAW, raw), dispatch=name)
        return twin
    return None


def generate_suffixed(cls: type, suffix: str) -> None:
    """``X`` from ``X_async`` wherever the class (or a base) has no ``X``."""
    cut = len(suffix)
    for name in dir(cls):
        if not name.endswith(suffix) or len(name) == cut:
            continue
        sync_name = name[:-cut]
        if _static(cls, sync_name) is not _MISSING:
            continue  # explicit (or already generated) twins win
        twin = _suffix_twin(cls, name)
        if twin is None:
            continue
        setattr(cls, sync_name, twin)
        if isinstance(twin, SyncTwin):
            twin.__set_name__(cls, sync_name)
        else:
            rename(twin.__func__, cls, sync_name)


def generate_protocols(cls: type) -> None:
    """``with`` / ``async with``, ``for`` from ``async for``, ``close`` / ``aclose``."""

    def has(name: str) -> bool:
        return _static(cls, name) is not _MISSING

    def define(name: str, template: Callable[..., Any], doc: str) -> None:
        setattr(cls, name, _generated(cls, name, template, doc))

    sync_cm, async_cm = has("__enter__") or has("__exit__"), has("__aenter__")
    if has("__aenter__") and has("__aexit__") and not sync_cm:
        define("__enter__", _sync_enter, _SYNC_CM_DOC)
        define("__exit__", _sync_exit, _SYNC_CM_DOC)
    elif has("__enter__") and has("__exit__") and not (async_cm or has("__aexit__")):
        define("__aenter__", _async_enter, _ASYNC_CM_DOC)
        define("__aexit__", _async_exit, _ASYNC_CM_DOC)
    if has("__aiter__") and not has("__iter__"):
        define("__iter__", _sync_iter, "Sync twin of ``__aiter__`` (generated).")
    aclose, close = _static(cls, "aclose"), _static(cls, "close")
    if close is _MISSING and inspect.iscoroutinefunction(aclose):
        sync: SyncTwin[Any, ..., Any] = SyncTwin(
            getattr(aclose, RAW, aclose), dispatch="aclose"
        )
        setattr(cls, "close", sync)  # noqa: B010
        sync.__set_name__(cls, "close")
    elif (
        aclose is _MISSING
        and isinstance(close, FunctionType)
        and not inspect.iscoroutinefunction(close)
    ):
        async_: AsyncTwin[Any, ..., Any] = AsyncTwin(close, dispatch="close")
        setattr(cls, "aclose", async_)  # noqa: B010
        async_.__set_name__(cls, "aclose")
