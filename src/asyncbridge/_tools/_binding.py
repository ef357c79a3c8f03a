"""How asyncbridge's decorators bind: one layer for all three of them.

`async_safe`, `mixed_execution_safe` and `async_retry` apply their wrapping through
`decorate`: to a function, or to the function inside a ``classmethod`` or
``staticmethod`` (which stays one). A wrapper with an ``aio`` attribute (the
coroutine form of the first two) made of a function defined in a class body is laid
out as a `BridgeMethod`, so that ``obj.method.aio`` binds to the instance like the
method does (a plain function's bound method would forward ``.aio`` unbound).
`Decorator` is the configured decorator a call with options returns
(``async_safe(timeout=1)``): it checks what it is given, then decorates it.
"""

from __future__ import annotations

import functools
import inspect
import types
from typing import TYPE_CHECKING, Any

from asyncbridge._core._validate import check_decorated
from asyncbridge._core._wrapping import is_method_wrapper

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["BoundBridge", "BridgeClassMethod", "BridgeMethod", "Decorator", "decorate"]


class BoundBridge(functools.partial[Any]):
    """A decorated method bound to an instance (or a class): callable, with `.aio`.

    A `functools.partial` underneath: creating and calling one happens in C, which
    is most of what a method call through `BridgeMethod` costs.
    """

    __slots__ = ()

    @property
    def __func__(self) -> Any:
        return self.func

    @property
    def __self__(self) -> Any:
        return self.args[0]

    @property
    def aio(self) -> Any:
        """The bound coroutine form."""
        func: Any = self.func
        return types.MethodType(func.aio, self.args[0])

    @property
    def __doc__(self) -> str | None:  # type: ignore[override]
        return self.func.__doc__

    @property
    def __signature__(self) -> inspect.Signature:
        signature = inspect.signature(self.func)
        return signature.replace(parameters=list(signature.parameters.values())[1:])

    def __getattr__(self, name: str) -> Any:
        # Like a bound method: __name__, __wrapped__ and the like are the function's.
        return getattr(self.func, name)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, BoundBridge)
            and self.func is other.func
            and self.args[0] is other.args[0]
        )

    def __hash__(self) -> int:
        return hash((self.func, id(self.args[0])))

    def __repr__(self) -> str:
        return f"<bound method {self.func.__qualname__} of {self.args[0]!r}>"


class BridgeMethod:
    """A decorated function defined in a class body: binds like a function.

    Through an instance it gives a `BoundBridge` (``.aio`` bound too); through the
    class, the plain wrapper function.
    """

    __slots__ = ("__dict__", "__weakref__", "_call")

    def __init__(self, call: Any) -> None:
        functools.update_wrapper(self, call, updated=())
        self.__dict__.update(call.__dict__)  # __wrapped__ (the target), marker
        # `aio` is a property: a decorator stacked on this one that copies __dict__
        # (functools.wraps) must not end up with an unbound, bypassing `.aio`.
        del self.__dict__["aio"]
        self._call = call

    @property
    def aio(self) -> Any:
        """The coroutine form, unbound (as the method is through the class)."""
        return self._call.aio

    def __get__(self, obj: object, owner: type[Any] | None = None) -> Any:
        if obj is None:
            return self._call
        return BoundBridge(self._call, obj)

    def __call__(self, /, *args: Any, **kwargs: Any) -> Any:
        return self._call(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<asyncbridge method {self.__qualname__}>"  # type: ignore[attr-defined]


class BridgeClassMethod(BridgeMethod):
    """A decorated ``classmethod``: binds to the class, through it or an instance."""

    __slots__ = ()

    def __get__(self, obj: object, owner: type[Any] | None = None) -> Any:
        return BoundBridge(self._call, owner if owner is not None else type(obj))


def _defined_in_class(fn: object) -> bool:
    """Tell whether *fn* will be bound as a method: defined in a class body."""
    if isinstance(fn, BridgeMethod):
        return True
    if not isinstance(fn, types.FunctionType):
        return False
    owner, dot, _ = fn.__qualname__.rpartition(".")
    return bool(dot) and not owner.endswith("<locals>")


def decorate(fn: object, wrap: Callable[[Any], Any]) -> Any:
    """Apply *wrap* (a function to its wrapper) to *fn*, bound as *fn* binds.

    A ``staticmethod`` or ``classmethod`` is unwrapped, its function wrapped, and
    the result made one again; a wrapper with ``.aio`` of a function defined in a
    class body becomes a `BridgeMethod` (a classmethod's, a `BridgeClassMethod`).
    """
    if is_method_wrapper(fn):
        inner = wrap(fn.__func__)
        if isinstance(fn, staticmethod):
            return staticmethod(inner)
        return BridgeClassMethod(inner) if hasattr(inner, "aio") else classmethod(inner)
    wrapper = wrap(fn)
    if hasattr(wrapper, "aio") and _defined_in_class(fn):
        return BridgeMethod(wrapper)
    return wrapper


def check_target(
    fn: object, api: str, *, generators: str | None = None, hint: str = ""
) -> None:
    """Check what the decorator *api* is given (see `_validate.check_decorated`)."""
    if is_method_wrapper(fn):
        fn = fn.__func__
    check_decorated(fn, api, generators=generators, hint=hint)


class Decorator:
    """A configured decorator, as ``async_safe(timeout=...)`` returns it."""

    __slots__ = ("_api", "_generators", "_label", "_wrap")

    def __init__(
        self,
        api: str,
        wrap: Callable[[Any], Any],
        label: str,
        generators: str | None = None,
    ) -> None:
        self._api = api
        self._wrap = wrap
        self._label = label
        self._generators = generators

    def __call__(self, fn: object, /) -> Any:
        check_target(fn, self._api, generators=self._generators)
        return decorate(fn, self._wrap)

    def __repr__(self) -> str:
        return f"<asyncbridge.{self._api}({self._label}) decorator>"
