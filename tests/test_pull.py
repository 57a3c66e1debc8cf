"""`safe-embed data pull`: card parsing, checksum verification and derivations, on local files (file:// URLs)."""

from __future__ import annotations

import json

import pytest

from safe_embed.data.derive import RECIPES
from safe_embed.data.pull import load_cards, parse_card, pull_card, sha256_file, verify
from safe_embed.errors import DataError


def test_shipped_cards_parse_and_match_the_mirror(data_dir):
    cards = load_cards()
    assert {"safe_embed", "xstest", "beavertails", "jbb_behaviors", "oktest", "advbench"} <= set(cards)
    for card in cards.values():
        assert card.revision and card.licence
        for f in card.files:
            assert sha256_file(data_dir / f["path"]) == f["sha256"], f["path"]


def _local_card(data_dir, tamper: bool = False) -> dict:
    xs = data_dir / "xstest" / "xstest_prompts.csv"
    ok = data_dir / "oktest"
    return {
        "name": "t", "title": "t", "source": "local", "revision": "x", "licence": "x",
        "files": [
            {"path": "xstest/xstest_prompts.csv", "url": xs.as_uri(),
             "sha256": "0" * 64 if tamper else sha256_file(xs)},
            {"path": "oktest/OKTest.csv", "url": (ok / "OKTest.csv").as_uri(), "sha256": sha256_file(ok / "OKTest.csv")},
            {"path": "oktest/OKTest_heldout.csv", "url": (ok / "OKTest_heldout.csv").as_uri(),
             "sha256": sha256_file(ok / "OKTest_heldout.csv")},
            {"path": "oktest/oktest_clean.csv", "sha256": sha256_file(ok / "oktest_clean.csv"),
             "derive": {"recipe": "oktest_clean",
                        "inputs": {"OKTest": "oktest/OKTest.csv", "OKTest_heldout": "oktest/OKTest_heldout.csv"}}},
        ],
    }


def test_pull_downloads_verifies_and_derives(tmp_path, data_dir):
    card = parse_card(json.dumps(_local_card(data_dir)))
    paths = pull_card(card, tmp_path)
    assert [p.name for p in paths] == ["xstest_prompts.csv", "OKTest.csv", "OKTest_heldout.csv", "oktest_clean.csv"]
    assert sha256_file(tmp_path / "oktest" / "oktest_clean.csv") == sha256_file(data_dir / "oktest" / "oktest_clean.csv")


def test_pull_rejects_checksum_mismatch_and_leaves_nothing(tmp_path, data_dir):
    card = parse_card(json.dumps(_local_card(data_dir, tamper=True)))
    with pytest.raises(DataError, match="checksum mismatch for .*xstest_prompts.csv"):
        pull_card(card, tmp_path)
    assert not (tmp_path / "xstest" / "xstest_prompts.csv").exists()


def test_pull_reports_unreachable_url(tmp_path):
    card = parse_card(json.dumps({"name": "t", "title": "t", "source": "s", "revision": "r", "licence": "l",
                                  "files": [{"path": "a.csv", "url": (tmp_path / "absent.csv").as_uri(),
                                             "sha256": "0" * 64}]}))
    with pytest.raises(DataError, match="cannot download .*absent.csv"):
        pull_card(card, tmp_path / "out")


def test_bad_card_is_rejected():
    with pytest.raises(DataError, match=r"missing key\(s\) \['licence'"):
        parse_card(json.dumps({"name": "a", "title": "b", "source": "c", "revision": "d", "files": []}))
    with pytest.raises(DataError, match="unknown recipe 'nope'"):
        parse_card(json.dumps({"name": "a", "title": "b", "source": "c", "revision": "d", "licence": "e",
                               "files": [{"path": "x", "sha256": "0", "derive": {"recipe": "nope"}}]}))


@pytest.mark.parametrize("recipe,inputs,target", [
    ("dna_prompts", {"do_not_answer": "safe_embed/do_not_answer.csv"}, "safe_embed/do_not_answer_prompts.csv"),
    ("beavertails_sample", {"beavertails_prompts": "beavertails/beavertails_30k_test_prompts.csv"},
     "beavertails/beavertails_30k_test_sample_500safe_500unsafe.csv"),
])
def test_derivations_reproduce_published_files(tmp_path, data_dir, recipe, inputs, target):
    out = tmp_path / "out.csv"
    RECIPES[recipe]({k: data_dir / v for k, v in inputs.items()}, out)
    verify(out, sha256_file(data_dir / target))


