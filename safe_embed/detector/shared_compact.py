"""Compaction of a shared stream: fold its records into a new generation of the detector directory, then trim them.

1. load the detector directory and apply the stream's records after the generation's own position (as a replica
   does), up to the stream's last entry ``T`` at that moment;
2. save the result as the directory's next generation, which records ``{"key": NAME, "through": T}`` in its
   provenance (a replica loading it starts after ``T``);
3. in one Redis script: append a marker entry, record the compaction, and trim the entries up to ``T``.

Entries appended after ``T`` while this runs stay in the stream (the trim keeps every id after ``T``). A record
the compaction cannot apply (another embedding space, a clashing id) stops it before anything is written or
trimmed.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass

from safe_embed.detector.detector import Detector
from safe_embed.detector.shared_records import PROVENANCE_KEY
from safe_embed.detector.shared_replica import SharedReplica
from safe_embed.detector.shared_stream import RedisStream
from safe_embed.errors import DataError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CompactionResult:
    """What a compaction did: the directory's new ``generation`` holds the stream's records up to ``through``
    (``records`` of them applied now), and ``trimmed`` entries left the stream."""

    generation: int | None
    through: str
    records: int
    trimmed: int
    n_unsafe: int
    n_safe: int

    def to_dict(self) -> dict:
        return asdict(self)


def compact(path: str | os.PathLike[str], url: str, key: str, backend: str = "auto") -> CompactionResult:
    """Fold the shared stream ``key`` at ``url`` into a new generation of the detector directory ``path`` and trim
    it (see the module docstring); nothing is written or trimmed when the stream holds nothing new.

    Example (a Redis on localhost)::

        compact("detectors/minilm", "redis://127.0.0.1:6379/0", "exemplars")
    """
    stream = RedisStream(url, key)
    stream.ping()
    det = Detector.load(path, backend=backend)
    replica = SharedReplica(det, stream)
    applied = replica.open().catch_up()  # open() replays; catch_up() takes what came meanwhile
    status = replica.status()
    if status.refused:
        raise DataError(f"the shared stream {stream.key} holds records this detector cannot apply "
                        f"({status.refused}); nothing was compacted. Fix: compact with the detector directory the "
                        "replicas serve.")
    through, n = replica.position, status.applied
    if n == 0:
        logger.info("shared stream %s holds no record after this generation: nothing to compact", stream.key)
        return CompactionResult(None, str(through), 0, 0, len(det.unsafe), len(det.safe))
    det.record_provenance(**{PROVENANCE_KEY: {"key": stream.name, "through": str(through)}})
    det.save(path)
    generation, sha = det.origin.generation, det.origin.manifest_sha256
    _, trimmed = stream.compact(through, generation, sha)
    logger.info("compacted %d records of %s (through %s, %d applied last) into generation %d; trimmed %d",
                n, stream.key, through, applied, generation, trimmed)
    return CompactionResult(generation, str(through), n, trimmed, len(det.unsafe), len(det.safe))
