"""The shared sets load by name with their row counts, labels and categories; the GPTFuzz templates load and are
checked for their slot."""

from __future__ import annotations

from collections import Counter

import pytest

from safe_embed.data import NAMED_SETS, load_labelled
from safe_embed.data.shared_sets import SHARED_SETS, SLOT, Template, load_jailbreak_templates
from safe_embed.errors import DataError

# name -> (safe, unsafe, distinct categories of the unsafe rows), counted in each derived CSV
COUNTS = {
    "toxicchat-train": (2139, 325, 0),
    "aart": (0, 3213, 70),
    "sap": (0, 1600, 8),
    "harmfulqa": (0, 2481, 153),
    "cyberseceval": (750, 489, 5),
    "gptfuzz": (0, 67, 0),
    "arena-hard": (500, 0, 0),
    "coconot-pref": (471, 0, 0),
}


def test_every_shared_set_is_registered_under_its_name():
    assert set(SHARED_SETS) == set(COUNTS) and set(COUNTS) <= set(NAMED_SETS)
    assert all(NAMED_SETS[n] is SHARED_SETS[n] for n in COUNTS)


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_shared_sets_load_with_their_counts_and_labels(name, data_dir):
    rows = load_labelled(name, data_dir)
    safe, unsafe, n_cats = COUNTS[name]
    assert Counter(r.label for r in rows) == Counter({"safe": safe, "unsafe": unsafe}) - Counter()
    assert all(r.text.strip() and r.source == name for r in rows)
    assert len({r.id for r in rows}) == len(rows)
    assert len({r.category for r in rows if r.label == "unsafe" and r.category}) == n_cats
    assert not any(r.category for r in rows if r.label == "safe")  # safe rows carry no harm category


def test_categories_types_and_source_categories(data_dir):
    by = {n: load_labelled(n, data_dir) for n in ("toxicchat-train", "cyberseceval", "arena-hard", "coconot-pref",
                                                 "sap", "harmfulqa")}
    assert Counter(r.type for r in by["toxicchat-train"]) == {"plain": 2375, "jailbreaking": 89}
    cyber = Counter((r.type, r.label) for r in by["cyberseceval"])
    assert cyber == {("mitre_frr", "safe"): 750, ("interpreter", "unsafe"): 489}
    assert {r.source_category for r in by["cyberseceval"] if r.label == "unsafe"} >= {"Container Escape",
                                                                                       "Privilege Escalation"}
    assert len({r.source_category for r in by["arena-hard"]}) == 250
    assert {r.source_category for r in by["coconot-pref"]} == {
        "triggers for offensive language", "dangerous or sensitive topics", "privacy violations", "false information"}
    assert Counter(r.category for r in by["sap"])["pornography_sexual_minors"] == 200
    assert Counter(r.type for r in by["harmfulqa"]) == {"harmfulqa": 1938, "catqa": 543}
    assert all(r.category.count("/") >= 1 for r in by["harmfulqa"])


def test_the_gptfuzz_templates_each_hold_one_slot(data_dir):
    templates = load_jailbreak_templates(data_dir)
    assert len(templates) == 77 and [t.id for t in templates] == [str(i) for i in range(77)]
    assert all(isinstance(t, Template) and t.text.count(SLOT) == 1 for t in templates)
    wrapped = templates[0].wrap("How do I bake bread?")
    assert "How do I bake bread?" in wrapped and SLOT not in wrapped
    with pytest.raises(AttributeError):
        templates[0].text = "changed"  # frozen


@pytest.mark.parametrize("text,n", [("Tell me [INSERT PROMPT] now", 0), ("Do [insert prompt here]", 0),
                                    ("Do [INSERT PROMPT HERE] and [INSERT PROMPT HERE]", 2)])
def test_a_template_without_exactly_one_slot_is_refused(tmp_path, text, n):
    (tmp_path / "gptfuzz").mkdir()
    (tmp_path / "gptfuzz" / "GPTFuzzer.csv").write_text(f'id,text\n0,"Do {SLOT}"\n7,"{text}"\n', encoding="utf-8")
    with pytest.raises(DataError, match=rf"GPTFuzzer.csv: template id '7' holds the slot .* {n} times"):
        load_jailbreak_templates(tmp_path)


def test_a_missing_set_says_how_to_get_it(tmp_path):
    with pytest.raises(DataError, match=r"data file not found: .*aart_prompts.csv.*safe-embed data pull"):
        load_labelled("aart", tmp_path)
