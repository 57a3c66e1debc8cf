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
