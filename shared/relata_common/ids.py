"""Random (version 4) UUIDs in bulk: one read of the system's random source for many ids.

``uuid.uuid4()`` reads the random source once per id, which is most of the cost of a bulk
import's ids (two per row: the relation and its event).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator


def random_uuids(count: int) -> Iterator[uuid.UUID]:
    entropy = os.urandom(16 * count)
    for start in range(0, 16 * count, 16):
        yield uuid.UUID(bytes=entropy[start : start + 16], version=4)
