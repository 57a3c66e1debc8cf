"""Reading a detector snapshot: the manifest's files, verified, into :class:`StoredParts` (no journal; see
:mod:`~safe_embed.detector.journal_sync`). A file that does not match the manifest raises
:class:`~safe_embed.detector.manifest.TamperedDetectorError`."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from safe_embed.data.schemas import LABELS
from safe_embed.detector import backends as bk
from safe_embed.detector import index as ix
from safe_embed.detector.calibration import Calibration
from safe_embed.detector.categories import CategorySettings
from safe_embed.detector.coverage_verdict import (
    FIRST_SENTENCE_THRESHOLD,
    LAST_SENTENCE_THRESHOLD,
    SENTENCE_THRESHOLD,
    WINDOW_SENTENCE_THRESHOLD,
    check_sentence_threshold,
)
from safe_embed.detector.exemplar_index import ExemplarIndex
from safe_embed.detector.exemplars import Exemplar
from safe_embed.detector.layout import PICKLE_SUFFIXES, Origin
from safe_embed.detector.manifest import MANIFEST, TamperedDetectorError, inside
from safe_embed.detector.pool import ExemplarPool
from safe_embed.detector.settings import DetectorSettings
from safe_embed.encoders.base import Encoder
from safe_embed.encoders.sentence_transformer import SentenceTransformerEncoder, directory_fingerprint
from safe_embed.errors import DataError, ModelError
from safe_embed.scoring import ScoringRule

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredParts:
    """What a detector directory holds, read and verified: everything a detector is made of, and where from."""

    encoder: Encoder
    pool: ExemplarPool
    rule: ScoringRule
    calibration: Calibration
    settings: DetectorSettings
    provenance: dict
    splits: dict | None
    origin: Origin
    manifest: dict = field(default_factory=dict)
    backends: bk.BackendInfo = field(default_factory=bk.BackendInfo)


def read_exemplars(path: Path) -> list[Exemplar]:
    out = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            try:
                out.append(Exemplar(**json.loads(line)))
            except (json.JSONDecodeError, TypeError) as e:
                raise TamperedDetectorError(f"{path}:{lineno}: bad exemplar row ({e}).") from None
    return out


def read_index(root: Path, rel: str):
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
        index = read_index(root, files[label]["file"])
        if index.d != dim:
            raise TamperedDetectorError(f"{root / files[label]['file']}: dimension {index.d}, but the manifest "
                                        f"says {dim}. Fix: rebuild the detector.")
        try:
            out[label] = ExemplarIndex(label, base[label].exemplars, index, base[label].settings, base[label].seed)
        except DataError as e:
            raise TamperedDetectorError(f"{root / files[label]['file']}: {e} Fix: rebuild the detector.") from None
    return out


def read_snapshot(root: Path, m: dict, cache: bool = False, device: str | None = None, backend: str = "auto",
                  num_threads: int | None = None, spin: bool = True) -> StoredParts:
    """The snapshot of manifest ``m`` in ``root``, for ``backend`` (see :mod:`safe_embed.detector.backends`)."""
    active = bk.resolve(backend, m.get("onnx") if isinstance(m.get("onnx"), dict) else None, root)
    try:
        dim = int(m["encoder"]["dimension"])
        files = m["index"]
        indexes = {label: read_index(root, files[label]["file"]) for label in LABELS}
        exemplars = read_exemplars(inside(root, m["exemplars"]["file"]))
        torch_state = bk.parse_state({"scoring": m["scoring"], "calibration": m["calibration"],
                                      "match_threshold": m["settings"].get("match_threshold")})
        states = {bk.TORCH: bk.state_of(*torch_state), **(m.get("calibration_by_backend") or {})}
        torch_calibration = torch_state[1]
        if active not in states:
            raise ModelError(f"{root / MANIFEST}: no calibration for backend {active}. Fix: rebuild the detector "
                             "with `safe-embed export ... --onnx`.")
        index_settings = ix.IndexSettings(**{k: v for k, v in files.items() if k not in LABELS})
        s = m["settings"]
        settings = DetectorSettings(k_neighbors=int(s["k_neighbors"]), max_chars=int(s["max_chars"]),
                                    batch_size=int(s["batch_size"]), index=index_settings, seed=int(s["seed"]),
                                    categories=CategorySettings.from_dict(s.get("categories")),
                                    sentence_threshold=check_sentence_threshold(
                                        s.get("sentence_threshold", SENTENCE_THRESHOLD)),
                                    last_sentence_threshold=check_sentence_threshold(
                                        s.get("last_sentence_threshold", LAST_SENTENCE_THRESHOLD),
                                        "--last-sentence-threshold", LAST_SENTENCE_THRESHOLD),
                                    first_sentence_threshold=check_sentence_threshold(
                                        s.get("first_sentence_threshold", FIRST_SENTENCE_THRESHOLD),
                                        "--first-sentence-threshold", FIRST_SENTENCE_THRESHOLD),
                                    window_sentence_threshold=check_sentence_threshold(
                                        s.get("window_sentence_threshold", WINDOW_SENTENCE_THRESHOLD),
                                        "--window-sentence-threshold", WINDOW_SENTENCE_THRESHOLD, low=0.0))
        generation = int(m.get("generation", 0))
        splits = json.loads(inside(root, m["splits"]).read_text(encoding="utf-8")) if m.get("splits") else None
    except ModelError:  # a tampered file, or no calibration for the backend
        raise
    except (KeyError, TypeError, ValueError, OSError) as e:
        raise TamperedDetectorError(f"{root / MANIFEST}: incomplete or invalid ({type(e).__name__}: {e}). "
                                    "Fix: rebuild the detector.") from None
    if "threshold" in m and float(m["threshold"]) != float(torch_calibration.threshold):
        raise TamperedDetectorError(f"{root / MANIFEST}: threshold {m['threshold']} differs from the calibration's "
                                    f"{torch_calibration.threshold}. Fix: rebuild the detector.")
    rule, calibration, match_threshold = _state(root, states[active], active)
    settings = replace(settings, match_threshold=match_threshold)
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
    provenance = dict(m.get("provenance", {}))
    pool = ExemplarPool(pools, provenance.pop("next_id", None))
    origin = Origin(root, generation, 0, m.get("manifest_sha256", ""))
    return StoredParts(encoder, pool, rule, calibration, settings, provenance, splits, origin, m, info)


def _state(root: Path, state: dict, backend: str) -> tuple[ScoringRule, Calibration, float | None]:
    try:
        return bk.parse_state(state)
    except (KeyError, TypeError, ValueError) as e:
        raise TamperedDetectorError(f"{root / MANIFEST}: invalid calibration of backend {backend} "
                                    f"({type(e).__name__}: {e}). Fix: rebuild the detector.") from None


def stored_vectors(root: Path, m: dict, space: str) -> dict[str, np.ndarray]:
    """id -> vector of snapshot ``m``'s exemplars in embedding ``space`` (empty when it holds no such index)."""
    files = m["index"] if space == bk.FP32 else (m.get("index_by_space") or {}).get(space)
    if not files:
        return {}
    exemplars = read_exemplars(inside(root, m["exemplars"]["file"]))
    out = {}
    for label in LABELS:
        rows = [e for e in exemplars if e.label == label]
        out.update(zip([e.id for e in rows], ix.vectors(read_index(root, files[label]["file"])), strict=True))
    return out
