"""Building a detector directory from an encoder (a name, a model directory, or a training run) and its data.

A training run (the directory ``safe-embed fit`` prints, or its ``encoder/``) carries ``splits.json``: the
detector then reads the run's splits instead of re-deriving them, so its exemplars come from the run's train
split (the rows the run trained on, when it trained on a sample of it), its calibration prompts from the run's val
split, and nothing the run tested on or held out is used. Without an exemplar config it uses the run's own data
spec.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from safe_embed.data.dataset import SPLITS_FILE, Assigned
from safe_embed.data.schemas import LabelledPrompt
from safe_embed.detector import backends as bk
from safe_embed.detector.detector import Detector
from safe_embed.detector.encoder_dir import sentence_transformer_of
from safe_embed.detector.exemplars import ExemplarSets, load_exemplars
from safe_embed.detector.settings import DetectorSettings
from safe_embed.errors import ModelError
from safe_embed.scoring import DEFAULT_RULE, ScoringRule

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelRef:
    """What ``--model`` points at: the encoder to load and, for a training run, its recorded splits."""

    encoder: str
    run_dir: Path | None = None
    assigned: Assigned | None = None


def resolve_model(model: str | os.PathLike[str]) -> ModelRef:
    """A run directory (``RUN`` or ``RUN/encoder`` with ``RUN/splits.json``), or any other model reference."""
    p = Path(model).expanduser()
    if (p / "encoder").is_dir() and (p / SPLITS_FILE).is_file():
        run, enc = p, p / "encoder"
    elif p.is_dir() and (p.parent / SPLITS_FILE).is_file() and p.name == "encoder":
        run, enc = p.parent, p
    else:
        return ModelRef(str(model))
    return ModelRef(str(enc), run, Assigned.load(run / SPLITS_FILE))


def trained_on_held_out(ref: ModelRef, held_out: list[str]) -> list[str]:
    """Sets the run trained on that the detector holds out as test data (its figures there are not held out)."""
    if ref.assigned is None:
        return []
    trained = {s.get("name") for s in ref.assigned.spec.get("sources", []) if isinstance(s, dict)}
    return sorted(trained & set(held_out))


def detector_data(ref: ModelRef, exemplars: str | os.PathLike[str] | list | dict | None = None,
                  seed: int | None = None, data_dir: str | os.PathLike[str] | None = None) -> ExemplarSets:
    """Exemplars and calibration prompts for ``ref``: the given config, else the run's own spec, else the default."""
    config = exemplars
    if config is None and ref.assigned is not None:
        config = dict(ref.assigned.spec)
    sets = load_exemplars(config, seed=seed, data_dir=data_dir, assigned=ref.assigned)
    both = trained_on_held_out(ref, sets.provenance.get("held_out", []))
    if both:
        logger.warning("the encoder's run trained on %s, which this detector holds out as test data: its figures "
                       "on %s are not held out.", both, both)
    return sets


def export_detector(model: str | os.PathLike[str], out: str | os.PathLike[str],
                    exemplars: str | os.PathLike[str] | list | dict | None = None,
                    rule: ScoringRule | str = DEFAULT_RULE, method: str = "fpr", target_fpr: float = 0.05,
                    settings: DetectorSettings | None = None, seed: int | None = None,
                    data_dir: str | os.PathLike[str] | None = None, device: str | None = None,
                    cache: bool = True, splits_from: str | os.PathLike[str] | None = None,
                    onnx: str | None = None) -> Detector:
    """Build, calibrate and save a detector; returns it. ``splits_from`` (a run directory) reuses that run's
    splits for another encoder, e.g. a frozen baseline compared on the same splits. ``onnx`` (``"fp32"`` or
    ``"int8"``) also writes ``encoder/onnx/`` with per-backend calibrations (see :func:`add_onnx`).

    Example (a run directory printed by ``safe-embed fit``)::

        det = export_detector("runs/lora_minilm/20261202-101500", "detectors/default")
    """
    from safe_embed.encoders import load_encoder

    ref = resolve_model(model)
    if splits_from is not None:
        ref = ModelRef(ref.encoder, Path(splits_from), Assigned.load(Path(splits_from) / SPLITS_FILE))
    sets = detector_data(ref, exemplars, seed, data_dir)
    settings = replace(settings or DetectorSettings(), seed=int(sets.provenance["seed"]))
    encoder = load_encoder(ref.encoder, cache=cache, device=device)
    det = Detector.build(encoder, sets, rule=rule, method=method, target_fpr=target_fpr, settings=settings)
    det.record_provenance(model=str(model), exemplars=None if exemplars is None else str(exemplars))
    if onnx is None:
        det.save(out)
        return det
    with tempfile.TemporaryDirectory(prefix="safe-embed-onnx-") as tmp:
        add_onnx(det, Path(tmp) / "onnx", onnx, sets.calibration)
        det.save(out)
    return det


def add_onnx(det: Detector, out: Path, quantize: str, calibration: list[LabelledPrompt]) -> Path:
    """Export ``det``'s torch encoder to ONNX in ``out`` (``"fp32"``; ``"int8"`` writes fp32 and int8, int8
    statically quantized with activation ranges from the ``calibration`` prompts), and fit
    each variant's calibration on the ``calibration`` prompts with its own embeddings (int8: exemplars embedded
    again). A later :meth:`Detector.save` writes ``encoder/onnx/``, the calibrations and the int8 indexes."""
    from safe_embed.encoders.onnx_export import export_onnx

    st = sentence_transformer_of(det.encoder)
    if st is None:
        raise ModelError(f"encoder {det.encoder.name!r} is not a sentence-transformers model, so it has no ONNX "
                         "export. Fix: drop --onnx, or build from a sentence-transformers model.")
    if det.backends.active != bk.TORCH:
        raise ModelError("add_onnx needs the torch backend. Fix: load the detector with backend='torch'.")
    texts, labels = [p.text for p in calibration], [p.label for p in calibration]
    cfg_dir = export_onnx(st, out, quantize, calibration_texts=texts)  # int8's activation ranges: these prompts
    det.attach_onnx(cfg_dir, texts, labels)
    return cfg_dir


def add_onnx_to_directory(path: str | os.PathLike[str], quantize: str = "int8",
                          data_dir: str | os.PathLike[str] | None = None) -> Detector:
    """Add ``encoder/onnx/`` to an existing detector directory: export its torch encoder, calibrate each variant
    on the detector's own calibration split (read back from its ``splits.json``), and save the next snapshot.

    Example::

        add_onnx_to_directory("detectors/default", "int8")
    """
    from safe_embed.errors import DataError

    det = Detector.load(path, backend="torch")
    if det.splits is None:
        raise DataError(f"{path} has no splits.json, so its calibration split is unknown. Fix: rebuild it with "
                        "`safe-embed export ... --onnx`.")
    assigned = Assigned.from_json(det.splits, str(Path(path) / SPLITS_FILE))
    sets = load_exemplars(dict(assigned.spec), data_dir=data_dir, assigned=assigned)
    want = det.provenance.get("n_calibration")
    if want is not None and len(sets.calibration) != int(want):
        raise DataError(f"{path}: the data now gives {len(sets.calibration)} calibration prompts, the detector was "
                        f"calibrated on {want}. Fix: rebuild it with `safe-embed export ... --onnx` (or point "
                        "--data-dir at the data it was built from).")
    with tempfile.TemporaryDirectory(prefix="safe-embed-onnx-") as tmp:
        add_onnx(det, Path(tmp) / "onnx", quantize, sets.calibration)
        det.save(path)
    return det
