"""Saving and loading a detector directory. No pickle: plain files only.

::

    DETECTOR_DIR/
      manifest.json       format version, encoder identity and dimension, rule, threshold, checksums, ...
      encoder/            sentence-transformers model directory (safetensors)
      unsafe.faiss        FAISS index of the unsafe exemplars (faiss.write_index)
      safe.faiss          FAISS index of the safe exemplars
      exemplars.jsonl     one exemplar per line: id, text, label, category, source, source_category; the k-th
                          row of a label is position k of that label's index
      splits.json         the data's splits (every row's id and text hash per split), when built from a data spec
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

from safe_embed import __version__
from safe_embed.detector import index as ix
from safe_embed.detector.calibration import Calibration
from safe_embed.detector.detector import Detector, DetectorSettings
from safe_embed.detector.encoder_dir import copy_encoder, max_seq_length
from safe_embed.detector.exemplars import Exemplar
from safe_embed.detector.manifest import MANIFEST, TamperedDetectorError, read_manifest, write_manifest
from safe_embed.detector.scoring import ScoringRule
from safe_embed.encoders.sentence_transformer import SentenceTransformerEncoder, directory_fingerprint
from safe_embed.errors import DataError, ModelError

logger = logging.getLogger(__name__)

ENCODER = "encoder"
EXEMPLARS = "exemplars.jsonl"
SPLITS = "splits.json"
INDEX_FILES = {"unsafe": "unsafe.faiss", "safe": "safe.faiss"}


def save_detector(det: Detector, path: str | os.PathLike[str]) -> Path:
    """Write ``det`` to ``path`` atomically (a temporary sibling directory, then a rename)."""
    out = Path(path)
    if out.exists() and not (out / MANIFEST).is_file() and any(out.iterdir()):
        raise ModelError(f"{out} exists and is not a detector directory. Fix: choose a new or empty --out.")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        copy_encoder(det.encoder, tmp / ENCODER)
        for name, fname in INDEX_FILES.items():
            ix.write_index(getattr(det, f"{name}_index"), tmp / fname)
        with open(tmp / EXEMPLARS, "w", encoding="utf-8") as f:
            f.writelines(e.to_json() + "\n" for e in det.unsafe + det.safe)
        if det.splits is not None:
            (tmp / SPLITS).write_text(json.dumps(det.splits, separators=(",", ":")) + "\n", encoding="utf-8")
        dim = int(det.unsafe_index.d)
        body = {
            "created_with": f"safe-embed {__version__}",
            "encoder": {"path": ENCODER, "name": det.encoder.name, "dimension": dim,
                        "identity": f"st:{ENCODER}:{directory_fingerprint(tmp / ENCODER)}",
                        "source_identity": det.encoder.identity, "max_seq_length": max_seq_length(det.encoder)},
            "normalization": "l2 (cosine similarity = inner product)",
            "index": {**det.settings.index.to_dict(),
                      **{name: {"file": INDEX_FILES[name], "type": ix.index_kind(getattr(det, f"{name}_index")),
                                "ntotal": int(getattr(det, f"{name}_index").ntotal)} for name in INDEX_FILES}},
            "exemplars": {"file": EXEMPLARS, "n_unsafe": len(det.unsafe), "n_safe": len(det.safe)},
            "splits": SPLITS if det.splits is not None else None,
            "scoring": det.rule.to_dict(),
            "calibration": det.calibration.to_dict(),
            "threshold": det.calibration.threshold,
            "settings": {"k_neighbors": det.settings.k_neighbors, "max_chars": det.settings.max_chars,
                         "batch_size": det.settings.batch_size, "seed": det.settings.seed},
            "input_policy": {"empty": "label safe, score 0.0, flag 'empty'",
                             "long": "cut to max_chars characters, then the tokenizer's window; flag 'truncated'"},
            "categories": det.categories,
            "provenance": det.provenance,
        }
        write_manifest(tmp, body)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.replace(out, old / "d")
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    logger.info("saved detector to %s (%d unsafe, %d safe exemplars)", out, len(det.unsafe), len(det.safe))
    return out


def _read_exemplars(path: Path) -> list[Exemplar]:
    out = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            try:
                out.append(Exemplar(**json.loads(line)))
            except (json.JSONDecodeError, TypeError) as e:
                raise TamperedDetectorError(f"{path}:{lineno}: bad exemplar row ({e}).") from None
    return out


def load_detector(path: str | os.PathLike[str], cache: bool = False, device: str | None = None) -> Detector:
    """Verify and load a detector directory (checksums, then dimensions, then counts)."""
    root = Path(path)
    m = read_manifest(root)
    try:
        dim = int(m["encoder"]["dimension"])
        indexes = {name: ix.read_index(root / m["index"][name]["file"]) for name in INDEX_FILES}
        exemplars = _read_exemplars(root / m["exemplars"]["file"])
        rule = ScoringRule.from_dict(m["scoring"])
        calibration = Calibration.from_dict(m["calibration"])
        s = m["settings"]
        index_settings = ix.IndexSettings(**{k: v for k, v in m["index"].items() if k not in INDEX_FILES})
    except (KeyError, TypeError, ValueError) as e:
        raise TamperedDetectorError(f"{root / MANIFEST}: incomplete or invalid ({type(e).__name__}: {e}). "
                                    "Fix: rebuild the detector.") from None
    for name, index in indexes.items():
        if index.d != dim:
            raise TamperedDetectorError(f"{root / INDEX_FILES[name]}: dimension {index.d}, but the manifest says "
                                        f"{dim}. Fix: rebuild the detector.")
    enc_dir = root / m["encoder"]["path"]
    inner = SentenceTransformerEncoder(str(enc_dir), name=m["encoder"].get("name"), device=device)
    enc_dim = inner.dimension
    if enc_dim != dim:
        raise TamperedDetectorError(f"{enc_dir}: the encoder's embedding dimension is {enc_dim}, but the indexes "
                                    f"({root / INDEX_FILES['unsafe']}) hold dimension {dim}. Fix: use the encoder "
                                    "the detector was built with, or rebuild it with `safe-embed export`.")
    identity = f"st:{ENCODER}:{directory_fingerprint(enc_dir)}"
    if identity != m["encoder"]["identity"]:
        raise TamperedDetectorError(f"{enc_dir}: encoder identity {identity} differs from the manifest's "
                                    f"{m['encoder']['identity']}. Fix: restore the original encoder.")
    encoder = inner
    if cache:
        from safe_embed.encoders.cache import CachedEncoder
        encoder = CachedEncoder(inner)
    unsafe = [e for e in exemplars if e.label == "unsafe"]
    safe = [e for e in exemplars if e.label == "safe"]
    settings = DetectorSettings(k_neighbors=int(s["k_neighbors"]), max_chars=int(s["max_chars"]),
                                batch_size=int(s["batch_size"]), index=index_settings, seed=int(s["seed"]))
    try:
        det = Detector(encoder, unsafe, safe, rule, calibration, settings, indexes["unsafe"], indexes["safe"],
                       provenance=m.get("provenance", {}))
    except DataError as e:  # size mismatch between exemplars.jsonl and an index
        raise TamperedDetectorError(f"{root / EXEMPLARS}: {e} Fix: rebuild the detector.") from None
    if m.get("splits"):
        try:
            det.splits = json.loads((root / m["splits"]).read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise TamperedDetectorError(f"{root / m['splits']}: unreadable ({e}). Fix: rebuild the detector.") \
                from None
    return det