def test_json_derivations_roundtrip(tmp_path, data_dir):
    """The JBB and BeaverTails recipes rebuild the published CSVs from records in the upstream JSON layout."""
    import csv

    long_rows = list(csv.DictReader(open(data_dir / "jbb_behaviors" / "jbb_behaviors_long.csv", encoding="utf-8")))
    records = [{"text": r["prompt"], "label": "harmful" if r["label"] == "unsafe" else "safe"} for r in long_rows]
    (tmp_path / "jbb.json").write_text(json.dumps(records))
    for name, target in (("jbb_long", "jbb_behaviors_long.csv"), ("jbb_pairs", "jbb_behaviors_pairs.csv")):
        RECIPES[name]({"jbb_json": tmp_path / "jbb.json"}, tmp_path / target)
        verify(tmp_path / target, sha256_file(data_dir / "jbb_behaviors" / target))
    bt = list(csv.DictReader(open(data_dir / "beavertails" / "beavertails_30k_test_prompts.csv", encoding="utf-8")))
    from safe_embed.data.derive import BEAVERTAILS_FLAGS

    recs = [{"text": r["prompt"], "label": "safe" if r["label"] == "safe" else "harmful",
             "category": repr({f: r[f] == "True" for f in BEAVERTAILS_FLAGS})} for r in bt]
    (tmp_path / "bt.json").write_text(json.dumps(recs))
    RECIPES["beavertails_prompts"]({"beavertails_json": tmp_path / "bt.json"}, tmp_path / "bt.csv")
    verify(tmp_path / "bt.csv", sha256_file(data_dir / "beavertails" / "beavertails_30k_test_prompts.csv"))


# card -> the set registered from it: the realistic sets, then the shared sets of issue 27
NEW_SETS = {"guardreasoner_train": "guardreasoner-train", "alert": "alert", "safety_tuned_llamas": "safety-tuned-llamas",
            "alpaca": "alpaca", "toxicchat_train": "toxicchat-train", "aart": "aart", "sap": "sap",
            "harmfulqa": "harmfulqa", "cyberseceval": "cyberseceval", "gptfuzz": "gptfuzz", "arena_hard": "arena-hard",
            "coconot_pref": "coconot-pref"}


@pytest.mark.parametrize("card_name", sorted(NEW_SETS))
def test_realistic_sets_match_their_cards_and_their_recipes(card_name, data_dir, tmp_path):
    """The mirror's files have the card's sha256, and pulling the originals (local copies, file:// URLs) derives
    byte-identical prompt files."""
    card = load_cards()[card_name]
    present = [f for f in card.files if (data_dir / f["path"]).is_file()]
    if not present:
        pytest.skip(f"the data mirror {data_dir} has no {card_name}/ folder (pull it with "
                    f"`safe-embed data pull {card_name}`)")
    for f in card.files:
        assert sha256_file(data_dir / f["path"]) == f["sha256"], f["path"]
    originals = {f["path"]: (data_dir / f["path"]).as_uri() for f in card.files if "url" in f}
    local = parse_card(json.dumps({**card.__dict__, "files": [
        {**f, "url": originals[f["path"]]} if "url" in f else f for f in card.files]}))
    paths = pull_card(local, tmp_path)
    for f, p in zip(card.files, paths):
        assert sha256_file(p) == f["sha256"]
    assert any("derive" in f and f["path"].endswith(".csv") for f in card.files)  # the prompts are derived


def test_data_list_shows_the_registered_sets(data_dir, capsys):
    from safe_embed.cli import main

    assert main(["data", "list", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    for card_name, set_name in NEW_SETS.items():
        assert f"{card_name}:" in out
        line = next(line for line in out.splitlines() if line.strip().startswith(set_name + " "))
        assert "[ok]" in line and f"card {card_name}" in line


@pytest.mark.parametrize("name,n,labels", [("guardreasoner-train", 4539, {"safe", "unsafe"}),
                                           ("alert", 13257, {"unsafe"}), ("safety-tuned-llamas", 2479, {"unsafe"}),
                                           ("alpaca", 5000, {"safe"})])
def test_realistic_sets_load_by_name(name, n, labels, data_dir):
    from safe_embed.data import load_labelled

    rows = load_labelled(name, data_dir)
    assert len(rows) == n and {r.label for r in rows} == labels and all(r.text.strip() for r in rows)
    if name == "alert":
        assert len({r.category for r in rows}) == 32


@pytest.mark.parametrize("recipe,key,content,match", [
    ("toxicchat_prompts", "toxicchat_json", "[]", r"t.json: expected an object with 'instances', got list"),
    ("toxicchat_prompts", "toxicchat_json", '{"instances": 3}', r"t.json: expected a list under 'instances', got int"),
    ("harmfulqa_prompts", "harmfulqa_json", "[1]", r"t.json: expected \{topic: \{subtopic: \[question\]\}\}"),
    ("cyberseceval_prompts", "mitre_frr_json", '{"a": 1}', r"t.json: expected a list of prompts, got dict"),
    ("sap_prompts", "fraud", "{not json", r"t.json: invalid JSON"),
])
def test_shared_recipes_refuse_files_of_the_wrong_shape(tmp_path, recipe, key, content, match):
    (tmp_path / "t.json").write_text(content)
    src = {k: tmp_path / "t.json" for k in ("catqa_json", "interpreter_json", key)}
    with pytest.raises(DataError, match=match):
        RECIPES[recipe](src, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()
