"""Categories for a detector's uncategorised unsafe exemplars, inferred at build time from their nearest categorised
ones, and the measurement of that inference.

Method (``inferred:<k>nn``): an unsafe exemplar without a category is scored as a prompt is (the rule of
:mod:`~safe_embed.detector.categories`: similarity-weighted votes, at the detector's ``k`` and fitted
``temperature``, of the ``k`` nearest categorised unsafe exemplars among its
:data:`~safe_embed.detector.categories.CATEGORY_DEPTH` nearest), and takes the top category when that category's
share reaches ``min_share``. Its ``source_category`` becomes ``"inferred:<k>nn"`` (a source category the taxonomy
does not map follows in brackets), so the exemplar listing (``exemplars.jsonl``) and the evidence
(``Neighbor.category_inferred``) show that it is inferred.

``min_share`` is the smallest of :data:`MIN_SHARES` at which the categorised unsafe calibration prompts (val split,
never test) whose top share reaches it get their own category at least :data:`TARGET_ACCURACY` of the time; the
largest of the grid when none does. Without categorised calibration prompts nothing is inferred.

Recorded in the manifest (``provenance.category_inference``): the method, ``min_share`` and the grid it was chosen
on, coverage (the share of uncategorised unsafe exemplars given a category) and the count per category, the
leave-one-out accuracy on the categorised exemplars (each one voted on by the others) and the accuracy on the
categorised calibration prompts, both among the ones reaching ``min_share``, and the calibration prompts' category
accuracy with and without the inferred exemplars voting.

Inferred exemplars do not vote (:func:`~safe_embed.detector.categories.votes`): a prompt's scores come from given
categories only, so an inference never feeds on another. Exemplars added later (``add``, a journal replay) keep the
category their caller gave, None included: nothing is inferred on the live path, so an addition means what its
caller wrote and its result never depends on which neighbours were there at the time; a rebuild infers again.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from safe_embed.detector import categories as cats
from safe_embed.detector.exemplar_index import ExemplarIndex
from safe_embed.detector.exemplars import Exemplar
from safe_embed.detector.pool import ExemplarPool

logger = logging.getLogger(__name__)

MIN_SHARES = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)  # the grid min_share is chosen from
TARGET_ACCURACY = 0.8  # the calibration prompts' accuracy min_share must reach (issue 28's category target)


@dataclass(frozen=True)
class Inference:
    """The unsafe exemplars given a category (new versions of existing ones) and the figures of the inference."""

    exemplars: tuple[Exemplar, ...]
    report: dict = field(default_factory=dict)


def neighbour_shares(index: ExemplarIndex, numbers: np.ndarray, x: np.ndarray, n_categories: int,
                     settings: cats.CategorySettings, own: np.ndarray | None = None) -> np.ndarray:
    """Category scores (n, n_categories) of the vectors ``x`` (n, d) from the unsafe ``index`` whose exemplars have
    category ``numbers`` (-1: none); ``own`` (n,): each row's own position in the index, left out of its vote."""
    depth = min(cats.CATEGORY_DEPTH + (own is not None), len(index))
    sims, pos = index.search(x, depth)
    codes = cats.category_codes(numbers, pos)
    if own is not None:
        codes = np.where(pos == np.asarray(own)[:, None], -1, codes)
    return cats.vote_shares(codes, sims, n_categories, settings.k, settings.temperature)


def accuracy_at(shares: np.ndarray, truth: np.ndarray, min_share: float) -> dict:
    """Top-1 accuracy of ``shares`` (n, c) against category numbers ``truth`` (n,) among the rows whose top share is
    above zero and reaches ``min_share``, and the share of rows that do (``coverage``).

    >>> accuracy_at(np.array([[0.9, 0.1], [0.4, 0.6], [0.5, 0.5]]), np.array([0, 0, 0]), 0.6)
    {'min_share': 0.6, 'n': 3, 'coverage': 0.666667, 'accuracy': 0.5}
    """
    top = shares.max(axis=1) if shares.size else np.zeros(len(truth))
    kept = (top > 0) & (top >= min_share)
    right = shares.argmax(axis=1)[kept] == np.asarray(truth)[kept] if kept.any() else np.zeros(0, bool)
    return {"min_share": min_share, "n": len(truth), "coverage": round(float(kept.mean()), 6) if len(truth) else 0.0,
            "accuracy": round(float(right.mean()), 6) if len(right) else None}


