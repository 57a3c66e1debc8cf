"""Checkpoint selection scores the val split with the detector's own rule: checked against an independent
scikit-learn computation of ``head_knn`` and against a built Detector, on seeded synthetic embeddings."""

from __future__ import annotations

import numpy as np
import pytest
from safe_embed.train.validation import RuleScorer, detection_on, folds_of
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from tiny_models import table_encoder

from safe_embed.data.schemas import LabelledPrompt
from safe_embed.detector import Detector, Exemplar, ExemplarSets
from safe_embed.scoring import ScoringRule

K = ScoringRule().k


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def synthetic():
    """60 reference rows (30 unsafe) and 40 val rows (20 unsafe), d=8, classes apart along two axes, noisy."""
    rng = np.random.default_rng(0)

    def draw(n_unsafe: int, n_safe: int) -> tuple[np.ndarray, np.ndarray]:
        y = np.r_[np.ones(n_unsafe, int), np.zeros(n_safe, int)]
        x = rng.normal(size=(len(y), 8)) + np.outer(2 * y - 1, [0.8, 0.5, 0, 0, 0, 0, 0, 0])
        return _unit(x), y

    return (*draw(30, 30), *draw(20, 20))


def _independent(ref_x, ref_y, x, y, fit: np.ndarray) -> np.ndarray:
    """head_knn by hand: a sklearn head on the reference, brute-force top-k neighbour features, a sklearn
    combiner fitted on the ``fit`` rows; returns the scores of the other rows."""
    head = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000).fit(ref_x.astype(np.float64), ref_y)

    def top(pool):
        return np.array([sorted(row, reverse=True)[:K] for row in x.astype(np.float64) @ pool.T.astype(np.float64)])

    su, ss = top(ref_x[ref_y == 1]), top(ref_x[ref_y == 0])
    f = np.c_[head.decision_function(x.astype(np.float64)), su[:, 0], su.mean(1), ss[:, 0], ss.mean(1),
              su[:, 0] - ss[:, 0]]
    comb = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000).fit(f[fit], y[fit])
    return comb.decision_function(f[~fit])


def test_folds_are_stratified_seeded_and_cover_every_row():
    y = np.r_[np.ones(7, int), np.zeros(12, int)]
    f = folds_of(y, 2, seed=3)
    assert set(f) == {0, 1} and np.array_equal(f, folds_of(y, 2, seed=3))
    for label, n in ((1, 7), (0, 12)):
        assert sorted(np.bincount(f[y == label])) == [n // 2, n - n // 2]
    assert not np.array_equal(f, folds_of(y, 2, seed=4))


def test_cross_fitted_scores_equal_head_knn_computed_by_hand(synthetic):
    ref_x, ref_y, x, y = synthetic
    got = RuleScorer(ref_x, ref_y).cross_fitted(x, y, folds=2, seed=0)
    fold = folds_of(y, 2, seed=0)
    for f in (0, 1):
        np.testing.assert_allclose(got[fold == f], _independent(ref_x, ref_y, x, y, fold != f), rtol=1e-4, atol=1e-4)
    assert roc_auc_score(y, got) > 0.8  # the rule does separate these; the comparison above is not vacuous


def test_cross_fitted_scores_equal_a_built_detectors_raw_scores(synthetic):
    """The detector indexes the reference, fits its head there and its combiner on fold 0: its raw scores of fold 1
    are the validation's."""
    ref_x, ref_y, x, y = synthetic
    table = np.r_[ref_x, x]
    fold = folds_of(y, 2, seed=0)
    rows = [LabelledPrompt(f"r{len(ref_x) + i}", "unsafe" if y[i] else "safe") for i in range(len(y))]
    sets = ExemplarSets([Exemplar(f"u{i}", f"r{i}", "unsafe") for i in np.flatnonzero(ref_y == 1)],
                        [Exemplar(f"s{i}", f"r{i}", "safe") for i in np.flatnonzero(ref_y == 0)],
                        [rows[i] for i in np.flatnonzero(fold == 0)])
    det = Detector.build(table_encoder(table), sets, rule=ScoringRule(), method="f1")
    assert det.rule.name == "head_knn" and det.rule.weights and det.rule.head
    held = x[fold == 1]
    want = det.rule.raw(*det.neighbour_sims(held), held)
    got = RuleScorer(ref_x, ref_y).cross_fitted(x, y, folds=2, seed=0)[fold == 1]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_detection_on_reports_the_rules_auroc_and_needs_both_labels(synthetic):
    ref_x, ref_y, x, y = synthetic
    enc = table_encoder(np.r_[ref_x, x])
    ref = [LabelledPrompt(f"r{i}", "unsafe" if ref_y[i] else "safe") for i in range(len(ref_y))]
    rows = [LabelledPrompt(f"r{len(ref_x) + i}", "unsafe" if y[i] else "safe") for i in range(len(y))]
    m = detection_on(enc, rows, ref, seed=0)
    fold = folds_of(y, 2, seed=0)
    pooled = np.empty(len(y))
    for f in (0, 1):
        pooled[fold == f] = _independent(ref_x, ref_y, x, y, fold != f)
    assert m["auroc"] == pytest.approx(roc_auc_score(y, pooled), abs=1e-6)
    assert set(m) == {"auroc", "auprc", "tpr_at_fpr_5", "fpr_at_tpr_90"}
    # test split: the combiner is fitted on other rows (here the first half), then scores these
    half = rows[:10] + rows[20:30]
    assert 0.5 < detection_on(enc, rows, ref, calibration=half)["auroc"] <= 1.0
    assert detection_on(enc, [r for r in rows if r.label == "unsafe"], ref) == {}
    assert detection_on(enc, rows, [r for r in ref if r.label == "safe"]) == {}
    assert detection_on(enc, rows[:1] + rows[20:], ref) == {}  # one unsafe row cannot be cross-fitted
    assert detection_on(enc, rows, ref, max_reference=20, seed=1)["auroc"] > 0.5  # a bounded reference sample
