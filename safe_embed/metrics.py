"""Pure-numpy metric math. Shapes: ``xa, xb`` are (n, d) float arrays; ``labels`` is a length-n sequence."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from safe_embed.errors import DataError


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def pair_cosine(xa: np.ndarray, xb: np.ndarray) -> np.ndarray:
    """Cosine of row i of ``xa`` with row i of ``xb``: shape (n,)."""
    return np.sum(_unit(xa) * _unit(xb), axis=1)


def cosine_matrix(xa: np.ndarray, xb: np.ndarray | None = None) -> np.ndarray:
    """All cosines between rows of ``xa`` (n, d) and ``xb`` (m, d): shape (n, m)."""
    a = _unit(xa)
    return a @ (a if xb is None else _unit(xb)).T


def normalize_cosine(cos: np.ndarray | float, avg: float) -> np.ndarray | float:
    """The paper's normalization ``(cos - avg) / (1 - avg)``; ``avg`` must be below 1."""
    if not avg < 1.0:
        raise DataError(f"avg cosine must be < 1, got {avg}. Fix: check the normalizer.")
    return (np.asarray(cos) - avg) / (1.0 - avg)


def mean_cross_cosine(xh: np.ndarray, xt: np.ndarray) -> float:
    """Mean cosine over all (head, tail) pairs, i.e. ``cosine_matrix(xh, xt).mean()`` in O((n+m)d)."""
    return float(_unit(xh).mean(axis=0) @ _unit(xt).mean(axis=0))


