"""Exemplar configs: the default sets keep test data out and use the training issue's splits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from safe_embed.data import load_labelled
from safe_embed.detector.exemplars import load_eval_set, load_exemplar_config, load_exemplars, norm_text
from safe_embed.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def default_sets(data_dir):
    return load_exemplars(ROOT / "configs" / "detector" / "default.yaml", data_dir=data_dir)


def test_default_config_has_categories_and_both_labels(default_sets):
    s = default_sets
    assert len(s.unsafe) > 1000 and len(s.safe) > 3000 and len(s.calibration) > 500
    assert {e.label for e in s.unsafe} == {"unsafe"} and {e.label for e in s.safe} == {"safe"}
    assert len({e.category for e in s.unsafe if e.source == "do-not-answer"}) == 12
    assert len({e.id for e in s.unsafe + s.safe}) == len(s.unsafe) + len(s.safe)
    assert {p.label for p in s.calibration} == {"safe", "unsafe"}


def test_no_test_text_is_an_exemplar_or_calibration_prompt(default_sets, data_dir):
    s = default_sets
    ex = {norm_text(e.text) for e in s.unsafe + s.safe}
    cal = {norm_text(p.text) for p in s.calibration}
    assert not ex & cal
    for name in ("xstest", "xstest-aug", "dna-test", "jbb-heldout", "oktest-heldout", "beavertails", "jbb"):
        test = {norm_text(p.text) for p in load_eval_set(name, data_dir=data_dir)}
        assert test and not test & ex and not test & cal, name


def test_calibration_is_the_training_val_split(default_sets, data_dir):
    from safe_embed.train.examples import build_training_data

    td = build_training_data(data_dir, ["do-not-answer", "safety-contrast", "jbb", "oktest"], seed=0)
    val_unsafe = {p.text for p in td.evals["val"].taxonomy}
    assert {p.text for p in default_sets.calibration if p.source == "do-not-answer"} == val_unsafe
    train_texts = {norm_text(a.text) for a in td.parts["train"].anchors}
    assert not train_texts & {norm_text(p.text) for p in default_sets.calibration}
    jbb_val = {str(i) for i in td.splits.jbb["val"]}
    assert {p.pair_id for p in load_eval_set("jbb-heldout", data_dir=data_dir)} == jbb_val


@pytest.mark.parametrize("config,match", [
    ({"unsafe": [{"dataset": "xstest"}], "safe": [{"dataset": "oktest"}]}, "never used as exemplars"),
    ({"unsafe": [{"dataset": "beavertails-prompts"}], "safe": [{"dataset": "oktest"}]}, "never used as exemplars"),
    ({"unsafe": [{"dataset": "advbench"}], "safe": [{"dataset": "oktest"}], "calib": []}, "unknown key"),
    ({"unsafe": [{"dataset": "advbench", "split": "train"}], "safe": [{"dataset": "oktest"}]}, "has no splits"),
    ({"unsafe": [{"dataset": "jbb", "split": "test"}], "safe": [{"dataset": "oktest"}]}, "jbb has splits"),
    ({"unsafe": [{"dataset": "advbench", "file": "x.csv"}], "safe": [{"dataset": "oktest"}]}, "'dataset' or 'file'"),
    ({"unsafe": [{"dataset": "advbench", "lable": "x"}], "safe": [{"dataset": "oktest"}]}, "unknown key"),
    ({"unsafe": [], "safe": [{"dataset": "oktest"}]}, "non-empty"),
    ({"unsafe": [{"dataset": "jbb", "split": "train"}], "safe": [{"dataset": "oktest"}], "held_out": ["jbb"]},
     "both held out and"),
    ({"unsafe": [{"dataset": "advbench"}], "safe": [{"dataset": "oktest"}], "held_out": "jbb"}, "list of dataset"),
])
def test_bad_configs_are_refused(config, match, data_dir):
    with pytest.raises(ConfigError, match=match):
        load_exemplar_config(config, data_dir=data_dir)


def test_file_sources_resolve_next_to_the_config_and_hold_out_calibration(tmp_path, data_dir):
    rows = [f'{{"text": "unsafe request number {i}", "label": "unsafe", "category": "c{i % 2}"}}' for i in range(10)]
    rows += [f'{{"text": "safe request number {i}", "label": "safe"}}' for i in range(10)]
    (tmp_path / "mine.jsonl").write_text("\n".join(rows) + "\n")
    (tmp_path / "cfg.yaml").write_text("unsafe: [{file: mine.jsonl}]\nsafe: [{file: mine.jsonl}]\n"
                                       "calibration_fraction: 0.2\n")
    s = load_exemplars(tmp_path / "cfg.yaml", data_dir=data_dir)
    assert (len(s.unsafe), len(s.safe), len(s.calibration)) == (8, 8, 4)
    assert {e.category for e in s.unsafe} == {"c0", "c1"}


def test_every_detector_config_parses(data_dir):
    for cfg in sorted((ROOT / "configs" / "detector").glob("*.yaml")):
        s = load_exemplars(cfg, data_dir=data_dir)
        assert s.unsafe and s.safe and s.calibration, cfg.name


def test_eval_sets_by_name(data_dir):
    assert len(load_eval_set("xstest", data_dir=data_dir)) == 450
    assert len(load_eval_set("jbb-heldout", data_dir=data_dir)) == 60
    assert {p.label for p in load_eval_set("oktest-heldout", data_dir=data_dir)} == {"safe"}
    assert len(load_eval_set("jbb", split="val", data_dir=data_dir)) == 60
    assert len(load_labelled("jbb", data_dir)) == 200


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
    assert 0 < sum(p.label == "safe" for p in got) < len(got)


def test_a_missing_test_set_does_not_unprotect_the_others(tmp_path, data_dir, caplog):
    import shutil

    partial = tmp_path / "data"
    shutil.copytree(data_dir, partial)
    shutil.rmtree(partial / "beavertails")
    xs = load_eval_set("xstest", data_dir=data_dir)
    leak = tmp_path / "leak.jsonl"
    leak.write_text("".join(json.dumps({"text": p.text, "label": "unsafe"}) + "\n" for p in xs[:3])
                    + '{"text": "a harmless new prompt", "label": "safe"}\n'
                    + '{"text": "a harmful new prompt", "label": "unsafe"}\n')
    s = load_exemplar_config({"unsafe": [{"file": str(leak)}], "safe": [{"file": str(leak)}],
                              "calibration_fraction": 0.0}, data_dir=partial)
    assert {e.text for e in s.unsafe + s.safe} == {"a harmless new prompt", "a harmful new prompt"}
    assert "beavertails unavailable" in caplog.text


def test_held_out_sets_remove_their_texts_from_every_source(data_dir):
    from safe_embed.data import load_labelled

    jbb = {norm_text(p.text) for p in load_labelled("jbb", data_dir)}
    adv = {norm_text(p.text) for p in load_labelled("advbench", data_dir)}
    cfg = {"unsafe": [{"dataset": "advbench"}], "safe": [{"dataset": "oktest", "split": "train"}]}
    kept = {norm_text(e.text) for e in load_exemplar_config(cfg, data_dir=data_dir).unsafe}
    held = load_exemplar_config({**cfg, "held_out": ["jbb"]}, data_dir=data_dir)
    assert adv & jbb & kept  # AdvBench repeats some JBB behaviours...
    assert not {norm_text(e.text) for e in held.unsafe} & jbb  # ...which a held-out JBB removes
    assert held.provenance["held_out"] == ["jbb"]
