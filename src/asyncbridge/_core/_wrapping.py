"""What every asyncbridge wrapper shares: metadata, the awaitable check, method kinds."""

from __future__ import annotations

import functools
import inspect
import types
from typing import TYPE_CHECKING, Any, Final, TypeAlias, TypeVar

from typing_extensions import TypeIs

from ._detect import AWAITABLE_RESULT_MARK

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["PLAIN_TYPES", "MethodWrapper", "is_awaitable", "is_method_wrapper", "wraps"]

F = TypeVar("F", bound="Callable[..., Any]")

# Attributes `functools.wraps` copies from the wrapped function's __dict__ that are
# not true of a wrapper: an inner `.aio`, and "this is async" markers (asyncbridge's,
# `inspect.markcoroutinefunction`'s and asyncio's legacy one).
_NOT_INHERITED: Final = (
    "aio",
    AWAITABLE_RESULT_MARK,
    "_is_coroutine_marker",
    "_is_coroutine",
)


# Also copied: the argument defaults, for code that reads them off the function
# rather than through `inspect.signature` (which follows __wrapped__). Harmless on
# a ``(*args, **kwargs)`` wrapper: it has no parameter they could fill.
_ASSIGNED: Final = (*functools.WRAPPER_ASSIGNMENTS, "__defaults__", "__kwdefaults__")


def wraps(wrapped: object) -> Callable[[F], F]:
    """`functools.wraps`, minus the attributes that describe the wrapped function only."""

    def decorate(wrapper: F) -> F:
        functools.update_wrapper(wrapper, wrapped, assigned=_ASSIGNED)  # type: ignore[arg-type]
        namespace = wrapper.__dict__
        for name in _NOT_INHERITED:
            namespace.pop(name, None)
        return wrapper

    return decorate


# Types whose values are known not to be awaitable: a set lookup is what the sync
# pass-through paths pay (`inspect.isawaitable` costs ~10x more). Learnt per type
# on the slow path, up to a bound.
PLAIN_TYPES: Final[set[type]] = {
    type(None),
    bool,
    int,
    float,
    complex,
    str,
    bytes,
    bytearray,
    list,
    tuple,
    dict,
    set,
    frozenset,
}
_PLAIN_TYPES_MAX: Final = 1024


def is_awaitable(value: object) -> bool:
    """Tell whether *value* must be awaited; remember types that never are.

    Hot paths check ``type(value) in PLAIN_TYPES`` first and call this only on a miss.
    """
    tp = type(value)
    if hasattr(tp, "__await__"):
        return True
    if tp is types.GeneratorType:  # a @types.coroutine generator is awaitable
        return inspect.isawaitable(value)
    if len(PLAIN_TYPES) < _PLAIN_TYPES_MAX:
        PLAIN_TYPES.add(tp)
    return False


# A ``staticmethod`` or ``classmethod`` object, as found in a class body.
MethodWrapper: TypeAlias = "staticmethod[..., Any] | classmethod[Any, ..., Any]"


def is_method_wrapper(obj: object) -> TypeIs[MethodWrapper]:
    """Tell whether *obj* is a ``staticmethod`` or ``classmethod`` object."""
    return isinstance(obj, staticmethod | classmethod)
