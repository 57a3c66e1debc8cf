"""Batches: every role filled, no duplicate texts across a batch, twins are the anchor's own edits."""

from __future__ import annotations

import pytest
from safe_embed.train.datamodule import PairCollator, SafetyPairDataModule
from safe_embed.train.examples import Anchor

from safe_embed.errors import ConfigError

ROLES = ("anchor", "positive", "twin", "lookalike")


def test_collator_avoids_duplicates_and_uses_own_twins():
    anchors = [Anchor(f"unsafe {i}", "c1" if i % 2 else "c2", (f"safe {i}a", f"safe {i}b")) for i in range(32)]
    # a look-alike pool that collides with the twins: the collator must not put a text twice in a batch
    looks = ["safe 0a", "safe 1a", "ok 1", "ok 2", "ok 3", "ok 4", "ok 5", "ok 6", "ok 7", "ok 8", "ok 9"]
    col = PairCollator(anchors, looks, {"c1": 0, "c2": 1}, positive="category", seed=1)
    b = col(anchors[:8])
    texts = [t for r in ROLES for t in b[r]]
    assert len(texts) == len(set(texts)) and len(b["anchor"]) == 8
    for a, twin, pos in zip(b["anchor"], b["twin"], b["positive"]):
        i = int(a.split()[-1])
        assert twin in (f"safe {i}a", f"safe {i}b")
        assert pos != a and (int(pos.split()[-1]) % 2) == (i % 2)  # same category
    assert b["category"].tolist() == [1, 0] * 4


def test_collator_self_positive_and_seed():
    anchors = [Anchor(f"u{i}", None, ()) for i in range(4)]
    col = PairCollator(anchors, [f"ok{i}" for i in range(20)], {}, positive="self", seed=3)
    b1, b2 = col(anchors), col(anchors)
    assert b1["positive"] == b1["anchor"] and b1["twin"] == b2["twin"] and b1["lookalike"] == b2["lookalike"]
    assert set(b1["twin"]).isdisjoint(b1["lookalike"])
    with pytest.raises(ConfigError, match="positive"):
        PairCollator(anchors, [], {}, positive="other")


def test_datamodule_batches(data_dir):
    dm = SafetyPairDataModule(data_dir=str(data_dir), batch_size=16, seed=0)
    dm.setup("fit")
    b = next(iter(dm.train_dataloader()))
    assert len(b["anchor"]) == 16
    texts = [t for r in ROLES for t in b[r]]
    assert len(texts) == len(set(texts))
    assert dm.eval_sets("val").jbb_pairs and not dm.eval_sets("test").jbb_pairs
    with pytest.raises(ConfigError, match="batch_size"):
        SafetyPairDataModule(batch_size=1)


def test_without_jbb_training_pairs_no_jbb_text_is_trained_or_validated_on(data_dir):
    from safe_embed.train.examples import build_training_data

    from safe_embed.data import load_labelled

    jbb = {p.text for p in load_labelled("jbb", data_dir)}
    with_jbb = build_training_data(data_dir, ["do-not-answer", "jbb", "oktest"], seed=0)
    without = build_training_data(data_dir, ["do-not-answer", "oktest", "advbench"], seed=0)
    val_pairs = {t for p in with_jbb.evals["val"].jbb_pairs for t in (p.unsafe, p.safe)}
    trained = {t for a in with_jbb.parts["train"].anchors for t in (a.text, *a.twins)}
    assert val_pairs and not val_pairs & trained  # not even through AdvBench, which repeats some JBB behaviours
    with_adv = build_training_data(data_dir, ["do-not-answer", "jbb", "advbench"], seed=0)
    assert not val_pairs & {a.text for a in with_adv.parts["train"].anchors}
    seen = {t for part in without.parts.values() for a in part.anchors for t in (a.text, *a.twins)}
    seen |= {t for part in without.parts.values() for t in part.lookalikes}
    ev = without.evals["val"]
    seen |= {p.text for p in ev.taxonomy} | {t for p in ev.jbb_pairs for t in (p.unsafe, p.safe)}
    assert not ev.jbb_pairs and not seen & jbb


def test_collator_falls_back_to_self_when_category_exhausted():
    anchors = [Anchor(f"u{i}", "c", (f"s{i}",)) for i in range(3)]
    b = PairCollator(anchors, ["ok"], {"c": 0}, seed=0)(anchors)
    assert b["positive"] == b["anchor"]  # every other member of the category is already an anchor in the batch


def test_mine_nearest_picks_most_similar(tmp_path):
    from safe_embed.train.datamodule import mine_nearest
    from tiny_models import save_tiny_bert

    tiny = save_tiny_bert(tmp_path / "bert")
    anchors = [Anchor("how do i kill a python process", "c"), Anchor("tell me a dirty joke", "c")]
    looks = ["how do i kill a python process", "tell me a dirty joke", "the cat sat on mat"]
    near = mine_nearest(anchors, looks, str(tiny), k=1)
    assert near == {a.text: [a.text] for a in anchors}  # identical text is the nearest look-alike
    assert len(mine_nearest(anchors, looks, str(tiny), k=2)[anchors[0].text]) == 2
