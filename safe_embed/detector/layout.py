"""A detector directory's layout: the files of each snapshot generation, the writer lock, and the cleanup of what
no manifest references. No pickle.

::

    DETECTOR_DIR/
      manifest.json            the current snapshot: format, encoder, rule, calibration, checksums of its files
      encoder/                 sentence-transformers model (safetensors); encoder.<g>/ when a save changes it
      unsafe.faiss, safe.faiss FAISS indexes of the exemplars (unsafe.<g>.faiss ... for generation g >= 1)
      unsafe-int8.faiss ...    the same exemplars embedded by the int8 ONNX encoder (``encoder/onnx/``), see
                               backends.py: every embedding space has its own indexes
      exemplars.jsonl          one exemplar per line; the k-th row of a label is position k of its index
      splits.json              the data's splits, when the detector was built from a data spec
      journal.jsonl            additions and removals since the snapshot (journal.<g>.jsonl), see journal.py
      .lock                    taken by every writer

A snapshot is immutable (:mod:`~safe_embed.detector.snapshot_read`, :mod:`~safe_embed.detector.snapshot_write`).
An addition or removal is one durable journal line (milliseconds, whatever the size of the detector); loading
applies the snapshot, then its journal (:mod:`~safe_embed.detector.journal_sync`). A save writes the next
generation's files beside the current ones and then replaces ``manifest.json`` atomically, so a reader sees the
old state or the new one; the previous generation stays until the next save, for readers still on it. Writers hold
``.lock`` (``filelock``), re-read the journal before writing (so two writers never lose each other's work) and
clean up what a crashed writer left (temporary files, a torn journal tail, unreferenced generations).
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from safe_embed.data.schemas import LABELS
from safe_embed.detector import backends as bk
from safe_embed.detector.manifest import GENERATION_NAME, MANIFEST

logger = logging.getLogger(__name__)

LOCK = ".lock"
LOCK_TIMEOUT_S = 60.0
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib", ".h5", ".msgpack")


def names(generation: int) -> dict[str, str]:
    """File names of a generation (generation 0 keeps the plain names).

    >>> names(0)["unsafe"], names(2)["journal"], names(1)["safe-int8"]
    ('unsafe.faiss', 'journal.2.jsonl', 'safe-int8.1.faiss')
    """
    g = "" if generation == 0 else f".{generation}"
    return {"unsafe": f"unsafe{g}.faiss", "safe": f"safe{g}.faiss", "exemplars": f"exemplars{g}.jsonl",
            "splits": f"splits{g}.json", "journal": f"journal{g}.jsonl", "encoder": f"encoder{g}",
            **{f"{label}-{bk.INT8}": f"{label}-{bk.INT8}{g}.faiss" for label in LABELS}}


@dataclass(frozen=True)
class Origin:
    """Where a detector's state came from: its directory, snapshot generation, how much of the generation's
    journal it has applied (bytes) and the manifest's checksum."""

    root: Path
    generation: int
    journal_offset: int = 0
    manifest_sha256: str = ""

    @property
    def journal(self) -> Path:
        return self.root / names(self.generation)["journal"]


def lock(root: Path):
    """The exclusive writer lock of a detector directory (a ``filelock.FileLock``; use it as a context)."""
    from filelock import FileLock

    root.mkdir(parents=True, exist_ok=True)
    return FileLock(str(root / LOCK), timeout=LOCK_TIMEOUT_S)


def is_detector_dir(root: Path) -> bool:
    return (root / MANIFEST).is_file()


def referenced(m: dict | None, retained: bool = True) -> set[str]:
    """Top-level names a manifest needs: its listed files, its journal, and (``retained``) what it keeps for the
    previous generation's readers (``retain``)."""
    if not m:
        return set()
    out = {rel.split("/", 1)[0] for rel in m.get("files", {})}
    out |= {m["journal"]} if m.get("journal") else {names(int(m.get("generation", 0)))["journal"]}
    return out | set(m.get("retain", [])) if retained else out


def cleanup(root: Path, keep: set[str]) -> list[str]:
    """Delete what no kept manifest references (under the writer lock): temporary files and directories, and
    generation files outside ``keep``. Returns the removed names."""
    removed = []
    for p in sorted(root.iterdir()):
        name = p.name
        temp = name.startswith((".tmp-", MANIFEST + ".tmp-")) or name.endswith(".part")
        if temp or (GENERATION_NAME.match(name) and name not in keep):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
            removed.append(name)
    if removed:
        logger.info("cleaned %s: %s", root, ", ".join(removed))
    return removed
