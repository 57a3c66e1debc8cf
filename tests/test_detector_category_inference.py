"""Categories inferred for uncategorised unsafe exemplars at build time: beside a cluster they take its category and
are flagged, between two clusters they stay uncategorised; the minimum share is chosen on the calibration split;
the recorded accuracy equals a brute-force leave-one-out; inferred exemplars do not vote; additions keep their given
category; a detector saved before loads."""

from __future__ import annotations

import numpy as np
import pytest
from hazards import S1, S2, S9
from manifests import rewrite_manifest
from tiny_models import table_encoder

from safe_embed.data.schemas import LabelledPrompt
from safe_embed.detector import Detector, Exemplar, ExemplarSets, ScoringRule
from safe_embed.detector.categories import CATEGORY_DEPTH, CategorySettings
from safe_embed.detector.settings import DetectorSettings

DIM = 16


def _e(*pairs: tuple[int, float]) -> np.ndarray:
    v = np.zeros(DIM, np.float32)
    for axis, w in pairs:
        v[axis] += w
    return v


# axes: 0 = S9, 1 = S1, 2 = S2, 3 = safe; 4-15 = noise directions
ROWS = [*(_e((0, 1), (4 + i, 0.3)) for i in range(4)),  # r0-r3: S9 cluster
        *(_e((1, 1), (4 + i, 0.3)) for i in range(4)),  # r4-r7: S1 cluster, the same noise: symmetric with S9
        *(_e((2, 1), (4 + i, 0.3)) for i in range(4)),  # r8-r11: S2 cluster
        _e((0, 1), (8, 0.3)),  # r12: uncategorised, beside the S9 cluster
        _e((0, 1), (1, 1), (9, 0.3)),  # r13: uncategorised, halfway between S9 and S1
        *(_e((3, 1), (4 + i, 0.3)) for i in range(4)),  # r14-r17: safe
        _e((0, 1), (10, 0.2)), _e((1, 1), (10, 0.2)), _e((2, 1), (10, 0.2)),  # r18-r20: calibration, in clusters
        _e((0, 1), (1, 1), (11, 0.2)), _e((0, 1), (1, 1), (11, -0.2)),  # r21-r22: calibration, halfway, truly S2
        _e((3, 1), (10, 0.2)), _e((3, 1), (11, 0.2)),  # r23-r24: safe calibration
        _e((0, 1), (12, 0.3))]  # r25: spare, beside the S9 cluster
CATS = [S9] * 4 + [S1] * 4 + [S2] * 4 + [None, None]
CALIB = [(18, "unsafe", S9), (19, "unsafe", S1), (20, "unsafe", S2), (21, "unsafe", S2), (22, "unsafe", S2),
         (23, "safe", None), (24, "safe", None)]


def _build(rows: list[np.ndarray], cats: list, n_safe_from: int, calib: list, k: int = 8) -> Detector:
    """A detector over ``rows`` (unsafe ``r<i>`` with ``cats``, then safe rows from ``n_safe_from``)."""
    sets = ExemplarSets([Exemplar(f"u:{i}", f"r{i}", "unsafe", c) for i, c in enumerate(cats)],
                        [Exemplar(f"s:{i}", f"r{i}", "safe") for i in range(n_safe_from, n_safe_from + 4)],
                        [LabelledPrompt(f"r{i}", label, category=c) for i, label, c in calib])
    return Detector.build(table_encoder(np.stack(rows)), sets, rule=ScoringRule("margin", k=2), method="f1",
                          settings=DetectorSettings(categories=CategorySettings(k=k)))


@pytest.fixture(scope="module")
def geometric() -> Detector:
    return _build(ROWS, CATS, 14, CALIB)


def test_beside_a_cluster_inferred_and_flagged_between_two_left_uncategorised(geometric):
    beside, between = geometric.unsafe[12], geometric.unsafe[13]
    assert (beside.category, beside.source_category) == (S9, "inferred:8nn")
    assert (between.category, between.source_category) == (None, None)
    report = geometric.provenance["category_inference"]
    # halfway calibration prompts (truly S2) score 0.5/0.5: below 0.6 they drop out and the rest are all right
    assert report["min_share"] == 0.6 and report["calibration"]["accuracy"] == 1.0
    assert report["n_uncategorised"] == 2 and report["n_inferred"] == 1 and report["coverage"] == 0.5
    assert report["by_category"] == {S9: 1} and report["method"] == "inferred:8nn"
    assert geometric.categories == [S1, S2, S9]


def test_inferred_exemplars_do_not_vote_and_show_in_the_evidence(geometric):
    assert geometric.pool.category_numbers()[12] == -1
    d = geometric.classify(["r12"])[0]  # r12's nearest exemplar is itself, inferred S9
    first = d.neighbors[0]
    assert (first.id, first.category, first.category_inferred) == ("u:12", S9, True)
    assert first.to_dict()["category_inferred"] is True and d.neighbors[1].category_inferred is False
    x = geometric.embed(["r12"])[0]  # the vote of the given categories only, from scratch
    given = [(float(geometric.indexes["unsafe"].vectors()[j] @ x), c) for j, c in enumerate(CATS) if c]
    given.sort(key=lambda t: -t[0])
    t = geometric.settings.categories.temperature
    w = {c: sum(np.exp((s - given[0][0]) / t) for s, cc in given[:8] if cc == c) for c in (S1, S2, S9)}
    assert d.category_scores == pytest.approx({c: v / sum(w.values()) for c, v in w.items()}, abs=1e-6)


