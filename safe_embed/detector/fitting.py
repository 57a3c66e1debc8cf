"""Fitting a detector's scoring state on labelled calibration prompts: the rule's calibration-split part, the score
map and threshold, and the near-copy match threshold (:func:`fit_state`, used for the detector's own backend and for
each other backend's embedding space, see :mod:`safe_embed.detector.backends`); and the temperature of the
category scores (:func:`fit_categories`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from safe_embed.detector import categories as cats
from safe_embed.detector.calibration import Calibration, calibrate, choose_match_threshold
from safe_embed.detector.checks import labels_to_int
from safe_embed.detector.pool import ExemplarPool
from safe_embed.errors import ConfigError
from safe_embed.scoring import ScoringRule

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FittedState:
    """A fitted rule (a copy: the rule passed in is not changed), its calibration and the match threshold."""

    rule: ScoringRule
    calibration: Calibration
    match_threshold: float


def check_calibration_labels(texts: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """The labels as 0/1, refused when they do not match the texts or lack a class."""
    y = labels_to_int(labels)
    if len(texts) != len(y):
        raise ConfigError(f"{len(texts)} calibration texts but {len(y)} labels.")
    if len(y) == 0 or y.min() == y.max():
        raise ConfigError(f"the calibration split needs both safe and unsafe prompts (got {len(y)} prompts, "
                          f"{int(y.sum())} unsafe). Fix: add the missing label to the calibration sources.")
    return y


def fit_state(rule: ScoringRule, pool: ExemplarPool, x: np.ndarray, y: np.ndarray, method: str = "fpr",
              target_fpr: float = 0.05, seed: int = 0) -> FittedState:
    """Fit on calibration embeddings ``x`` (n, d) with labels ``y`` (n,) against ``pool``'s exemplars."""
    rule = ScoringRule.from_dict(rule.to_dict())
    found = pool.search(x, rule.k)
    su, ss = found["unsafe"][0], found["safe"][0]
    rule.fit(su, ss, y, x)
    calibration = calibrate(rule.raw(su, ss, x), y, method, target_fpr, seed=seed)
    logger.info("calibrated %s rule: raw threshold %.4f, validation %s", rule.name, calibration.raw_threshold,
                calibration.validation)
    return FittedState(rule, calibration, choose_match_threshold(su[:, 0], ss[:, 0], y))


def fit_categories(pool: ExemplarPool, x: np.ndarray, y: np.ndarray, categories: Sequence[str | None],
                   current: cats.CategorySettings) -> cats.CategorySettings:
    """``current`` with the temperature fitted on the unsafe calibration prompts (embeddings ``x`` (n, d), labels
    ``y`` (n,)) whose ``categories`` are among ``pool``'s (see
    :func:`~safe_embed.detector.categories.fit_temperature`); unchanged but for ``fitted={"n": 0}`` when none is."""
    if len(categories) != len(y):
        raise ConfigError(f"{len(y)} calibration texts but {len(categories)} categories. Fix: give one category "
                          "(or None) per text.")
    names = pool.categories
    number = {c: i for i, c in enumerate(names)}
    rows = [i for i, c in enumerate(categories) if y[i] == 1 and c in number]
    if not rows:
        return replace(current, fitted={"n": 0})
    index = pool.indexes["unsafe"]
    sims, pos = index.search(x[rows], min(cats.CATEGORY_DEPTH, len(index)))
    fit = cats.fit_temperature(cats.category_codes(pool.category_numbers(), pos), sims,
                               np.array([number[categories[i]] for i in rows]), len(names), current.k)
    logger.info("category scores: temperature %s, calibration accuracy %.3f over %d prompts", fit["temperature"],
                fit["accuracy"], fit["n"])
    return replace(current, temperature=fit.pop("temperature"), fitted=fit)
