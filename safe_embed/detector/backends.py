"""Inference backends of a detector: torch (the sentence-transformers encoder) or ONNX Runtime (``encoder/onnx/``).

Backends are ``torch``, ``onnx-fp32`` and ``onnx-int8``; ``onnx`` asks for the export's default variant and
``auto`` for ONNX when the directory has ``encoder/onnx/`` and ``onnxruntime`` imports, else torch.

Each backend has its own *state*: the scoring rule's fitted weights, the calibration (threshold, Platt map) and the
match threshold, fitted on the calibration split with that backend's embeddings (quantized scores shift). The
manifest keeps torch's at the top level, as before, and the others under ``calibration_by_backend``.

Embeddings live in *spaces*: torch and ``onnx-fp32`` share ``fp32`` (equal within 1e-4), ``onnx-int8`` has its
own ``int8`` space. Exemplar vectors are only compared with query vectors of the same space, so a directory
holds one pair of FAISS indexes per space (``unsafe-int8.faiss`` beside ``unsafe.faiss``), and a journal record
names the space of its vectors: a reader in another space re-embeds that record's texts with its own encoder.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from safe_embed.detector.calibration import Calibration
from safe_embed.detector.exemplar_index import ExemplarIndex
from safe_embed.detector.fitting import check_calibration_labels, fit_state
from safe_embed.detector.pool import ExemplarPool
from safe_embed.detector.text_policy import clean_text
from safe_embed.encoders.base import Encoder, l2_normalize
from safe_embed.encoders.onnx_backend import ONNX_CONFIG, read_onnx_config
from safe_embed.encoders.onnx_runtime import INSTALL_FIX
from safe_embed.errors import ConfigError, ModelError
from safe_embed.scoring import ScoringRule

logger = logging.getLogger(__name__)

TORCH, ONNX_FP32, ONNX_INT8 = "torch", "onnx-fp32", "onnx-int8"
CHOICES = ("auto", TORCH, "onnx", ONNX_FP32, ONNX_INT8)
FP32, INT8 = "fp32", "int8"
ONNX_SUBDIR = "onnx"


def space_of(backend: str) -> str:
    """The embedding space of a backend: ``int8`` for ``onnx-int8``, else ``fp32``.

    >>> space_of("torch"), space_of("onnx-fp32"), space_of("onnx-int8")
    ('fp32', 'fp32', 'int8')
    """
    return INT8 if backend == ONNX_INT8 else FP32


def backend_of_variant(variant: str) -> str:
    return f"onnx-{variant}"


@dataclass(frozen=True)
class BackendInfo:
    """What a detector knows about its backends: the ``active`` one, every backend's ``states`` (the active one's
    may be stale: the detector's own rule and calibration are current), the exported ``onnx_dir``, the torch
    ``encoder_dir`` (when the active encoder is not torch), the manifest's ``encoder`` entry, and exemplar
    ``vectors`` already computed in other spaces (space -> id -> vector), which a save reuses."""

    active: str = TORCH
    states: dict[str, dict] = field(default_factory=dict)
    onnx_dir: Path | None = None
    encoder_dir: Path | None = None
    encoder_meta: dict = field(default_factory=dict)
    vectors: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    @property
    def space(self) -> str:
        return space_of(self.active)

    def after_save(self, manifest: dict, root: Path) -> BackendInfo:
        """The backends of a detector just saved to ``root`` with ``manifest``: its directories and states."""
        enc_dir = root / manifest["encoder"]["path"]
        states = {TORCH: {"scoring": manifest["scoring"], "calibration": manifest["calibration"],
                          "match_threshold": manifest["settings"]["match_threshold"]},
                  **manifest.get("calibration_by_backend", {})}
        return replace(self, states=states, onnx_dir=enc_dir / ONNX_SUBDIR if manifest.get("onnx") else None,
                       encoder_dir=enc_dir if self.active != TORCH else self.encoder_dir)


def state_of(rule: ScoringRule, calibration: Calibration, match_threshold: float | None) -> dict:
    """A backend's state as stored in the manifest."""
    return {"scoring": rule.to_dict(), "calibration": calibration.to_dict(), "match_threshold": match_threshold}


def parse_state(state: dict) -> tuple[ScoringRule, Calibration, float | None]:
    """The rule, calibration and match threshold of a stored state."""
    mt = state.get("match_threshold")
    return (ScoringRule.from_dict(state["scoring"]), Calibration.from_dict(state["calibration"]),
            None if mt is None else float(mt))


def onnx_meta(onnx_dir: Path, rel: str) -> dict:
    """The manifest's ``onnx`` entry for an exported directory (``rel``: its path inside the detector)."""
    cfg = read_onnx_config(onnx_dir)
    int8 = (cfg.get("export") or {}).get("int8")  # the int8 recipe (weight_range, exact_on, ...); None: fp32 only
    return {"path": rel, "default": cfg["default"], "variants": sorted(cfg["files"]), "int8": int8}


