"""Frame channels: the two things a session driver needs from a connection.

`WebSocketChannel` adapts a websockets connection (trio or asyncio); `memory_channel_pair` links two
drivers in one process (tests, the simulator). Both report a closed connection the same way.
"""

from __future__ import annotations

import math
from typing import Protocol

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from websockets.exceptions import ConnectionClosed

from .websocket import Connection, close_connection


class ChannelClosed(Exception):
    """The connection is gone; `reason` says how, for logs."""


class FrameChannel(Protocol):
    async def send(self, frame: bytes) -> None: ...

    async def receive(self) -> bytes | str: ...

    async def close(self, code: int, reason: str) -> None: ...


class WebSocketChannel:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    async def send(self, frame: bytes) -> None:
        try:
            await self.connection.send(frame)
        except ConnectionClosed as exc:
            raise ChannelClosed(str(exc)) from exc

    async def receive(self) -> bytes | str:
        try:
            return await self.connection.recv()
        except ConnectionClosed as exc:
            raise ChannelClosed(str(exc)) from exc

    async def close(self, code: int, reason: str) -> None:
        await close_connection(self.connection, code, reason[:120])


class MemoryChannel:
    """One end of an in-process link: frames go into the other end's receive queue."""

    def __init__(
        self,
        outgoing: MemoryObjectSendStream[bytes],
        incoming: MemoryObjectReceiveStream[bytes],
    ) -> None:
        self._outgoing = outgoing
        self._incoming = incoming
        self.close_code: int | None = None

    async def send(self, frame: bytes) -> None:
        try:
            await self._outgoing.send(frame)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
            raise ChannelClosed("peer closed the link") from exc

    async def receive(self) -> bytes:
        try:
            return await self._incoming.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError) as exc:
            raise ChannelClosed("link closed") from exc

    async def close(self, code: int, reason: str) -> None:
        self.close_code = code
        await self._outgoing.aclose()
        await self._incoming.aclose()


def memory_channel_pair(capacity: float = math.inf) -> tuple[MemoryChannel, MemoryChannel]:
    a_out, b_in = anyio.create_memory_object_stream[bytes](capacity)
    b_out, a_in = anyio.create_memory_object_stream[bytes](capacity)
    return MemoryChannel(a_out, a_in), MemoryChannel(b_out, b_in)
