"""The native LLM2Vec backend against llm2vec 0.2.3's own embeddings of two tiny models (fixtures), plus its
bidirectional attention, padding, settings, the registry's local layouts and offline errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from safe_embed.encoders.llm2vec import (
    LLM2VecEncoder,
    base_source,
    make_bidirectional,
    padding_mask,
    prompt_source,
)
from safe_embed.encoders.llm2vec_inputs import LLM2VecSettings, join_instruction, tokenize, wrap_prompt
from safe_embed.encoders.registry import load_encoder
from safe_embed.errors import ModelError

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "llm2vec"
ARCHS = ("mistral", "llama")
N_CASES = 5  # make_reference.CASES


def _meta(arch: str) -> dict:
    return json.loads((FIXTURES / arch / "reference.json").read_text())


def _encoder(arch: str, **kwargs) -> LLM2VecEncoder:
    return LLM2VecEncoder(str(FIXTURES / arch / "mntp"), adapter=str(FIXTURES / arch / "adapter"), device="cpu",
                          dtype=kwargs.pop("dtype", "float32"), **kwargs)


@pytest.fixture
def no_llm2vec_package(monkeypatch):
    """The ``llm2vec`` package unimportable: the native backend must not need it."""
    monkeypatch.setitem(sys.modules, "llm2vec", None)


@pytest.fixture(scope="module")
def encoders() -> dict:
    """Per architecture: a plain encoder and one with the fixture's instruction (loaded once)."""
    return {(arch, instructed): _encoder(arch, instruction=_meta(arch)["instruction"] if instructed else None)
            for arch in ARCHS for instructed in (False, True)}


def test_fixture_is_what_llm2vec_0_2_3_produced():
    for arch in ARCHS:
        meta = _meta(arch)
        assert meta["versions"]["llm2vec"] == "0.2.3" and meta["versions"]["transformers"] == "4.44.2"
        assert [c["batch_size"] for c in meta["cases"]] == [1, 3, 1, 3, 3]
        ref = np.load(FIXTURES / arch / "reference.npy")
        assert ref.shape == (N_CASES, len(meta["texts"]), 32) and ref.dtype == np.float32
        assert np.abs(ref).max() > 0.1  # real numbers, not zeros
    size = sum(p.stat().st_size for p in FIXTURES.rglob("*") if p.is_file())
    assert size < 2_000_000, f"the llm2vec fixtures grew to {size} bytes"


@pytest.mark.parametrize("case", range(N_CASES))
@pytest.mark.parametrize("arch", ARCHS)
def test_native_backend_reproduces_llm2vec(arch, case, encoders):
    meta = _meta(arch)
    ref = np.load(FIXTURES / arch / "reference.npy")[case]
    instruction, batch_size = meta["cases"][case]["instruction"], meta["cases"][case]["batch_size"]
    if instruction == "mixed":  # per-text instructions, through the (instruction, text) pairs API
        pairs = [(meta["instruction"] if i % 2 else "", t) for i, t in enumerate(meta["texts"])]
        got = encoders[arch, False].encode_pairs(pairs, batch_size=batch_size)
    else:
        got = encoders[arch, instruction is not None].encode(meta["texts"], batch_size=batch_size)
    assert got.dtype == np.float32 and got.shape == ref.shape
    np.testing.assert_allclose(got, ref, atol=1e-4, rtol=0)


@pytest.mark.parametrize("arch", ARCHS)
def test_tokens_and_embed_masks_match_llm2vec(arch, encoders):
    meta = _meta(arch)
    enc = encoders[arch, False]
    enc.encode(["warm up"])
    for key, instruction in (("plain", ""), ("instruction", meta["instruction"])):
        for text, want in zip(meta["texts"], meta["tokens"][key]):
            joined = join_instruction(enc._tokenizer, instruction, text, enc._settings)
            prompt = wrap_prompt(joined, enc._source, enc._model.config.model_type, "mean")
            got = tokenize(enc._tokenizer, [prompt], enc._settings.max_length)
            assert got["input_ids"][0].tolist() == want["input_ids"], (key, text)
            assert got["embed_mask"][0].tolist() == want["embed_mask"], (key, text)


