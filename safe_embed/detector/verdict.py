"""From a prompt's nearest exemplars and calibrated score to its :class:`Detection`: the label at the threshold,
the near-copy rule, the category vote and the neighbours reported as evidence."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace

import numpy as np

from safe_embed.detector.exemplar_index import ExemplarIndex
from safe_embed.detector.exemplars import Exemplar
from safe_embed.detector.results import MATCHED, Detection, Neighbor

CATEGORY_DEPTH = 64  # how far an unsafe verdict looks for a categorised exemplar when its neighbours have none


@dataclass(frozen=True)
class VerdictSettings:
    """The score at or above which a prompt is unsafe (``threshold``), the near-copy similarity ``match_threshold``
    (None = off) and how many neighbours a detection reports (``k_neighbors``)."""

    threshold: float
    match_threshold: float | None
    k_neighbors: int


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
             x: np.ndarray, settings: VerdictSettings) -> list[Detection]:
    """One :class:`Detection` per row of ``x`` (n, d), from its calibrated ``scores`` (n,) and ``found``: label ->
    (similarities (n, k), positions (n, k)) of its nearest exemplars in ``indexes``."""
    (du, iu), (ds, is_) = found["unsafe"], found["safe"]
    unsafe, safe = indexes["unsafe"].exemplars, indexes["safe"].exemplars
    tau, k = settings.match_threshold, settings.k_neighbors
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
        category = category_vote(unsafe, iu[r, :k], du[r]) if label == "unsafe" else None
        out.append(Detection(label, score, category, tuple(neigh[:k]), tuple(flags)))
    return _categorise_further(x, out, indexes["unsafe"], k)


def _categorise_further(x: np.ndarray, out: list[Detection], unsafe_index: ExemplarIndex, k: int
                        ) -> list[Detection]:
    """An unsafe verdict whose nearest unsafe exemplars carry no category (sources without one) takes the
    category of the nearest categorised ones, among the ``CATEGORY_DEPTH`` nearest."""
    rows = [r for r, d in enumerate(out) if d.label == "unsafe" and d.category is None]
    unsafe = unsafe_index.exemplars
    if not rows or not any(e.category for e in unsafe):
        return out
    sims, pos = unsafe_index.search(x[rows], CATEGORY_DEPTH)
    for r, p, s in zip(rows, pos, sims, strict=True):
        keep = [i for i, j in enumerate(p) if j >= 0 and unsafe[j].category][:k]
        if keep:
            out[r] = replace(out[r], category=category_vote(unsafe, p[keep], s[keep]))
    return out


def category_vote(unsafe: list[Exemplar], positions: np.ndarray, sims: np.ndarray) -> str | None:
    """Most frequent category among the unsafe exemplars at ``positions`` (ties: larger summed similarity).

    >>> ex = [Exemplar("a", "x", "unsafe", "S1"), Exemplar("b", "y", "unsafe", "S2"), Exemplar("c", "z", "unsafe")]
    >>> category_vote(ex, np.array([0, 1, 2]), np.array([0.5, 0.9, 0.99]))
    'S2'
    """
    votes: Counter = Counter()
    weight: Counter = Counter()
    for j, s in zip(positions, sims, strict=False):
        if j >= 0 and unsafe[j].category:
            votes[unsafe[j].category] += 1
            weight[unsafe[j].category] += float(s)
    if not votes:
        return None
    return max(votes, key=lambda c: (votes[c], weight[c]))


def natural_key(s: str) -> list:
    """Sort key with numbers compared as numbers ("S2" before "S10").

    >>> sorted(["S10", "S2"], key=natural_key)
    ['S2', 'S10']
    """
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", s)]


def _neighbor(e: Exemplar, similarity: float) -> Neighbor:
    return Neighbor(e.id, e.text, e.label, e.category, float(similarity))
