"""The encoder registry: the paper's 11 names, local weights, offline and missing-key errors, the listing."""

from __future__ import annotations

import shutil
import sys

import pytest
from safe_embed.evaluate.normalizer import PAPER_AVG_COSINE

from safe_embed.cli import main
from safe_embed.encoders import registry
from safe_embed.encoders.hf_pooling import HFPoolingEncoder
from safe_embed.encoders.registry import MODELS, PAPER_MODELS, availability, load_encoder
from safe_embed.encoders.sentence_transformer import SentenceTransformerEncoder
from safe_embed.errors import ModelError

PAPER_NAMES = ["sbert-all", "sbert-paraphrase", "sup-simcse", "unsup-simcse", "st5-base", "st5-large", "st5-xl",
               "st5-xxl", "text-embedding-3-large", "llm2vec-mistral", "llm2vec-llama3"]
HUB_NAMES = ["sbert-paraphrase", "sup-simcse", "unsup-simcse", "st5-base", "st5-large", "st5-xl", "st5-xxl"]


@pytest.fixture
def no_llm2vec(monkeypatch):
    """Make the ``llm2vec`` package unimportable: the native LLM2Vec backend does not need it."""
    monkeypatch.setitem(sys.modules, "llm2vec", None)


def test_registry_has_the_papers_eleven_models_with_their_settings():
    assert list(PAPER_MODELS) == PAPER_NAMES
    for name in PAPER_NAMES:
        spec = MODELS[name]
        assert spec.paper_avg_cosine == PAPER_AVG_COSINE[name], name
        assert spec.family in ("SBERT", "SimCSE", "ST5", "LLM")
    assert MODELS["sup-simcse"].backend == MODELS["unsup-simcse"].backend == "hf-pooling"
    assert MODELS["sup-simcse"].pooling == MODELS["unsup-simcse"].pooling == "pooler"
    assert MODELS["st5-xxl"].hub_id == "sentence-transformers/sentence-t5-xxl"
    assert MODELS["text-embedding-3-large"].backend == "openai"
    assert MODELS["llm2vec-mistral"].adapter.endswith("-mntp-unsup-simcse")
    assert MODELS["llm2vec-llama3"].adapter.endswith("-mntp-supervised")


def test_default_model_resolves_to_the_packaged_copy():
    from safe_embed.encoders.packaged import minilm_dir

    enc = load_encoder("all-MiniLM-L6-v2", cache=False)
    assert isinstance(enc, SentenceTransformerEncoder)
    assert enc.model_ref == str(minilm_dir())


def test_sbert_all_resolves_to_the_assembled_copy(tiny_st5_dir):
    from safe_embed.encoders.packaged import packaged_model_dir

    target = packaged_model_dir("sbert-all")  # under the test's isolated SAFE_EMBED_CACHE
    shutil.copytree(tiny_st5_dir, target)
    try:
        enc = load_encoder("sentence-transformers/all-mpnet-base-v2", cache=False)
        assert enc.name == "sbert-all" and enc.model_ref == str(target)
        assert enc.encode(["the cat"]).shape == (1, 8)
    finally:
        shutil.rmtree(target)


@pytest.mark.parametrize("name", HUB_NAMES)
def test_hub_names_offline_fail_with_the_fix(name, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match=rf"needs the Hugging Face hub.*offline.*--model-path DIR, or --model {name}=DIR"):
        load_encoder(name)


def test_unknown_hub_id_offline_fails_fast(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="needs the Hugging Face hub"):
        load_encoder("some-org/some-encoder")


def test_model_path_keeps_the_names_backend_and_pooling(tiny_bert_dir, tiny_st5_dir):
    simcse = load_encoder("unsup-simcse", cache=False, model_path=str(tiny_bert_dir))
    assert isinstance(simcse, HFPoolingEncoder) and simcse.pooling == "pooler" and simcse.name == "unsup-simcse"
    st5 = load_encoder("st5-xl", cache=False, model_path=str(tiny_st5_dir))
    assert isinstance(st5, SentenceTransformerEncoder) and st5.name == "st5-xl"
    assert st5.encode(["how do i kill a python process"]).shape == (1, 8)


def test_name_equals_dir_is_a_registry_name_with_local_weights(tiny_bert_dir):
    enc = load_encoder(f"sup-simcse={tiny_bert_dir}", cache=False)
    assert isinstance(enc, HFPoolingEncoder) and enc.name == "sup-simcse" and enc.model_ref == str(tiny_bert_dir)
    assert enc.encode(["the cat"]).shape == (1, 16)


