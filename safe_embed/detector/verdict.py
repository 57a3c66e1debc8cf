"""From a prompt's nearest exemplars and calibrated score to its :class:`Detection`: the label at the threshold,
the near-copy rule, the category scores (see :mod:`~safe_embed.detector.categories`) and the neighbours reported
as evidence."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from safe_embed.detector import categories as cats
from safe_embed.detector.exemplar_index import ExemplarIndex
from safe_embed.detector.exemplars import Exemplar
from safe_embed.detector.results import MATCHED, Detection, Neighbor


@dataclass(frozen=True)
class VerdictSettings:
    """The score at or above which a prompt is unsafe (``threshold``), the near-copy similarity ``match_threshold``
    (None = off), how many neighbours a detection reports (``k_neighbors``) and how categories are scored and
    reported (``categories``)."""

    threshold: float
    match_threshold: float | None
    k_neighbors: int
    categories: cats.CategorySettings = field(default_factory=cats.CategorySettings)


def matched_score(score: float, unsafe_sim: float, safe_sim: float, tau: float) -> float:
    """The score of a near copy (top similarity ``>= tau``): at least 0.5 when the nearest exemplar is unsafe, below
    0.5 when it is safe, more so the closer the copy; always in [0, 1].

    >>> round(matched_score(0.3, 0.95, 0.2, 0.9), 6), matched_score(0.8, 0.2, 1.0, 0.9)
    (0.75, 0.0)
    """
    strength = min(1.0, 0.5 + 0.5 * (max(unsafe_sim, safe_sim) - tau) / max(1.0 - tau, 1e-6))
    if unsafe_sim >= safe_sim:
        return float(min(1.0, max(score, strength)))
    return float(max(0.0, min(score, 1.0 - strength - 1e-9)))


def verdicts(scores: np.ndarray, found: dict[str, tuple[np.ndarray, np.ndarray]], indexes: dict[str, ExemplarIndex],
             x: np.ndarray, settings: VerdictSettings, categories: list[str], numbers: np.ndarray
             ) -> list[Detection]:
    """One :class:`Detection` per row of ``x`` (n, d), from its calibrated ``scores`` (n,) and ``found``: label ->
    (similarities (n, k), positions (n, k)) of its nearest exemplars in ``indexes``; ``categories`` are the
    detector's and ``numbers`` each unsafe exemplar's category number (-1: none)."""
    (du, iu), (ds, is_) = found["unsafe"], found["safe"]
    unsafe, safe = indexes["unsafe"].exemplars, indexes["safe"].exemplars
    tau, k = settings.match_threshold, settings.k_neighbors
    shares = category_scores(x, du, iu, indexes["unsafe"], numbers, len(categories), settings.categories)
    out = []
    for r in range(len(x)):
        score = float(scores[r])
        flags = []
        if tau is not None and max(du[r, 0], ds[r, 0]) >= tau:  # a near copy of an exemplar takes its label
            score = matched_score(score, float(du[r, 0]), float(ds[r, 0]), tau)
            flags.append(MATCHED)
        label = "unsafe" if score >= settings.threshold else "safe"
        neigh = [_neighbor(unsafe[j], s) for j, s in zip(iu[r], du[r], strict=True) if j >= 0]
        neigh += [_neighbor(safe[j], s) for j, s in zip(is_[r], ds[r], strict=True) if j >= 0]
        neigh.sort(key=lambda n: -n.similarity)
        category = cats.pick(shares[r], categories, settings.categories.thresholds) if label == "unsafe" else None
        out.append(Detection(label, score, category, tuple(neigh[:k]), tuple(flags),
                             category_scores=dict(zip(categories, shares[r].tolist(), strict=True))))
    return out


def category_scores(x: np.ndarray, du: np.ndarray, iu: np.ndarray, unsafe_index: ExemplarIndex, numbers: np.ndarray,
                    n_categories: int, settings: cats.CategorySettings) -> np.ndarray:
    """Category scores (n, n_categories) of the rows of ``x`` from their nearest unsafe exemplars (similarities
    ``du``, positions ``iu``, nearest first); rows with fewer than ``settings.k`` categorised ones among those are
    searched again, :data:`~safe_embed.detector.categories.CATEGORY_DEPTH` deep."""
    if n_categories == 0 or len(x) == 0:
        return np.zeros((len(x), n_categories))
    codes = cats.category_codes(numbers, iu)
    short = np.nonzero((codes >= 0).sum(axis=1) < settings.k)[0]
    depth = min(cats.CATEGORY_DEPTH, len(unsafe_index))
    if len(short) and iu.shape[1] < depth:
        deep_s, deep_i = unsafe_index.search(x[short], depth)
        width = max(iu.shape[1], depth)
        codes = np.pad(codes, ((0, 0), (0, width - codes.shape[1])), constant_values=-1)
        du = np.pad(du, ((0, 0), (0, width - du.shape[1])), constant_values=-1.0)
        codes[short] = cats.category_codes(numbers, deep_i)
        du[short] = deep_s
    return cats.vote_shares(codes, du, n_categories, settings.k, settings.temperature)


def _neighbor(e: Exemplar, similarity: float) -> Neighbor:
    return Neighbor(e.id, e.text, e.label, e.category, float(similarity), cats.is_inferred(e.source_category))
