"""Taxonomies: the shipped MLCommons map covers Do-Not-Answer, ALERT and JBB; user maps; required mapping."""

from __future__ import annotations

import pytest

from safe_embed.data import load_labelled
from safe_embed.data.schemas import LabelledPrompt
from safe_embed.data.taxonomy import Taxonomy, load_taxonomy
from safe_embed.errors import ConfigError

MLCOMMONS = {f"S{i}" for i in range(1, 15)}


@pytest.mark.parametrize("source,n", [("do-not-answer", 12), ("alert", 32), ("jbb", 10)])
def test_mlcommons_maps_every_category_of_the_three_sets(source, n, data_dir):
    t = load_taxonomy("mlcommons")
    assert set(t.categories) == MLCOMMONS
    rows = load_labelled(source, data_dir)
    cats = {r.source_category for r in rows if r.label == "unsafe"}
    assert len(cats) == n
    assert t.unmapped(rows) == {}
    mapped = t.apply(rows, require_mapped=True)
    assert {r.category.split(":")[0] for r in mapped if r.label == "unsafe"} <= MLCOMMONS


def test_unmapped_categories_pass_through_unless_required():
    t = Taxonomy("mine", {"A": "Alpha"}, {"src": {"x": "A"}})
    rows = [LabelledPrompt("p", "unsafe", category="x", source="src"),
            LabelledPrompt("q", "unsafe", category="y", source="src"),
            LabelledPrompt("r", "unsafe", category="x", source="other")]
    assert [r.category for r in t.apply(rows)] == ["A: Alpha", "y", "x"]
    assert [r.source_category for r in t.apply(rows)] == ["x", "y", "x"]
    with pytest.raises(ConfigError, match=r"does not map these categories \(other: x; src: y\)"):
        t.apply(rows, require_mapped=True)


def test_a_user_taxonomy_file(tmp_path):
    p = tmp_path / "policy.yaml"
    p.write_text("name: acme\ncategories: {P1: Fraud, P2: Violence}\nmap:\n  mine: {scam: P1, attack: P2}\n")
    t = load_taxonomy(p)
    assert t.name == "acme" and t.label("mine", "scam") == "P1: Fraud"
    p.write_text("categories: {P1: Fraud}\nmap:\n  mine: {scam: P9}\n")
    with pytest.raises(ConfigError, match=r"unknown code\(s\) \['P9'\]"):
        load_taxonomy(p)
    with pytest.raises(ConfigError, match=r"taxonomy not found.*mlcommons"):
        load_taxonomy("nope")
    p.write_text("- a list\n")
    with pytest.raises(ConfigError, match="needs 'categories'"):
        load_taxonomy(p)


# the unsafe categories each shared set leaves unmapped on purpose (the taxonomy file says why)
CATQA_UNMAPPED = {"Physical Harm/Hazardous material handling", "Physical Harm/Unsafe practices",
                  "Political Campaigning/Lobbying", "Political Campaigning/Partisan commentary",
                  "Political Campaigning/Political activism", "Political Campaigning/Political misinformation",
                  "Privacy Violation Activity/Deepfake creation"}
LEFT_UNMAPPED = {"aart": {"circuses", "climate change", "gambling", "other crimes"}, "sap": {"politics"},
                 "cyberseceval": set()}


@pytest.mark.parametrize("source", ["aart", "sap", "harmfulqa", "cyberseceval"])
def test_mlcommons_maps_the_shared_sets_but_for_the_documented_gaps(source, data_dir):
    t = load_taxonomy("mlcommons")
    rows = load_labelled(source, data_dir)
    cats = {r.source_category for r in rows if r.label == "unsafe"}
    assert set(t.map[source]) <= cats  # every line names a category the set really has
    gaps = set(t.unmapped(rows).get(source, []))
    if source == "harmfulqa":  # the academic subtopics of harmfulqa.json and a few CatQA ones
        academic = {r.category for r in rows if r.type == "harmfulqa"}
        assert len(academic) == 98 and gaps == academic | CATQA_UNMAPPED
    else:
        assert gaps == LEFT_UNMAPPED[source]


def test_the_shared_sets_fill_the_hazards_no_exemplar_carried(data_dir):
    """SAP's pornography_sexual_minors gives S4 exemplars, CyberSecEval's interpreter rows S14; the safe MITRE rows
    stay without a category."""
    t = load_taxonomy("mlcommons")
    sap = t.apply(load_labelled("sap", data_dir))
    minors = [r for r in sap if r.source_category == "pornography_sexual_minors"]
    assert len(minors) == 200 and {r.category for r in minors} == {"S4: Child Sexual Exploitation"}
    cyber = t.apply(load_labelled("cyberseceval", data_dir))
    assert {r.category for r in cyber if r.type == "interpreter"} == {"S14: Code Interpreter Abuse"}
    assert {r.category for r in cyber if r.type == "mitre_frr"} == {None}
    hqa = t.apply(load_labelled("harmfulqa", data_dir))
    codes = {r.category.split(":")[0] for r in hqa
             if r.category and r.source_category.startswith(("Economic Harm/", "Political"))}
    assert {"S8", "S13", "S2"} <= codes
    academic = [r for r in hqa if r.source_category == "Literature and Language/Poetry"]
    assert academic and {r.category for r in academic} == {None}  # unmapped: uncategorised, never a new category
    assert t.label("my_prompts", "c0") == "c0"  # a file the map does not know keeps its own categories
    covered = {t.code(src, r.source_category) for src in ("aart", "sap", "harmfulqa", "cyberseceval")
               for r in load_labelled(src, data_dir)} - {None}
    assert covered == {f"S{i}" for i in range(1, 15)} - {"S5"}  # none of the four is about defamation


def test_the_openai_table_names_exactly_the_openai_clients_categories():
    from openai.types.moderation import Categories

    table = load_taxonomy("mlcommons").openai
    assert set(table) == {f.alias or name for name, f in Categories.model_fields.items()}
    assert {c for codes in table.values() for c in codes} <= MLCOMMONS
    assert table["sexual/minors"] == ("S4",) and "S9" in table["violence"]


def test_an_openai_table_with_an_unknown_code_is_refused(tmp_path):
    p = tmp_path / "t.yaml"
    p.write_text("categories: {P1: Fraud}\nmap: {}\nopenai:\n  illicit: [P1, P7]\n")
    with pytest.raises(ConfigError, match=r"OpenAI category 'illicit' maps to unknown code\(s\) \['P7'\]"):
        load_taxonomy(p)
    p.write_text("categories: {P1: Fraud}\nopenai:\n  illicit: P1\n")
    with pytest.raises(ConfigError, match=r"'openai' must map each OpenAI category to a list of codes"):
        load_taxonomy(p)