def test_model_path_must_be_a_directory(tmp_path):
    with pytest.raises(ModelError, match="is not a directory"):
        load_encoder("sup-simcse", model_path=str(tmp_path / "missing"))


def test_api_model_without_key_fails_clearly(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ModelError, match="no OpenAI API key: set OPENAI_API_KEY"):
        load_encoder("text-embedding-3-large")


def test_api_model_has_no_local_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    with pytest.raises(ModelError, match="API model and has no local weights"):
        load_encoder("text-embedding-3-large", model_path=str(tmp_path))


@pytest.mark.parametrize("name", ["llm2vec-mistral", "llm2vec-llama3"])
def test_llm2vec_needs_no_extra_only_weights(name, no_llm2vec, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match=rf"needs the Hugging Face hub.*offline.*--model-path DIR, or --model {name}=DIR"):
        load_encoder(name)
    assert MODELS[name].backend == "llm2vec" and MODELS[name].base_model


def test_unknown_name_lists_the_registry():
    with pytest.raises(ModelError, match="unknown model 'sbert-everything'.*sup-simcse"):
        load_encoder("sbert-everything")


def test_availability_covers_each_case(monkeypatch, no_llm2vec):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert availability("all-MiniLM-L6-v2").startswith("installed locally")
    assert availability("sup-simcse").startswith("needs the hub")
    assert availability("text-embedding-3-large").startswith("needs an API key")
    assert availability("llm2vec-llama3").startswith("needs the hub")
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    assert availability("text-embedding-3-large").startswith("API key set")


def test_models_command_prints_the_table(capsys, monkeypatch, no_llm2vec):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line.split() and line.split()[0] in MODELS}
    assert set(PAPER_NAMES) <= set(rows)
    assert "SimCSE" in rows["sup-simcse"] and "hf-pooling/pooler" in rows["sup-simcse"]
    assert "3072" in rows["text-embedding-3-large"] and "needs an API key" in rows["text-embedding-3-large"]
    assert "0.721" in rows["st5-base"] and "needs the hub" in rows["st5-base"]
    assert "needs the hub" in rows["llm2vec-mistral"] and "optional extra" not in rows["llm2vec-mistral"]


def test_hub_offline_reads_the_environment(monkeypatch):
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    assert not registry.hub_offline()
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    assert registry.hub_offline()


def test_paper_comparison_config_lists_the_eleven():
    from pathlib import Path

    from safe_embed.evaluate.run import EvalConfig

    cfg = EvalConfig.from_yaml(Path(__file__).resolve().parent.parent / "configs" / "eval" / "paper_comparison.yaml")
    assert cfg.models == PAPER_NAMES and cfg.avg_cosine == "paper"


@pytest.mark.slow
def test_comparison_runs_what_loads_and_reports_the_rest(tiny_bert_dir, tmp_path, capsys, monkeypatch, data_dir):
    import json

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    out = tmp_path / "cmp"
    assert main(["evaluate", "--model", f"sup-simcse={tiny_bert_dir}", "--model", "st5-base", "--model",
                 "text-embedding-3-large", "--avg-cosine", "paper", "--no-tsne", "--out", str(out),
                 "--data-dir", str(data_dir)]) == 0
    printed = capsys.readouterr().out
    assert "sup-simcse: avg_cosine=0.185" in printed
    assert "st5-base: not evaluated (model 'st5-base' needs the Hugging Face hub" in printed
    assert "text-embedding-3-large: not evaluated (no OpenAI API key" in printed
    assert "st5-base" in (out / "report.md").read_text()
    assert json.loads((out / "metrics.json").read_text())


def test_a_cached_hub_copy_loads_offline(tmp_path, monkeypatch, tiny_bert_dir):
    """A model already in the Hugging Face cache is 'installed locally' and loads with the hub offline."""
    import huggingface_hub.constants

    snap = tmp_path / "models--princeton-nlp--sup-simcse-bert-base-uncased" / "snapshots" / "abc123"
    shutil.copytree(tiny_bert_dir, snap)
    (snap.parent.parent / "refs").mkdir()
    (snap.parent.parent / "refs" / "main").write_text("abc123")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert registry.in_hf_cache("princeton-nlp/sup-simcse-bert-base-uncased")
    assert availability("sup-simcse") == "installed locally (Hugging Face cache)"
    enc = load_encoder("sup-simcse", cache=False)  # no early offline error: the cache has it
    assert isinstance(enc, HFPoolingEncoder) and enc.model_ref == "princeton-nlp/sup-simcse-bert-base-uncased"
    assert enc.encode(["the cat"]).shape == (1, 16)
