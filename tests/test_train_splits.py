"""Splits: seeded, stratified 70/10/20, Safety-Contrast follows its original, XSTest refused."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from safe_embed.train.examples import build_training_data, check_train_sets
from safe_embed.train.splits import make_splits, stratified_split

from safe_embed.errors import ConfigError


def test_stratified_split_sizes_and_disjoint():
    ids = list(range(100))
    groups = ["a"] * 60 + ["b"] * 40
    tr, va, te = stratified_split(ids, groups, (0.7, 0.1, 0.2), seed=3)
    assert (len(tr), len(va), len(te)) == (70, 10, 20)
    assert not set(tr) & set(va) and not set(tr) & set(te) and not set(va) & set(te)
    assert Counter(groups[i] for i in te) == {"a": 12, "b": 8}


def test_split_is_seeded():
    ids, groups = list(range(50)), ["x", "y"] * 25
    assert make_splits(ids, groups, seed=1).do_not_answer == make_splits(ids, groups, seed=1).do_not_answer
    assert make_splits(ids, groups, seed=1).do_not_answer != make_splits(ids, groups, seed=2).do_not_answer


def test_bad_fractions():
    with pytest.raises(ConfigError, match="summing to 1"):
        make_splits([1, 2, 3], ["a"] * 3, seed=0, fractions=(0.5, 0.5, 0.5))


@pytest.mark.parametrize("name", ["xstest", "xstest-aug"])
def test_xstest_is_never_a_train_set(name):
    with pytest.raises(ConfigError, match="held-out"):
        check_train_sets(["do-not-answer", name])


def test_unknown_train_set():
    with pytest.raises(ConfigError, match="unknown train set"):
        check_train_sets(["do-not-answer", "nope"])


def test_real_splits(data_dir, tmp_path):
    from safe_embed.data import load_contrast, load_do_not_answer, load_labelled, load_xstest_aug

    td = build_training_data(data_dir, ["do-not-answer", "safety-contrast", "jbb", "oktest"], seed=0)
    counts = {k: len(v) for k, v in td.splits.do_not_answer.items()}
    assert sum(counts.values()) == 939
    assert abs(counts["train"] / 939 - 0.7) < 0.02 and abs(counts["test"] / 939 - 0.2) < 0.02
    # Safety-Contrast rows follow their original: every train anchor's twins are the edits of its own id
    contrast: dict[str, list] = {}
    for c in load_contrast(data_dir):
        contrast.setdefault(c.original, []).append(c.edits)
    for a in td.parts["train"].anchors:
        if a.source == "do-not-answer":
            assert a.twins in contrast[a.text]
    test_ids = set(td.splits.do_not_answer["test"])
    assert {c.id for c in td.evals["test"].contrast} == test_ids
    dna = {p.id: p.text for p in load_do_not_answer(data_dir)}
    train_texts = {a.text for p in td.parts.values() for a in p.anchors} | {
        t for p in td.parts.values() for a in p.anchors for t in a.twins} | set(td.parts["train"].lookalikes)
    assert not train_texts & {dna[i] for i in test_ids}
    xs = {p.unsafe for p in load_xstest_aug(data_dir)} | {p.safe for p in load_xstest_aug(data_dir)}
    xs |= {p.text for p in load_labelled("xstest", data_dir)}
    val = td.evals["val"]
    val_texts = {p.text for p in val.taxonomy} | {e for c in val.contrast for e in c.edits} | set(val.lookalikes)
    assert not train_texts & xs and not val_texts & xs
    saved = json.loads(td.splits.save(tmp_path / "splits.json").read_text())
    assert saved["seed"] == 0 and saved["counts"]["jbb"] == {"train": 70, "val": 30}
