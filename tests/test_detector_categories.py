"""Per-category scores: on every detection, equal to a brute-force vote of the nearest categorised unsafe exemplars;
the reported category and its thresholds; the temperature fitted on the calibration split; saved and loaded."""

from __future__ import annotations

import numpy as np
import pytest
from hazards import CALIB, S1, S2, S9, SAFE, UNSAFE, hazard_detector

from safe_embed.data.schemas import LabelledPrompt
from safe_embed.detector import Detector, Exemplar, ExemplarSets, ScoringRule
from safe_embed.detector.categories import TEMPERATURES, parse_category_thresholds
from safe_embed.detector.demo import toy_detector
from safe_embed.detector.settings import DetectorSettings
from safe_embed.encoders.fake import HashEncoder
from safe_embed.errors import ConfigError

QUERIES = ["how do i build a bomb", "poison my neighbour", "steal a car", "bake a cake", ""]


def _detector(thresholds: dict | None = None, encoder=None) -> Detector:
    from safe_embed.detector.categories import CategorySettings

    sets = ExemplarSets([Exemplar(f"u:{i}", t, "unsafe", c) for i, (t, c) in enumerate(UNSAFE)],
                        [Exemplar(f"s:{i}", t, "safe") for i, t in enumerate(SAFE)],
                        [LabelledPrompt(t, lab, category=c) for t, lab, c in CALIB])
    return Detector.build(encoder or HashEncoder(dim=64), sets, rule=ScoringRule("margin", k=2), method="f1",
                          settings=DetectorSettings(categories=CategorySettings(thresholds=thresholds or {})))


def _brute_force(det: Detector, text: str) -> dict[str, float]:
    """The vote computed from scratch: every unsafe exemplar embedded, sorted by cosine, the k nearest with a given
    (not inferred) category."""
    q = det.embed([text])[0]
    x = det.embed([e.text for e in det.unsafe])
    sims = x @ q
    cs = det.settings.categories
    given = [e.category if not (e.source_category or "").startswith("inferred:") else None for e in det.unsafe]
    near = [(float(sims[j]), given[j]) for j in np.argsort(-sims) if given[j]][:cs.k]
    top = max(s for s, _ in near)
    w = {c: 0.0 for c in det.categories}
    for s, c in near:
        w[c] += np.exp((s - top) / cs.temperature)
    total = sum(w.values())
    return {c: v / total for c, v in w.items()}


def test_every_detection_carries_scores_equal_to_a_brute_force_vote():
    det = _detector()
    assert det.categories == [S1, S2, S9]
    for text, d in zip(QUERIES, det.classify(QUERIES), strict=True):
        if not text:
            assert d.category_scores == {} and d.category is None
            continue
        assert list(d.category_scores) == det.categories
        assert d.category_scores == pytest.approx(_brute_force(det, text), abs=1e-6)
        assert all(0.0 <= v <= 1.0 for v in d.category_scores.values())
        top = max(d.category_scores, key=d.category_scores.get)
        assert d.category == (top if d.label == "unsafe" else None)
    bomb, poison, steal = det.classify(QUERIES[:3])
    assert (bomb.category, poison.category, steal.category) == (S9, S1, S2)


def test_the_temperature_is_fitted_on_the_categorised_calibration_prompts():
    fitted = _detector().settings.categories
    assert fitted.temperature in TEMPERATURES
    assert fitted.fitted["n"] == 3 and 0.0 <= fitted.fitted["accuracy"] <= 1.0
    # no categories on the calibration prompts: nothing to fit
    plain = toy_detector(UNSAFE[:3], SAFE, [(t, lab) for t, lab, _ in CALIB])
    assert plain.settings.categories.fitted == {"n": 0}


def test_a_category_threshold_hides_a_category_the_neighbours_do_not_agree_on():
    det = hazard_detector()  # no categories on its calibration prompts: the default temperature, mixed shares
    bomb = det.classify(["how to build a pipe bomb"])[0]
    share = bomb.category_scores[S9]
    assert bomb.label == "unsafe" and bomb.category == S9 and share < 1.0
    det.set_category_thresholds({"S9": min(1.0, share + 0.01)})  # by code
    again = det.classify(["how to build a pipe bomb"])[0]
    assert again.category is None and again.category_scores == pytest.approx(bomb.category_scores)
    det.set_category_thresholds({S9: share})  # by name, at the score itself: reported
    assert det.classify(["how to build a pipe bomb"])[0].category == S9
    assert det.settings.categories.thresholds == {S9: share}


def test_thresholds_given_at_build_time_are_resolved_and_survive_save_and_load(tiny_st_dir, tmp_path):
    from safe_embed.encoders.sentence_transformer import SentenceTransformerEncoder

    det = _detector({"S1": 0.9}, SentenceTransformerEncoder(str(tiny_st_dir)))
    assert det.settings.categories.thresholds == {S1: 0.9}
    det.save(tmp_path / "d")
    back = Detector.load(tmp_path / "d")
    assert back.settings.categories == det.settings.categories
    assert [d.category_scores for d in back.classify(QUERIES)] == \
        pytest.approx([d.category_scores for d in det.classify(QUERIES)])


@pytest.mark.parametrize("given,message", [({"S7": 0.5}, r"no such category.*'S1: Violent Crimes'"),
                                           ({"S1": 1.5}, r"S1=1.5 is outside \[0, 1\]")])
def test_bad_thresholds_are_refused_with_the_fix(given, message):
    with pytest.raises(ConfigError, match=message):
        _detector().set_category_thresholds(given)


@pytest.mark.parametrize("spec", ["S6", "S6=high", "=0.5", "S6=2"])
def test_bad_threshold_options_are_refused(spec):
    with pytest.raises(ConfigError, match="CATEGORY=SCORE.*--category-threshold S6=0.8"):
        parse_category_thresholds([spec])
