"""The OpenAI-compatible embeddings backend against a real HTTP server on 127.0.0.1 (tests/fake_openai.py)."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest
from fake_openai import fake_vector

from safe_embed.encoders.cache import CachedEncoder, EmbeddingCache
from safe_embed.encoders.openai_api import MAX_INPUTS_PER_REQUEST, OpenAIEmbeddingEncoder, plan_batches
from safe_embed.encoders.registry import load_encoder
from safe_embed.errors import ModelError

TEXTS = ["How do I kill a Python process?", "Tell me a dirty joke.", "What is your name?"]


def _encoder(srv, delays=None, **kw) -> OpenAIEmbeddingEncoder:
    return OpenAIEmbeddingEncoder("text-embedding-3-large", api_key="test-key", base_url=srv.base_url,
                                  sleep=(delays.append if delays is not None else lambda s: None), **kw)


def test_plan_batches_respects_both_limits_seeded():
    rng = random.Random(0)
    texts = ["x" * rng.randint(1, 50) for _ in range(500)]
    for max_inputs, max_tokens in [(7, 10**6), (1000, 200), (3, 60), (MAX_INPUTS_PER_REQUEST, 300_000)]:
        batches = plan_batches(texts, max_inputs, max_tokens)
        assert [i for s, e in batches for i in range(s, e)] == list(range(len(texts)))  # consecutive, complete
        for s, e in batches:
            assert e - s <= max_inputs
            assert e - s == 1 or sum(len(t) + 1 for t in texts[s:e]) <= max_tokens
        # greedy: no two neighbouring batches could have been merged
        for (s1, e1), (s2, e2) in itertools.pairwise(batches):
            merged = texts[s1:e2]
            assert len(merged) > max_inputs or sum(len(t) + 1 for t in merged) > max_tokens


def test_plan_batches_puts_an_oversized_text_alone_and_rejects_bad_limits():
    assert plan_batches(["a" * 100, "b", "c"], max_inputs=10, max_tokens=10) == [(0, 1), (1, 3)]
    with pytest.raises(ValueError, match="must be positive"):
        plan_batches(["a"], max_inputs=0)


def test_embeddings_come_back_in_input_order(fake_openai):
    enc = _encoder(fake_openai)
    x = enc.encode(TEXTS)
    np.testing.assert_allclose(x, np.stack([fake_vector(t, 8) for t in TEXTS]), atol=1e-6)
    (endpoint, body), = fake_openai.requests
    assert endpoint == "embeddings" and body["model"] == "text-embedding-3-large" and body["input"] == TEXTS
    assert body["encoding_format"] == "float"


def test_batches_by_inputs_and_by_token_budget(fake_openai):
    texts = [f"prompt number {i}" for i in range(5)]
    _encoder(fake_openai, batch_size=2).encode(texts)
    assert [len(b["input"]) for _, b in fake_openai.requests] == [2, 2, 1]
    fake_openai.requests.clear()
    _encoder(fake_openai, max_tokens_per_request=40).encode(texts)  # each text counts 16 + 1
    assert [len(b["input"]) for _, b in fake_openai.requests] == [2, 2, 1]


def test_rate_limit_then_success_backs_off_exponentially(fake_openai):
    delays: list[float] = []
    fake_openai.queue("embeddings", 429, 429, 503)
    x = _encoder(fake_openai, delays, backoff_base=2.0).encode(TEXTS)
    assert x.shape == (3, 8) and fake_openai.count("embeddings") == 4
    assert len(delays) == 3
    for attempt, d in enumerate(delays):  # base * 2**attempt, jittered into [50%, 100%]
        assert 2.0 * 2**attempt * 0.5 <= d <= 2.0 * 2**attempt


def test_malformed_json_and_dropped_connection_are_retried(fake_openai):
    fake_openai.queue("embeddings", "malformed", "drop", {"object": "list", "data": []})
    x = _encoder(fake_openai).encode(TEXTS)
    np.testing.assert_allclose(x[1], fake_vector(TEXTS[1], 8), atol=1e-6)
    assert fake_openai.count("embeddings") == 4


def test_persistent_server_errors_give_up_with_a_clear_error(fake_openai):
    fake_openai.queue("embeddings", *[500] * 10)
    with pytest.raises(ModelError, match="failed after 3 attempts.*InternalServerError 500"):
        _encoder(fake_openai, max_retries=2).encode(TEXTS)
    assert fake_openai.count("embeddings") == 3


def test_bad_key_and_bad_request_are_not_retried(fake_openai):
    bad = OpenAIEmbeddingEncoder("m", api_key="wrong", base_url=fake_openai.base_url)
    with pytest.raises(ModelError, match="rejected the key"):
        bad.encode(TEXTS)
    fake_openai.queue("embeddings", 400)
    with pytest.raises(ModelError, match="HTTP 400"):
        _encoder(fake_openai).encode(TEXTS)
    assert fake_openai.count("embeddings") == 2


def test_no_key_fails_before_any_request(monkeypatch, fake_openai):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ModelError, match="set OPENAI_API_KEY"):
        OpenAIEmbeddingEncoder("m", base_url=fake_openai.base_url)
    assert fake_openai.requests == []


def test_registry_names_use_the_environment_and_the_cache(monkeypatch, tmp_path, fake_openai):
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    enc = load_encoder("text-embedding-3-large", cache=EmbeddingCache(tmp_path))
    assert isinstance(enc, CachedEncoder) and fake_openai.base_url in enc.identity
    first = enc.encode(TEXTS)
    again = enc.encode(TEXTS)
    np.testing.assert_array_equal(first, again)
    assert fake_openai.count("embeddings") == 1  # the second call came from the cache
    other = load_encoder("openai:my-local-model", cache=False)
    assert other.encode(["hi"]).shape == (1, 8)
    assert fake_openai.requests[-1][1]["model"] == "my-local-model"


def test_dimensions_are_passed_through(fake_openai):
    x = _encoder(fake_openai, dimensions=4).encode(TEXTS)
    assert x.shape == (3, 4) and fake_openai.requests[0][1]["dimensions"] == 4


def test_retry_after_header_is_honoured(fake_openai):
    delays: list[float] = []
    fake_openai.queue("embeddings", (429, {"retry-after": "3"}))
    _encoder(fake_openai, delays).encode(TEXTS)
    assert delays == [3.0] and fake_openai.count("embeddings") == 2


def test_empty_text_is_refused_before_any_request(fake_openai):
    with pytest.raises(ModelError, match="text #1 is empty or blank"):
        _encoder(fake_openai).encode(["a", "  "])
    assert fake_openai.requests == []
