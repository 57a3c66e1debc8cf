"""The append-only journal of exemplar additions and removals that follow a detector snapshot.

One JSON object per line: ``{"seq", "op": "add"|"remove", "exemplars"|"ids", "vectors" (add: base64 of the
float32 (n, d) embeddings, little-endian), "dim", "space" (add: the embedding space of the vectors when it is not
``fp32``, see :mod:`safe_embed.detector.backends`), "encoder" (add, when known: the fingerprint of the model that
embedded them; a shared journal's records carry it), "next_id", "sha256"}``; ``sha256`` covers the line's canonical
JSON without that key. A line is durable once :func:`append` returns (written, flushed and fsynced). A reader
stops at the first line that does not end in a newline or does not verify: only the tail can be torn (a crash
during a write), and a writer truncates it before appending.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from safe_embed.detector.exemplars import Exemplar
from safe_embed.errors import DataError


@dataclass(frozen=True)
class Record:
    """One journal entry: an addition (exemplars + their vectors) or a removal (ids)."""

    seq: int
    op: str
    exemplars: tuple[Exemplar, ...] = ()
    vectors: np.ndarray | None = None
    ids: tuple[str, ...] = ()
    next_id: dict | None = None
    space: str = "fp32"
    encoder: str | None = None


def _canonical(d: dict) -> str:
    return json.dumps(d, sort_keys=True, ensure_ascii=True, separators=(",", ":"))


def encode(record: Record) -> bytes:
    """The record as one checksummed JSON line."""
    d: dict = {"seq": record.seq, "op": record.op, "next_id": record.next_id or {}}
    if record.op == "add":
        v = np.ascontiguousarray(record.vectors, dtype="<f4")
        d.update(exemplars=[{k: getattr(e, k) for k in ("id", "text", "label", "category", "source",
                                                         "source_category")} for e in record.exemplars],
                 dim=int(v.shape[1]), vectors=base64.b64encode(v.tobytes()).decode("ascii"))
        if record.space != "fp32":
            d["space"] = record.space
        if record.encoder:
            d["encoder"] = record.encoder
    elif record.op == "remove":
        d["ids"] = list(record.ids)
    else:
        raise DataError(f"unknown journal op {record.op!r}.")
    d["sha256"] = hashlib.sha256(_canonical(d).encode("ascii")).hexdigest()
    return (_canonical(d) + "\n").encode("ascii")


def decode(line: bytes) -> Record | None:
    """A verified record, or None for a torn or corrupted line."""
    try:
        d = json.loads(line)
        claimed = d.pop("sha256")
        if hashlib.sha256(_canonical(d).encode("ascii")).hexdigest() != claimed:
            return None
        if d["op"] == "add":
            v = np.frombuffer(base64.b64decode(d["vectors"]), dtype="<f4").reshape(-1, int(d["dim"]))
            ex = tuple(Exemplar(**e) for e in d["exemplars"])
            if len(ex) != len(v):
                return None
            return Record(int(d["seq"]), "add", ex, v.astype(np.float32), next_id=d.get("next_id") or {},
                          space=str(d.get("space", "fp32")), encoder=d.get("encoder"))
        if d["op"] == "remove":
            return Record(int(d["seq"]), "remove", ids=tuple(d["ids"]), next_id=d.get("next_id") or {})
    except (ValueError, KeyError, TypeError):
        return None
    return None


class CorruptJournalError(DataError):
    """A record that does not verify is followed by more records: not a torn tail, a damaged journal."""


def read(path: Path, offset: int = 0) -> tuple[list[Record], int, bool]:
    """Verified records from byte ``offset``, the offset after the last good one, and whether a torn tail
    (an unfinished or unverifiable last line) follows it. A bad line before the last raises
    :class:`CorruptJournalError` naming the file and byte."""
    if not path.is_file():
        return [], offset, False
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read()
    records: list[Record] = []
    pos = 0
    while pos < len(data):
        end = data.find(b"\n", pos)
        rec = decode(data[pos:end + 1]) if end >= 0 else None
        if rec is None:
            if end >= 0 and end + 1 < len(data):
                raise CorruptJournalError(f"{path}: the record at byte {offset + pos} does not verify and more "
                                          "records follow it. Fix: restore the journal, or remove it to go back to "
                                          "the snapshot.")
            return records, offset + pos, True
        records.append(rec)
        pos = end + 1
    return records, offset + pos, False


def append(path: Path, record: Record, good_until: int | None = None) -> int:
    """Write ``record`` durably at the end (after cutting a torn tail at ``good_until``); returns the new end."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = encode(record)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if good_until is not None and good_until < size:
            os.ftruncate(fd, good_until)
            size = good_until
        os.lseek(fd, size, os.SEEK_SET)
        view = memoryview(line)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        os.fsync(fd)
        return size + len(line)
    finally:
        os.close(fd)
