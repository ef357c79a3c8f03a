"""The twin descriptors: `SyncTwin` / `AsyncTwin`, made by `sync_twin` / `async_twin`.

A twin calls the method of the same name that the instance's class has (so a
subclass's override is used), or the given function if it is not a method of the
class. A sync twin runs the coroutine on the instance's home loop (`_home`); an
async twin runs the blocking method in a worker thread. `DualInterface` generates
them too (`_generate`), and they work in any class.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from types import MethodType
from typing import (
    TYPE_CHECKING,
    Any,
    Concatenate,
    Generic,
    Protocol,
    Self,
    TypeVar,
    cast,
    overload,
)

from typing_extensions import ParamSpec

from asyncbridge._backends import SyncJob
from asyncbridge._core._detect import is_async_callable
from asyncbridge._core._errors import LoopConflictError
from asyncbridge._core._validate import check_bool, check_sync_callable, describe
from asyncbridge._core._wrapping import is_method_wrapper
from asyncbridge._engine._offload import run_in_thread
from asyncbridge._engine._sync import run_job
from asyncbridge._tools._iterators import iterate_on

from ._home import RAW, ROLE, home_route, name_of

if TYPE_CHECKING:
    import concurrent.futures
    from collections.abc import AsyncIterator, Callable, Coroutine, Generator

__all__ = [
    "AsyncTwin",
    "AsyncTwinSelf",
    "SyncTwin",
    "SyncTwinSelf",
    "async_twin",
    "copy_names",
    "rename",
    "sync_twin",
]

S = TypeVar("S")
T = TypeVar("T")
P = ParamSpec("P")


def copy_names(wrapper: Callable[..., Any], wrapped: object) -> None:
    # Not __dict__: markers on an async function (awaitable result, coroutine
    # function) must not make its sync twin look async, nor the reverse.
    functools.update_wrapper(wrapper, wrapped, updated=())  # type: ignore[arg-type]


def rename(fn: Any, owner: type, name: str) -> None:
    fn.__name__ = name
    fn.__qualname__ = f"{owner.__qualname__}.{name}"


class _Twin:
    """What both twin descriptors share: naming, and finding the method to call."""

    _fn: Callable[..., Any]
    _func: Callable[..., Any]
    _dispatch: str | None

    def __set_name__(self, owner: type, name: str) -> None:
        if self._dispatch is None:
            for attr, value in vars(owner).items():
                if value is self._fn:
                    self._dispatch = attr  # call the class's method of that name
                    break
        rename(self._func, owner, name)
        self.__name__ = name
        self.__qualname__ = f"{owner.__qualname__}.{name}"

    def _target(self, obj: object) -> Callable[..., Any]:
        name = self._dispatch
        if name is None:
            return self._fn
        fn = getattr(type(obj), name, self._fn)
        raw: Callable[..., Any] = getattr(fn, RAW, fn)
        return raw

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._func.__qualname__}>"


class SyncTwin(_Twin, Generic[S, P, T]):
    """A sync method that runs an async one on the instance's home loop.

    What `sync_twin` returns, and what `DualInterface` generates. On an instance it
    gives a bound method with the async method's parameters; on the class, itself
    (callable with the instance first).
    """

    def __init__(
        self, async_fn: Callable[..., Any], dispatch: str | None = None
    ) -> None:
        self._fn = async_fn
        self._dispatch = dispatch
        self._iterates = inspect.isasyncgenfunction(async_fn)
        twin = self

        def call(obj: Any, /, *args: Any, **kwargs: Any) -> Any:
            return twin._call(obj, args, kwargs)

        copy_names(call, async_fn)
        self._func = call
        copy_names(cast("Callable[..., Any]", self), async_fn)

    def _call(self, obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        target = self._target(obj)
        chosen = home_route(obj, self._func.__name__)
        if self._iterates:
            return iterate_on(
                chosen,
                target(obj, *args, **kwargs),
                f"{name_of(obj)}.{self.__name__}()",
            )
        job: SyncJob[Any] = SyncJob(
            target, (obj, *args), kwargs or None, contextvars.copy_context()
        )
        what = f"{name_of(obj)}.{self.__name__}()"
        try:
            return run_job(job, chosen.handle, chosen.portal, what=what)
        except LoopConflictError as exc:
            if not job.finished and chosen.handle.is_closed():  # never ran: loop gone
                raise LoopConflictError(
                    f"{name_of(obj)}.{self.__name__}() needs {chosen.describe()}{ROLE}, "
                    "but that loop has finished, so nothing can run the call"
                ) from exc
            raise

    @overload
    def __get__(self, instance: None, owner: type[Any], /) -> Self: ...
    @overload
    def __get__(
        self, instance: S, owner: type[Any] | None = None, /
    ) -> Callable[P, T]: ...
    def __get__(self, instance: object, owner: type[Any] | None = None, /) -> Any:
        if instance is None:
            return self
        return MethodType(self._func, instance)

    def __call__(self, instance: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._func(instance, *args, **kwargs)  # type: ignore[no-any-return]


class AsyncTwin(_Twin, Generic[S, P, T]):
    """An async method that runs a blocking one in a worker thread.

    What `async_twin` returns, and what `DualInterface` generates for ``aclose``.
    On an instance it gives a bound async method with the sync method's parameters;
    on the class, itself (callable with the instance first).
    """

    def __init__(
        self,
        sync_fn: Callable[..., Any],
        dispatch: str | None = None,
        executor: str | concurrent.futures.Executor | None = None,
        cancellable: bool = False,
    ) -> None:
        self._fn = sync_fn
        self._dispatch = dispatch
        twin = self

        async def call(obj: Any, /, *args: Any, **kwargs: Any) -> Any:
            fn = twin._target(obj)
            if kwargs:
                fn = functools.partial(fn, **kwargs)
            return await run_in_thread(
                fn, obj, *args, executor=executor, cancellable=cancellable
            )

        copy_names(call, sync_fn)
        self._func = call
        copy_names(cast("Callable[..., Any]", self), sync_fn)

    @overload
    def __get__(self, instance: None, owner: type[Any], /) -> Self: ...
    @overload
    def __get__(
        self, instance: S, owner: type[Any] | None = None, /
    ) -> Callable[P, Coroutine[Any, Any, T]]: ...
    def __get__(self, instance: object, owner: type[Any] | None = None, /) -> Any:
        if instance is None:
            return self
        return MethodType(self._func, instance)

    def __call__(
        self, instance: S, /, *args: P.args, **kwargs: P.kwargs
    ) -> Coroutine[Any, Any, T]:
        return self._func(instance, *args, **kwargs)  # type: ignore[no-any-return]


# For type checkers only: what the twins of methods returning ``Self`` are. Their
# result is the type of the instance they are read from (a subclass's included),
# which a `SyncTwin[S, P, T]` fixed at the class body cannot say.


class SyncTwinSelf(Protocol[P]):
    """What `sync_twin` returns for an async method returning ``Self``.

    On an instance, a method with the async method's parameters returning that
    instance (typed as the instance's class). At run time, a `SyncTwin`.
    """

    @overload
    def __get__(self, instance: None, owner: type[Any], /) -> Self: ...
    @overload
    def __get__(
        self, instance: S, owner: type[Any] | None = None, /
    ) -> Callable[P, S]: ...
    def __call__(self, instance: S, /, *args: P.args, **kwargs: P.kwargs) -> S:
        """Call the twin with the instance first (as through the class)."""
        ...


class AsyncTwinSelf(Protocol[P]):
    """What `async_twin` returns for a sync method returning ``Self``.

    On an instance, an async method with the sync method's parameters returning
    that instance (typed as the instance's class). At run time, an `AsyncTwin`.
    """

    @overload
    def __get__(self, instance: None, owner: type[Any], /) -> Self: ...
    @overload
    def __get__(
        self, instance: S, owner: type[Any] | None = None, /
    ) -> Callable[P, Coroutine[Any, Any, S]]: ...
    def __call__(
        self, instance: S, /, *args: P.args, **kwargs: P.kwargs
    ) -> Coroutine[Any, Any, S]:
        """Call the twin with the instance first (as through the class)."""
        ...


def _reject_method_wrapper(fn: object, func: str, param: str) -> None:
    if is_method_wrapper(fn):
        raise TypeError(
            f"{func}() makes a twin of an instance method, but {param} is a "
            f"{type(fn).__name__}; DualInterface generates twins of async "
            "classmethods and staticmethods, or wrap the function with "
            "asyncbridge.syncify()/asyncify()"
        )


@overload
def sync_twin(
    async_fn: Callable[Concatenate[S, P], Coroutine[Any, Any, S]], /
) -> SyncTwinSelf[P]: ...
@overload
def sync_twin(
    async_fn: Callable[Concatenate[S, P], Coroutine[Any, Any, T]], /
) -> SyncTwin[S, P, T]: ...
@overload
def sync_twin(
    async_fn: Callable[Concatenate[S, P], AsyncIterator[T]], /
) -> SyncTwin[S, P, Generator[T, None, None]]: ...
def sync_twin(async_fn: Callable[..., Any], /) -> Any:
    """Make the sync twin of an async method: ``fetch = ab.sync_twin(fetch_async)``.

    Calling the twin runs the async method on the instance's home loop (the loop
    of its first async use, else the loop `run_sync` would pick at its first sync
    call) while the calling thread waits, from any thread; so what one call creates
    (a connection pool, an ``asyncio.Lock``) is still valid in the next. The twin of
    an async generator method returns a sync generator (as `iterate_sync`). The
    twin calls the method of the async method's name that the instance's class has,
    so a subclass overriding the async method changes the sync one too.

    Cancellation: KeyboardInterrupt in the waiting thread cancels the coroutine,
    lets its cleanup run, then propagates.

    Args:
        async_fn: an ``async def`` method (or async generator method), as written
            in the class body.

    Returns:
        A `SyncTwin`, a typed descriptor: on an instance, a method with
        *async_fn*'s parameters returning its result (typed as the instance's
        class where *async_fn* returns ``Self``: `SyncTwinSelf`).

    Raises:
        TypeError: *async_fn* is not an async function (a coroutine object, a sync
            function, a classmethod or staticmethod).

    Example:
        >>> import asyncbridge as ab
        >>> class Greeter(ab.DualInterface):
        ...     async def greet_async(self, name: str) -> str:
        ...         return f"hello {name}"
        ...     greet = ab.sync_twin(greet_async)
        >>> Greeter().greet("bob")
        'hello bob'
    """
    _reject_method_wrapper(async_fn, "sync_twin", "async_fn")
    given: object = async_fn
    if inspect.iscoroutine(given):
        given.close()
        raise TypeError(
            f"sync_twin() expected an async method for async_fn, but got the "
            f"coroutine object {describe(async_fn)}: notice the parentheses? Pass "
            "the method itself: sync_twin(fetch_async)"
        )
    if not (is_async_callable(async_fn) or inspect.isasyncgenfunction(async_fn)):
        raise TypeError(
            "sync_twin() expected an async method (async def) for async_fn, got "
            f"{describe(async_fn)}; for a sync method, async_twin() makes the async "
            "twin"
        )
    twin: SyncTwin[Any, ..., Any] = SyncTwin(async_fn)
    return twin


@overload
def async_twin(
    sync_fn: Callable[Concatenate[S, P], S],
    /,
    *,
    executor: str | concurrent.futures.Executor | None = None,
    cancellable: bool = False,
) -> AsyncTwinSelf[P]: ...
@overload
def async_twin(
    sync_fn: Callable[Concatenate[S, P], T],
    /,
    *,
    executor: str | concurrent.futures.Executor | None = None,
    cancellable: bool = False,
) -> AsyncTwin[S, P, T]: ...
def async_twin(
    sync_fn: Callable[..., Any],
    /,
    *,
    executor: str | concurrent.futures.Executor | None = None,
    cancellable: bool = False,
) -> Any:
    """Make the async twin of a blocking method: ``compute_async = ab.async_twin(compute)``.

    Awaiting the twin runs the sync method in a worker thread by `run_in_thread`'s
    rules (contextvars copied; `run_sync` inside it routes back to the caller's
    loop), so the loop is never blocked. The twin calls the method of the sync
    method's name that the instance's class has, so a subclass's override is used.

    Cancellation: as for `run_in_thread`: by default a cancelled caller waits for
    the thread to finish; with ``cancellable=True`` it is released at once.

    Args:
        sync_fn: a blocking method, as written in the class body.
        executor: where it runs, as for `run_in_thread` (a one-thread executor
            from ``ab.executors.dedicated(name)`` for thread-bound resources).
        cancellable: as for `run_in_thread`.

    Returns:
        An `AsyncTwin`, a typed descriptor: on an instance, an async method with
        *sync_fn*'s parameters (returning the instance's class where *sync_fn*
        returns ``Self``: `AsyncTwinSelf`).

    Raises:
        TypeError: *sync_fn* is async, a coroutine object, a generator function,
            not callable, or a classmethod or staticmethod.
        ValueError: an unknown executor name is reported when the twin is called.

    Example:
        >>> import asyncio, asyncbridge as ab
        >>> class Hasher(ab.DualInterface):
        ...     def digest(self, data: bytes) -> int:
        ...         return sum(data)
        ...     digest_async = ab.async_twin(digest)
        >>> asyncio.run(Hasher().digest_async(b"ab"))
        195
    """
    _reject_method_wrapper(sync_fn, "async_twin", "sync_fn")
    check_sync_callable(sync_fn, "async_twin")
    if inspect.isgeneratorfunction(sync_fn):
        raise TypeError(
            f"async_twin() of the generator function {describe(sync_fn)} would only "
            "create the generator in a thread; iterate it from async code with "
            "asyncbridge.iterate_in_thread(obj.method())"
        )
    check_bool(cancellable, "cancellable")
    if executor is not None and not isinstance(executor, str):
        from asyncbridge._engine._executors import resolve  # noqa: PLC0415

        resolve(executor)
    twin: AsyncTwin[Any, ..., Any] = AsyncTwin(sync_fn, None, executor, cancellable)
    return twin
