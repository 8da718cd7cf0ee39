"""The CRDT types. Importing this package registers every kind with the codec."""

from .awset import AWSet
from .base import KINDS, Crdt, kind_class
from .bounded import BoundedCounter
from .causal import CausalCrdt
from .ccounter import CausalCounter, CausalGCounter
from .counters import GCounter, PNCounter
from .expiring import ExpiringMap, ExpiringRegister
from .flags import DWFlag, EWFlag
from .ormap import ORMap
from .registers import LWWRegister, MVRegister
from .sets import GSet, RWSet
from .yjs.document import Document

__all__ = [
    "KINDS",
    "AWSet",
    "BoundedCounter",
    "CausalCounter",
    "CausalCrdt",
    "CausalGCounter",
    "Crdt",
    "DWFlag",
    "Document",
    "EWFlag",
    "ExpiringMap",
    "ExpiringRegister",
    "GCounter",
    "GSet",
    "LWWRegister",
    "MVRegister",
    "ORMap",
    "PNCounter",
    "RWSet",
    "kind_class",
]
