"""Calibration: a Platt map from raw scores to [0, 1], and a threshold chosen on a validation split.

The threshold is either the lowest score whose false-positive rate on the validation split stays at or
under ``target_fpr`` (default 5%), or the one with the best F1 (``method="f1"``). The figures it achieved
on the validation split are stored with it.
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
    """Fit the Platt map and the threshold on a validation split; record its figures."""
    y = np.asarray(y).astype(int)
    if y.min() == y.max():
        raise ConfigError("the calibration split needs both safe and unsafe prompts.")
    a, b = fit_platt(raw, y, seed=seed)
    cal = Calibration(a=a, b=b, method=method, target_fpr=target_fpr)
    s = cal.score(raw)
    cal.threshold = choose_threshold(s, y, method, target_fpr)
    cal.validation = detection_metrics(y, s, cal.threshold)
    return cal


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
