"""Dual interface: write one side of a class, get the other.

`DualInterface` processes each subclass when it is created (`_interface`): its
async methods get the home-loop check, and its missing twins are generated
(`_generate`). `sync_twin` / `async_twin` are the explicit, typed forms (`_twins`).
Each instance has a home loop, where its sync twins run (`_home`).

    _home       home loops, the async-use check, the class keywords (Config)
    _twins      SyncTwin / AsyncTwin and sync_twin / async_twin
    _generate   the twins generated when a subclass is created
    _interface  DualInterface
"""

from __future__ import annotations

from ._interface import DualInterface as DualInterface
from ._twins import AsyncTwin as AsyncTwin
from ._twins import AsyncTwinSelf as AsyncTwinSelf
from ._twins import SyncTwin as SyncTwin
from ._twins import SyncTwinSelf as SyncTwinSelf
from ._twins import async_twin as async_twin
from ._twins import sync_twin as sync_twin

__all__ = [
    "AsyncTwin",
    "AsyncTwinSelf",
    "DualInterface",
    "SyncTwin",
    "SyncTwinSelf",
    "async_twin",
    "sync_twin",
]
