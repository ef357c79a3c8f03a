"""`DualInterface`: the base class that processes each subclass when it is created.

1. its public ``async def`` methods (and ``__aenter__``, ``__aexit__``,
   ``__anext__``) are wrapped with the home-loop check (`_home.checked`), unless
   ``loop_bound=False``;
2. missing twins are generated (`_generate`), unless ``generate=False``.
"""

from __future__ import annotations

import inspect
from types import FunctionType
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar, cast

from asyncbridge._core._validate import check_backend, check_bool

from ._generate import generate_protocols, generate_suffixed
from ._home import CONFIG, RAW, Config, checked, config_of

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from types import TracebackType
    from typing import overload

    from asyncbridge._core._detect import BackendName

__all__ = ["DualInterface"]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

_CHECKED_DUNDERS: Final = frozenset({"__aenter__", "__aexit__", "__anext__"})


if TYPE_CHECKING:
    # The sync protocol methods `DualInterface` generates, as type checkers see
    # them: each typed from the async method it runs, through a self-type (``with
    # C() as c`` gives what ``C.__aenter__`` returns). A class without that async
    # method, or with its own sync one, gets the fallback (mypy checks overrides
    # against it).

    class _AsyncEnter(Protocol[T_co]):
        async def __aenter__(self) -> T_co: ...

    class _AsyncExit(Protocol[T_co]):
        async def __aexit__(
            self,
            exc_type: type[BaseException] | None,
            exc: BaseException | None,
            tb: TracebackType | None,
            /,
        ) -> T_co: ...

    class _AsyncClose(Protocol[T_co]):
        async def aclose(self) -> T_co: ...

    class _AsyncIter(Protocol[T_co]):
        def __aiter__(self) -> AsyncIterator[T_co]: ...

    @overload
    def _typed_enter(self: _AsyncEnter[T]) -> T: ...
    @overload
    def _typed_enter(self: object) -> Any: ...
    def _typed_enter(self: object) -> Any: ...
    @overload
    def _typed_exit(
        self: _AsyncExit[T],
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> T: ...
    @overload
    def _typed_exit(self: object, *exc_info: Any) -> Any: ...
    def _typed_exit(self: object, *exc_info: Any) -> Any: ...
    @overload
    def _typed_close(self: _AsyncClose[T]) -> T: ...
    @overload
    def _typed_close(self: object) -> Any: ...
    def _typed_close(self: object) -> Any: ...
    @overload
    def _typed_iter(self: _AsyncIter[T]) -> Iterator[T]: ...
    @overload
    def _typed_iter(self: object) -> Any: ...
    def _typed_iter(self: object) -> Any: ...


def _check_suffix(suffix: object) -> str:
    if not isinstance(suffix, str):
        raise TypeError(f"the class keyword suffix must be a str, got {suffix!r}")
    if not suffix or not f"x{suffix}".isidentifier():
        raise ValueError(
            "the class keyword suffix must be a non-empty string that can end a "
            f"method name, such as '_async' or '_aio', got {suffix!r}"
        )
    return suffix


class DualInterface:
    """Base class for objects with both a sync and an async API, written once.

    Write the async methods (``async def fetch_async``) and get the sync ones
    (``fetch``) generated when the subclass is created, or write either side and
    declare its twin with `sync_twin` / `async_twin` (typed; explicit twins win
    over generated ones). Generated too, where one side is missing: ``close`` from
    ``aclose`` (and the reverse), ``with`` from ``async with`` (and the reverse),
    ``for`` from ``async for``. Subclasses need not call ``super().__init__()``.

    Home loop: an instance's first async use (awaiting one of its async methods)
    makes that running loop its home; a first use through a sync twin makes the loop
    `run_sync` would pick there its home (a worker thread's loop, else the portal).
    Every sync twin then runs its coroutine on the home loop, from any thread, so a
    resource created by one call (a connection pool, an ``asyncio.Lock``) works in
    every later one. Awaiting the instance on another loop, a home loop that has
    closed, or a sync twin called on the home loop's own thread (which would wait
    for itself) raise `LoopConflictError` naming the instance and the loops. A
    sync twin called where another loop runs follows ``on_loop_conflict`` (by
    default it blocks that loop with a `LoopBlockedWarning`).

    Class keywords (each inherited when not given):
        suffix: the marker of async method names (``"_async"``): ``X_async``
            gets the twin ``X``.
        generate: generate missing twins (True).
        loop_bound: instances hold loop-bound state (True). With False, no home
            loop is kept: each sync call runs by `run_sync`'s rules and async use
            from any loop is allowed.
        backend: the portal a home loop chosen by a sync call uses: ``"asyncio"``
            (default) or ``"trio"`` (for trio-only async code).

    Typing: ``with``, ``for`` and ``close()`` are typed on every subclass from its
    async side (``with C() as c`` gives what ``__aenter__`` returns, ``close()``
    what ``aclose()`` returns; these declarations exist for type checkers only,
    and change nothing at run time). Methods generated from the suffix (``fetch``
    from ``fetch_async``) are not visible to type checkers: declare them with
    `sync_twin` where typing matters.

    Example:
        >>> import asyncio, asyncbridge as ab
        >>> class Counter(ab.DualInterface):
        ...     def __init__(self) -> None:
        ...         self.lock: asyncio.Lock | None = None
        ...         self.value = 0
        ...     async def add_async(self, n: int) -> int:
        ...         self.lock = self.lock or asyncio.Lock()  # bound to the home loop
        ...         async with self.lock:
        ...             self.value += n
        ...             return self.value
        >>> counter = Counter()
        >>> counter.add(2), counter.add(3)
        (2, 5)
    """

    if TYPE_CHECKING:
        # Generated at run time where the async side exists (see _generate); typed
        # here from it, for type checkers only. Plain assignments, so a subclass
        # may still declare its own (a method, or a `sync_twin`).
        __enter__ = _typed_enter
        __exit__ = _typed_exit
        close = _typed_close
        __iter__ = _typed_iter

    def __init_subclass__(
        cls,
        *,
        suffix: str | None = None,
        generate: bool | None = None,
        loop_bound: bool | None = None,
        backend: BackendName | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        inherited = config_of(cls)
        config = Config(
            suffix=inherited.suffix if suffix is None else _check_suffix(suffix),
            generate=inherited.generate
            if generate is None
            else check_bool(generate, "the class keyword generate"),
            loop_bound=inherited.loop_bound
            if loop_bound is None
            else check_bool(loop_bound, "the class keyword loop_bound"),
            backend=inherited.backend
            if backend is None
            else cast("str", check_backend(backend, "the class keyword backend")),
        )
        setattr(cls, CONFIG, config)
        if config.loop_bound:
            for name, value in list(vars(cls).items()):
                if (
                    isinstance(value, FunctionType)
                    and inspect.iscoroutinefunction(value)
                    and not hasattr(value, RAW)
                    and (not name.startswith("_") or name in _CHECKED_DUNDERS)
                ):
                    setattr(cls, name, checked(value, name))
        if config.generate:
            generate_suffixed(cls, config.suffix)
            generate_protocols(cls)
