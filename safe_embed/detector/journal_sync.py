"""Keeping a detector in step with its directory's journal: loading a snapshot with its journal applied, reading
what other writers appended since, appending a change durably, and cleaning what a crashed writer left.

Every journal record becomes a :class:`~safe_embed.detector.pool.Addition` or
:class:`~safe_embed.detector.pool.Removal` applied by :meth:`ExemplarPool.apply
<safe_embed.detector.pool.ExemplarPool.apply>`, the path a live change takes too.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from safe_embed.detector import backends as bk
from safe_embed.detector import journal
from safe_embed.detector.layout import Origin, cleanup, lock, names, referenced
from safe_embed.detector.manifest import MANIFEST, TamperedDetectorError, read_manifest, verify_listed
from safe_embed.detector.pool import Addition, Change, ExemplarPool, Removal
from safe_embed.detector.snapshot_read import StoredParts, read_snapshot
from safe_embed.errors import DataError

Embed = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class JournalNews:
    """Records appended to the journal after an origin's offset, and the origin that follows them."""

    records: list[journal.Record]
    origin: Origin


def read_journal(origin: Origin) -> tuple[list[journal.Record], int]:
    """New verified records after ``origin.journal_offset`` (a torn last line is left for a writer to cut)."""
    try:
        records, end, _ = journal.read(origin.journal, origin.journal_offset)
    except journal.CorruptJournalError as e:
        raise TamperedDetectorError(str(e)) from None
    return records, end


def change_of(record: journal.Record, space: str, embed: Embed | None) -> Change:
    """The change a record holds, with vectors of embedding ``space`` (re-embedded with ``embed`` when the record's
    vectors are of another space)."""
    if record.op != "add":
        return Removal(frozenset(record.ids))
    vectors = record.vectors
    if record.space != space:
        if embed is None:
            raise DataError(f"journal record {record.seq} holds {record.space} vectors and no {space} encoder was "
                            "given to re-embed it.")
        vectors = embed([e.text for e in record.exemplars])
    return Addition(record.exemplars, vectors, space)


def apply_records(pool: ExemplarPool, records: list[journal.Record], space: str = bk.FP32,
                  embed: Embed | None = None) -> None:
    """Apply journal records in order to ``pool``, as live changes are applied."""
    for r in records:
        pool.apply(change_of(r, space, embed), r.next_id)


def load_parts(path: str | os.PathLike[str], cache: bool = False, device: str | None = None, backend: str = "auto",
               num_threads: int | None = None, spin: bool = True) -> StoredParts:
    """Verify and load a detector directory with ``backend`` (see :mod:`safe_embed.detector.backends`): the
    snapshot, then its journal (a reader never takes the lock)."""
    root = Path(path)
    for attempt in range(3):  # a save may retire the generation a reader is on: read the new manifest then
        m = read_manifest(root, verify_files=False)
        try:
            verify_listed(root, m)
            parts = read_snapshot(root, m, cache, device, backend, num_threads, spin)
            records, end = read_journal(parts.origin)
        except TamperedDetectorError:
            if attempt < 2 and (root / MANIFEST).is_file() and \
                    read_manifest(root, verify_files=False).get("manifest_sha256") != m.get("manifest_sha256"):
                continue
            raise
        try:
            apply_records(parts.pool, records, parts.backends.space,
                          lambda texts, p=parts: bk.embed_texts(p.encoder, texts, p.settings.max_chars))
        except DataError as e:
            raise TamperedDetectorError(f"{parts.origin.journal}: {e} Fix: restore the journal, or remove it to go "
                                        "back to the snapshot.") from None
        return replace(parts, origin=replace(parts.origin, journal_offset=end))
    raise AssertionError("unreachable")


def read_news(origin: Origin, backend: str) -> StoredParts | JournalNews:
    """What changed in ``origin``'s directory since: the new snapshot (with its journal) when another writer
    saved, else the journal records appended after ``origin``'s offset. Call under the writer lock."""
    m = read_manifest(origin.root, verify_files=False)  # a new generation is verified when it is loaded
    if m.get("manifest_sha256") != origin.manifest_sha256:
        return load_parts(origin.root, device=None, backend=backend)
    records, end = read_journal(origin)
    return JournalNews(records, replace(origin, journal_offset=end))


def append(origin: Origin, change: Change, counters: dict[str, int]) -> Origin:
    """Durably journal ``change`` (with the id ``counters`` once it is applied) in ``origin``'s directory (call
    under the lock, after catching up); returns the origin past the new record."""
    rec = record_of(change, counters)
    return replace(origin, journal_offset=journal.append(origin.journal, rec, good_until=origin.journal_offset))


def record_of(change: Change, counters: dict[str, int], encoder: str | None = None) -> journal.Record:
    """The journal record of ``change`` with the id ``counters`` once it is applied (``encoder``: the fingerprint
    of the model that embedded an addition's vectors)."""
    if isinstance(change, Addition):
        return journal.Record(0, "add", tuple(change.exemplars), change.vectors, next_id=counters,
                              space=change.space, encoder=encoder)
    return journal.Record(0, "remove", ids=tuple(sorted(change.ids)), next_id=counters)


def open_for_writing(root: Path) -> list[str]:
    """Clean what a crashed writer left (under the lock); call once when a writer starts."""
    with lock(root):
        m = read_manifest(root)
        removed = cleanup(root, referenced(m))
        jp = root / m.get("journal", names(int(m.get("generation", 0)))["journal"])
        try:
            _, end, bad_tail = journal.read(jp)
        except journal.CorruptJournalError as e:
            raise TamperedDetectorError(str(e)) from None
        if bad_tail and jp.is_file():
            with open(jp, "rb+") as f:
                f.truncate(end)
                os.fsync(f.fileno())
            removed.append(f"{jp.name} (torn tail after byte {end})")
    return removed
