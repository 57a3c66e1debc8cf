"""Backends on tiny models saved to disk: HF pooling (SimCSE format), sentence-T5 format (LLM2Vec: its own file)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from safe_embed.encoders.hf_pooling import HFPoolingEncoder
from safe_embed.encoders.registry import load_encoder
from safe_embed.errors import ModelError

TEXTS = ["how do i kill a python process", "the cat sat on the mat", "tell me a dirty joke",
         "what is your name", "make a cake"]


def _reference(model_dir, texts):
    """Token states, mask and pooler output computed directly with transformers, one text at a time."""
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir).eval()
    out = []
    for t in texts:
        enc = tok([t], return_tensors="pt")
        with torch.no_grad():
            res = model(**enc)
        out.append((res.last_hidden_state[0].numpy(), res.pooler_output[0].numpy()))
    return out


def test_pooler_cls_and_mean_match_transformers(tiny_bert_dir):
    ref = _reference(tiny_bert_dir, TEXTS)
    got = {p: HFPoolingEncoder(str(tiny_bert_dir), pooling=p, batch_size=2).encode(TEXTS)
           for p in ("pooler", "cls", "mean")}
    np.testing.assert_allclose(got["pooler"], np.stack([r[1] for r in ref]), atol=1e-5)
    np.testing.assert_allclose(got["cls"], np.stack([r[0][0] for r in ref]), atol=1e-5)
    np.testing.assert_allclose(got["mean"], np.stack([r[0].mean(0) for r in ref]), atol=1e-5)
    assert not np.allclose(got["pooler"], got["cls"])
    assert got["pooler"].dtype == np.float32 and got["pooler"].shape == (len(TEXTS), 16)


def test_hf_pooling_output_order_is_independent_of_batching(tiny_bert_dir):
    enc = HFPoolingEncoder(str(tiny_bert_dir), pooling="pooler")
    np.testing.assert_allclose(enc.encode(TEXTS, batch_size=1), enc.encode(TEXTS, batch_size=64), atol=1e-5)
    assert enc.dimension == 16


def test_hf_pooling_identity_tracks_pooling_and_weights(tmp_path, tiny_bert_dir):
    from tiny_models import save_tiny_bert

    other = save_tiny_bert(tmp_path / "other", seed=1)
    a = HFPoolingEncoder(str(tiny_bert_dir), pooling="pooler").identity
    assert a != HFPoolingEncoder(str(tiny_bert_dir), pooling="cls").identity
    assert a != HFPoolingEncoder(str(other), pooling="pooler").identity
    assert a == HFPoolingEncoder(str(tiny_bert_dir), pooling="pooler").identity


def test_pooler_pooling_needs_a_pooler(tmp_path):
    from tiny_models import save_tiny_bert

    d = save_tiny_bert(tmp_path / "nopool", pooler=False)
    with pytest.raises(ModelError, match="no pooler.*pooling='cls' or 'mean'"):
        HFPoolingEncoder(str(d), pooling="pooler").encode(["the cat"])
    assert HFPoolingEncoder(str(d), pooling="mean").encode(["the cat"]).shape == (1, 16)


def test_hf_pooling_rejects_bad_settings(tmp_path):
    with pytest.raises(ModelError, match="pooling 'max' is not supported"):
        HFPoolingEncoder("x", pooling="max")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="no config.json"):
        HFPoolingEncoder(str(tmp_path / "empty")).encode(["a"])


def test_sentence_t5_format_loads_and_matches_its_modules(tiny_st5_dir):
    from sentence_transformers import SentenceTransformer
    from transformers import AutoTokenizer, T5EncoderModel

    enc = load_encoder("st5-base", cache=False, model_path=str(tiny_st5_dir))
    got = enc.encode(TEXTS)
    st = SentenceTransformer(str(tiny_st5_dir))
    assert type(st[0].auto_model).__name__ == "T5EncoderModel"
    # recompute by hand: T5 encoder -> mean over tokens -> Dense (no bias, identity) -> L2 normalize
    hf_dir = str(tiny_st5_dir) + "-t5"
    tok, t5 = AutoTokenizer.from_pretrained(hf_dir), T5EncoderModel.from_pretrained(hf_dir).eval()
    weight = st[2].linear.weight.detach().numpy()
    for text, row in zip(TEXTS, got):
        with torch.no_grad():
            h = t5(**tok([text], return_tensors="pt")).last_hidden_state[0].numpy()
        v = h.mean(0) @ weight.T
        np.testing.assert_allclose(row, v / np.linalg.norm(v), atol=1e-5)
