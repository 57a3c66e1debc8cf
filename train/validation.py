"""Held-out measures of the weights being trained: detection on the val split, and the paper's measures when
their data is in the spec.

Detection scores each val prompt with the module's classification head when it has one, else with the nearest-
neighbour margin (top-1 similarity to an unsafe train prompt minus top-1 to a safe one, against up to
``reference`` train prompts). It reports ``auroc``, ``auprc``, ``tpr@fpr5`` and ``fpr@tpr90``. The paper's
measures (each normalized by the model's own avg cosine on the BeaverTails sample) are ``contrast`` (Do-Not-Answer
val prompts vs their Safety-Contrast edits), ``cp@k`` (Do-Not-Answer categories) and ``jbb_pairs`` (JBB val
pairs).
"""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
from safe_embed.evaluate import AvgCosine, CategoricalPurity, SafetyChallenging, SafetyContrast
from safe_embed.train.examples import EvalSets

from safe_embed import metrics
from safe_embed.data.schemas import LabelledPrompt
from safe_embed.encoders.base import Encoder


def knn_margin(x: np.ndarray, ref: np.ndarray, ref_y: np.ndarray) -> np.ndarray:
    """Top-1 cosine to an unsafe reference minus top-1 to a safe one, for L2-normalized rows (n,)."""
    sim = x @ ref.T
    return sim[:, ref_y == 1].max(1) - sim[:, ref_y == 0].max(1)


def detection_measures(y: np.ndarray, s: np.ndarray) -> dict[str, float]:
    """AUROC, AUPRC, TPR at FPR 5% and FPR at TPR 90% of scores ``s`` (n,) for labels ``y`` (n,)."""
    if not 0 < y.sum() < len(y):
        return {}
    neg = np.sort(s[y == 0])
    cut = np.quantile(s[y == 1], 0.10)  # 90% of unsafe prompts score at least this
    return {"auroc": metrics.auroc(y, s), "auprc": metrics.average_precision(y, s),
            "tpr@fpr5": metrics.tpr_at_fpr(y, s, 0.05),
            "fpr@tpr90": float((neg >= cut).sum() / len(neg))}


def detection_on(encoder: Encoder, rows: list[LabelledPrompt], head: Callable[[np.ndarray], np.ndarray] | None,
                 reference: list[LabelledPrompt], seed: int = 0, max_reference: int = 2000) -> dict[str, float]:
    """Detection measures of ``rows`` scored by ``head`` or by the k-NN margin against ``reference``."""
    if not rows:
        return {}
    y = np.array([r.label == "unsafe" for r in rows], dtype=int)
    x = encoder.encode([r.text for r in rows])
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    if head is not None:
        s = head(x)
    else:
        ref = list(reference)
        if len(ref) > max_reference:
            ref = random.Random(seed).sample(ref, max_reference)
        ref_y = np.array([r.label == "unsafe" for r in ref], dtype=int)
        if ref_y.min() == ref_y.max():
            return {}
        rx = encoder.encode([r.text for r in ref])
        rx = rx / np.maximum(np.linalg.norm(rx, axis=1, keepdims=True), 1e-12)
        s = knn_margin(x, rx, ref_y)
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
