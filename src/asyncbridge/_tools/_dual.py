"""Dual interface: write one side of a class, get the other.

`DualInterface` processes each subclass when it is created:

1. its public ``async def`` methods (and ``__aenter__``, ``__aexit__``,
   ``__anext__``) are wrapped with the home-loop check (unless ``loop_bound=False``);
2. missing twins are generated (unless ``generate=False``): ``X`` from ``X_async``
   (the suffix is a class keyword), ``close`` from ``aclose`` and the reverse,
   ``__enter__``/``__exit__`` from ``__aenter__``/``__aexit__`` and the reverse,
   ``__iter__`` from ``__aiter__``. A name defined anywhere in the class's MRO is
   never generated over: explicit twins win.

`sync_twin` / `async_twin` are the explicit forms: typed descriptors that call the
method of the same name the instance's class has (so a subclass's override is
used), or the given function if it is not a method of the class.

Home loop (per instance, kept in its ``__dict__``, so no ``super().__init__()`` is
needed): the loop of the first async use (awaiting one of its async methods: that
running loop) or of the first sync twin call (the loop `run_sync` would pick there:
a worker thread's loop, else the portal). Every later sync twin runs its coroutine
there, from any thread; async use from another loop raises `LoopConflictError`.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import threading
from dataclasses import dataclass
from types import FunctionType, MethodType
from typing import (
    TYPE_CHECKING,
    Any,
    Concatenate,
    Final,
    Generic,
    Literal,
    Self,
    TypeVar,
    cast,
    overload,
)

from typing_extensions import ParamSpec

from asyncbridge._backends import SyncJob, current_token, handle_for
from asyncbridge._backends._greenlet import reentry_handle
from asyncbridge._core._config import settings
from asyncbridge._core._detect import in_async_context, is_async_callable
from asyncbridge._core._errors import LoopConflictError
from asyncbridge._core._validate import (
    check_backend,
    check_bool,
    check_sync_callable,
    describe,
)
from asyncbridge._engine._offload import run_in_thread
from asyncbridge._engine._pinned import ThreadSessions, pick_route
from asyncbridge._engine._route import Route, check_conflict, route_to, warn_blocking
from asyncbridge._engine._sync import run_job, run_sync_internal

from ._iterators import (
    enter_async_cm,
    enter_in_thread,
    exit_async_cm,
    exit_in_thread,
    iterate_on,
)

if TYPE_CHECKING:
    import concurrent.futures
    from collections.abc import AsyncIterator, Callable, Coroutine, Generator
    from types import TracebackType


__all__ = ["AsyncTwin", "DualInterface", "SyncTwin", "async_twin", "sync_twin"]

S = TypeVar("S")
T = TypeVar("T")
P = ParamSpec("P")

_HOME: Final = "_asyncbridge_home"  # instance __dict__ key: the `_Home`
_SESSIONS: Final = "_asyncbridge_sessions"  # instance __dict__ key: open `with`s
_CONFIG: Final = "__asyncbridge_dual__"  # class attribute: the `_Config`
_RAW: Final = "__asyncbridge_unchecked__"  # on checked methods: the original
_CHECKED_DUNDERS: Final = frozenset({"__aenter__", "__aexit__", "__anext__"})
_MISSING: Final = object()
_claim_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class _Config:
    """A `DualInterface` subclass's class keywords (inherited when not given)."""

    suffix: str = "_async"
    generate: bool = True
    loop_bound: bool = True
    backend: str = "asyncio"


_DEFAULT_CONFIG: Final = _Config()


def _config(cls: type) -> _Config:
    config: _Config = getattr(cls, _CONFIG, _DEFAULT_CONFIG)
    return config


def _no_home() -> None:
    return None


