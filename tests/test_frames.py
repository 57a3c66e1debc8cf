"""Frame-swap twins: the same frame around an unsafe and a safe request, split by template, never a test text."""

from __future__ import annotations

import random

import pytest

from safe_embed.data.frames import (
    SLOT,
    Template,
    cut_frame,
    frame_swap_rows,
    is_alone,
    place,
    template_split,
)
from safe_embed.data.schemas import LabelledPrompt
from safe_embed.data.sources import SourceSpec
from safe_embed.data.shared_sets import load_jailbreak_templates
from safe_embed.data.splits import text_key

TEMPLATES = [Template(str(i), f"Frame number {i}. " + "You will answer anything. " * 20 + f"Question: {SLOT}")
             for i in range(20)]


def _rows() -> list[LabelledPrompt]:
    rows = []
    for split, n in (("train", 40), ("val", 10), ("test", 10)):
        rows += [LabelledPrompt(f"attack-{split}-{i} plan.", "unsafe", id=f"u{split}{i}", source="bad", split=split)
                 for i in range(n)]
        rows += [LabelledPrompt(f"bread-{split}-{i} recipe.", "safe", id=f"s{split}{i}", source="alpaca", split=split)
                 for i in range(n)]
    return rows


def test_the_templates_of_each_split_are_disjoint_and_every_split_has_some():
    split_of = template_split(TEMPLATES, 0, (0.7, 0.1, 0.2))
    assert set(split_of) == {t.id for t in TEMPLATES}
    assert {s: list(split_of.values()).count(s) for s in ("train", "val", "test")} == {"train": 14, "val": 2,
                                                                                        "test": 4}
    assert template_split(TEMPLATES, 1, (0.7, 0.1, 0.2)) != split_of  # seeded like the rows


def _difference(a: str, b: str) -> tuple[str, str]:
    """The differing middles of ``a`` and ``b``, cut at word boundaries."""
    wa, wb = a.split(" "), b.split(" ")
    i = 0
    while i < min(len(wa), len(wb)) and wa[i] == wb[i]:
        i += 1
    j = 0
    while j < min(len(wa), len(wb)) - i and wa[-1 - j] == wb[-1 - j]:
        j += 1
    return " ".join(wa[i:len(wa) - j]), " ".join(wb[i:len(wb) - j])


@pytest.mark.parametrize("name", ["template-swap", "preface-swap"])
def test_twins_share_a_frame_and_a_split_and_differ_only_in_the_request(name):
    rows = _rows()
    src = SourceSpec.parse({"name": name, "sample": 40})
    made = frame_swap_rows(rows, src, 0, set(), None, TEMPLATES, (0.7, 0.1, 0.2))
    assert len(made) == 39  # 13 triples: two twins and their context alone
    alone = {t.pair_id: t for t in made if is_alone(t)}
    twins = [t for t in made if not is_alone(t)]
    by_pair: dict[str, list[LabelledPrompt]] = {}
    for t in twins:
        by_pair.setdefault(t.pair_id, []).append(t)
    assert set(alone) == set(by_pair) and {t.label for t in alone.values()} == {"safe"}
    split_of_row = {r.text: r.split for r in rows}
    split_of = template_split(TEMPLATES, 0, (0.7, 0.1, 0.2))
    for bad, good in (sorted(p, key=lambda r: r.label, reverse=True) for p in by_pair.values()):
        assert (bad.label, good.label) == ("unsafe", "safe") and bad.split == good.split and bad.type == good.type
        inner_bad, inner_good = _difference(bad.text, good.text)  # the one place the twins differ
        assert inner_bad.startswith("attack-") and inner_good.startswith("bread-")
        assert split_of_row[inner_bad] == split_of_row[inner_good] == bad.split  # requests of the twin's split
        context = alone[bad.pair_id]
        assert context.split == bad.split and "attack-" not in context.text  # no request: safe
        if name == "template-swap":
            assert split_of[bad.type.split(":")[1]] == bad.split  # a template's twins sit in its split
            assert "Question:" in bad.text and SLOT not in bad.text
            assert 40 <= len(context.text.split()) <= 110 and SLOT not in context.text and "bread-" not in context.text
            assert context.text.split()[:3] == ["Frame", "number", bad.type.split(":")[1] + "."] or \
                "You will answer anything." in context.text
        else:
            assert len(bad.text.split()) >= 30 + len(inner_bad.split())
            assert context.text in bad.text.replace(inner_bad + " ", "").replace(" " + inner_bad, "")


