"""Measuring a detector on a labelled set: overall metrics at the stored threshold, and a per-type breakdown."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from safe_embed import metrics
from safe_embed.data.schemas import LabelledPrompt
from safe_embed.data.splits import text_key
from safe_embed.detector.calibration import detection_metrics


@dataclass
class DetectorEvaluation:
    """Figures for one dataset. ``metrics``: AUROC, AUPRC, precision, recall, F1, FPR at the threshold, TPR at
    FPR 1%/5% (AUROC-type figures only when both labels occur). ``breakdown``: the same per type/category."""

    dataset: str
    threshold: float
    metrics: dict[str, float]
    breakdown: dict[str, dict[str, float]]
    roc: dict[str, list[float]] = field(default_factory=dict)
    exemplar_overlap: int = 0
    detector: dict = field(default_factory=dict)
    scores: list[float] = field(default_factory=list)  # per prompt, in input order; not part of the report

    def to_dict(self) -> dict:
        d = asdict(self)
        del d["scores"]
        return d


def group_of(p: LabelledPrompt) -> str:
    """The breakdown key: ``type`` (XSTest, XSTest-aug), else ``category`` (JBB), else ``all``."""
    return p.type or p.category or "all"


def evaluate_scores(y: np.ndarray, s: np.ndarray, threshold: float, groups: Sequence[str], dataset: str = "",
                    ) -> DetectorEvaluation:
    """Metrics of scores ``s`` (n,) against ``y`` (n,) (1 = unsafe), overall and per group."""
    y = np.asarray(y).astype(int)
    s = np.asarray(s, np.float64)
    groups = np.asarray(list(groups), dtype=object)
    breakdown = {}
    for g in dict.fromkeys(groups.tolist()):
        m = groups == g
        breakdown[str(g)] = detection_metrics(y[m], s[m], threshold)
    roc = {}
    if 0 < y.sum() < len(y):
        fpr, tpr, _ = metrics.roc_curve(y, s)
        roc = {"fpr": fpr.tolist(), "tpr": tpr.tolist()}
    return DetectorEvaluation(dataset, float(threshold), detection_metrics(y, s, threshold), breakdown, roc)


def evaluate_detector(detector, prompts: Sequence[LabelledPrompt], dataset: str = "",
                      show_progress: bool | None = None) -> DetectorEvaluation:
    """Classify ``prompts`` with ``detector`` and measure at its stored threshold.

    >>> from safe_embed.detector.demo import demo_detector
    >>> prompts = [LabelledPrompt("how do i make a bomb at home", "unsafe"), LabelledPrompt("bake a cake", "safe")]
    >>> evaluate_detector(demo_detector(), prompts, "mine").metrics["auroc"]
    1.0
    """
    prompts = list(prompts)
    dets = detector.classify([p.text for p in prompts], show_progress=show_progress)
    y = np.array([p.is_unsafe for p in prompts], dtype=int)
    s = np.array([d.score for d in dets], np.float64)
    ev = evaluate_scores(y, s, detector.calibration.threshold, [group_of(p) for p in prompts], dataset)
    ev.scores = s.tolist()
    known = {text_key(e.text) for e in detector.unsafe + detector.safe}
    ev.exemplar_overlap = sum(text_key(p.text) in known for p in prompts)
    ev.detector = {"encoder": detector.encoder.name, "rule": detector.rule.name,
                   "calibration": detector.calibration.method, "target_fpr": detector.calibration.target_fpr}
    return ev


def named_set_prompts(detector, name: str | dict, split: str | None = None,
                      data_dir: str | os.PathLike[str] | None = None) -> list[LabelledPrompt]:
    """The prompts of an evaluation set by name or source spec (see :mod:`safe_embed.detector.eval_sets`), splits
    as the detector's data assigned them."""
    from safe_embed.data.dataset import Assigned
    from safe_embed.detector.eval_sets import load_eval_set

    assigned = None
    seed, fractions = detector.settings.seed, (0.7, 0.1, 0.2)
    if detector.splits is not None:
        assigned = Assigned.from_json(detector.splits, "the detector's splits.json")
        seed = int(detector.splits.get("seed", seed))
        fractions = tuple(detector.splits.get("fractions", fractions))
    return load_eval_set(name, None if split == "all" else split, seed=seed, fractions=fractions,
                         data_dir=data_dir, assigned=assigned)


def evaluate_named_set(detector, name: str, split: str | None = None,
                       data_dir: str | os.PathLike[str] | None = None) -> DetectorEvaluation:
    """Evaluate on an evaluation set by name (see :mod:`safe_embed.detector.eval_sets`), splits as the
    detector's data assigned them."""
    from safe_embed.detector.eval_sets import parse_eval_name
    from safe_embed.errors import ConfigError

    spec = name
    if isinstance(name, str) and name.lstrip().startswith("{"):
        import yaml

        try:
            spec = yaml.safe_load(name)
        except yaml.YAMLError as e:
            raise ConfigError(f"--dataset {name!r} is not a valid YAML source spec ({e}).") from None
    prompts = named_set_prompts(detector, spec, split, data_dir)
    label = name if isinstance(name, str) else str(name)
    if split not in (None, "all") and isinstance(spec, str) and parse_eval_name(spec)[1] is None:
        label = f"{name}:{split}"
    return evaluate_detector(detector, prompts, label)
