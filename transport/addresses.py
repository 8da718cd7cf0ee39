"""Where a mesh listens and whom it dials, checked before anything starts.

A mistyped address used to fail late and quietly (a port past 65535 bound a random port, a
peer given as a number raised a TypeError deep in a dial task): each is now refused at once
with `InvalidArgumentError` saying what is wrong.
"""

from __future__ import annotations

from collections.abc import Iterable

from websockets.exceptions import InvalidURI
from websockets.uri import parse_uri

from crdtstate.errors import InvalidArgumentError

__all__ = ["parse_listen", "peer_url", "peer_urls"]


def parse_listen(listen: str) -> tuple[str, int]:
    """'host:port' or '[v6]:port' -> (host, port); port 0 asks for a free one.

    Anything else is refused (`InvalidArgumentError`) rather than letting the OS pick a port
    nobody asked for (a port past 65535 used to bind a random one silently).
    """
    if not isinstance(listen, str):
        raise InvalidArgumentError(
            f"listen address {listen!r} is a {type(listen).__name__}, not a 'host:port' string"
        )
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise InvalidArgumentError(f"listen address {listen!r} is not host:port")
    if int(port) > 65535:
        raise InvalidArgumentError(
            f"listen address {listen!r}: port {int(port)} is out of range (0 to 65535)"
        )
    return host.strip("[]") or "127.0.0.1", int(port)


def peer_url(peer: str) -> str:
    """`peer` as a websocket URL (ws:// is assumed without a scheme), or
    `InvalidArgumentError` saying what is wrong with it."""
    if not isinstance(peer, str):
        raise InvalidArgumentError(
            f"peer {peer!r} is a {type(peer).__name__}: a peer is a URL such as "
            "'ws://host:port' (a string)"
        )
    url = peer if "://" in peer else f"ws://{peer}"
    try:
        parse_uri(url)
    except (InvalidURI, ValueError) as exc:
        raise InvalidArgumentError(
            f"peer {peer!r} is not a websocket URL such as 'ws://host:port': {exc}"
        ) from None
    return url


def peer_urls(peers: Iterable[str]) -> list[str]:
    """Every peer as a URL; a lone string is refused (it would be read letter by letter)."""
    if isinstance(peers, str | bytes):
        raise InvalidArgumentError(f"peers={peers!r} is one string: pass a list of URLs")
    return [peer_url(p) for p in peers]
