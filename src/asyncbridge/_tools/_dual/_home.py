"""Home loops: where an instance's sync twins run, and the check on its async use.

An instance's home loop is kept in its ``__dict__`` (under `HOME`), so subclasses
need no ``super().__init__()``. It is claimed by the first async use (awaiting a
checked async method: that running loop) or by the first sync twin call (the loop
`run_sync` would pick there: a worker thread's loop, else the portal). `home_route`
is what a sync twin runs on; `checked` wraps an async method with the test that
it is awaited at home. A class's keywords (`Config`) live on the class.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Self

from asyncbridge._backends import current_token, handle_for
from asyncbridge._backends._greenlet import reentry_handle
from asyncbridge._core._config import settings
from asyncbridge._core._detect import in_async_context
from asyncbridge._core._errors import LoopConflictError
from asyncbridge._engine._pinned import pick_route
from asyncbridge._engine._route import Route, check_conflict, route_to, warn_blocking

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "CONFIG",
    "HOME",
    "RAW",
    "ROLE",
    "SESSIONS",
    "Config",
    "checked",
    "claim_lock",
    "config_of",
    "home_route",
    "instance_dict",
    "name_of",
]

HOME: Final = "_asyncbridge_home"  # instance __dict__ key: the `_Home`
SESSIONS: Final = "_asyncbridge_sessions"  # instance __dict__ key: open `with`s
CONFIG: Final = "__asyncbridge_dual__"  # class attribute: the `Config`
RAW: Final = "__asyncbridge_unchecked__"  # on checked methods: the original
ROLE: Final = ", the instance's home loop"  # for messages
claim_lock: Final = threading.Lock()  # claiming a home; opening a `with` session


@dataclass(frozen=True, slots=True)
class Config:
    """A `DualInterface` subclass's class keywords (inherited when not given)."""

    suffix: str = "_async"
    generate: bool = True
    loop_bound: bool = True
    backend: str = "asyncio"


_DEFAULT_CONFIG: Final = Config()


def config_of(cls: type) -> Config:
    config: Config = getattr(cls, CONFIG, _DEFAULT_CONFIG)
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


def instance_dict(obj: object, what: str) -> dict[str, Any]:
    try:
        return obj.__dict__
    except AttributeError:
        raise TypeError(
            f"{what} keeps per-instance state in the instance's __dict__, but "
            f"{type(obj).__qualname__} has none (it uses __slots__); derive it from "
            "asyncbridge.DualInterface, or add '__dict__' to its __slots__"
        ) from None


def name_of(obj: object) -> str:
    kind = type(obj)
    return f"<{kind.__module__}.{kind.__qualname__} object at {id(obj):#x}>"


def _claim_for_sync(obj: object, d: dict[str, Any], what: str) -> Route:
    """First use of *obj* is a sync twin: its home is where `run_sync` would run."""
    chosen = pick_route(what, config_of(type(obj)).backend, None)
    with claim_lock:
        home = d.get(HOME)
        if home is None:
            origin = (
                "its first use, a sync call from a worker thread of that loop"
                if chosen.portal is None
                else "its first use, a sync call"
            )
            home = d[HOME] = _Home(chosen, origin)
    claimed: Route = home.route  # another thread may have claimed it first
    return claimed


def home_route(obj: object, name: str) -> Route:
    """The loop a sync twin of *obj* runs on, after the checks; claim it if needed."""
    d = instance_dict(obj, "a sync twin")
    if not config_of(type(obj)).loop_bound:
        what = f"{name_of(obj)}.{name}()"
        return pick_route(what, config_of(type(obj)).backend, None)
    home = d.get(HOME)
    if home is None:
        return _claim_for_sync(obj, d, f"{name_of(obj)}.{name}()")
    chosen: Route = home.route
    if in_async_context():
        if settings.on_loop_conflict == "greenlet":  # at home here: re-enter the loop
            reentry = reentry_handle(chosen.token)
            if reentry is not None:
                return Route(reentry)
        what = f"{name_of(obj)}.{name}()"
        if chosen.handle.runs_here():
            raise chosen.self_wait_error(what, ROLE)
        here = check_conflict(what, None)
        if here is not None:
            warn_blocking(what, here)
    if not chosen.handle.is_running():
        chosen.check_running(f"{name_of(obj)}.{name}()", f"{ROLE} ({home.origin})")
    return chosen


def _async_use(obj: object, name: str) -> None:
    """Slow path of the check in every wrapped async method: claim or conflict."""
    token = current_token()
    if token is None:  # driven by hand, outside any loop: nothing to compare
        return
    d = instance_dict(obj, "DualInterface")
    home = d.get(HOME)
    if home is not None and home.token is token:
        return  # at home (a trio run: the fast path only knows asyncio loops)
    kind = type(obj)
    if not config_of(kind).loop_bound:
        return
    if home is None:
        with claim_lock:
            home = d.get(HOME)
            if home is None:
                d[HOME] = _Home(route_to(token), f"{name}() was first awaited there")
                return
        if home.token is token:
            return
    handle = home.route.handle
    state = ""
    if not handle.is_running():
        state = ", now closed" if handle.is_closed() else ", not running now"
    raise LoopConflictError(
        f"{name_of(obj)}.{name}() was awaited on {handle_for(token).describe()}, but "
        f"the instance's home loop is {home.route.describe()} "
        f"({home.origin}{state}). "
        "What an instance binds to its loop (a connection pool, an asyncio.Lock) "
        "fails on another. Use each instance from one loop: await it there, or call "
        "its sync methods, which work from any thread; or create one instance per "
        "loop. A class that holds no loop-bound state can say so: "
        f"class {kind.__qualname__}(asyncbridge.DualInterface, loop_bound=False)."
    )


def checked(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    """Wrap the async method *fn* with the home-loop check."""
    running = current_token

    @functools.wraps(fn)
    async def method(self: Any, /, *args: Any, **kwargs: Any) -> Any:
        # Fast path: at home on the running loop. Anything else (first use, another
        # loop) takes the slow path.
        home = self.__dict__.get(HOME)
        if home is None or home.token is not running():
            _async_use(self, name)
        return await fn(self, *args, **kwargs)

    setattr(method, RAW, fn)
    return method
