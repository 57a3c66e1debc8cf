"""Detector data: exemplars from the train split, calibration from val, test and held-out data never used."""

from __future__ import annotations

from pathlib import Path

import pytest

from safe_embed.data import load_labelled
from safe_embed.data.splits import text_key
from safe_embed.detector.eval_sets import load_eval_set
from safe_embed.detector.exemplars import DetectorData, load_exemplars
from safe_embed.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def default_sets(data_dir):
    return load_exemplars(ROOT / "configs" / "detector" / "default.yaml", data_dir=data_dir)


def _keys(items):
    return {text_key(x.text) for x in items}


def test_default_config_is_the_default_design(default_sets, data_dir):
    s = default_sets
    assert DetectorData.parse({}).spec.to_dict() == DetectorData.parse(
        __import__("yaml").safe_load((ROOT / "configs" / "detector" / "default.yaml").read_text())).spec.to_dict()
    assert len(s.unsafe) > 2000 and len(s.safe) > 2000 and len(s.calibration) > 500
    assert {e.label for e in s.unsafe} == {"unsafe"} and {e.label for e in s.safe} == {"safe"}
    assert len({e.id for e in s.unsafe + s.safe}) == len(s.unsafe) + len(s.safe)
    assert {p.label for p in s.calibration} == {"safe", "unsafe"}
    assert {"guardreasoner-train", "alpaca"} <= {p.source for p in s.calibration}  # realistic calibration
    assert all(e.category.startswith("S") for e in s.unsafe if e.source == "do-not-answer")  # MLCommons


def test_exemplars_are_train_calibration_is_val_and_test_is_unused(default_sets):
    ds = default_sets.dataset
    ex = _keys(default_sets.unsafe + default_sets.safe)
    cal = _keys(default_sets.calibration)
    assert ex == _keys(ds.split("train")) and cal == _keys(ds.split("val"))
    assert not ex & cal and not (ex | cal) & _keys(ds.split("test"))


@pytest.mark.parametrize("name", ["xstest", "xstest-aug", "beavertails", "jbb"])
def test_no_test_or_held_out_text_is_an_exemplar_or_calibration_prompt(default_sets, data_dir, name):
    used = _keys(default_sets.unsafe + default_sets.safe) | _keys(default_sets.calibration)
    test = _keys(load_eval_set(name, data_dir=data_dir))
    assert test and not test & used


def test_role_lists_select_sources_per_role(data_dir):
    s = load_exemplars({"unsafe": [{"name": "advbench"}], "safe": [{"name": "oktest"}, {"name": "alpaca",
                        "sample": 300}], "calibration": [{"name": "alpaca", "sample": 300}, {"name": "advbench"}]},
                       data_dir=data_dir)
    assert {e.source for e in s.unsafe} == {"advbench"} and {e.source for e in s.safe} == {"oktest", "alpaca"}
    assert {p.source for p in s.calibration} == {"alpaca", "advbench"}


@pytest.mark.parametrize("config,match", [
    ({"unsafe": [{"name": "xstest"}], "safe": [{"name": "oktest"}]}, "is a test set"),
    ({"sources": [{"name": "beavertails-prompts"}]}, "is a test set"),
    ({"sources": [{"name": "advbench"}], "calib": []}, "unknown key"),
    ({"sources": [{"dataset": "advbench"}]}, "now 'name'/'path'"),
    ({"sources": [{"name": "advbench"}], "unsafe": [{"name": "advbench"}]}, "not both"),
    ({"unsafe": [], "safe": [{"name": "oktest"}]}, "non-empty 'unsafe' and 'safe'"),
    ({"unsafe": [{"name": "alpaca"}], "safe": [{"name": "alpaca", "sample": 5}]}, "different options"),
    ({"sources": [{"name": "jbb"}], "held_out": ["jbb"]}, "both held out and"),
    ({"sources": [{"name": "advbench"}], "held_out": "jbb"}, "list of dataset names"),
    ({"sources": [{"name": "advbench"}]}, "needs both"),
])
def test_bad_configs_are_refused(config, match, data_dir):
    with pytest.raises(ConfigError, match=match):
        load_exemplars(config, data_dir=data_dir)


def test_file_sources_resolve_next_to_the_config(tmp_path, data_dir):
    rows = [f'{{"text": "unsafe request number {i}", "label": "unsafe", "category": "c{i % 2}"}}' for i in range(20)]
    rows += [f'{{"text": "safe request number {i}", "label": "safe"}}' for i in range(20)]
    (tmp_path / "mine.jsonl").write_text("\n".join(rows) + "\n")
    (tmp_path / "cfg.yaml").write_text("sources: [{path: mine.jsonl}]\n")
    s = load_exemplars(tmp_path / "cfg.yaml", data_dir=data_dir)
    assert (len(s.unsafe), len(s.safe), len(s.calibration)) == (14, 14, 4)
    assert {e.category for e in s.unsafe} == {"c0", "c1"}  # a user's categories pass through the taxonomy


