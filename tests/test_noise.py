"""Misspelled copies (``typo-noise``): one typo per chosen word, first letters kept, the original's label and split."""

from __future__ import annotations

import random
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from safe_embed.data.noise import misspell


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=120), st.integers(0, 50))
def test_misspelling_changes_letters_inside_words_only(text, seed):
    out = misspell(text, random.Random(seed))
    words = re.compile(r"[A-Za-z]{2,}")  # a typo may leave a three-letter word two letters long
    assert words.sub("", out) == words.sub("", text)  # everything but the words is kept
    before, after = words.findall(text), words.findall(out)
    if not before:
        assert out == text
        return
    assert len(after) == len(before)
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert all(a[0] == b[0] and abs(len(a) - len(b)) <= 1 for a, b in changed)


def test_misspelling_reaches_about_its_rate_and_at_least_one_word():
    rng = random.Random(0)
    text = " ".join(["building"] * 400)
    share = sum(w != "building" for w in misspell(text, rng, rate=0.35).split()) / 400
    assert 0.25 < share < 0.45  # a few typos give the word back ("building" -> "building" never; swaps can)
    assert misspell("How to cook rice", rng, rate=0.0) != "How to cook rice"


def test_typo_noise_copies_half_safe_half_unsafe_in_their_originals_split(data_dir):
    from safe_embed.data import DataSpec, build_dataset, load_labelled, text_key

    sources = [{"name": "do-not-answer"}, {"name": "advbench"}, {"name": "alpaca"}]
    plain = build_dataset(DataSpec(sources=sources), data_dir)
    noisy = build_dataset(DataSpec(sources=[*sources, {"name": "typo-noise", "sample": 200}]), data_dir)
    copies = [r for r in noisy.rows if r.source == "typo-noise"]
    assert [r for r in noisy.rows if r.source != "typo-noise"] == plain.rows  # the other rows are unchanged
    labels = [r.label for r in copies]
    assert 180 <= len(copies) <= 200 and abs(labels.count("safe") - labels.count("unsafe")) <= 20
    original = {f"{r.source}:{r.id}": r for r in plain.rows}
    for c in copies:
        o = original[c.id]
        assert (c.label, c.split, c.category, c.pair_id) == (o.label, o.split, o.category, o.pair_id)
        assert c.text != o.text and c.text.split()[0][0] == o.text.split()[0][0]
    banned = {text_key(p.text) for n in ("xstest", "xstest-aug") for p in load_labelled(n, data_dir)}
    assert not {text_key(c.text) for c in copies} & banned
    again = build_dataset(DataSpec(sources=[*sources, {"name": "typo-noise", "sample": 200}]), data_dir)
    assert [r.text for r in again.rows] == [r.text for r in noisy.rows]  # seeded
