"""Scoring rules: from a prompt's nearest unsafe and safe exemplars to a raw score (higher = more unsafe).

Pure numpy (scikit-learn fits the learnt parts): the detector (:mod:`safe_embed.detector`) scores with it over its
FAISS indexes, and training (:mod:`safe_embed.train.validation`) selects checkpoints with the same rule over a
sample of the train split, so the checkpoint kept is the best for the scorer the detector ships.

Inputs are the top-k cosine similarities to the unsafe index ``su`` (n, k) and to the safe index ``ss`` (n, k),
each sorted in decreasing order; missing neighbours are -1. Rules:

* ``margin``: mean of the top-``m`` unsafe similarities minus mean of the top-``m`` safe ones.
* ``knn_vote``: similarity-weighted vote of the ``k`` nearest exemplars of both classes,
  weights ``exp(sim / temperature)``; the unsafe share, in [0, 1].
* ``logistic``: a logistic head on neighbour features (top-1 and top-k mean for each class, their margin),
  fitted on the calibration split; its logit is the raw score. Weights are stored as JSON.
* ``head``: a logistic regression on the embedding itself (the SetFit head), fitted on the exemplars (the train
  split); its logit is the raw score. The neighbours remain the evidence, but exemplars added later do not move
  the score.
* ``head_knn`` (the default, :data:`DEFAULT_RULE`): the ``head`` logit next to the neighbour features, combined by
  a logistic fitted on the calibration split: the head carries what the encoder learned, the neighbours carry
  exemplars added later.

:mod:`safe_embed.detector.calibration` maps raw scores into [0, 1] and picks the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from safe_embed.errors import ConfigError

RULES = ("margin", "knn_vote", "logistic", "head", "head_knn")
EMBEDDING_RULES = ("head", "head_knn")  # rules that read the embedding, not only the neighbour similarities
DEFAULT_RULE = "head_knn"


def neighbour_sims(xq: np.ndarray, xb: np.ndarray, k: int) -> np.ndarray:
    """Exact top-``k`` inner products (n, k) of queries ``xq`` (n, d) with base rows ``xb`` (m, d), decreasing;
    missing neighbours (``m < k``) are -1, as a flat FAISS index returns them."""
    sims = np.asarray(xq, np.float32) @ np.asarray(xb, np.float32).T
    top = -np.sort(-sims, axis=1)[:, :k]
    return np.pad(top, ((0, 0), (0, k - top.shape[1])), constant_values=-1.0)


def features(su: np.ndarray, ss: np.ndarray, k: int) -> np.ndarray:
    """Neighbour features (n, 5): unsafe top-1, unsafe top-k mean, safe top-1, safe top-k mean, top-1 margin."""
    su, ss = su[:, :k], ss[:, :k]
    return np.stack([su[:, 0], su.mean(1), ss[:, 0], ss.mean(1), su[:, 0] - ss[:, 0]], axis=1).astype(np.float64)


@dataclass
class ScoringRule:
    """A scoring rule and its parameters (default: :data:`DEFAULT_RULE`). ``weights`` (``logistic`` and
    ``head_knn``) are set by :meth:`fit`, ``head`` (``head`` and ``head_knn``) by :meth:`fit_head`.

    >>> ScoringRule().name
    'head_knn'
    >>> r = ScoringRule("margin", m=1)
    >>> round(float(r.raw(np.array([[0.9, 0.5]]), np.array([[0.6, 0.4]]))[0]), 6)
    0.3
    """

    name: str = DEFAULT_RULE
    k: int = 10
    m: int = 1
    temperature: float = 0.05
    l2: float = 1.0
    weights: list[float] = field(default_factory=list)
    head: list[float] = field(default_factory=list)  # embedding head: d weights, then the intercept
    head_c: float = 1.0  # inverse L2 strength of the embedding head

    def __post_init__(self) -> None:
        if self.name not in RULES:
            raise ConfigError(f"scoring rule must be one of {RULES}, got {self.name!r}.")
        if self.k < 1 or self.m < 1 or self.m > self.k:
            raise ConfigError(f"need 1 <= m <= k, got k={self.k}, m={self.m}.")
        if self.temperature <= 0:
            raise ConfigError(f"temperature must be > 0, got {self.temperature}.")

    @property
    def uses_embedding(self) -> bool:
        return self.name in EMBEDDING_RULES

    def fit_head(self, x: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> ScoringRule:
        """Fit the embedding head on exemplar embeddings ``x`` (n, d) with labels ``y`` (1 = unsafe)."""
        if self.uses_embedding:
            from sklearn.linear_model import LogisticRegression

            lr = LogisticRegression(C=self.head_c, class_weight="balanced", max_iter=2000)
            lr.fit(np.asarray(x, np.float64), y, sample_weight=sample_weight)
            self.head = [float(w) for w in lr.coef_[0]] + [float(lr.intercept_[0])]
        return self

    def head_logit(self, x: np.ndarray) -> np.ndarray:
        if not self.head:
            raise ConfigError(f"the {self.name} scoring rule has no embedding head. Fix: build the detector first.")
        if x is None or x.shape[1] != len(self.head) - 1:
            raise ConfigError(f"the {self.name} head expects embeddings of dimension {len(self.head) - 1}.")
        w = np.asarray(self.head, dtype=np.float64)
        return np.asarray(x, np.float64) @ w[:-1] + w[-1]

    def _stack(self, su: np.ndarray, ss: np.ndarray, x: np.ndarray | None) -> np.ndarray:
        f = features(su, ss, self.k)
        return np.concatenate([self.head_logit(x)[:, None], f], axis=1) if self.name == "head_knn" else f

    def fit(self, su: np.ndarray, ss: np.ndarray, y: np.ndarray, x: np.ndarray | None = None) -> ScoringRule:
        """Fit the calibration-split part (``logistic``, ``head_knn``; ``y`` = 1 for unsafe); others: no-op."""
        if self.name in ("logistic", "head_knn"):
            from sklearn.linear_model import LogisticRegression

            lr = LogisticRegression(C=1.0 / self.l2, class_weight="balanced", max_iter=1000)
            lr.fit(self._stack(su, ss, x), y)
            self.weights = [float(w) for w in lr.coef_[0]] + [float(lr.intercept_[0])]
        return self

    def raw(self, su: np.ndarray, ss: np.ndarray, x: np.ndarray | None = None) -> np.ndarray:
        """Raw scores (n,), higher = more unsafe; ``x`` (n, d) the embeddings, for the embedding rules."""
        if self.name == "margin":
            return (su[:, :self.m].mean(1) - ss[:, :self.m].mean(1)).astype(np.float64)
        if self.name == "knn_vote":
            return knn_vote(su[:, :self.k], ss[:, :self.k], self.k, self.temperature)
        if self.name == "head":
            return self.head_logit(x)
        if not self.weights:
            raise ConfigError(f"the {self.name} scoring rule has no weights. Fix: build the detector (fit) first.")
        w = np.asarray(self.weights, dtype=np.float64)
        return self._stack(su, ss, x) @ w[:-1] + w[-1]

    def to_dict(self) -> dict:
        return {"name": self.name, "k": self.k, "m": self.m, "temperature": self.temperature, "l2": self.l2,
                "weights": list(self.weights), "head": list(self.head), "head_c": self.head_c}

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
