"""Containers: the `get` / `update` / `subscribe` / `version` API over a value, lock-based
(`LockedContainer`) or replicated (`ReplicatedContainer`), and the handles updaters receive.

Importing the package registers every handle (`handle_registry.py`).
"""

from . import dochandle, expiry, handles, maphandle
from .handle_registry import MutatorHandle, handle_for, register_handle

__all__ = [
    "MutatorHandle",
    "dochandle",
    "expiry",
    "handle_for",
    "handles",
    "maphandle",
    "register_handle",
]