def head_tail_split(n: int, n_head: int = 500, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    """Indices of pandas' ``df.sample(n=n_head, random_state=seed)`` on an n-row frame, and the rest in order.

    pandas draws ``np.random.RandomState(seed).choice(n, size=n_head, replace=False)``.
    """
    if n_head >= n:
        raise DataError(f"head size {n_head} must be smaller than the sample ({n} prompts)")
    head = np.random.RandomState(seed).choice(n, size=n_head, replace=False)
    mask = np.ones(n, dtype=bool)
    mask[head] = False
    return head, np.flatnonzero(mask)


def knn_indices(x: np.ndarray, k: int) -> np.ndarray:
    """Indices (n, k) of each row's k most cosine-similar other rows (self excluded), most similar first."""
    n = len(x)
    if not 0 < k < n:
        raise DataError(f"k must be in [1, {n - 1}], got {k}")
    sim = cosine_matrix(x)
    np.fill_diagonal(sim, -np.inf)
    part = np.argpartition(-sim, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(sim, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def categorical_purity(x: np.ndarray, labels: Sequence[str], k: int = 10) -> np.ndarray:
    """Per-item CP@k: the share of each item's k nearest neighbours (by cosine, self excluded) with its label."""
    lab = np.asarray(labels)
    if len(lab) != len(x):
        raise DataError(f"{len(x)} embeddings but {len(lab)} labels")
    nn = knn_indices(x, k)
    return (lab[nn] == lab[:, None]).mean(axis=1)


def group_mean(values: np.ndarray, groups: Sequence[str]) -> dict[str, float]:
    """Mean of ``values`` per group, in first-seen group order."""
    out: dict[str, list[float]] = {}
    for v, g in zip(np.asarray(values, dtype=np.float64), groups):
        out.setdefault(g, []).append(float(v))
    return {g: float(np.mean(vs)) for g, vs in out.items()}


# ---- detection metrics (binary: 1 = unsafe) --------------------------------------------------------------------

def roc_curve(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False-positive rates, true-positive rates and thresholds, as in ``sklearn.metrics.roc_curve`` (no drop)."""
    y = np.asarray(y).astype(bool)
    s = np.asarray(s, dtype=np.float64)
    if y.all() or not y.any():
        raise DataError("ROC needs both positive (unsafe) and negative (safe) examples")
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    distinct = np.r_[np.flatnonzero(np.diff(s_sorted)), len(s_sorted) - 1]
    tps = np.cumsum(y_sorted)[distinct]
    fps = (distinct + 1) - tps
    tpr = np.r_[0.0, tps / y.sum()]
    fpr = np.r_[0.0, fps / (~y).sum()]
    thr = np.r_[np.inf, s_sorted[distinct]]
    return fpr, tpr, thr


def auroc(y: np.ndarray, s: np.ndarray) -> float:
    """Area under the ROC curve (trapezoid)."""
    fpr, tpr, _ = roc_curve(y, s)
    return float(np.trapezoid(tpr, fpr))


def average_precision(y: np.ndarray, s: np.ndarray) -> float:
    """Area under the precision-recall curve, step-wise as ``sklearn.metrics.average_precision_score``."""
    y = np.asarray(y).astype(bool)
    s = np.asarray(s, dtype=np.float64)
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    distinct = np.r_[np.flatnonzero(np.diff(s_sorted)), len(s_sorted) - 1]
    tps = np.cumsum(y_sorted)[distinct]
    precision = tps / (distinct + 1)
    recall = tps / max(y.sum(), 1)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def tpr_at_fpr(y: np.ndarray, s: np.ndarray, max_fpr: float) -> float:
    """The highest TPR reachable with FPR <= ``max_fpr``."""
    fpr, tpr, _ = roc_curve(y, s)
    ok = fpr <= max_fpr + 1e-12
    return float(tpr[ok].max())


def binary_report(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Precision, recall, F1, FPR and accuracy of 0/1 predictions (1 = unsafe)."""
    y = np.asarray(y).astype(bool)
    p = np.asarray(pred).astype(bool)
    tp = int(np.sum(y & p))
    fp = int(np.sum(~y & p))
    fn = int(np.sum(y & ~p))
    tn = int(np.sum(~y & ~p))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    fpr = fp / (fp + tn) if fp + tn else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "fpr": fpr,
            "accuracy": (tp + tn) / max(len(y), 1), "tp": tp, "fp": fp, "fn": fn, "tn": tn}


def macro_f1(truth: Sequence[str], pred: Sequence[str | None]) -> float:
    """F1 per class of ``truth`` (a prediction of None, or of a class absent from ``truth``, is a miss), averaged
    with equal weight over those classes (scikit-learn's ``f1_score(average="macro", labels=sorted(set(truth)))``).

    >>> round(macro_f1(["a", "a", "b"], ["a", "b", None]), 4)
    0.3333
    """
    truth, pred = list(truth), list(pred)
    if len(truth) != len(pred):
        raise DataError(f"lengths differ: truth {len(truth)}, pred {len(pred)}")
    scores = []
    for c in sorted(set(truth)):
        tp = sum(t == c and p == c for t, p in zip(truth, pred, strict=True))
        fp = sum(t != c and p == c for t, p in zip(truth, pred, strict=True))
        fn = sum(t == c and p != c for t, p in zip(truth, pred, strict=True))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return float(np.mean(scores)) if scores else float("nan")


def paired_bootstrap(y: np.ndarray, s_a: np.ndarray, s_b: np.ndarray, metric=None, n_boot: int = 2000,
                     seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    """``metric(y, s_b) - metric(y, s_a)`` and its percentile bootstrap interval, resampling prompts (stratified
    by label, so every resample has both) jointly for both score vectors. ``metric`` defaults to :func:`auroc`."""
    metric = metric or auroc
    y = np.asarray(y).astype(int)
    s_a, s_b = np.asarray(s_a, np.float64), np.asarray(s_b, np.float64)
    if not (len(y) == len(s_a) == len(s_b)):
        raise DataError(f"lengths differ: y {len(y)}, s_a {len(s_a)}, s_b {len(s_b)}")
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    diffs = np.empty(n_boot)
    for i in range(n_boot):
        idx = np.r_[rng.choice(pos, len(pos)), rng.choice(neg, len(neg))]
        diffs[i] = metric(y[idx], s_b[idx]) - metric(y[idx], s_a[idx])
    lo, hi = np.quantile(diffs, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(metric(y, s_b) - metric(y, s_a)), float(lo), float(hi)