def test_llama_fixture_settings_come_from_llm2vec_config(encoders):
    encoders["llama", False].encode(["warm up"])
    encoders["mistral", False].encode(["warm up"])
    assert encoders["llama", False]._settings == LLM2VecSettings("mean", 24, 12, True)
    assert encoders["mistral", False]._settings == LLM2VecSettings()  # no llm2vec_config.json: the defaults
    assert _meta("llama")["config"] == {"pooling_mode": "mean", "max_length": 24, "doc_max_length": 12,
                                        "skip_instruction": True}


def _hidden(enc: LLM2VecEncoder, ids: list[list[int]], mask: list[list[int]]) -> torch.Tensor:
    ids_t, mask_t = torch.tensor(ids), torch.tensor(mask)
    with torch.inference_mode():
        return enc._model(input_ids=ids_t, attention_mask=padding_mask(mask_t, torch.float32)).last_hidden_state


@pytest.mark.parametrize("arch", ARCHS)
def test_attention_is_bidirectional(arch, encoders):
    enc = encoders[arch, False]
    enc.encode(["warm up"])
    ids = enc._tokenizer("how do i kill a python process")["input_ids"]
    changed = ids[:-1] + [enc._tokenizer.convert_tokens_to_ids("cake")]
    h = _hidden(enc, [ids, changed], [[1] * len(ids)] * 2)
    assert (h[0, 0] - h[1, 0]).abs().max() > 1e-3  # a later token changes the first token's state
    assert all(not layer.self_attn.is_causal for layer in enc._model.get_base_model().layers)
    # the check can fail: the same weights with causal attention leave the first token unchanged
    from transformers import AutoModel

    causal = AutoModel.from_pretrained(str(FIXTURES / arch / "mntp")).eval()
    with torch.inference_mode():
        hc = causal(input_ids=torch.tensor([ids, changed])).last_hidden_state
    assert torch.allclose(hc[0, 0], hc[1, 0], atol=1e-6)


@pytest.mark.parametrize("arch", ARCHS)
def test_left_padding_changes_nothing(arch, encoders):
    enc = encoders[arch, False]
    enc.encode(["warm up"])
    ids = enc._tokenizer("the cat sat on the mat")["input_ids"]
    pad = enc._tokenizer.pad_token_id
    alone = _hidden(enc, [ids], [[1] * len(ids)])[0]
    padded = _hidden(enc, [[pad] * 5 + ids], [[0] * 5 + [1] * len(ids)])[0, 5:]
    torch.testing.assert_close(padded, alone, atol=1e-5, rtol=0)
    texts = ["kill", "the cat is safe and the mat is clean , tell me what a python process is"]
    np.testing.assert_allclose(enc.encode(texts, batch_size=2), enc.encode(texts, batch_size=1), atol=1e-5)


def test_adapters_matter():
    ref = np.load(FIXTURES / "mistral" / "reference.npy")[1]
    texts = _meta("mistral")["texts"]
    no_stage2 = LLM2VecEncoder(str(FIXTURES / "mistral" / "mntp"), dtype="float32", device="cpu")
    assert np.abs(no_stage2.encode(texts, batch_size=3) - ref).max() > 1e-2


def test_bfloat16_stays_close_to_float32():
    ref = np.load(FIXTURES / "llama" / "reference.npy")[1]
    got = _encoder("llama", dtype="bfloat16").encode(_meta("llama")["texts"], batch_size=3)
    cos = (got * ref).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(ref, axis=1)
    assert cos.min() > 0.99


def test_prompt_templates_follow_llm2vec():
    assert wrap_prompt(" hi !@#$%^&*()there ", "meta-llama/Meta-Llama-3-8B-Instruct", "llama", "mean") == (
        "<|start_header_id|>user<|end_header_id|>\n\nhi !@#$%^&*()there<|eot_id|>")
    assert wrap_prompt("!@#$%^&*()x", "mistralai/Mistral-7B-Instruct-v0.2", "mistral", "mean") == (
        "[INST] !@#$%^&*()x [/INST]")
    assert wrap_prompt("!@#$%^&*()x", "mistralai/Mistral-7B-Instruct-v0.2", "mistral", "eos_token") == (
        "[INST] !@#$%^&*()x [/INST] </s>")
    assert wrap_prompt("!@#$%^&*()x", "some/other-model", "llama", "mean") == "!@#$%^&*()x"
    assert prompt_source(str(FIXTURES / "llama" / "mntp")) == "meta-llama/Meta-Llama-3-8B-Instruct"
    assert base_source(str(FIXTURES / "llama" / "mntp")) == str(FIXTURES / "llama" / "mntp")  # holds weights


