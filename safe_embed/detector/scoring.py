"""Scoring rules: from a prompt's nearest unsafe and safe exemplars to a raw score (higher = more unsafe).

Inputs are the top-k cosine similarities to the unsafe index ``su`` (n, k) and to the safe index ``ss`` (n, k),
each sorted in decreasing order; missing neighbours are -1. Rules:

* ``margin``: mean of the top-``m`` unsafe similarities minus mean of the top-``m`` safe ones.
* ``knn_vote``: similarity-weighted vote of the ``k`` nearest exemplars of both classes,
  weights ``exp(sim / temperature)``; the unsafe share, in [0, 1].
* ``logistic``: a logistic head on neighbour features (top-1 and top-k mean for each class, their margin),
  fitted on the calibration split; its logit is the raw score. Weights are stored as JSON.

:mod:`safe_embed.detector.calibration` maps raw scores into [0, 1] and picks the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from safe_embed.errors import ConfigError

RULES = ("margin", "knn_vote", "logistic")


def features(su: np.ndarray, ss: np.ndarray, k: int) -> np.ndarray:
    """Neighbour features (n, 5): unsafe top-1, unsafe top-k mean, safe top-1, safe top-k mean, top-1 margin."""
    su, ss = su[:, :k], ss[:, :k]
    return np.stack([su[:, 0], su.mean(1), ss[:, 0], ss.mean(1), su[:, 0] - ss[:, 0]], axis=1).astype(np.float64)


@dataclass
class ScoringRule:
    """A scoring rule and its parameters (``weights`` only for ``logistic``, set by :meth:`fit`).

    >>> r = ScoringRule("margin", m=1)
    >>> float(r.raw(np.array([[0.9, 0.5]]), np.array([[0.6, 0.4]]))[0])
    0.3
    """

    name: str = "margin"
    k: int = 10
    m: int = 1
    temperature: float = 0.05
    l2: float = 1.0
    weights: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.name not in RULES:
            raise ConfigError(f"scoring rule must be one of {RULES}, got {self.name!r}.")
        if self.k < 1 or self.m < 1 or self.m > self.k:
            raise ConfigError(f"need 1 <= m <= k, got k={self.k}, m={self.m}.")
        if self.temperature <= 0:
            raise ConfigError(f"temperature must be > 0, got {self.temperature}.")

    @property
    def needs_fit(self) -> bool:
        return self.name == "logistic"

    def fit(self, su: np.ndarray, ss: np.ndarray, y: np.ndarray) -> ScoringRule:
        """Fit the logistic head on calibration neighbours (``y`` = 1 for unsafe); other rules: no-op."""
        if self.name == "logistic":
            from sklearn.linear_model import LogisticRegression

            f = features(su, ss, self.k)
            lr = LogisticRegression(C=1.0 / self.l2, class_weight="balanced", max_iter=1000).fit(f, y)
            self.weights = [float(w) for w in lr.coef_[0]] + [float(lr.intercept_[0])]
        return self

    def raw(self, su: np.ndarray, ss: np.ndarray) -> np.ndarray:
        """Raw scores (n,), higher = more unsafe."""
        if self.name == "margin":
            return (su[:, :self.m].mean(1) - ss[:, :self.m].mean(1)).astype(np.float64)
        if self.name == "knn_vote":
            return knn_vote(su[:, :self.k], ss[:, :self.k], self.k, self.temperature)
        if not self.weights:
            raise ConfigError("the logistic scoring rule has no weights. Fix: build the detector (fit) first.")
        w = np.asarray(self.weights, dtype=np.float64)
        return features(su, ss, self.k) @ w[:-1] + w[-1]

    def to_dict(self) -> dict:
        return {"name": self.name, "k": self.k, "m": self.m, "temperature": self.temperature, "l2": self.l2,
                "weights": list(self.weights)}

    @classmethod
    def from_dict(cls, d: dict) -> ScoringRule:
        return cls(**d)


def knn_vote(su: np.ndarray, ss: np.ndarray, k: int, temperature: float) -> np.ndarray:
    """Unsafe share of ``exp(sim / temperature)`` weight among the ``k`` most similar exemplars of both classes."""
    sims = np.concatenate([su, ss], axis=1).astype(np.float64)
    is_unsafe = np.concatenate([np.ones_like(su, bool), np.zeros_like(ss, bool)], axis=1)
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(sims, order, 1)
    lab = np.take_along_axis(is_unsafe, order, 1)
    valid = top > -1.0
    w = np.exp((top - top[:, :1]) / temperature) * valid
    return (w * lab).sum(1) / np.maximum(w.sum(1), 1e-12)
