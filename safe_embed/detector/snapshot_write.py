"""Writing a detector snapshot: the next generation's files beside the current ones, then the manifest, atomically
(see :mod:`~safe_embed.detector.layout`). Reads the detector; changes nothing in it (the detector records the
:class:`Saved` result itself)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from safe_embed import __version__
from safe_embed.data.schemas import LABELS
from safe_embed.detector import backends as bk
from safe_embed.detector import index as ix
from safe_embed.detector.encoder_dir import copy_encoder, copy_model_dir, unwrap
from safe_embed.detector.exemplar_index import ExemplarIndex
from safe_embed.detector.layout import LOCK, Origin, cleanup, is_detector_dir, lock, names, referenced
from safe_embed.detector.manifest import list_files, read_manifest, write_manifest
from safe_embed.detector.snapshot_read import stored_vectors
from safe_embed.encoders.sentence_transformer import SentenceTransformerEncoder, directory_fingerprint
from safe_embed.errors import ModelError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Saved:
    """A written snapshot: where it is (journal offset 0) and its manifest."""

    origin: Origin
    manifest: dict


def _pools_in(det, root: Path, current: dict | None, space: str, onnx_dir: Path | None
              ) -> dict[str, ExemplarIndex] | None:
    """``det``'s exemplars indexed in embedding ``space``: its own indexes when that is its space; else vectors
    it already holds, then the current snapshot's, then embedded with the space's ONNX encoder (None when that
    encoder is not available here)."""
    if space == det.backends.space:
        return det.indexes
    known = {**(stored_vectors(root, current, space) if current else {}), **det.backends.vectors.get(space, {})}
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
    if reuse_encoder is None:
        enc_rel = n["encoder"]
        tmp_enc = Path(tempfile.mkdtemp(prefix=".tmp-enc-", dir=root))
        _copy_encoder_dir(det, tmp_enc)
        os.replace(tmp_enc, root / enc_rel)
    else:
        enc_rel = reuse_encoder
    listed = [f"{enc_rel}/{rel}" for rel in list_files(root / enc_rel)]
    onnx_dir = root / enc_rel / bk.ONNX_SUBDIR
    meta = bk.onnx_meta(onnx_dir, f"{enc_rel}/{bk.ONNX_SUBDIR}") if onnx_dir.is_dir() else None
    by_space = _write_indexes(det, root, n, current, onnx_dir if meta else None, meta, listed)
    _atomic_write(root / n["exemplars"], lambda p: p.write_text(
        "".join(e.to_json() + "\n" for e in det.unsafe + det.safe), encoding="utf-8"))
    listed.append(n["exemplars"])
    if det.splits is not None:
        _atomic_write(root / n["splits"], lambda p: p.write_text(json.dumps(det.splits, separators=(",", ":")) + "\n",
                                                                  encoding="utf-8"))
        listed.append(n["splits"])
    body = _manifest_body(det, root, generation, enc_rel)
    if meta:
        body["onnx"] = meta
        body["calibration_by_backend"] = {b: st for b, st in _states(det).items()
                                          if b != bk.TORCH and b.split("-", 1)[1] in meta["variants"]}
        body["index_by_space"] = by_space
    return body, listed


def _write_indexes(det, root: Path, n: dict[str, str], current: dict | None, onnx_dir: Path | None,
                   meta: dict | None, listed: list[str]) -> dict:
    """Write the fp32 indexes and those of the ONNX export's other spaces (appending their names to ``listed``);
    returns the manifest's ``index_by_space``."""
    primary = _pools_in(det, root, current, bk.FP32, onnx_dir)
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
    return by_space


def _states(det) -> dict[str, dict]:
    """Every backend's state, the active one's from the detector's current rule and calibration."""
    return {**det.backends.states,
            det.backends.active: bk.state_of(det.rule, det.calibration, det.settings.match_threshold)}