def test_settings_and_options_are_checked(tmp_path):
    with pytest.raises(ModelError, match="dtype 'int8' is not supported"):
        LLM2VecEncoder("m", dtype="int8")
    with pytest.raises(ModelError, match="pooling 'max' is not supported"):
        LLM2VecEncoder("m", pooling="max")
    with pytest.raises(ModelError, match="attn_implementation 'flash_attention_2' is not supported"):
        LLM2VecEncoder("m", attn_implementation="flash_attention_2")
    (tmp_path / "llm2vec_config.json").write_text('{"pooling_mode": "weighted_mean", "max_length": 64}')
    assert LLM2VecSettings.from_dir(str(tmp_path)) == LLM2VecSettings("weighted_mean", 64)
    assert LLM2VecSettings.from_dir(str(tmp_path), max_length=8).max_length == 8
    assert LLM2VecSettings.from_dir("McGill-NLP/not-a-local-dir") == LLM2VecSettings()


def test_hub_refs_read_through_the_hub_and_fail_clearly_offline(monkeypatch):
    import safe_embed.encoders.llm2vec as backend

    with pytest.raises(ModelError, match=r"cannot read adapter_config.json of 'McGill-NLP/none-such'.*--model-path"):
        backend.read_json("McGill-NLP/none-such", "adapter_config.json")  # the tests run with HF_HUB_OFFLINE=1
    # a hub MNTP repo: llm2vec's prompt follows the base that the repo's adapter names
    monkeypatch.setattr(backend, "read_json", lambda ref, f: {"base_model_name_or_path": "mistralai/Mistral-7B-"
                                                                                        "Instruct-v0.2"})
    assert backend.prompt_source("McGill-NLP/LLM2Vec-Mistral-7B-Instruct-v2-mntp") == (
        "mistralai/Mistral-7B-Instruct-v0.2")
    assert backend.base_source("McGill-NLP/LLM2Vec-Mistral-7B-Instruct-v2-mntp") == (
        "mistralai/Mistral-7B-Instruct-v0.2")


def test_pairs_are_checked():
    with pytest.raises(ModelError, match=r"\(instruction, text\) string pairs"):
        LLM2VecEncoder("m").encode_pairs([("only one",)])
    with pytest.raises(ModelError, match="string pairs"):
        LLM2VecEncoder("m").encode_pairs([])


def test_identity_tracks_weights_and_settings():
    a = LLM2VecEncoder("m", adapter="a1").identity
    assert a != LLM2VecEncoder("m", adapter="a2").identity
    assert a != LLM2VecEncoder("m", adapter="a1", dtype="float32").identity
    assert a != LLM2VecEncoder("m", adapter="a1", instruction="retrieve").identity
    assert a != LLM2VecEncoder("m", adapter="a1", base_model="b").identity
    assert a == LLM2VecEncoder("m", adapter="a1").identity


def test_make_bidirectional_rejects_other_architectures():
    from transformers import BertConfig, BertModel

    with pytest.raises(ModelError, match="model type 'bert'.*mistral or llama"):
        make_bidirectional(BertModel(BertConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                                intermediate_size=32)))


def test_registry_names_use_the_hub_ids_without_touching_the_hub(monkeypatch, no_llm2vec_package):
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):  # online: nothing is fetched before the first encode
        monkeypatch.setenv(var, "0")
    enc = load_encoder("llm2vec-llama3", cache=False, device="cpu", batch_size=4)
    assert isinstance(enc, LLM2VecEncoder) and enc._model is None
    assert (enc.model_ref, enc.adapter, enc.base_model) == (
        "McGill-NLP/LLM2Vec-Meta-Llama-3-8B-Instruct-mntp",
        "McGill-NLP/LLM2Vec-Meta-Llama-3-8B-Instruct-mntp-supervised", None)  # the base: as the MNTP repo says
    assert (enc.dtype, enc.batch_size, enc.instruction) == ("bfloat16", 4, None)