def onnxruntime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def resolve(requested: str, meta: dict | None, root: Path) -> str:
    """The backend to load for ``requested`` (one of :data:`CHOICES`) given the manifest's ``onnx`` entry."""
    if requested not in CHOICES:
        raise ConfigError(f"backend must be one of {CHOICES}, got {requested!r}.")
    if requested == TORCH:
        return TORCH
    if requested == "auto":
        return backend_of_variant(meta["default"]) if meta and onnxruntime_available() else TORCH
    if not meta:
        raise ModelError(f"{root} has no ONNX export (encoder/{ONNX_SUBDIR}/). Fix: rebuild it with `safe-embed "
                         "export ... --onnx int8` (or fp32), or load it with backend torch.")
    if not onnxruntime_available():
        raise ModelError(f"ONNX Runtime is not installed (backend {requested} needs it). Fix: {INSTALL_FIX}")
    backend = backend_of_variant(meta["default"]) if requested == "onnx" else requested
    if backend.split("-", 1)[1] not in meta["variants"]:
        raise ModelError(f"{root}: the ONNX export has variants {meta['variants']}, not {backend}. Fix: use "
                         f"one of {[backend_of_variant(v) for v in meta['variants']]}, or re-export with --onnx int8.")
    return backend


def onnx_encoder(onnx_dir: Path, backend: str, name: str | None = None, num_threads: int | None = None,
                 verify: bool = True, spin: bool = True) -> Encoder:
    """The :class:`~safe_embed.encoders.onnx_backend.OnnxEncoder` of ``backend`` in ``onnx_dir``."""
    from safe_embed.encoders.onnx_backend import OnnxEncoder

    if not (onnx_dir / ONNX_CONFIG).is_file():
        raise ModelError(f"{onnx_dir} holds no {ONNX_CONFIG}. Fix: rebuild the detector with --onnx.")
    return OnnxEncoder(onnx_dir, variant=backend.split("-", 1)[1], name=name, num_threads=num_threads,
                       verify=verify, spin=spin)


def embed_texts(encoder: Encoder, texts: list[str], max_chars: int, show_progress: bool = False) -> np.ndarray:
    """L2-normalized embeddings (n, d) of non-empty ``texts``, each cut to ``max_chars`` characters."""
    return l2_normalize(encoder.encode([t[:max_chars] for t in texts], show_progress=show_progress))


def space_indexes(pools: dict[str, ExemplarIndex], encoder: Encoder, max_chars: int,
                  known: dict[str, np.ndarray] | None = None) -> dict[str, ExemplarIndex]:
    """``pools``' exemplars indexed in ``encoder``'s space: vectors from ``known`` (id -> vector) where present,
    the rest embedded (same index settings)."""
    known = known or {}
    out = {}
    for label, idx in pools.items():
        missing = [e for e in idx.exemplars if e.id not in known]
        fresh = dict(zip([e.id for e in missing], embed_texts(encoder, [e.text for e in missing], max_chars),
                         strict=True)) if missing else {}
        vecs = np.stack([known[e.id] if e.id in known else fresh[e.id] for e in idx.exemplars]).astype(np.float32)
        out[label] = ExemplarIndex.build(label, idx.exemplars, vecs, idx.settings, idx.seed)
    return out


def fit_backend(info: BackendInfo, pool: ExemplarPool, rule: ScoringRule, calibration: Calibration,
                settings, backend: str, encoder: Encoder, texts: list[str], labels: list[str]) -> BackendInfo:
    """``info`` with ``backend``'s state fitted on the calibration prompts: they are re-embedded (and, in another
    space, the exemplars of ``pool``) with ``encoder``, then the rule's calibration-split part, the calibration
    and the match threshold are fitted as the detector fits its own. The other space's exemplar vectors are kept
    for the next save."""
    space = space_of(backend)
    indexes = pool.indexes if space == info.space else space_indexes(
        pool.indexes, encoder, settings.max_chars, info.vectors.get(space))
    y = check_calibration_labels(texts, labels)
    x = embed_texts(encoder, [clean_text(t)[0] for t in texts], settings.max_chars)
    state = fit_state(rule, ExemplarPool(indexes), x, y, calibration.method, calibration.target_fpr, settings.seed)
    vectors = dict(info.vectors)
    if space != info.space:
        vectors[space] = {e.id: v for idx in indexes.values() for e, v in zip(idx.exemplars, idx.vectors(), strict=True)}
    logger.info("calibrated backend %s: raw threshold %.4f", backend, state.calibration.raw_threshold)
    return replace(info, states={**info.states, backend: state_of(state.rule, state.calibration,
                                                                    state.match_threshold)}, vectors=vectors)
