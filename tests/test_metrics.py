"""Metric math against brute force and scikit-learn on seeded data."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve
from sklearn.metrics.pairwise import cosine_similarity

from safe_embed import metrics


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def test_pair_cosine_and_matrix_match_sklearn(rng):
    a, b = rng.normal(size=(20, 8)), rng.normal(size=(20, 8))
    full = cosine_similarity(a, b)
    np.testing.assert_allclose(metrics.cosine_matrix(a, b), full, atol=1e-10)
    np.testing.assert_allclose(metrics.pair_cosine(a, b), np.diag(full), atol=1e-10)


def test_mean_cross_cosine_equals_mean_over_all_pairs(rng):
    h, t = rng.normal(size=(30, 5)), rng.normal(size=(25, 5))
    brute = np.mean([cosine_similarity(h[i:i + 1], t[j:j + 1])[0, 0] for i in range(30) for j in range(25)])
    assert metrics.mean_cross_cosine(h, t) == pytest.approx(brute, abs=1e-10)


def test_head_tail_split_matches_pandas_sample():
    import pandas as pd
    df = pd.DataFrame({"x": range(1000)})
    head = df.sample(n=500, random_state=42)
    tail = df.drop(head.index)
    h, t = metrics.head_tail_split(1000, 500, 42)
    assert list(h) == list(head.index)
    assert list(t) == list(tail.index)


def test_normalize_cosine():
    assert metrics.normalize_cosine(0.5, 0.2) == pytest.approx(0.375)
    assert metrics.normalize_cosine(0.2, 0.2) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="avg cosine must be < 1"):
        metrics.normalize_cosine(0.5, 1.0)


def test_categorical_purity_matches_brute_force(rng):
    x = rng.normal(size=(60, 6))
    labels = rng.choice(["a", "b", "c"], size=60)
    k = 5
    sim = cosine_similarity(x)
    expected = []
    for i in range(60):
        order = [j for j in np.argsort(-sim[i], kind="stable") if j != i][:k]
        expected.append(np.mean([labels[j] == labels[i] for j in order]))
    np.testing.assert_allclose(metrics.categorical_purity(x, labels, k), expected)


def test_knn_rejects_bad_k(rng):
    with pytest.raises(ValueError, match="k must be in"):
        metrics.knn_indices(rng.normal(size=(5, 3)), 5)


def test_group_mean_keeps_first_seen_order():
    assert metrics.group_mean(np.array([1.0, 2.0, 3.0]), ["b", "a", "b"]) == {"b": 2.0, "a": 2.0}


def test_detection_metrics_match_sklearn(rng):
    y = rng.integers(0, 2, size=300)
    s = y * 0.7 + rng.normal(size=300) * 0.6
    s[:20] = np.round(s[:20], 1)  # ties
    assert metrics.auroc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert metrics.average_precision(y, s) == pytest.approx(average_precision_score(y, s), abs=1e-12)
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    ours_fpr, ours_tpr, _ = metrics.roc_curve(y, s)
    np.testing.assert_allclose(ours_fpr, fpr)
    np.testing.assert_allclose(ours_tpr, tpr)
    assert metrics.tpr_at_fpr(y, s, 0.05) == pytest.approx(tpr[fpr <= 0.05].max())


def test_binary_report_counts():
    r = metrics.binary_report(np.array([1, 1, 0, 0, 1]), np.array([1, 0, 1, 0, 1]))
    assert (r["tp"], r["fp"], r["fn"], r["tn"]) == (2, 1, 1, 1)
    assert r["precision"] == pytest.approx(2 / 3)
    assert r["recall"] == pytest.approx(2 / 3)
    assert r["fpr"] == pytest.approx(0.5)


def test_paired_bootstrap_matches_a_brute_force_resampling(rng):
    y = rng.integers(0, 2, size=120)
    a = y * 0.3 + rng.normal(size=120)
    b = y * 1.5 + rng.normal(size=120)
    d, lo, hi = metrics.paired_bootstrap(y, a, b, n_boot=200, seed=3)
    assert d == pytest.approx(roc_auc_score(y, b) - roc_auc_score(y, a))
    r = np.random.default_rng(3)  # the same stratified draws, scored by sklearn
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    diffs = []
    for _ in range(200):
        idx = np.r_[r.choice(pos, len(pos)), r.choice(neg, len(neg))]
        diffs.append(roc_auc_score(y[idx], b[idx]) - roc_auc_score(y[idx], a[idx]))
    assert (lo, hi) == pytest.approx(tuple(np.quantile(diffs, [0.025, 0.975])))
    assert 0 < lo < d < hi  # a clearly better b
    assert metrics.paired_bootstrap(y, a, a, n_boot=50) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="lengths differ"):
        metrics.paired_bootstrap(y, a, b[:-1])


def test_macro_f1_matches_sklearn_with_misses_and_stray_classes(rng):
    from sklearn.metrics import f1_score

    truth = rng.choice(["S1", "S2", "S9"], 200).tolist()
    pred = [t if rng.random() < 0.6 else rng.choice(["S1", "S2", "S9", "S5", None]) for t in truth]
    want = f1_score(truth, ["none" if p is None else p for p in pred], average="macro", labels=sorted(set(truth)))
    assert metrics.macro_f1(truth, pred) == pytest.approx(want)
    with pytest.raises(Exception, match="lengths differ"):
        metrics.macro_f1(truth, pred[:-1])