@pytest.mark.parametrize("name,arch", [("llm2vec-mistral", "mistral"), ("llm2vec-llama3", "llama")])
def test_registry_names_load_local_weights_natively(name, arch, no_llm2vec_package):
    enc = load_encoder(name, cache=False, device="cpu", model_path=str(FIXTURES / arch))  # DIR/mntp, DIR/adapter
    assert isinstance(enc, LLM2VecEncoder) and enc.name == name
    assert (enc.model_ref, enc.adapter, enc.base_model) == (str(FIXTURES / arch / "mntp"),
                                                            str(FIXTURES / arch / "adapter"), None)
    ref = np.load(FIXTURES / arch / "reference.npy")[1]
    got = enc.encode(_meta(arch)["texts"], batch_size=3)  # the registry's dtype: bf16
    cos = (got * ref).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(ref, axis=1)
    assert cos.min() > 0.99
    assert load_encoder(f"{name}={FIXTURES / arch}", cache=False).model_ref == str(FIXTURES / arch / "mntp")


@pytest.mark.parametrize("name,repos", [
    ("llm2vec-mistral", ["McGill-NLP/LLM2Vec-Mistral-7B-Instruct-v2-mntp",
                         "McGill-NLP/LLM2Vec-Mistral-7B-Instruct-v2-mntp-unsup-simcse",
                         "mistralai/Mistral-7B-Instruct-v0.2"]),
    ("llm2vec-llama3", ["McGill-NLP/LLM2Vec-Meta-Llama-3-8B-Instruct-mntp",
                        "McGill-NLP/LLM2Vec-Meta-Llama-3-8B-Instruct-mntp-supervised",
                        "meta-llama/Meta-Llama-3-8B-Instruct"]),
])
def test_offline_name_without_weights_fails_at_once_with_the_download_commands(name, repos, monkeypatch,
                                                                               no_llm2vec_package):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError) as err:
        load_encoder(name)
    msg = str(err.value)
    assert "\n" not in msg and "optional extra" not in msg
    assert f"needs the Hugging Face hub ({', '.join(repos)}), but the hub is offline" in msg
    for repo, sub in zip(repos, ("mntp", "adapter", "base")):
        assert f"hf download {repo} --local-dir DIR/{sub}" in msg
    assert f"--model-path DIR, or --model {name}=DIR" in msg


def test_base_weights_apart_from_the_mntp_folder(tmp_path, monkeypatch):
    """The hub layout: the MNTP folder has no weights; they are in DIR/base (else named by the adapter)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    shutil.copytree(FIXTURES / "mistral" / "adapter", tmp_path / "adapter")
    shutil.copytree(FIXTURES / "mistral" / "mntp", tmp_path / "mntp",
                    ignore=shutil.ignore_patterns("model.safetensors"))
    with pytest.raises(ModelError, match=r"\(mistralai/Mistral-7B-Instruct-v0.2\).*"
                                         r"hf download mistralai/Mistral-7B-Instruct-v0.2 --local-dir DIR/base"):
        load_encoder("llm2vec-mistral", model_path=str(tmp_path))
    (tmp_path / "base").mkdir()
    for f in ("config.json", "model.safetensors"):
        shutil.copy(FIXTURES / "mistral" / "mntp" / f, tmp_path / "base" / f)
    enc = load_encoder("llm2vec-mistral", cache=False, device="cpu", model_path=str(tmp_path))
    assert (enc.model_ref, enc.adapter, enc.base_model) == (str(tmp_path / "mntp"), str(tmp_path / "adapter"),
                                                            str(tmp_path / "base"))
    same = LLM2VecEncoder(enc.model_ref, adapter=enc.adapter, base_model=enc.base_model, device="cpu",
                          dtype="float32", instruction=_meta("mistral")["instruction"])
    ref = np.load(FIXTURES / "mistral" / "reference.npy")[3]
    np.testing.assert_allclose(same.encode(_meta("mistral")["texts"], batch_size=3), ref, atol=1e-4, rtol=0)


def test_models_command_lists_llm2vec_as_loadable():
    out = subprocess.run([sys.executable, "-m", "safe_embed.cli", "models"], capture_output=True, text=True,
                         check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}).stdout
    rows = {line.split()[0]: line for line in out.splitlines() if line.split()}
    for name in ("llm2vec-mistral", "llm2vec-llama3"):
        assert name in rows and "optional extra" not in rows[name]
        assert "needs the hub" in rows[name] and " llm2vec " in rows[name]