def test_held_out_sets_remove_their_texts_from_every_source(data_dir):
    jbb = _keys(load_labelled("jbb", data_dir))
    adv = _keys(load_labelled("advbench", data_dir))
    cfg = {"sources": [{"name": "advbench"}, {"name": "oktest"}]}
    kept = _keys(load_exemplars({**cfg, "held_out": []}, data_dir=data_dir).unsafe)
    held = load_exemplars({**cfg, "held_out": ["jbb"]}, data_dir=data_dir)
    assert adv & jbb & kept  # AdvBench repeats some JBB behaviours...
    assert not _keys(held.unsafe) & jbb  # ...which a held-out JBB removes
    assert held.provenance["held_out"] == ["jbb"]


def test_every_detector_config_resolves(data_dir):
    for cfg in sorted((ROOT / "configs" / "detector").glob("*.yaml")):
        s = load_exemplars(cfg, data_dir=data_dir)
        assert s.unsafe and s.safe and s.calibration, cfg.name


def test_eval_sets_by_name_and_split(data_dir):
    assert len(load_eval_set("xstest", data_dir=data_dir)) == 450
    assert len(load_eval_set("jbb", data_dir=data_dir)) == 200
    held = load_eval_set("oktest-heldout", data_dir=data_dir)  # OKTest_heldout, and OKTest rows repeating it
    assert _keys(p for p in load_labelled("oktest", data_dir) if p.type == "OKTest_heldout") == _keys(held)
    gr_test = load_eval_set("guardreasoner-train:test", data_dir=data_dir)
    assert 0.15 < len(gr_test) / 4539 < 0.25 and {p.split for p in gr_test} == {"test"}
    assert _keys(gr_test) == _keys(load_eval_set("guardreasoner-train", split="test", data_dir=data_dir))
    dna = load_eval_set("dna-test", data_dir=data_dir)
    assert {p.source for p in dna} == {"do-not-answer", "safety-contrast"}
    with pytest.raises(ConfigError, match="test set with no splits"):
        load_eval_set("xstest", split="test", data_dir=data_dir)


def test_beavertails_is_one_row_per_prompt_unsafe_if_any_response_was_harmful(data_dir):
    import csv

    with open(data_dir / "beavertails" / "beavertails_30k_test_prompts.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    want: dict[str, str] = {}
    for r in rows:  # brute force: a prompt is unsafe if any of its rows is
        key = " ".join(r["prompt"].split())
        want[key] = "unsafe" if r["label"] == "unsafe" or want.get(key) == "unsafe" else "safe"
    got = load_eval_set("beavertails", data_dir=data_dir)
    assert len(got) == len(want) < len(rows)
    assert {" ".join(p.text.split()): p.label for p in got} == want


def test_the_seed_is_the_callers_else_the_configs_else_the_default(data_dir):
    """``seed=None`` keeps a config's own ``seed:``; the seed used is in the provenance and splits the data."""
    config = {"sources": [{"name": "advbench"}, {"name": "alpaca", "sample": 200}], "seed": 5}
    own = load_exemplars(config, data_dir=data_dir)
    assert own.provenance["seed"] == 5 and own.dataset.spec.seed == 5
    assert load_exemplars(config, seed=7, data_dir=data_dir).provenance["seed"] == 7
    default = load_exemplars({"sources": config["sources"]}, data_dir=data_dir)
    assert default.provenance["seed"] == 0
    assert _keys(default.calibration) != _keys(own.calibration)  # the seed does move the split


def test_export_uses_the_configs_seed_and_leaves_the_callers_settings_alone(data_dir, tiny_st_dir, tmp_path):
    from safe_embed.detector import DetectorSettings
    from safe_embed.detector.build import export_detector

    settings = DetectorSettings(k_neighbors=3)
    config = {"sources": [{"name": "advbench"}, {"name": "alpaca", "sample": 200}], "seed": 5}
    det = export_detector(str(tiny_st_dir), tmp_path / "det", config, settings=settings, data_dir=data_dir,
                          cache=False)
    assert det.settings.seed == 5 and det.settings.k_neighbors == 3
    assert settings.seed == 0  # not mutated


def test_build_keeps_a_configs_seed(data_dir):
    """``Detector.build`` splits the data with the config's own ``seed:`` and records it (a default
    ``DetectorSettings`` no longer overrides it with 0)."""
    from safe_embed.detector import Detector, DetectorSettings
    from safe_embed.encoders.fake import HashEncoder

    config = {"sources": [{"name": "advbench"}, {"name": "alpaca", "sample": 200}], "seed": 5}
    det = Detector.build(HashEncoder(dim=32), config, rule="margin", settings=DetectorSettings(k_neighbors=2),
                         data_dir=data_dir)
    own = load_exemplars(config, data_dir=data_dir)
    assert det.settings.seed == 5 and det.settings.k_neighbors == 2 and det.splits["seed"] == 5
    assert {e.id for e in det.unsafe + det.safe} == {e.id for e in own.unsafe + own.safe}
