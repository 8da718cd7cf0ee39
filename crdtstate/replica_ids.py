"""The one rule for replica ids, checked wherever an id enters: `Replica.open`, the replica
core, `crdtstate serve --id`.

An id names a replica in version vectors, dots, logs and database files, so it must be
visible and unambiguous: 1 to 256 printable characters, not starting or ending with
whitespace. `""` is refused rather than replaced by a random id (pass None for that).
"""

from __future__ import annotations

import base64

from .errors import InvalidArgumentError

MAX_REPLICA_ID_LENGTH = 256
RULE = "1 to 256 printable characters, not starting or ending with whitespace"


def check_replica_id(replica_id: object) -> str:
    """`replica_id` if it follows the rule, else `InvalidArgumentError` saying why."""
    if not isinstance(replica_id, str):
        problem = f"is a {type(replica_id).__name__}, not a string"
    elif not replica_id:
        problem = "is empty (give no id at all for a random one)"
    elif len(replica_id) > MAX_REPLICA_ID_LENGTH:
        problem = f"has {len(replica_id)} characters"
    elif not replica_id.isprintable():
        problem = "holds a control or other unprintable character"
    elif replica_id != replica_id.strip():
        problem = "starts or ends with whitespace"
    else:
        return replica_id
    shown = repr(replica_id)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    raise InvalidArgumentError(f"replica id {shown} {problem}: an id is {RULE}")


def writer_name(replica_id: str, incarnation: int) -> str:
    """The writer name of an in-memory run: the id, "~" and 40 random bits of its incarnation
    in 8 base32 letters (short, since every dot carries it; two runs of one id share a name
    with odds of about 1e-12). A session derives its peer's from the hello, since a running
    peer holds whatever it wrote under it."""
    letters = base64.b32encode((incarnation & (1 << 40) - 1).to_bytes(5, "big"))
    return f"{replica_id}~{letters.decode().lower()}"
