"""A shared stream's change entries: the checksummed journal line of a change (texts, labels, categories, ids,
vectors, embedding space, encoder fingerprint, id counters) and what a replica makes of one it reads.

A replica only applies vectors it can score: a record embedded by another model (another encoder fingerprint) is
refused; a record of the same model in another embedding space (torch's ``fp32`` against ONNX ``int8``) is
re-embedded with the replica's own encoder, as a file journal's reader does
(:func:`~safe_embed.detector.journal_sync.change_of`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from safe_embed.detector import journal
from safe_embed.detector.backends import BackendInfo
from safe_embed.detector.journal_sync import change_of, record_of
from safe_embed.detector.pool import Change
from safe_embed.detector.shared_stream import Entry
from safe_embed.errors import DataError

RECORD_FIELD = "record"
PROVENANCE_KEY = "shared"  # a compacted generation's provenance: {"key": NAME, "through": ENTRY_ID}

# why a replica refused an entry (the counters of /v1/info)
CORRUPT, EMBEDDING_SPACE, INVALID = "corrupt", "embedding_space", "invalid"


def encoder_fingerprint(info: BackendInfo) -> str | None:
    """The content fingerprint of the model a detector embeds with (its manifest's encoder identity without the
    directory name), or None for a detector not loaded from a directory.

    >>> encoder_fingerprint(BackendInfo(encoder_meta={"identity": "st:encoder.1:0123abcd"}))
    '0123abcd'
    """
    identity = info.encoder_meta.get("identity")
    return str(identity).rsplit(":", 1)[-1] if identity else None


def fields_of(change: Change, counters: dict[str, int], encoder: str) -> dict[str, str]:
    """The stream entry fields of ``change`` (see :func:`~safe_embed.detector.journal_sync.record_of`)."""
    return {RECORD_FIELD: journal.encode(record_of(change, counters, encoder)).decode("ascii")}


@dataclass(frozen=True)
class ReadChange:
    """A change entry as a replica reads it: the change and its id counters, or why it is refused."""

    change: Change | None
    counters: dict
    refused: str | None = None
    reason: str = ""


def read_change(entry: Entry, encoder: str, space: str, embed: Callable[[list[str]], np.ndarray]) -> ReadChange:
    """The change in ``entry`` with vectors in ``space`` of the replica's ``encoder`` (``embed`` re-embeds a record
    of another space), or the reason it is refused."""
    rec = journal.decode(entry.fields.get(RECORD_FIELD, "").encode("utf-8"))
    if rec is None:
        return ReadChange(None, {}, CORRUPT, "its checksum does not verify")
    if rec.op == "add" and rec.encoder != encoder:
        return ReadChange(None, {}, EMBEDDING_SPACE, f"its vectors come from encoder {rec.encoder or 'unknown'} "
                          f"({rec.space}); this replica scores with encoder {encoder} ({space})")
    try:
        return ReadChange(change_of(rec, space, embed), rec.next_id or {})
    except DataError as e:
        return ReadChange(None, {}, EMBEDDING_SPACE, str(e))
