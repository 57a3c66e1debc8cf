"""Index search, scoring rules and calibration against brute force on seeded data."""

from __future__ import annotations

import numpy as np
import pytest

from safe_embed.detector import index as ix
from safe_embed.detector.calibration import calibrate, choose_threshold, detection_metrics
from safe_embed.encoders.base import l2_normalize
from safe_embed.errors import ConfigError
from safe_embed.scoring import ScoringRule, features, knn_vote


def _unit(n: int, d: int, seed: int) -> np.ndarray:
    return l2_normalize(np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32))


def test_flat_search_matches_brute_force():
    xb, xq = _unit(200, 16, 0), _unit(20, 16, 1)
    D, I = ix.search(ix.build_index(xb), xq, 5)
    sims = xq @ xb.T
    want = np.argsort(-sims, axis=1)[:, :5]
    np.testing.assert_array_equal(I, want)
    np.testing.assert_allclose(D, np.take_along_axis(sims, want, 1), atol=1e-5)


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_approximate_indexes_find_most_true_neighbours(kind):
    xb, xq = _unit(2000, 16, 0), _unit(50, 16, 1)
    idx = ix.build_index(xb, ix.IndexSettings(kind=kind, ivf_nprobe=64))
    assert ix.index_kind(idx) == kind
    _, I = ix.search(idx, xq, 10)
    want = np.argsort(-(xq @ xb.T), axis=1)[:, :10]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(I, want)])
    assert recall > 0.9
    np.testing.assert_allclose(ix.vectors(idx)[:5], xb[:5], atol=1e-6)


def test_auto_index_switches_to_hnsw_above_the_size_setting():
    s = ix.IndexSettings(kind="auto", hnsw_above=100)
    assert s.resolve(100) == "flat" and s.resolve(101) == "hnsw"
    assert ix.index_kind(ix.build_index(_unit(150, 8, 0), s)) == "hnsw"
    with pytest.raises(ConfigError, match="index kind"):
        ix.IndexSettings(kind="lsh")


def test_a_search_runs_on_its_threads_and_leaves_the_callers_setting(monkeypatch):
    import threading

    import faiss

    idx, xq = ix.build_index(_unit(500, 16, 0)), _unit(64, 16, 1)
    want = ix.search(idx, xq, 5)
    seen = []
    real_search = type(idx).search

    def spy(self, *a, **kw):
        seen.append(faiss.omp_get_max_threads())
        return real_search(self, *a, **kw)

    monkeypatch.setattr(type(idx), "search", spy)
    before = faiss.omp_get_max_threads()
    got = ix.search(idx, xq, 5, threads=1)
    assert seen == [1] and faiss.omp_get_max_threads() == before
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_allclose(got[0], want[0], atol=1e-6)
    other = []  # the setting is per calling thread: a search in another thread does not see it
    t = threading.Thread(target=lambda: other.append(faiss.omp_get_max_threads()))
    faiss.omp_set_num_threads(1)
    try:
        t.start()
        t.join()
    finally:
        faiss.omp_set_num_threads(before)
    assert other == [before] or before == 1
    assert ix.IndexSettings().search_threads == 1
    with pytest.raises(ConfigError, match="search_threads"):
        ix.IndexSettings(search_threads=-1)


def test_search_pads_missing_neighbours_with_minus_one():
    D, I = ix.search(ix.build_index(_unit(3, 8, 0)), _unit(2, 8, 1), 5)
    assert (I[:, 3:] == -1).all() and (D[:, 3:] == -1).all() and (I[:, :3] >= 0).all()


def test_margin_rule_is_top_m_difference():
    su, ss = np.array([[0.9, 0.7, 0.1]]), np.array([[0.5, 0.4, 0.3]])
    assert ScoringRule("margin", k=3, m=1).raw(su, ss)[0] == pytest.approx(0.4)
    assert ScoringRule("margin", k=3, m=2).raw(su, ss)[0] == pytest.approx(0.35)


def test_knn_vote_matches_a_brute_force_vote():
    rng = np.random.default_rng(0)
    su = -np.sort(-rng.uniform(-1, 1, (30, 6)), axis=1)
    ss = -np.sort(-rng.uniform(-1, 1, (30, 6)), axis=1)
    got = knn_vote(su, ss, k=5, temperature=0.1)
    for r in range(30):
        pool = sorted([(s, 1) for s in su[r]] + [(s, 0) for s in ss[r]], reverse=True)[:5]
        w = np.array([np.exp(s / 0.1) for s, _ in pool])
        lab = np.array([lab for _, lab in pool])
        assert got[r] == pytest.approx((w * lab).sum() / w.sum())
    assert ((got >= 0) & (got <= 1)).all()


def test_logistic_rule_learns_a_separable_rule_and_round_trips():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    su = np.sort(rng.uniform(0, 0.5, (400, 10)) + 0.4 * y[:, None], axis=1)[:, ::-1]
    ss = np.sort(rng.uniform(0, 0.5, (400, 10)) + 0.4 * (1 - y)[:, None], axis=1)[:, ::-1]
    rule = ScoringRule("logistic", k=10).fit(su, ss, y)
    assert len(rule.weights) == features(su, ss, 10).shape[1] + 1
    raw = rule.raw(su, ss)
    assert detection_metrics(y, raw, 0.0)["auroc"] > 0.99
    np.testing.assert_allclose(ScoringRule.from_dict(rule.to_dict()).raw(su, ss), raw)
    with pytest.raises(ConfigError, match="no weights"):
        ScoringRule("logistic").raw(su, ss)


def test_the_default_rule_is_the_shipped_one():
    """``ScoringRule()`` and export's ``--rule`` default are one rule: head_knn."""
    from safe_embed.scoring import DEFAULT_RULE

    assert ScoringRule().name == DEFAULT_RULE == "head_knn" and ScoringRule().uses_embedding


def test_rule_parameters_are_checked():
    with pytest.raises(ConfigError, match="scoring rule"):
        ScoringRule("vibes")
    with pytest.raises(ConfigError, match="m <= k"):
        ScoringRule("margin", k=2, m=3)


def test_fpr_threshold_is_the_lowest_with_fpr_at_most_target():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    s = rng.normal(size=300) + y
    for target in (0.01, 0.05, 0.2):
        t = choose_threshold(s, y, "fpr", target)
        fpr = lambda c: ((s >= c) & (y == 0)).sum() / (y == 0).sum()
        assert fpr(t) <= target
        lower = s[s < t]
        assert lower.size == 0 or fpr(lower.max()) > target


def test_f1_threshold_is_the_best_f1_over_all_cuts():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    s = rng.normal(size=200) + y
    t = choose_threshold(s, y, "f1")
    f1 = lambda c: detection_metrics(y, s, c)["f1"]
    assert f1(t) == pytest.approx(max(f1(c) for c in np.unique(s)))


def test_calibration_maps_into_unit_interval_monotonically():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 300)
    raw = rng.normal(size=300) + 2 * y
    cal = calibrate(raw, y, "fpr", 0.05)
    s = cal.score(raw)
    assert ((s > 0) & (s < 1)).all()
    assert (np.diff(s[np.argsort(raw)]) >= 0).all()
    assert cal.validation["fpr"] <= 0.05 and 0 < cal.threshold < 1
    with pytest.raises(ConfigError, match="both safe and unsafe"):
        calibrate(raw, np.zeros(300, int))
    with pytest.raises(ConfigError, match="method"):
        choose_threshold(raw, y, "youden")
