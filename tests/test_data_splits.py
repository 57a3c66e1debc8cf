"""The one splitter: fractions, strata, groups (text and pair_id), fixed splits, stability, sampling."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from safe_embed.data.schemas import LabelledPrompt
from safe_embed.data.splits import assign_splits, check_fractions, groups_of, sample_rows, text_hash, text_key
from safe_embed.errors import ConfigError


def _rows(n=600, seed=0, source="s"):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        label = "unsafe" if rng.random() < 0.4 else "safe"
        cat = rng.choice(["a", "b", "c"]) if label == "unsafe" else None
        out.append(LabelledPrompt(f"{source} prompt {i} {rng.random():.6f}", label, category=cat, source=source,
                                  id=str(i)))
    return out


def test_fractions_hold_per_label_and_category():
    rows = _rows()
    s = assign_splits(rows, seed=0, fractions=(0.7, 0.1, 0.2))
    strata = Counter((r.label, r.category) for r in rows)
    got = Counter((r.label, r.category, sp) for r, sp in zip(rows, s))
    for (label, cat), n in strata.items():
        for sp, f in zip(("train", "val", "test"), (0.7, 0.1, 0.2)):
            assert abs(got[(label, cat, sp)] - n * f) <= 1, (label, cat, sp)


def test_same_text_and_same_pair_land_in_one_split():
    rows = _rows(300)
    rows.append(LabelledPrompt("  " + rows[0].text.upper() + " ", "unsafe", source="other"))  # same prompt
    for i in range(0, 100, 2):  # twins: an unsafe prompt and a safe look-alike share a pair id
        rows.append(LabelledPrompt(f"twin of {i}", "safe", pair_id=f"p{i}", source="twins"))
        rows[i] = LabelledPrompt(rows[i].text, rows[i].label, rows[i].category, pair_id=f"p{i}", source="s")
    s = assign_splits(rows, seed=3)
    by_key: dict[str, set[str]] = {}
    by_pair: dict[str, set[str]] = {}
    for r, sp in zip(rows, s):  # brute force: every text key and every pair id has one split
        by_key.setdefault(text_key(r.text), set()).add(sp)
        if r.pair_id:
            by_pair.setdefault(r.pair_id, set()).add(sp)
    assert all(len(v) == 1 for v in by_key.values()) and all(len(v) == 1 for v in by_pair.values())
    assert len(set(groups_of(rows))) == len(rows) - 1 - 50


def test_fixed_splits_win_and_the_most_protective_wins_in_a_group():
    rows = [LabelledPrompt("a", "safe", split="train", pair_id="g"), LabelledPrompt("b", "unsafe", pair_id="g"),
            LabelledPrompt("c", "unsafe", split="test", pair_id="g"), LabelledPrompt("d", "safe", split="val")]
    assert assign_splits(rows, seed=0) == ["test", "test", "test", "val"]
    with pytest.raises(ConfigError, match="split 'dev'"):
        assign_splits([LabelledPrompt("x", "safe", split="dev")])


def test_seeded_and_stable_when_an_unrelated_source_is_added():
    rows = _rows(400)
    a = assign_splits(rows, seed=1)
    assert a == assign_splits(list(rows), seed=1)
    assert a != assign_splits(rows, seed=2)
    more = rows + _rows(300, seed=9, source="other")
    assert assign_splits(more, seed=1)[: len(rows)] == a
    assert assign_splits(list(reversed(rows)), seed=1) == list(reversed(a))  # order does not matter


def test_sample_rows_is_proportional_and_deterministic():
    rows = [LabelledPrompt(f"p{i}", "unsafe" if i % 4 == 0 else "safe", split="train" if i < 700 else "test")
            for i in range(1000)]
    got = sample_rows(rows, 100, seed=0)
    assert len(got) == 100 and got == sample_rows(rows, 100, seed=0)
    c = Counter((r.split, r.label) for r in got)
    exact = {("train", "safe"): 52.5, ("train", "unsafe"): 17.5, ("test", "safe"): 22.5, ("test", "unsafe"): 7.5}
    assert all(abs(c[k] - v) <= 0.5 for k, v in exact.items())
    assert sample_rows(rows, 5000, seed=0) == rows


def test_fractions_and_hashes():
    assert check_fractions([0.8, 0.1, 0.1]) == (0.8, 0.1, 0.1)
    for bad in ([0.5, 0.5, 0.5], [1.0], "abc", [-0.1, 0.6, 0.5]):
        with pytest.raises(ConfigError, match="summing to 1"):
            check_fractions(bad)
    assert text_hash("Hello  World") == text_hash("hello world") != text_hash("hello worlds")
    assert len(text_hash("x")) == 16 and text_hash("\ud800") == text_hash("\ud800")