class _Home:
    """Where an instance's sync twins run, and how that was decided."""

    __slots__ = ("origin", "route", "token")

    def __init__(self, route: Route, origin: str) -> None:
        self.route = route
        self.token = route.token  # read on every checked call
        self.origin = origin  # for messages: what made this the home loop

    # A copy shares its original's loop-bound resources, so it shares the home; a
    # deep copy or an unpickled instance starts without one (loops do not travel).
    def __copy__(self) -> Self:
        return self

    def __deepcopy__(self, memo: object) -> None:
        return None

    def __reduce__(self) -> tuple[Callable[[], None], tuple[()]]:
        return (_no_home, ())


def _instance_dict(obj: object, what: str) -> dict[str, Any]:
    try:
        return obj.__dict__
    except AttributeError:
        raise TypeError(
            f"{what} keeps per-instance state in the instance's __dict__, but "
            f"{type(obj).__qualname__} has none (it uses __slots__); derive it from "
            "asyncbridge.DualInterface, or add '__dict__' to its __slots__"
        ) from None


def _name(obj: object) -> str:
    kind = type(obj)
    return f"<{kind.__module__}.{kind.__qualname__} object at {id(obj):#x}>"


_ROLE: Final = ", the instance's home loop"


# ------------------------------------------------------------ home loops


def _claim_for_sync(obj: object, d: dict[str, Any], what: str) -> Route:
    """First use of *obj* is a sync twin: its home is where `run_sync` would run."""
    chosen = pick_route(what, _config(type(obj)).backend, None)
    with _claim_lock:
        home = d.get(_HOME)
        if home is None:
            origin = (
                "its first use, a sync call from a worker thread of that loop"
                if chosen.portal is None
                else "its first use, a sync call"
            )
            home = d[_HOME] = _Home(chosen, origin)
    claimed: Route = home.route  # another thread may have claimed it first
    return claimed


def _home_route(obj: object, name: str) -> Route:
    """The loop a sync twin of *obj* runs on, after the checks; claim it if needed."""
    d = _instance_dict(obj, "a sync twin")
    if not _config(type(obj)).loop_bound:
        what = f"{_name(obj)}.{name}()"
        return pick_route(what, _config(type(obj)).backend, None)
    home = d.get(_HOME)
    if home is None:
        return _claim_for_sync(obj, d, f"{_name(obj)}.{name}()")
    chosen: Route = home.route
    if in_async_context():
        if settings.on_loop_conflict == "greenlet":  # at home here: re-enter the loop
            reentry = reentry_handle(chosen.token)
            if reentry is not None:
                return Route(reentry)
        what = f"{_name(obj)}.{name}()"
        if chosen.handle.runs_here():
            raise chosen.self_wait_error(what, _ROLE)
        here = check_conflict(what, None)
        if here is not None:
            warn_blocking(what, here)
    if not chosen.handle.is_running():
        chosen.check_running(f"{_name(obj)}.{name}()", f"{_ROLE} ({home.origin})")
    return chosen


def _async_use(obj: object, name: str) -> None:
    """Slow path of the check in every wrapped async method: claim or conflict."""
    token = current_token()
    if token is None:  # driven by hand, outside any loop: nothing to compare
        return
    d = _instance_dict(obj, "DualInterface")
    home = d.get(_HOME)
    if home is not None and home.token is token:
        return  # at home (a trio run: the fast path only knows asyncio loops)
    kind = type(obj)
    if not _config(kind).loop_bound:
        return
    if home is None:
        with _claim_lock:
            home = d.get(_HOME)
            if home is None:
                d[_HOME] = _Home(route_to(token), f"{name}() was first awaited there")
                return
        if home.token is token:
            return
    handle = home.route.handle
    state = ""
    if not handle.is_running():
        state = ", now closed" if handle.is_closed() else ", not running now"
    raise LoopConflictError(
        f"{_name(obj)}.{name}() was awaited on {handle_for(token).describe()}, but "
        f"the instance's home loop is {home.route.describe()} "
        f"({home.origin}{state}). "
        "What an instance binds to its loop (a connection pool, an asyncio.Lock) "
        "fails on another. Use each instance from one loop: await it there, or call "
        "its sync methods, which work from any thread; or create one instance per "
        "loop. A class that holds no loop-bound state can say so: "
        f"class {kind.__qualname__}(asyncbridge.DualInterface, loop_bound=False)."
    )