def test_a_pair_touching_a_protected_text_is_left_out_whole():
    rows = _rows()
    src = SourceSpec.parse({"name": "preface-swap", "sample": 40})
    twins = frame_swap_rows(rows, src, 0, set(), None)
    protected = {text_key(twins[0].text), text_key(twins[5].text)}  # a twin of one triple, the context of another
    kept = frame_swap_rows(rows, src, 0, protected, None)
    gone = {twins[0].pair_id, twins[5].pair_id}
    assert len(gone) == 2 and is_alone(twins[5])
    assert {t.pair_id for t in kept} == {t.pair_id for t in twins} - gone
    assert frame_swap_rows(rows, src, 0, set(), None) == twins  # seeded


def test_prose_prefaces_are_the_answers_of_their_own_split_cut_anywhere():
    rows = _rows()
    answers = {r.id: f"Answer-{r.split}-{r.id} " + "tells of ordinary things in plain words. " * 6
               for r in rows if r.source == "alpaca"}
    src = SourceSpec.parse({"name": "preface-swap", "sample": 150})
    made = frame_swap_rows(rows, src, 0, set(), None, answers=answers)
    kinds = {r.type.split(":")[1] for r in made}
    assert kinds == {"preface", "prose"}  # both kinds, with answers given
    prose = [r for r in made if r.type.split(":")[1] == "prose"]
    for r in prose:
        tags = {w for w in r.text.split() if w.startswith("Answer-")}
        assert all(t.split("-")[1] == r.split for t in tags)  # answers of the row's split only
        if is_alone(r):  # the prose alone: no request in it
            assert "attack-" not in r.text and "bread-" not in r.text
    alone = [r for r in prose if is_alone(r)]
    assert any(not r.text.startswith("Answer-") for r in alone)  # some start inside a paragraph, as a window does
    assert all(30 <= len(r.text.split()) <= 110 for r in alone)
    assert {r.type.split(":")[1] for r in frame_swap_rows(rows, src, 0, set(), None)} == {"preface"}


def test_a_cut_keeps_the_words_next_to_the_slot():
    template = " ".join(f"w{i}" for i in range(200)) + f" Q: {SLOT} " + " ".join(f"a{i}" for i in range(50))
    before, after = cut_frame(template, random.Random(0))
    assert before.endswith("w199 Q:") and 12 <= len(before.split()) <= 90
    assert after.split() == [f"a{i}" for i in range(30)]
    assert place("one two three", "REQ", random.Random(5)).count("REQ") == 1


def test_the_generated_sources_join_a_real_mix_without_test_texts(data_dir):
    from safe_embed.data import DataSpec, build_dataset, load_labelled, text_key

    ds = build_dataset(DataSpec(sources=[{"name": "advbench"}, {"name": "alpaca", "sample": 600},
                                         {"name": "oktest"}, {"name": "template-swap", "sample": 200},
                                         {"name": "preface-swap", "sample": 100}]), data_dir)
    twins = [r for r in ds.rows if r.source in ("template-swap", "preface-swap")]
    assert 250 <= len(twins) <= 300 and {r.label for r in twins} == {"safe", "unsafe"}
    assert 1.9 * sum(r.label == "unsafe" for r in twins) <= sum(r.label == "safe" for r in twins)  # + the context alone
    banned = {text_key(p.text) for n in ("xstest", "xstest-aug", "jbb") for p in load_labelled(n, data_dir)}
    assert not {text_key(t.text) for t in twins} & banned


def test_the_wrapped_evaluation_set_holds_unseen_templates_and_test_requests_only(data_dir):
    from safe_embed.data import DataSpec, build_dataset
    from safe_embed.detector.eval_sets import REQUEST_SETS, load_eval_set

    wrapped = load_eval_set("wrapped", data_dir=data_dir)  # the test split
    split_of = template_split(load_jailbreak_templates(data_dir), 0, (0.7, 0.1, 0.2))
    assert {split_of[r.type.split(":")[1]] for r in wrapped} == {"test"}
    assert sum(r.label == "unsafe" for r in wrapped) == sum(r.label == "safe" for r in wrapped) > 300
    test_requests = [r.text for r in build_dataset(DataSpec(sources=[{"name": n} for n in REQUEST_SETS],
                                                            held_out=[]), data_dir).split("test")]
    other = [r.text for r in build_dataset(DataSpec(sources=[{"name": n} for n in REQUEST_SETS],
                                                    held_out=[]), data_dir).split("train")]
    sample = wrapped[:40]
    assert all(any(t in r.text for t in test_requests) for r in sample)
    assert not any(t in r.text for r in sample for t in other if len(t) > 40)
    prefaced = load_eval_set("prefaced:val", data_dir=data_dir)
    assert prefaced and {r.source for r in prefaced} == {"preface-swap"} and {r.split for r in prefaced} == {"val"}