def choose_min_share(shares: np.ndarray, truth: np.ndarray) -> tuple[float, list[dict]]:
    """The smallest of :data:`MIN_SHARES` whose :func:`accuracy_at` reaches :data:`TARGET_ACCURACY` (the largest
    when none does), and the grid's figures.

    >>> choose_min_share(np.array([[0.9, 0.1], [0.4, 0.6], [0.45, 0.55]]), np.array([0, 0, 1]))[0]
    0.7
    """
    grid = [accuracy_at(shares, truth, m) for m in MIN_SHARES]
    ok = [g["min_share"] for g in grid if g["accuracy"] is not None and g["accuracy"] >= TARGET_ACCURACY]
    return (ok[0] if ok else MIN_SHARES[-1]), grid


def infer_categories(pool: ExemplarPool, x: np.ndarray, y: np.ndarray, categories: Sequence[str | None],
                     settings: cats.CategorySettings) -> Inference:
    """Categories for ``pool``'s uncategorised unsafe exemplars (see the module docstring), ``min_share`` chosen on
    the calibration prompts (embeddings ``x`` (n, d), labels ``y`` (n,), ``categories``: their own, or None)."""
    names, numbers = pool.categories, pool.category_numbers()
    index = pool.indexes["unsafe"]
    number = {c: i for i, c in enumerate(names)}
    rows = [i for i, c in enumerate(categories) if y[i] == 1 and c in number]
    todo = np.array([j for j, e in enumerate(pool.unsafe) if e.category is None], np.int64)
    method = {"method": f"{cats.INFERRED}:{settings.k}nn", "k": settings.k, "temperature": settings.temperature,
              "depth": cats.CATEGORY_DEPTH, "target_accuracy": TARGET_ACCURACY, "n_uncategorised": len(todo)}
    if not rows or not names or not len(todo):
        why = "no categorised calibration prompt" if not rows else "nothing to infer"
        return Inference((), {**method, "n_inferred": 0, "coverage": 0.0, "skipped": why})
    truth = np.array([number[categories[i]] for i in rows])
    val_shares = neighbour_shares(index, numbers, x[rows], len(names), settings)
    min_share, grid = choose_min_share(val_shares, truth)
    vectors = index.vectors()
    shares = neighbour_shares(index, numbers, vectors[todo], len(names), settings)
    top = shares.max(axis=1)
    given = todo[(top > 0) & (top >= min_share)]
    best = shares.argmax(axis=1)[(top > 0) & (top >= min_share)]
    out = tuple(replace(pool.unsafe[j], category=names[c],
                        source_category=cats.inferred_source_category(settings.k, pool.unsafe[j].source_category))
                for j, c in zip(given.tolist(), best.tolist(), strict=True))
    voted = np.flatnonzero(numbers >= 0)
    loo = neighbour_shares(index, numbers, vectors[voted], len(names), settings, own=voted)
    with_inferred = numbers.copy()
    with_inferred[given] = best
    report = {**method, "min_share": min_share, "n_inferred": len(out),
              "coverage": round(len(out) / len(todo), 6),
              "by_category": dict(sorted(Counter(e.category for e in out).items(),
                                         key=lambda kv: cats.natural_key(kv[0]))),
              "leave_one_out": accuracy_at(loo, numbers[voted], min_share),
              "calibration": accuracy_at(val_shares, truth, min_share), "calibration_grid": grid,
              "calibration_accuracy_inferred_not_voting": accuracy_at(val_shares, truth, 0.0)["accuracy"],
              "calibration_accuracy_inferred_voting": accuracy_at(
                  neighbour_shares(index, with_inferred, x[rows], len(names), settings), truth, 0.0)["accuracy"]}
    logger.info("category inference: %d of %d uncategorised unsafe exemplars given a category (min share %.2f; "
                "leave-one-out accuracy %s, calibration accuracy %s)", len(out), len(todo), min_share,
                report["leave_one_out"]["accuracy"], report["calibration"]["accuracy"])
    return Inference(out, report)