def test_added_exemplars_keep_their_given_category():
    det = _build(ROWS, CATS, 14, CALIB)
    det.add(["r25", "r25"], ["unsafe", "unsafe"], [None, S1], ids=["mine:0", "mine:1"])
    plain, given = det.unsafe[-2:]  # beside the S9 cluster, but nothing is inferred on the live path
    assert (plain.category, plain.source_category) == (None, None)
    assert given.category == S1 and det.pool.category_numbers()[-2:].tolist() == [-1, det.categories.index(S1)]


def _random_case(seed: int = 3):
    """Three noisy clusters of 10 categorised unsafe rows, 8 uncategorised ones, 4 safe rows, calibration prompts."""
    rng = np.random.default_rng(seed)
    centres = np.eye(DIM)[:4]
    rows, cats = [], []
    for c, name in enumerate((S1, S2, S9)):
        for _ in range(10):
            rows.append(centres[c] + 1.1 * rng.normal(size=DIM) / np.sqrt(DIM))
            cats.append(name)
    for _ in range(8):
        rows.append(centres[rng.integers(3)] + 1.1 * rng.normal(size=DIM) / np.sqrt(DIM))
        cats.append(None)
    rows += [centres[3] + 0.3 * rng.normal(size=DIM) / np.sqrt(DIM) for _ in range(4)]
    calib = []
    for c, name in enumerate((S1, S2, S9)):
        for _ in range(4):
            rows.append(centres[c] + 1.1 * rng.normal(size=DIM) / np.sqrt(DIM))
            calib.append((len(rows) - 1, "unsafe", name))
    for _ in range(3):
        rows.append(centres[3] + 0.3 * rng.normal(size=DIM) / np.sqrt(DIM))
        calib.append((len(rows) - 1, "safe", None))
    return [r.astype(np.float32) for r in rows], cats, calib


def test_recorded_leave_one_out_accuracy_equals_a_brute_force_computation():
    rows, cats, calib = _random_case()
    det = _build(rows, cats, len(cats), calib, k=10)
    report = det.provenance["category_inference"]
    x = np.stack(rows)[: len(cats)].astype(np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    t, m = det.settings.categories.temperature, report["min_share"]
    right = kept = 0
    for i, own in enumerate(cats):
        if own is None:
            continue
        sims = x @ x[i]
        order = [j for j in np.argsort(-sims) if j != i][:CATEGORY_DEPTH]
        voters = [(sims[j], cats[j]) for j in order if cats[j]][:10]
        w = {c: sum(np.exp((s - voters[0][0]) / t) for s, cc in voters if cc == c) for c in (S1, S2, S9)}
        top = max(w, key=w.get)
        if w[top] / sum(w.values()) >= m:
            kept += 1
            right += top == own
    n = sum(c is not None for c in cats)
    loo = report["leave_one_out"]
    assert 0 < right < kept  # a case with errors: the check could fail
    assert loo["n"] == n and loo["coverage"] == pytest.approx(kept / n, abs=1e-6)
    assert loo["accuracy"] == pytest.approx(right / kept, abs=1e-6)
    inferred = [e for e in det.unsafe if (e.source_category or "").startswith("inferred:")]
    assert report["n_inferred"] == len(inferred) and report["coverage"] == pytest.approx(len(inferred) / 8)


def test_no_categorised_calibration_prompt_infers_nothing():
    det = _build(ROWS, CATS, 14, [(i, label, None) for i, label, _ in CALIB])
    assert det.unsafe[12].category is None
    assert det.provenance["category_inference"]["skipped"] == "no categorised calibration prompt"


def test_inferred_categories_survive_save_and_load(tiny_st_dir, tmp_path):
    from hazards import CALIB as HAZARD_CALIB
    from hazards import SAFE, UNSAFE

    from safe_embed.encoders.sentence_transformer import SentenceTransformerEncoder

    sets = ExemplarSets([Exemplar(f"u:{i}", t, "unsafe", c) for i, (t, c) in enumerate(UNSAFE)],
                        [Exemplar(f"s:{i}", t, "safe") for i, t in enumerate(SAFE)],
                        [LabelledPrompt(t, lab, category=c) for t, lab, c in HAZARD_CALIB])
    det = Detector.build(SentenceTransformerEncoder(str(tiny_st_dir)), sets, rule=ScoringRule("margin", k=2),
                         method="f1")
    assert det.unsafe[-1].source_category.startswith("inferred:")  # "how to make a bomb", given none
    det.save(tmp_path / "d")
    back = Detector.load(tmp_path / "d")
    assert back.unsafe == det.unsafe and back.categories == det.categories
    assert back.provenance["category_inference"] == det.provenance["category_inference"]
    assert back.pool.category_numbers().tolist() == det.pool.category_numbers().tolist()


def test_a_detector_saved_before_loads(tiny_detector_dir, tmp_path):
    import shutil

    old = tmp_path / "old"
    shutil.copytree(tiny_detector_dir, old)

    def strip(body: dict) -> None:  # as written before categories were inferred (or scored)
        body["provenance"].pop("category_inference", None)
        body["settings"].pop("categories", None)

    rewrite_manifest(old, strip)
    back = Detector.load(old)
    assert "category_inference" not in back.provenance and back.categories
    assert not any((e.source_category or "").startswith("inferred:") for e in back.unsafe)
    assert back.classify(["build a bomb"])[0].label in ("safe", "unsafe")
