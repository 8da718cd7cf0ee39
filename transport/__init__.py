"""I/O for crdtstate: anti-entropy sessions over websockets (and in-memory links) under trio."""

from .channel import (
    ChannelClosed,
    FrameChannel,
    MemoryChannel,
    WebSocketChannel,
    memory_channel_pair,
)
from .driver import SessionDriver
from .mesh import Backoff, Mesh, PeerStatus, open_mesh

__all__ = [
    "Backoff",
    "ChannelClosed",
    "FrameChannel",
    "MemoryChannel",
    "Mesh",
    "PeerStatus",
    "SessionDriver",
    "WebSocketChannel",
    "memory_channel_pair",
    "open_mesh",
]