def _manifest_body(det, root: Path, generation: int, enc_rel: str) -> dict:
    n = names(generation)
    if det.backends.active == bk.TORCH:
        enc_meta = {"name": det.encoder.name, "max_seq_length": det.encoder.token_window(),
                    "source_identity": unwrap(det.encoder).identity if hasattr(det.encoder, "identity") else None}
    else:
        enc_meta = {k: det.backends.encoder_meta.get(k) for k in ("name", "max_seq_length", "source_identity")}
    torch_state = _states(det)[bk.TORCH]
    indexes = det.indexes
    return {
        "created_with": f"safe-embed {__version__}",
        "generation": generation,
        "encoder": {"path": enc_rel, "dimension": det.dimension,
                    "identity": f"st:{enc_rel}:{directory_fingerprint(root / enc_rel)}", **enc_meta},
        "normalization": "l2 (cosine similarity = inner product)",
        "index": {**det.settings.index.to_dict(),
                  **{label: {"file": n[label], "type": ix.index_kind(indexes[label].index),
                             "ntotal": int(indexes[label].index.ntotal)} for label in LABELS}},
        "exemplars": {"file": n["exemplars"], "n_unsafe": len(det.unsafe), "n_safe": len(det.safe)},
        "splits": n["splits"] if det.splits is not None else None,
        "journal": n["journal"],
        "scoring": torch_state["scoring"],
        "calibration": torch_state["calibration"],
        "threshold": torch_state["calibration"]["threshold"],
        "settings": {"k_neighbors": det.settings.k_neighbors, "max_chars": det.settings.max_chars,
                     "batch_size": det.settings.batch_size, "seed": det.settings.seed,
                     "match_threshold": torch_state["match_threshold"],
                     "categories": det.settings.categories.to_dict(),
                     "sentence_threshold": det.settings.sentence_threshold,
                     "last_sentence_threshold": det.settings.last_sentence_threshold,
                     "first_sentence_threshold": det.settings.first_sentence_threshold,
                     "window_sentence_threshold": det.settings.window_sentence_threshold},
        "input_policy": {"text": "lone surrogates replaced, NUL removed, NFC; flag 'repaired'",
                         "empty": "label safe, score 0.0, flag 'empty'",
                         "long": "read in overlapping windows up to max_chars characters (flag 'windowed'); the "
                                 "rest is not read (flag 'unchecked_tail')",
                         "sentences": "each sentence of a longer prompt also read alone; it decides from "
                                      "settings.sentence_threshold up (flag 'sentence'), one inside the last "
                                      "sentence from settings.last_sentence_threshold up (flag 'last_sentence'), "
                                      "one inside the first sentence from settings.first_sentence_threshold up "
                                      "(flag 'first_sentence')",
                         "windows": "a window after the first decides only when a sentence inside it scores "
                                    "settings.window_sentence_threshold or more, or sentences cover less than "
                                    "half of it"},
        "categories": det.categories,
        "provenance": det.provenance,
    }


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(f".tmp-{path.name}-{os.getpid()}")
    write(tmp)
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_snapshot(det, path: str | os.PathLike[str]) -> Saved:
    """Write ``det`` as the next snapshot of ``path`` (a new directory, or an existing detector directory).

    Over the detector's own directory, the journal records other writers appended since it was loaded are
    applied first (``det.catch_up()``, under the writer lock), so a save never drops them.
    """
    root = Path(path)
    if root.exists() and not is_detector_dir(root) and any(p.name != LOCK for p in root.iterdir()):
        raise ModelError(f"{root} exists and is not a detector directory. Fix: choose a new or empty --out.")
    root.mkdir(parents=True, exist_ok=True)
    with lock(root):
        current = read_manifest(root) if is_detector_dir(root) else None
        if current is not None and det.origin is not None and det.origin.root.resolve() == root.resolve():
            det.catch_up()
        generation = int(current.get("generation", 0)) + 1 if current else 0
        cleanup(root, referenced(current))
        body, listed = _write_generation(det, root, generation, _reusable_encoder(det, root, current), current)
        body["retain"] = sorted(referenced(current, retained=False) - {rel.split("/", 1)[0] for rel in listed})
        manifest = write_manifest(root, body, listed)
        cleanup(root, referenced(manifest))
    logger.info("saved detector to %s (generation %d; %d unsafe, %d safe exemplars)", root, generation,
                len(det.unsafe), len(det.safe))
    return Saved(Origin(root, generation, 0, manifest["manifest_sha256"]), manifest)


def _reusable_encoder(det, root: Path, current: dict | None) -> str | None:
    """The current snapshot's encoder directory when it holds exactly the detector's encoder (and ONNX export)."""
    if current is None:
        return None
    enc_rel = current["encoder"]["path"]
    mine = unwrap(det.encoder)
    src = Path(mine.model_ref) if isinstance(mine, SentenceTransformerEncoder) else det.backends.encoder_dir
    if src is not None and (root / enc_rel).is_dir() and _same_onnx(det, root / enc_rel) and \
            directory_fingerprint(root / enc_rel) == directory_fingerprint(src):
        return enc_rel
    return None


def _same_onnx(det, enc_dir: Path) -> bool:
    """Whether ``enc_dir/onnx`` holds the detector's ONNX export (or, without one, is absent)."""
    have, want = enc_dir / bk.ONNX_SUBDIR, det.backends.onnx_dir
    if want is None or not have.is_dir():
        return want is None and not have.exists()
    return want.resolve() == have.resolve() or (want / bk.ONNX_CONFIG).read_bytes() == \
        (have / bk.ONNX_CONFIG).read_bytes()
