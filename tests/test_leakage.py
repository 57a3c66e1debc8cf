"""No test or held-out text is ever trained on, indexed or calibrated on, for every shipped config; and a detector
exported from a run never calibrates on what the run trained on."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from safe_embed.data import load_labelled
from safe_embed.data.shared_sets import SHARED_SETS, load_jailbreak_templates
from safe_embed.data.splits import text_key

ROOT = Path(__file__).resolve().parent.parent
TRAIN_CONFIGS = sorted((ROOT / "configs" / "train").rglob("*.yaml"))
DETECTOR_CONFIGS = sorted((ROOT / "configs" / "detector").glob("*.yaml"))


def _keys(items):
    return {text_key(x.text) for x in items}


def _forbidden(data_dir, held_out) -> set[str]:
    out = set()
    for name in ("xstest", "xstest-aug", "beavertails-prompts", *held_out):
        out |= _keys(load_labelled(name, data_dir))
    return out


EVAL_SETS = ("xstest", "xstest-aug", "beavertails-prompts", "jbb")


@pytest.fixture(scope="module")
def eval_keys(data_dir) -> set[str]:
    return set().union(*(_keys(load_labelled(name, data_dir)) for name in EVAL_SETS))


@pytest.mark.parametrize("name", sorted(SHARED_SETS))
def test_no_shared_set_text_is_an_evaluation_text(name, data_dir, eval_keys):
    """The mirror removed every evaluation text from the shared sets; the GPTFuzz templates, filled with a bare
    slot, hold none either."""
    texts = _keys(load_labelled(name, data_dir))
    if name == "gptfuzz":
        texts |= {text_key(t.wrap("")) for t in load_jailbreak_templates(data_dir)}
    assert len(eval_keys) > 1000 and texts and not texts & eval_keys


def _data_section(path: Path) -> dict:
    from safe_embed.train.cli import config_chain

    data: dict = {}
    for _, content in config_chain(path):
        data.update(content.get("data") or {})
    return data


@pytest.mark.parametrize("path", TRAIN_CONFIGS, ids=lambda p: str(p.relative_to(ROOT / "configs")))
def test_training_never_sees_test_or_held_out_text(path, data_dir):
    from safe_embed.train.datamodule import SafetyDataModule

    dm = SafetyDataModule(**{**_data_section(path), "data_dir": str(data_dir)})
    dm.setup("fit")
    trained, validated = _keys(dm.rows("train")), _keys(dm.rows("val"))
    test = _keys(dm.rows("test"))
    bad = _forbidden(data_dir, dm.spec.held_out) | test
    assert trained and not trained & bad
    assert not validated & (bad | trained)


@pytest.mark.parametrize("path", DETECTOR_CONFIGS, ids=lambda p: p.name)
def test_detectors_never_index_or_calibrate_on_test_or_held_out_text(path, data_dir):
    from safe_embed.detector.exemplars import load_exemplars

    sets = load_exemplars(path, data_dir=data_dir)
    used = _keys(sets.unsafe + sets.safe)
    calib = _keys(sets.calibration)
    bad = _forbidden(data_dir, sets.provenance["held_out"]) | _keys(sets.dataset.split("test"))
    assert used and calib and not (used | calib) & bad and not used & calib


def test_a_detector_from_a_run_never_calibrates_on_the_runs_training_text(tmp_path, data_dir, tiny_st_dir):
    """The run was split with seed 1; the default detector config splits with seed 0. Read alone, the two splits
    overlap; reading the run's splits.json, the detector's calibration avoids everything the run trained on."""
    from safe_embed.train.datamodule import SafetyDataModule

    from safe_embed.detector.build import detector_data, resolve_model
    from safe_embed.detector.exemplars import load_exemplars

    dm = SafetyDataModule(data_dir=str(data_dir), seed=1)
    dm.setup("fit")
    run = tmp_path / "run"
    shutil.copytree(tiny_st_dir, run / "encoder")
    dm.save_splits(run)
    trained = _keys(dm.rows("train"))
    tested = _keys(dm.rows("test"))
    config = ROOT / "configs" / "detector" / "default.yaml"
    naive = load_exemplars(config, data_dir=data_dir)  # the same data split with its own seed, ignoring the run
    assert _keys(naive.calibration) & trained  # the check below can fail
    for model in (run, run / "encoder"):
        sets = detector_data(resolve_model(model), config, data_dir=data_dir)
        calib, used = _keys(sets.calibration), _keys(sets.unsafe + sets.safe)
        assert calib and not calib & trained and not calib & tested and not used & tested
        assert sets.provenance["splits_from"] == str(run / "splits.json")


def test_a_detector_from_a_subsampled_run_indexes_exactly_the_rows_it_trained_on(tmp_path, data_dir, tiny_st_dir):
    """``max_train_examples`` trains on a sample of the train split; splits.json records it and export indexes
    those rows only. An older splits.json without the record indexes every train row, as before."""
    import json

    from safe_embed.train.datamodule import SafetyDataModule

    from safe_embed.data.dataset import SPLITS_FILE
    from safe_embed.detector.build import detector_data, resolve_model

    sources = [{"name": "advbench"}, {"name": "alpaca", "sample": 300}]
    dm = SafetyDataModule(sources=sources, data_dir=str(data_dir), max_train_examples=60)
    dm.setup("fit")
    run = tmp_path / "run"
    shutil.copytree(tiny_st_dir, run / "encoder")
    dm.save_splits(run)
    trained = _keys(dm.examples["train"])  # what the model is fed
    every_train = _keys(dm.dataset.split("train"))
    assert len(trained) == 60 < len(every_train)
    sets = detector_data(resolve_model(run), data_dir=data_dir)
    assert _keys(sets.unsafe + sets.safe) == trained
    more = detector_data(resolve_model(run), {"sources": [*sources, {"name": "oktest"}]}, data_dir=data_dir)
    used = _keys(more.unsafe + more.safe)
    assert used & every_train == trained and {e.source for e in more.unsafe + more.safe} > {"advbench", "alpaca"}
    record = json.loads((run / SPLITS_FILE).read_text())
    assert len(record.pop("trained_hashes")) == 60
    (run / SPLITS_FILE).write_text(json.dumps(record))
    old = detector_data(resolve_model(run), data_dir=data_dir)
    assert _keys(old.unsafe + old.safe) == every_train
