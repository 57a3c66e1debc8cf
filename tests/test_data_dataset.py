"""A data spec resolved into splits: test sets and held-out sets never enter, a run's splits are reused."""

from __future__ import annotations

import json

import pytest

from safe_embed.data import load_labelled
from safe_embed.data.dataset import Assigned, DataSpec, build_dataset
from safe_embed.data.splits import text_hash, text_key
from safe_embed.errors import ConfigError


def _keys(rows):
    return {text_key(r.text) for r in rows}


@pytest.fixture(scope="module")
def broad(data_dir):
    spec = DataSpec(sources=[{"name": "guardreasoner-train"}, {"name": "alpaca", "sample": 600},
                             {"name": "advbench"}, {"name": "do-not-answer"}, {"name": "safety-contrast"},
                             {"name": "oktest"}, {"name": "target-swap", "per_prompt": 2}],
                    held_out=["jbb"], taxonomy="mlcommons")
    return build_dataset(spec, data_dir)


def test_test_sets_and_held_out_sets_never_enter(broad, data_dir):
    banned = set()
    for name in ("xstest", "xstest-aug", "beavertails-prompts", "jbb"):
        banned |= _keys(load_labelled(name, data_dir))
    assert not _keys(broad.rows) & banned
    adv = _keys(load_labelled("advbench", data_dir))
    assert adv & _keys(load_labelled("jbb", data_dir))  # AdvBench repeats JBB behaviours ...
    assert broad.report["dropped_held_out"] >= 11  # ... and those copies are held out with JBB
    assert {text_hash(p.text) for p in load_labelled("jbb", data_dir)} <= broad.held_out_hashes


def test_splits_are_disjoint_and_pairs_stay_together(broad):
    splits = {s: _keys(broad.split(s)) for s in ("train", "val", "test")}
    assert not splits["train"] & splits["val"] and not splits["train"] & splits["test"]
    where = {}
    for r in broad.rows:
        if r.pair_id and r.pair_id.startswith("dna:"):
            where.setdefault(r.pair_id, set()).add(r.split)
    assert where and all(len(v) == 1 for v in where.values())  # a DNA prompt, its edits and its swaps
    swaps = [r for r in broad.rows if r.source == "target-swap"]
    assert swaps and {r.label for r in swaps} == {"safe"} and {r.split for r in swaps} == {"train", "val", "test"}
    ok = [r for r in broad.rows if r.source == "oktest"]
    assert {r.type: r.split for r in ok if r.type == "OKTest_heldout"} == {"OKTest_heldout": "test"}


def test_taxonomy_maps_categories_and_keeps_the_source_category(broad):
    dna = [r for r in broad.rows if r.source == "do-not-answer"]
    assert {r.category.split(":")[0] for r in dna} <= {f"S{i}" for i in range(1, 15)}
    adult = next(r for r in dna if r.source_category == "Adult Content")
    assert adult.category == "S12: Sexual Content"


def test_splits_json_round_trip_and_a_run_split_wins(broad, data_dir, tmp_path):
    path = broad.save(tmp_path / "splits.json")
    saved = json.loads(path.read_text())
    assert saved["format"] == "safe-embed/splits" and saved["spec"]["held_out"] == ["jbb"]
    run = Assigned.load(path)
    assert len(run.split_of) == len(broad.rows)
    # the same spec with another seed would split differently; with the run's record it splits as the run did
    other = DataSpec(sources=broad.spec.to_dict()["sources"], held_out=["jbb"], seed=7, taxonomy="mlcommons")
    fresh = build_dataset(other, data_dir)
    reused = build_dataset(other, data_dir, assigned=run)
    want = {text_key(r.text): r.split for r in broad.rows}
    assert any(want.get(text_key(r.text), r.split) != r.split for r in fresh.rows)
    assert all(want[text_key(r.text)] == r.split for r in reused.rows if text_key(r.text) in want)


def test_bad_specs(data_dir):
    with pytest.raises(ConfigError, match="both held out and a data source"):
        DataSpec(sources=[{"name": "jbb"}], held_out=["jbb"])
    with pytest.raises(ConfigError, match="held_out names unknown"):
        DataSpec(sources=[{"name": "alpaca"}], held_out=["nope"])
    with pytest.raises(ConfigError, match="unknown data key"):
        DataSpec.parse({"sources": ["alpaca"], "splits": [0.5, 0.5, 0]})
    with pytest.raises(Exception, match="not a safe-embed splits file"):
        Assigned.from_json({"seed": 0})