def _checked(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    """Wrap the async method *fn* with the home-loop check."""
    running = current_token

    @functools.wraps(fn)
    async def method(self: Any, /, *args: Any, **kwargs: Any) -> Any:
        # Fast path: at home on the running loop. Anything else (first use, another
        # loop) takes the slow path.
        home = self.__dict__.get(_HOME)
        if home is None or home.token is not running():
            _async_use(self, name)
        return await fn(self, *args, **kwargs)

    setattr(method, _RAW, fn)
    return method


# ------------------------------------------------------------- descriptors


def _copy_names(wrapper: Callable[..., Any], wrapped: object) -> None:
    # Not __dict__: markers on an async function (awaitable result, coroutine
    # function) must not make its sync twin look async, nor the reverse.
    functools.update_wrapper(wrapper, wrapped, updated=())  # type: ignore[arg-type]


def _rename(fn: Any, owner: type, name: str) -> None:
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
        _rename(self._func, owner, name)
        self.__name__ = name
        self.__qualname__ = f"{owner.__qualname__}.{name}"

    def _target(self, obj: object) -> Callable[..., Any]:
        name = self._dispatch
        if name is None:
            return self._fn
        fn = getattr(type(obj), name, self._fn)
        raw: Callable[..., Any] = getattr(fn, _RAW, fn)
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

        _copy_names(call, async_fn)
        self._func = call
        _copy_names(cast("Callable[..., Any]", self), async_fn)

    def _call(self, obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        target = self._target(obj)
        chosen = _home_route(obj, self._func.__name__)
        if self._iterates:
            return iterate_on(
                chosen, target(obj, *args, **kwargs), f"{_name(obj)}.{self.__name__}()"
            )
        job: SyncJob[Any] = SyncJob(
            target, (obj, *args), kwargs or None, contextvars.copy_context()
        )
        what = f"{_name(obj)}.{self.__name__}()"
        try:
            return run_job(job, chosen.handle, chosen.portal, what=what)
        except LoopConflictError as exc:
            if not job.finished and chosen.handle.is_closed():  # never ran: loop gone
                raise LoopConflictError(
                    f"{_name(obj)}.{self.__name__}() needs {chosen.describe()}{_ROLE}, "
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

        _copy_names(call, sync_fn)
        self._func = call
        _copy_names(cast("Callable[..., Any]", self), sync_fn)

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


def _reject_method_wrapper(fn: object, func: str, param: str) -> None:
    if isinstance(fn, staticmethod | classmethod):
        raise TypeError(
            f"{func}() makes a twin of an instance method, but {param} is a "
            f"{type(fn).__name__}; DualInterface generates twins of async "
            "classmethods and staticmethods, or wrap the function with "
            "asyncbridge.syncify()/asyncify()"
        )


@overload
def sync_twin(
    async_fn: Callable[Concatenate[S, P], Coroutine[Any, Any, T]], /
) -> SyncTwin[S, P, T]: ...
@overload
def sync_twin(
    async_fn: Callable[Concatenate[S, P], AsyncIterator[T]], /
) -> SyncTwin[S, P, Generator[T, None, None]]: ...
def sync_twin(async_fn: Callable[..., Any], /) -> SyncTwin[Any, ..., Any]:
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
        A typed descriptor: on an instance, a method with *async_fn*'s parameters
        returning its result.

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
    return SyncTwin(async_fn)


def async_twin(
    sync_fn: Callable[Concatenate[S, P], T],
    /,
    *,
    executor: str | concurrent.futures.Executor | None = None,
    cancellable: bool = False,
) -> AsyncTwin[S, P, T]:
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
        A typed descriptor: on an instance, an async method with *sync_fn*'s
        parameters.

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
    return AsyncTwin(sync_fn, None, executor, cancellable)


# -------------------------------------------------------------- generation


def _static(cls: type, name: str) -> Any:
    return inspect.getattr_static(cls, name, _MISSING)


def _sync_enter(self: Any) -> Any:
    chosen = _home_route(self, "__enter__")
    session, value = enter_async_cm(chosen, self, f"{_name(self)}.__enter__()")
    with _claim_lock:
        sessions = self.__dict__.setdefault(_SESSIONS, ThreadSessions())
    sessions.push(session)
    return value


def _sync_exit(
    self: Any,
    exc_type: type[BaseException] | None,
    exc: BaseException | None,
    tb: TracebackType | None,
) -> bool:
    sessions: ThreadSessions = self.__dict__.get(_SESSIONS) or ThreadSessions()
    session = sessions.pop(_name(self))
    return exit_async_cm(session, self, exc_type, exc, tb)


async def _async_enter(self: Any) -> Any:
    kind = type(self)
    return await enter_in_thread(kind.__enter__, kind.__exit__, self, None)


async def _async_exit(
    self: Any,
    exc_type: type[BaseException] | None,
    exc: BaseException | None,
    tb: TracebackType | None,
) -> bool:
    return await exit_in_thread(type(self).__exit__, self, exc_type, exc, tb, None)


def _sync_iter(self: Any) -> Generator[Any, None, None]:
    chosen = _home_route(self, "__iter__")
    return iterate_on(chosen, self, f"{_name(self)}.__iter__()")


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
    _rename(method, cls, name)
    method.__doc__ = doc
    return method


def _class_twin(cls: type, async_name: str, raw: Any) -> Any:
    """The sync twin of an async classmethod or staticmethod (by `run_sync` rules)."""
    fn = raw.__func__
    is_class = isinstance(raw, classmethod)

    def twin(*args: Any, **kwargs: Any) -> Any:
        owner = args[0] if is_class else cls
        target = getattr(owner, async_name)
        call_args = args[1:] if is_class else args
        backend = _config(owner).backend
        return run_sync_internal(target, call_args, kwargs, None, None, backend)

    _copy_names(twin, fn)
    return classmethod(twin) if is_class else staticmethod(twin)


def _suffix_twin(cls: type, name: str) -> Any:
    """The generated sync twin of the async attribute *name*, or None."""
    raw = _static(cls, name)
    if isinstance(raw, staticmethod | classmethod):
        return _class_twin(cls, name, raw) if is_async_callable(raw.__func__) else None
    if isinstance(raw, FunctionType) and (
        inspect.iscoroutinefunction(raw) or inspect.isasyncgenfunction(raw)
    ):
        return SyncTwin(getattr(raw, _RAW, raw), dispatch=name)
    return None


def _generate_suffixed(cls: type, suffix: str) -> None:
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
            _rename(twin.__func__, cls, sync_name)


def _generate_protocols(cls: type) -> None:
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
            getattr(aclose, _RAW, aclose), dispatch="aclose"
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

    Generated sync methods are not visible to type checkers; declare them with
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

    def __init_subclass__(
        cls,
        *,
        suffix: str | None = None,
        generate: bool | None = None,
        loop_bound: bool | None = None,
        backend: Literal["asyncio", "trio"] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        inherited = _config(cls)
        config = _Config(
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
        setattr(cls, _CONFIG, config)
        if config.loop_bound:
            for name, value in list(vars(cls).items()):
                if (
                    isinstance(value, FunctionType)
                    and inspect.iscoroutinefunction(value)
                    and not hasattr(value, _RAW)
                    and (not name.startswith("_") or name in _CHECKED_DUNDERS)
                ):
                    setattr(cls, name, _checked(value, name))
        if config.generate:
            _generate_suffixed(cls, config.suffix)
            _generate_protocols(cls)
