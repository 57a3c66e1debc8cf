"""Calibration: a threshold chosen on a validation split, and a Platt map from raw scores to [0, 1] centred on it.

The threshold is either the lowest raw score whose false-positive rate on the validation split stays at or
under ``target_fpr`` (default 5%), or the one with the best F1 (``method="f1"``). The score is
``sigmoid(a * (raw - raw_threshold))``: ``a`` is the Platt slope fitted on the split (class-balanced), and the
midpoint sits on the threshold, so a score of 0.5 or more is exactly the unsafe verdict and the score's distance
from 0.5 is the confidence. ``p_at_threshold`` records what the uncentred Platt map gives at the threshold (the
split's probability of unsafe there). The figures the threshold achieved on the validation split and the best-F1
alternative are stored with it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from safe_embed import metrics
from safe_embed.errors import ConfigError

METHODS = ("fpr", "f1")


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))


@dataclass
class Calibration:
    """Platt parameters ``score = sigmoid(a * raw + b)``, the threshold on ``score``, and validation figures."""

    a: float = 1.0
    b: float = 0.0
    threshold: float = 0.5
    method: str = "fpr"
    target_fpr: float = 0.05
    validation: dict = field(default_factory=dict)
    raw_threshold: float | None = None
    p_at_threshold: float | None = None
    best_f1: dict = field(default_factory=dict)

    def score(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated scores in [0, 1]."""
        return sigmoid(self.a * np.asarray(raw, np.float64) + self.b)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Calibration:
        return cls(**d)


def fit_platt(raw: np.ndarray, y: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """Platt scaling with balanced class weights: (a, b) such that ``sigmoid(a * raw + b)`` ~ P(unsafe)."""
    from sklearn.linear_model import LogisticRegression

    raw = np.asarray(raw, np.float64).reshape(-1, 1)
    lr = LogisticRegression(C=1e4, class_weight="balanced", max_iter=1000, random_state=seed).fit(raw, y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def choose_threshold(scores: np.ndarray, y: np.ndarray, method: str = "fpr", target_fpr: float = 0.05) -> float:
    """Threshold on ``scores`` (predict unsafe when ``score >= threshold``) for a target FPR or best F1.

    >>> choose_threshold(np.array([0.1, 0.2, 0.8, 0.9]), np.array([0, 0, 1, 1]), "f1")
    0.8
    """
    if method not in METHODS:
        raise ConfigError(f"calibration method must be one of {METHODS}, got {method!r}.")
    if not 0.0 <= target_fpr < 1.0:
        raise ConfigError(f"target FPR must be in [0, 1), got {target_fpr}.")
    y = np.asarray(y).astype(int)
    if y.min() == y.max():
        raise ConfigError("the calibration split needs both safe and unsafe prompts.")
    scores = np.asarray(scores, np.float64)
    cands = np.unique(scores)[::-1]  # descending: each candidate predicts unsafe for score >= c
    neg, pos = scores[y == 0], scores[y == 1]
    fp = np.array([(neg >= c).sum() for c in cands])
    tp = np.array([(pos >= c).sum() for c in cands])
    if method == "fpr":
        ok = fp / len(neg) <= target_fpr
        if not ok.any():
            return float(np.nextafter(cands[0], np.inf))
        return float(cands[np.nonzero(ok)[0].max()])
    prec = tp / np.maximum(tp + fp, 1)
    rec = tp / len(pos)
    f1 = np.where(prec + rec > 0, 2 * prec * rec / np.maximum(prec + rec, 1e-12), 0.0)
    return float(cands[int(np.argmax(f1))])


def calibrate(raw: np.ndarray, y: np.ndarray, method: str = "fpr", target_fpr: float = 0.05,
              seed: int = 0) -> Calibration:
    """Choose the threshold on a validation split, fit the Platt slope and centre the map on the threshold.

    >>> cal = calibrate(np.array([-2.0, -1.0, 0.5, 1.0, 2.0, 3.0]), np.array([0, 0, 0, 1, 1, 1]), "f1")
    >>> cal.threshold, cal.raw_threshold, float(cal.score(np.array([1.0]))[0])
    (0.5, 1.0, 0.5)
    """
    y = np.asarray(y).astype(int)
    raw = np.asarray(raw, np.float64)
    if y.min() == y.max():
        raise ConfigError("the calibration split needs both safe and unsafe prompts.")
    a, b = fit_platt(raw, y, seed=seed)
    a = max(a, 1e-6)  # raw scores rise with unsafety by construction; a flat fit keeps the ordering
    t = choose_threshold(raw, y, method, target_fpr)
    cal = Calibration(a=a, b=-a * t, method=method, target_fpr=target_fpr, raw_threshold=t,
                      p_at_threshold=float(sigmoid(np.array(a * t + b))))
    s = cal.score(raw)
    cal.validation = detection_metrics(y, s, cal.threshold)
    t_f1 = choose_threshold(raw, y, "f1")
    cal.best_f1 = {"raw_threshold": t_f1, **{k: v for k, v in detection_metrics(y, (raw >= t_f1).astype(float),
                                                                                  0.5).items()
                                             if k in ("precision", "recall", "f1", "fpr")}}
    return cal


MATCH_GRID = tuple(round(0.90 + 0.01 * i, 2) for i in range(10))  # 0.90 ... 0.99: near copies, not neighbours


def choose_match_threshold(su1: np.ndarray, ss1: np.ndarray, y: np.ndarray, min_precision: float = 0.97,
                           min_matches: int = 5) -> float:
    """The lowest similarity from :data:`MATCH_GRID` at which "take the nearest exemplar's label" is right for at
    least ``min_precision`` of the calibration prompts that reach it (top-1 similarities ``su1``, ``ss1`` (n,));
    the highest grid value when none qualifies (near copies only).

    >>> choose_match_threshold(np.array([0.99, 0.95, 0.91]), np.array([0.5, 0.96, 0.2]), np.array([1, 0, 0]),
    ...                        min_matches=1)
    0.92
    """
    y = np.asarray(y).astype(int)
    top = np.maximum(su1, ss1)
    says_unsafe = (su1 >= ss1).astype(int)
    for t in MATCH_GRID:
        hit = top >= t
        if hit.sum() >= min_matches and (says_unsafe[hit] == y[hit]).mean() >= min_precision:
            return t
        if hit.sum() < min_matches:  # too few prompts reach it to judge: only near copies from here on
            break
    return MATCH_GRID[-1]


def detection_metrics(y: np.ndarray, s: np.ndarray, threshold: float) -> dict[str, float]:
    """AUROC, AUPRC, precision/recall/F1/FPR at ``threshold`` and TPR at FPR 1% and 5%."""
    y = np.asarray(y).astype(int)
    out: dict[str, float] = {"n": len(y), "n_unsafe": int(y.sum())}
    if 0 < y.sum() < len(y):
        out.update(auroc=metrics.auroc(y, s), auprc=metrics.average_precision(y, s),
                   tpr_at_fpr_1=metrics.tpr_at_fpr(y, s, 0.01), tpr_at_fpr_5=metrics.tpr_at_fpr(y, s, 0.05))
    rep = metrics.binary_report(y, (np.asarray(s) >= threshold).astype(int))
    if y.sum() == 0:  # all safe: only the false-positive side is defined
        rep = {k: v for k, v in rep.items() if k not in ("precision", "recall", "f1")}
    elif y.sum() == len(y):
        rep = {k: v for k, v in rep.items() if k != "fpr"}
    out.update({k: float(v) for k, v in rep.items()})
    return out
