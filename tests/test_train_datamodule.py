"""Batches: labels, balanced weights, twins in the same batch, DDP shards, and the default data."""

from __future__ import annotations

import pytest
from safe_embed.train.datamodule import Collator, SafetyDataModule, TwinBatchSampler
from safe_embed.train.examples import class_weights, make_examples

from safe_embed.data.schemas import LabelledPrompt
from safe_embed.errors import ConfigError


def _rows(n=40):
    rows = []
    for i in range(n):
        rows.append(LabelledPrompt(f"how do i hurt person {i}", "unsafe", category="harm" if i % 2 else "crime",
                                   pair_id=f"p{i}"))
        rows.append(LabelledPrompt(f"how do i hurt process {i}", "safe", pair_id=f"p{i}"))
        rows.append(LabelledPrompt(f"write a poem {i}", "safe", weight=2.0))
    return rows


def test_examples_link_twins_and_balance_the_classes():
    rows = _rows()
    ex = make_examples(rows, {"crime": 0, "harm": 1})
    assert ex[0].twins == (1,) and ex[1].twins == (0,) and ex[2].twins == ()
    assert ex[0].category == 0 and ex[3].category == 1 and ex[1].category == -1
    total = {lab: sum(e.weight for e in ex if e.label == lab) for lab in (0, 1)}
    assert total[0] == pytest.approx(total[1])
    assert ex[2].weight == pytest.approx(2 * ex[1].weight)  # a source weight survives the balancing
    assert class_weights(rows, balance=False) == {"safe": 1.0, "unsafe": 1.0}


def test_batches_bring_twins_along_and_cover_every_example():
    ex = make_examples(_rows(), {})
    sampler = TwinBatchSampler(ex, batch_size=8, pair_rate=1.0, seed=0, drop_last=False)
    batches = list(sampler)
    seen = [i for b in batches for i in b]
    assert sorted(seen) == list(range(len(ex)))  # every example once per epoch
    col = Collator(ex)
    paired = 0
    for b in batches:
        out = col(b)
        for k, t in enumerate(out["twin"].tolist()):
            if t >= 0:
                assert out["label"][k] != out["label"][t] and out["text"][t].split()[-1] == out["text"][k].split()[-1]
                paired += 1
    assert paired >= 0.8 * sum(1 for e in ex if e.twins)
    assert list(TwinBatchSampler(ex, 8, seed=0)) == list(TwinBatchSampler(ex, 8, seed=0))
    unpaired = sum(t >= 0 for b in TwinBatchSampler(ex, 8, pair_rate=0.0, seed=0, drop_last=False)
                   for t in col(b)["twin"].tolist())
    assert unpaired < paired / 2  # without pairing, twins meet only by chance


def test_ddp_ranks_get_equal_disjoint_shards():
    ex = make_examples(_rows(), {})
    shards = [list(TwinBatchSampler(ex, 8, seed=3, num_replicas=2, rank=r)) for r in (0, 1)]
    assert len(shards[0]) == len(shards[1]) == len(TwinBatchSampler(ex, 8, num_replicas=2))
    flat = [{i for b in s for i in b} for s in shards]
    assert not flat[0] & flat[1]


def test_datamodule_on_the_default_data(data_dir):
    dm = SafetyDataModule(data_dir=str(data_dir), batch_size=16)
    dm.setup("fit")
    b = next(iter(dm.train_dataloader()))
    assert len(b["text"]) == 16 and set(b["label"].tolist()) <= {0.0, 1.0}
    sources = set(dm.dataset.sources("train"))
    assert {"guardreasoner-train", "alpaca", "alert", "do-not-answer", "oktest"} <= sources
    assert dm.spec.held_out == ["jbb"] and dm.categories  # unsafe categories, in the MLCommons taxonomy
    assert all(c.startswith("S") for c in dm.categories)
    val = list(dm.val_dataloader())
    assert sum(len(v["text"]) for v in val) == len(dm.rows("val"))
    assert dm.eval_sets("val").taxonomy and not dm.eval_sets("val").jbb_pairs  # JBB is held out


def test_datamodule_errors(tmp_path):
    with pytest.raises(ConfigError, match="batch_size"):
        SafetyDataModule(batch_size=1)
    with pytest.raises(ConfigError, match="pair_rate"):
        SafetyDataModule(pair_rate=2.0)
    with pytest.raises(ConfigError, match=r"split_fractions is now data\.fractions"):
        SafetyDataModule(split_fractions=(0.8, 0.1, 0.1))
    assert SafetyDataModule(fractions=(0.8, 0.1, 0.1)).spec.fractions == (0.8, 0.1, 0.1)
    p = tmp_path / "one.csv"
    p.write_text("text,label\n" + "".join(f"prompt {i},safe\n" for i in range(20)))
    dm = SafetyDataModule(sources=[{"path": str(p)}], held_out=[])
    with pytest.raises(ConfigError, match="needs both labels"):
        dm.setup()
