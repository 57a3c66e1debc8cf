"""Prose windows: safe stretches of the train split's long safe texts, never a test text, never another split."""

from __future__ import annotations

import random

from safe_embed.data.schemas import LabelledPrompt
from safe_embed.data.sources import SourceSpec
from safe_embed.data.splits import text_key
from safe_embed.data.windows import MIN_LONG_WORDS, WINDOW_WORDS, piece, prose_window_rows
from safe_embed.sentences import sentence_bounds

SRC = SourceSpec.parse({"name": "prose-windows", "sample": 60})


def _rows() -> list[LabelledPrompt]:
    rows = []
    for split in ("train", "val", "test"):
        long_doc = " ".join(f"Doc-{split}-{j} tells of the harbour in plain words." for j in range(40))
        rows += [LabelledPrompt(long_doc, "safe", id=f"d{split}", source="arena-hard", split=split),
                 LabelledPrompt(" ".join(["Attack"] * 200) + f" {split}.", "unsafe", id=f"u{split}", source="bad",
                                split=split),
                 LabelledPrompt(f"Short safe {split}.", "safe", id=f"s{split}", source="oktest", split=split)]
        rows += [LabelledPrompt(f"Describe {split} {i}.", "safe", id=f"a{split}{i}", source="alpaca", split=split)
                 for i in range(5)]
    return rows


def _answers(rows: list[LabelledPrompt]) -> dict[str, str]:
    return {r.id: " ".join(f"Answer-{r.split}-{r.id} step {k} is to wash the cups." for k in range(6))
            for r in rows if r.source == "alpaca"}


def test_pieces_are_safe_train_rows_cut_from_the_train_splits_safe_texts_only():
    rows = _rows()
    made = prose_window_rows(rows, SRC, 0, set(), None, _answers(rows))
    assert len(made) == 60 and len({text_key(r.text) for r in made}) == 60
    assert {(r.label, r.split, r.source) for r in made} == {("safe", "train", "prose-windows")}
    assert {r.type for r in made} == {"prose-windows:prompt", "prose-windows:prose"}
    for r in made:
        assert "Attack" not in r.text and "Short safe" not in r.text  # unsafe and short prompts are not cut
        tags = [w for w in r.text.split() if w.startswith(("Doc-", "Answer-"))]
        assert tags and all(t.split("-")[1] == "train" for t in tags)
    assert prose_window_rows(rows, SRC, 0, set(), None, _answers(rows)) == made  # seeded
    assert prose_window_rows(rows, SRC, 1, set(), None, _answers(rows)) != made


def test_a_window_is_a_stretch_of_its_text_and_a_sentence_piece_is_whole_sentences():
    rows = _rows()
    doc = rows[0].text
    assert len(doc.split()) >= MIN_LONG_WORDS
    sentences = {doc[a:b] for a, b in sentence_bounds(doc)}
    rng = random.Random(0)
    for _ in range(50):
        window = piece(doc, rng)
        assert window in doc and WINDOW_WORDS[0] <= len(window.split()) <= WINDOW_WORDS[1]
        cut = piece(doc, rng, sentence=True)
        parts = [cut[a:b] for a, b in sentence_bounds(cut)]
        assert cut in doc and 1 <= len(parts) <= 2 and set(parts) <= sentences
    assert piece("too short", rng) == "too short"


def test_protected_texts_and_texts_without_long_safe_prose_give_no_piece():
    rows = _rows()
    made = prose_window_rows(rows, SRC, 0, set(), None, _answers(rows))
    protected = {text_key(made[0].text), text_key(made[3].text)}
    kept = prose_window_rows(rows, SRC, 0, protected, None, _answers(rows))
    assert not {text_key(r.text) for r in kept} & protected and len(kept) == 60
    short = [r for r in rows if r.source in ("oktest", "bad")]
    assert prose_window_rows(short, SRC, 0, set(), None, None) == []
    only_docs = prose_window_rows(rows, SRC, 0, set(), None, None)
    assert {r.type for r in only_docs} == {"prose-windows:prompt"}


def test_the_source_joins_a_real_mix_in_the_train_split_without_test_texts(data_dir):
    from safe_embed.data import DataSpec, build_dataset, load_labelled

    ds = build_dataset(DataSpec(sources=[{"name": "alpaca", "sample": 600}, {"name": "arena-hard"},
                                         {"name": "advbench"}, {"name": "prose-windows", "sample": 150}]), data_dir)
    made = [r for r in ds.rows if r.source == "prose-windows"]
    assert 140 <= len(made) <= 150 and {r.split for r in made} == {"train"} and {r.label for r in made} == {"safe"}
    banned = {text_key(p.text) for n in ("xstest", "xstest-aug", "jbb") for p in load_labelled(n, data_dir)}
    assert not {text_key(r.text) for r in made} & banned
    held = {text_key(r.text) for r in ds.rows if r.split != "train"}
    assert not any(text_key(r.text) in held for r in made)
