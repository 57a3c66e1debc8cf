"""Detector directories: snapshots, the journal that follows them, and the lock writers take. No pickle.

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

A snapshot is immutable. An addition or removal is one durable journal line (milliseconds, whatever the size of
the detector); loading applies the snapshot, then its journal. A save writes the next generation's files beside
the current ones and then replaces ``manifest.json`` atomically, so a reader sees the old state or the new one;
the previous generation stays until the next save, for readers still on it. Writers hold ``.lock`` (``filelock``),
re-read the journal before writing (so two writers never lose each other's work) and clean up what a crashed
writer left (temporary files, a torn journal tail, unreferenced generations).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from safe_embed import __version__
from safe_embed.detector import backends as bk
from safe_embed.detector import index as ix
from safe_embed.detector import journal
from safe_embed.detector.calibration import Calibration
from safe_embed.detector.encoder_dir import copy_encoder, copy_model_dir, unwrap
from safe_embed.detector.exemplar_index import ExemplarIndex
from safe_embed.detector.exemplars import Exemplar
from safe_embed.detector.manifest import (
    MANIFEST,
    TamperedDetectorError,
    inside,
    list_files,
    read_manifest,
    write_manifest,
)
from safe_embed.detector.scoring import ScoringRule
from safe_embed.detector.settings import DetectorSettings
from safe_embed.encoders.base import Encoder
from safe_embed.encoders.sentence_transformer import SentenceTransformerEncoder, directory_fingerprint
from safe_embed.errors import DataError, ModelError

logger = logging.getLogger(__name__)

LOCK = ".lock"
LABELS = ("unsafe", "safe")
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib", ".h5", ".msgpack")
LOCK_TIMEOUT_S = 60.0


def names(generation: int) -> dict[str, str]:
    """File names of a generation (generation 0 keeps the plain names)."""
    g = "" if generation == 0 else f".{generation}"
    return {"unsafe": f"unsafe{g}.faiss", "safe": f"safe{g}.faiss", "exemplars": f"exemplars{g}.jsonl",
            "splits": f"splits{g}.json", "journal": f"journal{g}.jsonl", "encoder": f"encoder{g}",
            **{f"{label}-{bk.INT8}": f"{label}-{bk.INT8}{g}.faiss" for label in LABELS}}


@dataclass
class Origin:
    """Where a loaded detector came from: its directory, snapshot generation and how much journal it applied."""

    root: Path
    generation: int
    journal_offset: int = 0
    manifest_sha256: str = ""


@dataclass
class StoredParts:
    """What a detector directory holds, read and verified."""

    encoder: Encoder
    indexes: dict[str, ExemplarIndex]
    rule: ScoringRule
    calibration: Calibration
    settings: DetectorSettings
    provenance: dict
    splits: dict | None
    origin: Origin
    manifest: dict = field(default_factory=dict)
    backends: bk.BackendInfo = field(default_factory=bk.BackendInfo)


def lock(root: Path):
    """The exclusive writer lock of a detector directory (a ``filelock.FileLock``; use it as a context)."""
    from filelock import FileLock

    root.mkdir(parents=True, exist_ok=True)
    return FileLock(str(root / LOCK), timeout=LOCK_TIMEOUT_S)


# ---- reading ------------------------------------------------------------------------------------------------------
def _read_exemplars(path: Path) -> list[Exemplar]:
    out = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            try:
                out.append(Exemplar(**json.loads(line)))
            except (json.JSONDecodeError, TypeError) as e:
                raise TamperedDetectorError(f"{path}:{lineno}: bad exemplar row ({e}).") from None
    return out


def _read_index(root: Path, rel: str):
    p = inside(root, rel)
    try:
        return ix.read_index(p)
    except RuntimeError as e:  # faiss raises RuntimeError for a file it cannot parse
        raise TamperedDetectorError(f"{p}: not a readable FAISS index ({str(e).splitlines()[0][:120]}). "
                                    "Fix: rebuild the detector.") from None


def _load_encoder(root: Path, m: dict, dim: int, device: str | None) -> SentenceTransformerEncoder:
    enc_rel = m["encoder"]["path"]
    enc_dir = inside(root, enc_rel)
    pickled = [rel for rel in m["files"] if rel.startswith(enc_rel + "/") and rel.endswith(PICKLE_SUFFIXES)]
    if pickled:
        raise TamperedDetectorError(f"{root / pickled[0]}: a pickle-format weight file; a detector holds "
                                    "safetensors only. Fix: rebuild the detector with `safe-embed export`.")
    inner = SentenceTransformerEncoder(str(enc_dir), name=m["encoder"].get("name"), device=device)
    try:
        enc_dim = inner.dimension
    except Exception as e:  # noqa: BLE001 - any failure inside transformers loading verified files: broken dir
        raise TamperedDetectorError(f"{enc_dir}: the encoder does not load ({type(e).__name__}: "
                                    f"{str(e).splitlines()[0][:160] if str(e) else ''}). Fix: rebuild the detector.") \
            from None
    if enc_dim != dim:
        raise TamperedDetectorError(f"{enc_dir}: the encoder's embedding dimension is {enc_dim}, but the indexes "
                                    f"hold dimension {dim}. Fix: use the encoder the detector was built with, or "
                                    "rebuild it with `safe-embed export`.")
    identity = f"st:{Path(enc_rel).name}:{directory_fingerprint(enc_dir)}"
    if identity.split(":")[-1] != m["encoder"]["identity"].split(":")[-1]:
        raise TamperedDetectorError(f"{enc_dir}: encoder identity {identity} differs from the manifest's "
                                    f"{m['encoder']['identity']}. Fix: restore the original encoder.")
    return inner


def _load_onnx(root: Path, m: dict, dim: int, backend: str, num_threads: int | None, spin: bool) -> Encoder:
    """The ONNX encoder of ``backend`` (its files were verified with the manifest's checksums)."""
    onnx_dir = inside(root, m["onnx"]["path"])
    enc = bk.onnx_encoder(onnx_dir, backend, name=m["encoder"].get("name"), num_threads=num_threads, verify=False,
                         spin=spin)
    if enc.dimension != dim:
        raise TamperedDetectorError(f"{onnx_dir}: the ONNX encoder's dimension is {enc.dimension}, the indexes "
                                    f"hold dimension {dim}. Fix: rebuild the detector.")
    return enc


def _space_pools(root: Path, m: dict, space: str, base: dict[str, ExemplarIndex], dim: int
                 ) -> dict[str, ExemplarIndex] | None:
    """The stored indexes of embedding ``space`` over ``base``'s exemplars (None when the snapshot has none)."""
    files = (m.get("index_by_space") or {}).get(space)
    if not files:
        return None
    out = {}
    for label in LABELS:
        index = _read_index(root, files[label]["file"])
        if index.d != dim:
            raise TamperedDetectorError(f"{root / files[label]['file']}: dimension {index.d}, but the manifest "
                                        f"says {dim}. Fix: rebuild the detector.")
        try:
            out[label] = ExemplarIndex(label, base[label].exemplars, index, base[label].settings, base[label].seed)
        except DataError as e:
            raise TamperedDetectorError(f"{root / files[label]['file']}: {e} Fix: rebuild the detector.") from None
    return out


def _parts(root: Path, m: dict, cache: bool, device: str | None, backend: str = "auto",
           num_threads: int | None = None, spin: bool = True) -> StoredParts:
    active = bk.resolve(backend, m.get("onnx") if isinstance(m.get("onnx"), dict) else None, root)
    try:
        dim = int(m["encoder"]["dimension"])
        files = m["index"]
        indexes = {label: _read_index(root, files[label]["file"]) for label in LABELS}
        exemplars = _read_exemplars(inside(root, m["exemplars"]["file"]))
        rule = ScoringRule.from_dict(m["scoring"])
        calibration = Calibration.from_dict(m["calibration"])
        states = {bk.TORCH: bk.state_of(rule, calibration, m["settings"].get("match_threshold")),
                  **(m.get("calibration_by_backend") or {})}
        if active not in states:
            raise ModelError(f"{root / MANIFEST}: no calibration for backend {active}. Fix: rebuild the detector "
                             "with `safe-embed export ... --onnx`.")
        s = m["settings"]
        index_settings = ix.IndexSettings(**{k: v for k, v in files.items() if k not in LABELS})
        settings = DetectorSettings(k_neighbors=int(s["k_neighbors"]), max_chars=int(s["max_chars"]),
                                    batch_size=int(s["batch_size"]), index=index_settings, seed=int(s["seed"]),
                                    match_threshold=None if s.get("match_threshold") is None
                                    else float(s["match_threshold"]))
        generation = int(m.get("generation", 0))
        splits = json.loads(inside(root, m["splits"]).read_text(encoding="utf-8")) if m.get("splits") else None
    except ModelError:  # a tampered file, or no calibration for the backend
        raise
    except (KeyError, TypeError, ValueError, OSError) as e:
        raise TamperedDetectorError(f"{root / MANIFEST}: incomplete or invalid ({type(e).__name__}: {e}). "
                                    "Fix: rebuild the detector.") from None
    if "threshold" in m and float(m["threshold"]) != float(calibration.threshold):
        raise TamperedDetectorError(f"{root / MANIFEST}: threshold {m['threshold']} differs from the calibration's "
                                    f"{calibration.threshold}. Fix: rebuild the detector.")
    if active != bk.TORCH:
        try:
            rule, calibration, settings.match_threshold = bk.parse_state(states[active])
        except (KeyError, TypeError, ValueError) as e:
            raise TamperedDetectorError(f"{root / MANIFEST}: invalid calibration of backend {active} "
                                        f"({type(e).__name__}: {e}). Fix: rebuild the detector.") from None
    if rule.uses_embedding and len(rule.head) != dim + 1:
        raise TamperedDetectorError(f"{root / MANIFEST}: the {rule.name} head has {len(rule.head)} weights, the "
                                    f"encoder {dim} dimensions. Fix: rebuild the detector.")
    for label, index in indexes.items():
        if index.d != dim:
            raise TamperedDetectorError(f"{root / files[label]['file']}: dimension {index.d}, but the manifest says "
                                        f"{dim}. Fix: rebuild the detector.")
    encoder: Encoder = _load_encoder(root, m, dim, device) if active == bk.TORCH else \
        _load_onnx(root, m, dim, active, num_threads, spin)
    if cache:
        from safe_embed.encoders.cache import CachedEncoder

        encoder = CachedEncoder(encoder)
    try:
        base = {label: ExemplarIndex(label, [e for e in exemplars if e.label == label], indexes[label],
                                     index_settings, settings.seed) for label in LABELS}
    except DataError as e:
        raise TamperedDetectorError(f"{root / m['exemplars']['file']}: {e} Fix: rebuild the detector.") from None
    space = bk.space_of(active)
    pools = base if space == bk.FP32 else _space_pools(root, m, space, base, dim)
    if pools is None:  # no stored index of this space (saved without onnxruntime): embed the exemplars now
        logger.warning("%s has no %s exemplar index: embedding its %d exemplars with the %s encoder", root, space,
                       len(exemplars), active)
        pools = bk.space_indexes(base, encoder, settings.max_chars)
    enc_dir = root / m["encoder"]["path"]
    info = bk.BackendInfo(active, states, enc_dir / bk.ONNX_SUBDIR if m.get("onnx") else None,
                          enc_dir if active != bk.TORCH else None, dict(m["encoder"]))
    origin = Origin(root, generation, 0, m.get("manifest_sha256", ""))
    return StoredParts(encoder, pools, rule, calibration, settings, dict(m.get("provenance", {})), splits, origin, m,
                       info)


def apply_records(parts_indexes: dict[str, ExemplarIndex], provenance: dict, records: list[journal.Record],
                  space: str = bk.FP32, embed=None) -> None:
    """Apply journal records in order to the exemplar indexes (and the automatic-id counters); an addition whose
    vectors are of another embedding space than ``space`` is re-embedded with ``embed(texts) -> (n, d)``."""
    for r in records:
        if r.op == "add":
            vectors = r.vectors
            if r.space != space:
                if embed is None:
                    raise DataError(f"journal record {r.seq} holds {r.space} vectors and no {space} encoder was "
                                    "given to re-embed it.")
                vectors = embed([e.text for e in r.exemplars])
            for label, idx in parts_indexes.items():
                rows = [k for k, e in enumerate(r.exemplars) if e.label == label]
                idx.add([r.exemplars[k] for k in rows], vectors[rows])
        else:
            wanted = set(r.ids)
            for idx in parts_indexes.values():
                idx.remove(wanted)
        for source, n in (r.next_id or {}).items():
            nid = provenance.setdefault("next_id", {})
            nid[source] = max(int(nid.get(source, 0)), int(n))


def journal_path(origin: Origin) -> Path:
    return origin.root / names(origin.generation)["journal"]


def read_journal(origin: Origin) -> tuple[list[journal.Record], int]:
    """New verified records after ``origin.journal_offset`` (a torn last line is left for a writer to cut)."""
    try:
        records, end, _ = journal.read(origin.root / names(origin.generation)["journal"], origin.journal_offset)
    except journal.CorruptJournalError as e:
        raise TamperedDetectorError(str(e)) from None
    return records, end


def load_parts(path: str | os.PathLike[str], cache: bool = False, device: str | None = None, backend: str = "auto",
               num_threads: int | None = None, spin: bool = True) -> StoredParts:
    """Verify and load a detector directory with ``backend`` (see :mod:`safe_embed.detector.backends`): the
    snapshot, then its journal (a reader never takes the lock)."""
    root = Path(path)
    for attempt in range(3):  # a save may retire the generation a reader is on: read the new manifest then
        m = read_manifest(root)
        try:
            parts = _parts(root, m, cache, device, backend, num_threads, spin)
            records, end = read_journal(parts.origin)
        except TamperedDetectorError:
            if attempt < 2 and (root / MANIFEST).is_file() and read_manifest(root).get("manifest_sha256") != \
                    m.get("manifest_sha256"):
                continue
            raise
        try:
            apply_records(parts.indexes, parts.provenance, records, parts.backends.space,
                          lambda texts, p=parts: bk.embed_texts(p.encoder, texts, p.settings.max_chars))
        except DataError as e:
            raise TamperedDetectorError(f"{root / names(parts.origin.generation)['journal']}: {e} Fix: restore "
                                        "the journal, or remove it to go back to the snapshot.") from None
        parts.origin.journal_offset = end
        return parts
    raise AssertionError("unreachable")


# ---- writing ------------------------------------------------------------------------------------------------------
def _is_detector_dir(root: Path) -> bool:
    return (root / MANIFEST).is_file()


_GENERATED = re.compile(r"^(?:unsafe|safe|unsafe-int8|safe-int8|exemplars|splits|journal|encoder)(?:\.\d+)?"
                        r"(?:\.(?:faiss|jsonl|json))?$")


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
        if temp or (_GENERATED.match(name) and name not in keep):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
            removed.append(name)
    if removed:
        logger.info("cleaned %s: %s", root, ", ".join(removed))
    return removed


def _stored_vectors(root: Path, m: dict, space: str) -> dict[str, np.ndarray]:
    """id -> vector of snapshot ``m``'s exemplars in embedding ``space`` (empty when it holds no such index)."""
    files = m["index"] if space == bk.FP32 else (m.get("index_by_space") or {}).get(space)
    if not files:
        return {}
    exemplars = _read_exemplars(inside(root, m["exemplars"]["file"]))
    out = {}
    for label in LABELS:
        rows = [e for e in exemplars if e.label == label]
        out.update(zip([e.id for e in rows], ix.vectors(_read_index(root, files[label]["file"])), strict=True))
    return out


def _pools_in(det, root: Path, current: dict | None, space: str, onnx_dir: Path | None
              ) -> dict[str, ExemplarIndex] | None:
    """``det``'s exemplars indexed in embedding ``space``: its own indexes when that is its space; else vectors
    it already holds, then the current snapshot's, then embedded with the space's ONNX encoder (None when that
    encoder is not available here)."""
    if space == det.backends.space:
        return det.indexes
    known = {**(_stored_vectors(root, current, space) if current else {}), **det.backends.vectors.get(space, {})}
    ids = {e.id for e in det.unsafe + det.safe}
    if ids <= set(known):
        return bk.space_indexes(det.indexes, None, det.settings.max_chars, known)  # type: ignore[arg-type]
    if onnx_dir is None or not bk.onnxruntime_available():
        return None
    enc = bk.onnx_encoder(onnx_dir, bk.ONNX_INT8 if space == bk.INT8 else bk.ONNX_FP32, verify=False)
    return bk.space_indexes(det.indexes, enc, det.settings.max_chars, known)


def _copy_encoder_dir(det, dst: Path) -> None:
    """The torch encoder (from its model or, for an ONNX-backed detector, its directory) and the ONNX export."""
    if isinstance(unwrap(det.encoder), SentenceTransformerEncoder) or det.backends.encoder_dir is None:
        copy_encoder(det.encoder, dst)
    else:
        copy_model_dir(det.backends.encoder_dir, dst)
    if det.backends.onnx_dir is not None:
        shutil.copytree(det.backends.onnx_dir, dst / bk.ONNX_SUBDIR, ignore=shutil.ignore_patterns(".*"))


def _write_generation(det, root: Path, generation: int, reuse_encoder: str | None, current: dict | None = None
                      ) -> tuple[dict, list[str]]:
    """Write generation ``generation``'s files into ``root``; returns the manifest body and the files to list."""
    n = names(generation)
    listed: list[str] = []
    if reuse_encoder is None:
        enc_rel = n["encoder"]
        tmp_enc = Path(tempfile.mkdtemp(prefix=".tmp-enc-", dir=root))
        _copy_encoder_dir(det, tmp_enc)
        os.replace(tmp_enc, root / enc_rel)
    else:
        enc_rel = reuse_encoder
    listed += [f"{enc_rel}/{rel}" for rel in list_files(root / enc_rel)]
    onnx_dir = root / enc_rel / bk.ONNX_SUBDIR
    meta = bk.onnx_meta(onnx_dir, f"{enc_rel}/{bk.ONNX_SUBDIR}") if onnx_dir.is_dir() else None
    primary = _pools_in(det, root, current, bk.FP32, onnx_dir if meta else None)
    if primary is None:
        raise ModelError(f"cannot write the fp32 exemplar indexes of {root}: ONNX Runtime is not installed. "
                         f"Fix: {bk.INSTALL_FIX}")
    for label in LABELS:
        _atomic_write(root / n[label], lambda p, lab=label: ix.write_index(primary[lab].index, p))
        listed.append(n[label])
    by_space = {}
    for space in sorted({bk.space_of(bk.backend_of_variant(v)) for v in (meta or {}).get("variants", [])} - {bk.FP32}):
        pools = _pools_in(det, root, current, space, onnx_dir)
        if pools is None:
            logger.warning("onnxruntime is not installed: %s is saved without its %s exemplar index (a %s load "
                           "embeds the exemplars)", root, space, space)
            continue
        for label in LABELS:
            _atomic_write(root / n[f"{label}-{space}"],
                          lambda p, lab=label, pl=pools: ix.write_index(pl[lab].index, p))
            listed.append(n[f"{label}-{space}"])
        by_space[space] = {label: {"file": n[f"{label}-{space}"], "ntotal": int(pools[label].index.ntotal)}
                           for label in LABELS}
    _atomic_write(root / n["exemplars"], lambda p: p.write_text(
        "".join(e.to_json() + "\n" for e in det.unsafe + det.safe), encoding="utf-8"))
    listed.append(n["exemplars"])
    if det.splits is not None:
        _atomic_write(root / n["splits"], lambda p: p.write_text(json.dumps(det.splits, separators=(",", ":")) + "\n",
                                                                  encoding="utf-8"))
        listed.append(n["splits"])
    enc_dir = root / enc_rel
    if det.backends.active == bk.TORCH:
        enc_meta = {"name": det.encoder.name, "max_seq_length": det.encoder.token_window(),
                    "source_identity": unwrap(det.encoder).identity if hasattr(det.encoder, "identity") else None}
    else:
        enc_meta = {k: det.backends.encoder_meta.get(k) for k in ("name", "max_seq_length", "source_identity")}
    states = {**det.backends.states,
              det.backends.active: bk.state_of(det.rule, det.calibration, det.settings.match_threshold)}
    torch_state = states[bk.TORCH]
    body = {
        "created_with": f"safe-embed {__version__}",
        "generation": generation,
        "encoder": {"path": enc_rel, "dimension": det.dimension,
                    "identity": f"st:{enc_rel}:{directory_fingerprint(enc_dir)}", **enc_meta},
        "normalization": "l2 (cosine similarity = inner product)",
        "index": {**det.settings.index.to_dict(),
                  **{label: {"file": n[label], "type": ix.index_kind(det.indexes[label].index),
                             "ntotal": int(det.indexes[label].index.ntotal)} for label in LABELS}},
        "exemplars": {"file": n["exemplars"], "n_unsafe": len(det.unsafe), "n_safe": len(det.safe)},
        "splits": n["splits"] if det.splits is not None else None,
        "journal": n["journal"],
        "scoring": torch_state["scoring"],
        "calibration": torch_state["calibration"],
        "threshold": torch_state["calibration"]["threshold"],
        "settings": {"k_neighbors": det.settings.k_neighbors, "max_chars": det.settings.max_chars,
                     "batch_size": det.settings.batch_size, "seed": det.settings.seed,
                     "match_threshold": torch_state["match_threshold"]},
        "input_policy": {"text": "lone surrogates replaced, NUL removed, NFC; flag 'repaired'",
                         "empty": "label safe, score 0.0, flag 'empty'",
                         "long": "cut to max_chars characters, then the encoder's token window; flag 'truncated'"},
        "categories": det.categories,
        "provenance": det.provenance,
    }
    if meta:
        body["onnx"] = meta
        body["calibration_by_backend"] = {b: st for b, st in states.items()
                                          if b != bk.TORCH and b.split("-", 1)[1] in meta["variants"]}
        body["index_by_space"] = by_space
    return body, listed


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(f".tmp-{path.name}-{os.getpid()}")
    write(tmp)
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def save_detector(det, path: str | os.PathLike[str]) -> Path:
    """Write ``det`` as the next snapshot of ``path`` (a new directory, or an existing detector directory).

    Over the detector's own directory, the journal records other writers appended since it was loaded are
    applied first, so a save never drops them.
    """
    root = Path(path)
    if root.exists() and not _is_detector_dir(root) and any(p.name != LOCK for p in root.iterdir()):
        raise ModelError(f"{root} exists and is not a detector directory. Fix: choose a new or empty --out.")
    root.mkdir(parents=True, exist_ok=True)
    with lock(root):
        current = read_manifest(root) if _is_detector_dir(root) else None
        origin = getattr(det, "origin", None)
        own = current is not None and origin is not None and origin.root.resolve() == root.resolve()
        if own:
            catch_up(det)
        generation = int(current.get("generation", 0)) + 1 if current else 0
        cleanup(root, referenced(current))
        reuse = None
        if current is not None:
            enc_rel = current["encoder"]["path"]
            mine = unwrap(det.encoder)
            src = Path(mine.model_ref) if isinstance(mine, SentenceTransformerEncoder) else det.backends.encoder_dir
            if src is not None and (root / enc_rel).is_dir() and _same_onnx(det, root / enc_rel) and \
                    directory_fingerprint(root / enc_rel) == directory_fingerprint(src):
                reuse = enc_rel
        body, listed = _write_generation(det, root, generation, reuse, current)
        body["retain"] = sorted(referenced(current, retained=False) - {rel.split("/", 1)[0] for rel in listed})
        manifest = write_manifest(root, body, listed)
        cleanup(root, referenced(manifest))
    det.origin = Origin(root, generation, 0, manifest["manifest_sha256"])
    det.unsynced.clear()
    enc_dir = root / manifest["encoder"]["path"]
    det.backends.onnx_dir = enc_dir / bk.ONNX_SUBDIR if manifest.get("onnx") else None
    det.backends.states = {bk.TORCH: {"scoring": manifest["scoring"], "calibration": manifest["calibration"],
                                      "match_threshold": manifest["settings"]["match_threshold"]},
                           **manifest.get("calibration_by_backend", {})}
    if det.backends.active != bk.TORCH:
        det.backends.encoder_dir = enc_dir
    logger.info("saved detector to %s (generation %d; %d unsafe, %d safe exemplars)", root, generation,
                len(det.unsafe), len(det.safe))
    return root


def _same_onnx(det, enc_dir: Path) -> bool:
    """Whether ``enc_dir/onnx`` holds the detector's ONNX export (or, without one, is absent)."""
    have, want = enc_dir / bk.ONNX_SUBDIR, det.backends.onnx_dir
    if want is None or not have.is_dir():
        return want is None and not have.exists()
    return want.resolve() == have.resolve() or (want / bk.ONNX_CONFIG).read_bytes() == \
        (have / bk.ONNX_CONFIG).read_bytes()


def catch_up(det) -> int:
    """Apply the journal records other writers appended since ``det`` was loaded (call under the lock); when a
    save moved the directory to a new generation, reload the exemplars from it. Returns the records applied."""
    origin: Origin = det.origin
    m = read_manifest(origin.root, verify_files=False)  # a new generation is verified when it is loaded
    if m.get("manifest_sha256") != origin.manifest_sha256:  # another writer saved: start from its snapshot
        fresh = load_parts(origin.root, device=None, backend=det.backends.active)
        det.indexes, det.provenance, det.origin = fresh.indexes, fresh.provenance, fresh.origin
        det.replay_unsynced()
        return -1
    records, end = read_journal(origin)
    apply_records(det.indexes, det.provenance, records, det.backends.space, det.embed)
    origin.journal_offset = end
    return len(records)


def append(det, record_op: str, batch=None, ids: set[str] | None = None) -> None:
    """Durably journal an addition (``batch``, a :class:`~safe_embed.detector.detector.PreparedAdd`) or a removal
    (``ids``) of ``det``'s directory (call under the lock, after :func:`catch_up`)."""
    origin: Origin = det.origin
    path = origin.root / names(origin.generation)["journal"]
    next_id = dict(det.provenance.get("next_id", {}))
    if record_op == "add":
        for e in batch.exemplars:
            source, _, num = e.id.rpartition(":")
            if num.isdigit() and source == e.source:
                next_id[source] = max(int(next_id.get(source, 0)), int(num) + 1)
        rec = journal.Record(0, "add", tuple(batch.exemplars), batch.vectors, next_id=next_id,
                             space=det.backends.space)
    else:
        rec = journal.Record(0, "remove", ids=tuple(sorted(ids or ())), next_id=next_id)
    origin.journal_offset = journal.append(path, rec, good_until=origin.journal_offset)


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
