"""I/O for crdtstate: anti-entropy sessions over websockets and in-memory links (trio, asyncio)."""

from .channel import (
    ChannelClosed,
    FrameChannel,
    MemoryChannel,
    WebSocketChannel,
    memory_channel_pair,
)
from .driver import SessionDriver
from .limits import Backoff, Limits
from .mesh import Mesh, PeerStatus, open_mesh
from .presence import PresenceHub

__all__ = [
    "Backoff",
    "ChannelClosed",
    "FrameChannel",
    "Limits",
    "MemoryChannel",
    "Mesh",
    "PeerStatus",
    "PresenceHub",
    "SessionDriver",
    "WebSocketChannel",
    "memory_channel_pair",
    "open_mesh",
]
