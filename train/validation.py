"""Held-out measures of the weights being trained: detection on the val split, scored as the exported detector
scores, and the paper's measures when their data is in the spec.

Detection uses the detector's own scoring rule (:class:`safe_embed.scoring.ScoringRule`, default ``head_knn``), so
the checkpoint kept is the best for the scorer that ships: the embedding head is fitted on a seeded sample of up to
``max_reference`` train prompts (the detector fits it on its exemplars, the train split), the neighbour features
are the top-k cosine similarities to those prompts, and the combiner is fitted on the val split (the detector's
calibration split) by cross-fitting: the val prompts are cut into ``folds`` label-stratified folds and each fold is
scored by the combiner fitted on the others, so no prompt is scored by a combiner fitted on it. On the test split
(the base-vs-tuned comparison) the combiner is fitted on the val split, as the detector's is. Each encoder call
embeds the reference and the scored prompts once. It reports ``auroc``, ``auprc``, ``tpr_at_fpr_5`` and
``fpr_at_tpr_90``. The paper's measures (each normalized by the model's own avg cosine on the BeaverTails sample)
are ``contrast`` (Do-Not-Answer val prompts vs their Safety-Contrast edits), ``cp@k`` (Do-Not-Answer categories)
and ``jbb_pairs`` (JBB val pairs).
"""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
from safe_embed.evaluate import AvgCosine, CategoricalPurity, SafetyChallenging, SafetyContrast
from safe_embed.train.examples import EvalSets

from safe_embed import metrics
from safe_embed.data.schemas import LabelledPrompt
from safe_embed.encoders.base import Encoder, l2_normalize
from safe_embed.scoring import ScoringRule, neighbour_sims

MAX_REFERENCE = 2000  # train prompts the head and the neighbours are fitted on, per validation
FOLDS = 2  # cross-fitting folds of the combiner on the val split


def detection_measures(y: np.ndarray, s: np.ndarray) -> dict[str, float]:
    """AUROC, AUPRC, TPR at FPR 5% and FPR at TPR 90% of scores ``s`` (n,) for labels ``y`` (n,)."""
    if not 0 < y.sum() < len(y):
        return {}
    neg = np.sort(s[y == 0])
    cut = np.quantile(s[y == 1], 0.10)  # 90% of unsafe prompts score at least this
    return {"auroc": metrics.auroc(y, s), "auprc": metrics.average_precision(y, s),
            "tpr_at_fpr_5": metrics.tpr_at_fpr(y, s, 0.05),
            "fpr_at_tpr_90": float((neg >= cut).sum() / len(neg))}


def folds_of(y: np.ndarray, folds: int, seed: int = 0) -> np.ndarray:
    """The fold (n,) of every row: within each label, a seeded permutation dealt round-robin."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(y), dtype=int)
    for label in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == label))
        fold[rows] = np.arange(len(rows)) % folds
    return fold


class RuleScorer:
    """The detector's scoring rule over reference embeddings ``ref_x`` (m, d) with labels ``ref_y`` (m,) (1 =
    unsafe): the embedding head is fitted once, on the reference; the neighbours are searched exactly."""

    def __init__(self, ref_x: np.ndarray, ref_y: np.ndarray, rule: ScoringRule | None = None) -> None:
        rule = replace(rule or ScoringRule(), weights=[], head=[])
        self.unsafe, self.safe = ref_x[ref_y == 1], ref_x[ref_y == 0]
        self.rule = rule.fit_head(ref_x, ref_y)

    def sims(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Top-k similarities of ``x`` (n, d) to the unsafe (n, k) and the safe (n, k) reference rows."""
        return neighbour_sims(x, self.unsafe, self.rule.k), neighbour_sims(x, self.safe, self.rule.k)

    def scores(self, x: np.ndarray, fit_x: np.ndarray, fit_y: np.ndarray) -> np.ndarray:
        """Raw scores (n,) of ``x`` with the combiner fitted on ``fit_x`` (c, d), ``fit_y`` (c,)."""
        rule = replace(self.rule).fit(*self.sims(fit_x), fit_y, fit_x)
        return rule.raw(*self.sims(x), x)

    def cross_fitted(self, x: np.ndarray, y: np.ndarray, folds: int = FOLDS, seed: int = 0) -> np.ndarray:
        """Raw scores (n,) of ``x``, each fold's with the combiner fitted on the other folds of ``x``, ``y``."""
        su, ss = self.sims(x)
        fold = folds_of(y, folds, seed)
        out = np.empty(len(y), dtype=np.float64)
        for f in range(folds):
            fit, held = fold != f, fold == f
            rule = replace(self.rule).fit(su[fit], ss[fit], y[fit], x[fit])
            out[held] = rule.raw(su[held], ss[held], x[held])
        return out


def _labels(rows: list[LabelledPrompt]) -> np.ndarray:
    return np.array([r.label == "unsafe" for r in rows], dtype=int)


def _embed(encoder: Encoder, rows: list[LabelledPrompt]) -> np.ndarray:
    return l2_normalize(np.asarray(encoder.encode([r.text for r in rows]), np.float32))


def detection_on(encoder: Encoder, rows: list[LabelledPrompt], reference: list[LabelledPrompt],
                 calibration: list[LabelledPrompt] | None = None, seed: int = 0, max_reference: int = MAX_REFERENCE,
                 folds: int = FOLDS) -> dict[str, float]:
    """Detection measures of ``rows`` scored by the detector's rule over (a sample of) ``reference``, its combiner
    fitted on ``calibration``, or cross-fitted on ``rows`` when None; empty when a label is missing."""
    y = _labels(rows)
    ref = list(reference)
    if len(ref) > max_reference:
        ref = random.Random(seed).sample(ref, max_reference)
    ref_y = _labels(ref)
    fit_y = y if calibration is None else _labels(calibration)
    need = folds if calibration is None else 1
    if min(np.bincount(y, minlength=2).min(), np.bincount(ref_y, minlength=2).min(),
           np.bincount(fit_y, minlength=2).min()) < need:
        return {}
    scorer = RuleScorer(_embed(encoder, ref), ref_y)
    x = _embed(encoder, rows)
    if calibration is None:
        s = scorer.cross_fitted(x, y, folds, seed)
    else:
        s = scorer.scores(x, _embed(encoder, calibration), fit_y)
    return detection_measures(y, s)


def paper_measures(encoder: Encoder, sets: EvalSets, normalizer: AvgCosine, k: int = 10) -> dict[str, float]:
    """The Safe-Embed measures that ``sets`` has data for (empty when it has none)."""
    if not (sets.contrast or sets.taxonomy or sets.jbb_pairs):
        return {}
    avg = normalizer.value(encoder)
    out = {"avg_cosine": avg}
    if sets.contrast:
        out["contrast"] = SafetyContrast(sets.contrast).compute(encoder, avg).mean
    if len(sets.taxonomy) > 1:
        out[f"cp@{k}"] = CategoricalPurity(sets.taxonomy, k=min(k, len(sets.taxonomy) - 1)).compute(encoder).mean
    if sets.jbb_pairs:
        out["jbb_pairs"] = SafetyChallenging(sets.jbb_pairs).compute(encoder, avg).mean
    return out
