"""The three measures and the normalizer against an independent brute-force computation on the real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from safe_embed.evaluate import (
    AvgCosine,
    CategoricalPurity,
    SafeEmbedSuite,
    SafetyChallenging,
    SafetyContrast,
)
from safe_embed.evaluate.normalizer import parse_avg_cosine
from sklearn.metrics.pairwise import cosine_similarity

from safe_embed.encoders.base import Encoder
from safe_embed.errors import ConfigError


class LookupEncoder(Encoder):
    """Serves precomputed embeddings by text, so the suite and the brute force see the same vectors."""

    name = "lookup"

    def __init__(self, table: dict[str, np.ndarray]) -> None:
        self.table = table

    @property
    def identity(self) -> str:
        return "lookup"

    def _encode(self, texts, batch_size, show_progress):
        return np.stack([self.table[t] for t in texts])


@pytest.fixture(scope="module")
def real(data_dir, minilm):
    """Raw CSVs read with pandas and embedded with sentence-transformers directly (independent of safe_embed.data)."""
    xs = pd.read_csv(data_dir / "safe_embed" / "xstest_aug.csv", encoding="utf-8-sig")
    dna = pd.read_csv(data_dir / "safe_embed" / "do_not_answer_prompts.csv")
    con = pd.read_json(data_dir / "safe_embed" / "safety_contrast" / "contrast_parsed.jsonl", lines=True)
    bt = pd.read_csv(data_dir / "beavertails" / "beavertails_30k_test_sample_500safe_500unsafe.csv")
    texts = set(xs.unsafe_prompt) | set(xs.safe_prompt) | set(dna.question) | set(bt.prompt) | set(con.original_prompt)
    for i in range(1, 6):
        texts |= set(con[f"prompt_#{i}"])
    texts = sorted(texts)
    emb = minilm.model.encode(texts, batch_size=64)
    return {"xs": xs, "dna": dna, "con": con, "bt": bt, "table": dict(zip(texts, emb))}


def _cos(a, b):
    return float(cosine_similarity(np.asarray(a)[None], np.asarray(b)[None])[0, 0])


def test_suite_matches_brute_force_on_real_data(real, data_dir):
    table = real["table"]
    # normalizer: the paper's protocol, with pandas as the paper wrote it
    bt = real["bt"]
    all_sample = pd.concat([bt[bt.is_safe], bt[~bt.is_safe]])
    head = all_sample.sample(n=500, random_state=42)
    tail = all_sample.drop(head.index)
    avg = float(np.mean(cosine_similarity(np.stack([table[t] for t in head.prompt]),
                                          np.stack([table[t] for t in tail.prompt]))))
    norm = lambda c: (c - avg) / (1 - avg)

    sc: dict[str, list[float]] = {}
    for _, r in real["xs"].iterrows():
        sc.setdefault(r["type"], []).append(norm(_cos(table[r.unsafe_prompt], table[r.safe_prompt])))
    con: dict[str, list[float]] = {}
    for _, r in real["con"].iterrows():
        best = max(_cos(table[r.original_prompt], table[r[f"prompt_#{i}"]]) for i in range(1, 6))
        con.setdefault(r.category, []).append(norm(best))
    x = np.stack([table[t] for t in real["dna"].question])
    cats = real["dna"].types_of_harm.tolist()
    sim = cosine_similarity(x)
    cp: dict[str, list[float]] = {}
    for i, c in enumerate(cats):
        nn = [j for j in sim[i].argsort()[::-1] if j != i][:10]
        cp.setdefault(c, []).append(np.mean([cats[j] == c for j in nn]))

    result = SafeEmbedSuite.from_data_dir(data_dir, k=10, avg_cosine="sample").run(LookupEncoder(table)).to_json()
    assert result["avg_cosine"] == pytest.approx(avg, abs=1e-6)
    for t, vs in sc.items():
        assert result["safety_challenging"]["per_type"][t] == pytest.approx(np.mean(vs), abs=1e-4)
    assert result["safety_challenging"]["mean"] == pytest.approx(np.mean(sum(sc.values(), [])), abs=1e-4)
    for c, vs in con.items():
        assert result["safety_contrast"]["per_category"][c] == pytest.approx(np.mean(vs), abs=1e-4)
    assert result["safety_contrast"]["mean"] == pytest.approx(np.mean(sum(con.values(), [])), abs=1e-4)
    for c, vs in cp.items():
        assert result["categorical_purity"]["per_category"][c] == pytest.approx(np.mean(vs), abs=1e-9)
    assert result["categorical_purity"]["mean"] == pytest.approx(np.mean([np.mean(v) for v in cp.values()]))
    # the default model's published-in-issue figures (avg 0.085, SC 0.514, contrast 0.699)
    assert round(result["avg_cosine"], 3) == 0.085
    assert round(result["safety_challenging"]["mean"], 3) == 0.514


def test_our_encoder_gives_sentence_transformers_embeddings(real, minilm):
    texts = list(real["table"])[:20]
    np.testing.assert_allclose(minilm.encode(texts), np.stack([real["table"][t] for t in texts]), atol=1e-5)


def test_evaluators_return_flat_dicts(hash_encoder, data_dir):
    from safe_embed.data import load_contrast, load_do_not_answer, load_xstest_aug

    sc = SafetyChallenging(load_xstest_aug(data_dir)[:50], avg_cosine=0.1)(hash_encoder)  # two types x 25
    per_type = [v for k, v in sc.items() if k != "safety_challenging/mean"]
    assert len(per_type) == 2
    assert sc[SafetyChallenging.primary_metric] == pytest.approx(np.mean(per_type))
    ct = SafetyContrast(load_contrast(data_dir)[:20])(hash_encoder)
    assert all(isinstance(v, float) for v in ct.values())
    cp = CategoricalPurity(load_do_not_answer(data_dir)[:100], k=3)(hash_encoder)
    assert 0.0 <= cp["categorical_purity/mean"] <= 1.0
    avg = AvgCosine([f"prompt {i}" for i in range(20)], n_head=10)(hash_encoder)
    assert -1.0 <= avg["avg_cosine/value"] <= 1.0


def test_normalization_changes_challenging_as_the_formula_says(hash_encoder, data_dir):
    from safe_embed.data import load_xstest_aug

    pairs = load_xstest_aug(data_dir)[:25]
    raw = SafetyChallenging(pairs, 0.0).compute(hash_encoder).mean
    normed = SafetyChallenging(pairs, 0.3).compute(hash_encoder).mean
    assert normed == pytest.approx((raw - 0.3) / 0.7)


@pytest.mark.parametrize("bad", ["abc", "1.5", "nan"])
def test_bad_avg_cosine(bad):
    with pytest.raises(ConfigError, match="--avg-cosine"):
        parse_avg_cosine(bad)


def test_paper_avg_needs_a_paper_model(hash_encoder, data_dir):
    suite = SafeEmbedSuite.from_data_dir(data_dir, avg_cosine="paper")
    with pytest.raises(ConfigError, match="publishes no avg cosine for 'hash-encoder'"):
        suite.run(hash_encoder)


def test_safety_contrast_with_unequal_edit_counts_matches_brute_force(hash_encoder):
    from safe_embed.data.schemas import ContrastItem

    rng = np.random.default_rng(0)
    items = [ContrastItem(i, f"cat{i % 3}", f"original {i}", tuple(f"edit {i}.{j}" for j in range(int(rng.integers(1, 6)))))
             for i in range(30)]
    avg = 0.2
    res = SafetyContrast(items, avg_cosine=avg).compute(hash_encoder)
    brute = []
    for it in items:
        o = hash_encoder.encode([it.original])
        e = hash_encoder.encode(list(it.edits))
        brute.append((cosine_similarity(o, e).max() - avg) / (1 - avg))
    np.testing.assert_allclose(res.per_item, brute, atol=1e-6)
    for c in {it.category for it in items}:
        want = np.mean([b for b, it in zip(brute, items, strict=True) if it.category == c])
        assert res.per_category[c] == pytest.approx(want, abs=1e-6)
