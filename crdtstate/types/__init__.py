"""The CRDT types. Importing this package registers every kind with the codec."""

from .awset import AWSet
from .base import KINDS, Crdt, kind_class
from .counters import GCounter, PNCounter

__all__ = ["KINDS", "AWSet", "Crdt", "GCounter", "PNCounter", "kind_class"]
