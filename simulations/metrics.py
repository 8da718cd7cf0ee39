"""What a simulation measures: traffic on the wire (payload and protocol metadata apart),
frames the network lost or duplicated, buffer sizes over time, and time to converge."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from antientropy import PeerSession


@dataclass(slots=True)
class Traffic:
    """Bytes and frames sent, summed over sessions (frames the network then lost count too:
    they were on the wire)."""

    frames: int = 0
    bytes: int = 0
    payload_bytes: int = 0
    frames_by_type: Counter[str] = field(default_factory=Counter)
    retransmits: int = 0
    resyncs: int = 0

    @property
    def metadata_bytes(self) -> int:
        return self.bytes - self.payload_bytes

    @property
    def metadata_share(self) -> float:
        return self.metadata_bytes / self.bytes if self.bytes else 0.0

    def add(self, session: PeerSession) -> None:
        s = session.stats
        self.frames += s.frames_out
        self.bytes += s.bytes_out
        self.payload_bytes += s.payload_bytes_out
        self.frames_by_type.update(s.frames_by_type)
        self.retransmits += s.retransmits
        self.resyncs += s.resyncs

    @classmethod
    def of(cls, sessions: Iterable[PeerSession]) -> Traffic:
        total = cls()
        for session in sessions:
            total.add(session)
        return total

    def minus(self, earlier: Traffic) -> Traffic:
        """The traffic between a snapshot `earlier` and this one."""
        return Traffic(
            self.frames - earlier.frames,
            self.bytes - earlier.bytes,
            self.payload_bytes - earlier.payload_bytes,
            self.frames_by_type - earlier.frames_by_type,
            self.retransmits - earlier.retransmits,
            self.resyncs - earlier.resyncs,
        )


@dataclass(slots=True)
class NetworkCounters:
    delivered: int = 0
    lost: int = 0  # dropped by loss or a cut link
    duplicated: int = 0
    stale: int = 0  # arrived after the connection they belonged to was gone
    session_errors: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Sample:
    """One point of a time series: per replica buffer bytes, and wire bytes so far."""

    time: float
    buffer_bytes: dict[str, int]
    wire_bytes: int
    payload_bytes: int
