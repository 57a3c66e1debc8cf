"""Attention fusion of exported graphs: the fused graph equals the exported one, a chain with a learned bias is
left alone, and an export whose fusion fails keeps the graph as exported."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

import onnx
from onnx import TensorProto, helper, numpy_helper

from safe_embed.encoders import onnx_export
from safe_embed.encoders.onnx_fuse import KEY_PADDING_MASK, _Graph, fuse_attention
from safe_embed.encoders.sentence_transformer import load_sentence_transformer

TEXTS = ["how do i make a bomb", "kill a python process", "the cat sat on the mat " * 6, "what is your name", "hi"]


def exported(st_dir: Path, path: Path):
    """The sentence-transformers model of ``st_dir``, its graph as the exporter writes it (unfused), its inputs."""
    st = load_sentence_transformer(str(st_dir), device="cpu")
    inputs = [n for n in st.tokenizer.model_input_names if n in ("input_ids", "attention_mask", "token_type_ids")]
    onnx_export._export_fp32(st, path, inputs)
    return st, onnx.load(str(path)), inputs


def run(model, st, inputs, texts=TEXTS) -> tuple[np.ndarray, np.ndarray]:
    """Token states of ``texts`` padded into one batch, and the attention mask."""
    import onnxruntime as ort

    f = st.tokenizer(texts, padding=True, return_tensors="np")
    s = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return s.run(None, {n: f[n].astype(np.int64) for n in inputs})[0], f["attention_mask"]


def ops(model) -> list[str]:
    return [n.op_type for n in model.graph.node]


@pytest.fixture(scope="module")
def tiny_mpnet_st_dir(tmp_path_factory) -> Path:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from tiny_models import save_tiny_mpnet

    root = tmp_path_factory.mktemp("tinympnet")
    SentenceTransformer(modules=[Transformer(str(save_tiny_mpnet(root / "mpnet")), max_seq_length=32),
                                 Pooling(16, "mean")]).save(
        str(root / "st"))
    return root / "st"


def test_the_attention_becomes_one_node_with_the_same_output(tiny_st_dir, tmp_path):
    st, model, inputs = exported(tiny_st_dir, tmp_path / "raw.onnx")
    want, mask = run(model, st, inputs)
    assert "Softmax" in ops(model) and "Transpose" in ops(model)
    n_nodes = len(model.graph.node)

    assert fuse_attention(model, num_heads=2) == 1
    onnx.checker.check_model(model)
    attn = [n for n in model.graph.node if n.op_type == "MultiHeadAttention"]
    assert len(attn) == 1 and attn[0].domain == "com.microsoft"
    assert attn[0].input[3] and attn[0].input[4] == KEY_PADDING_MASK  # biases packed, padding mask from the input
    assert {"Softmax", "Transpose", "IsNaN"}.isdisjoint(ops(model)) and len(model.graph.node) < n_nodes / 2
    got, _ = run(model, st, inputs)
    real = mask.astype(bool)
    assert np.abs(got - want)[real].max() < 1e-5  # padded positions are pooled away
    alone, _ = run(model, st, inputs, [TEXTS[4]])  # the shortest text: the rest of the batch is padding to it
    assert np.abs(alone[0] - got[4, :alone.shape[1]]).max() < 1e-5


def test_an_attention_with_a_learned_position_bias_is_left_as_exported(tiny_mpnet_st_dir, tmp_path):
    st, model, inputs = exported(tiny_mpnet_st_dir, tmp_path / "raw.onnx")
    before = model.SerializeToString()
    assert fuse_attention(model, num_heads=2) == 0
    assert model.SerializeToString() == before


def test_the_export_records_the_fusion(tiny_st_dir, tiny_mpnet_st_dir, tmp_path):
    for st_dir, layers in ((tiny_st_dir, 1), (tiny_mpnet_st_dir, 0)):
        out = onnx_export.export_onnx(st_dir, tmp_path / st_dir.parent.name)
        cfg = json.loads((out / "onnx_config.json").read_text())
        assert cfg["export"]["fused_attention"]["layers"] == layers
        assert ops(onnx.load(str(out / "model.onnx"))).count("MultiHeadAttention") == layers
        assert cfg["export"]["fp32_max_abs_diff"] <= onnx_export.MAX_ABS_DIFF
        assert onnx_export.is_current_export(cfg)
        del cfg["export"]["fused_attention"]
        assert not onnx_export.is_current_export(cfg)  # an export from before the fusion is stale


@pytest.mark.parametrize("break_it", ["heads", "bias"])
def test_a_fusion_that_changes_the_result_is_not_kept(tiny_st_dir, tmp_path, monkeypatch, caplog, break_it):
    def broken(model, num_heads):
        if break_it == "heads":  # 16 channels do not split into 3 heads: ONNX Runtime refuses to run it
            return fuse_attention(model, 3)
        n = fuse_attention(model, num_heads)
        for i in model.graph.initializer:  # a wrong value bias: runs, but the output moves
            if i.name.endswith("qkv_bias"):
                i.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(i) + np.float32(1.0), i.name))
        return n

    monkeypatch.setattr(onnx_export, "fuse_attention", broken)
    with caplog.at_level(logging.WARNING, logger="safe_embed.encoders.onnx_export"):
        out = onnx_export.export_onnx(tiny_st_dir, tmp_path / "e")
    cfg = json.loads((out / "onnx_config.json").read_text())
    assert cfg["export"]["fused_attention"]["layers"] == 0
    assert "MultiHeadAttention" not in ops(onnx.load(str(out / "model.onnx")))
    assert cfg["export"]["fp32_max_abs_diff"] <= onnx_export.MAX_ABS_DIFF
    assert "not fusing the attention" in caplog.text


def _graph(nodes, inits=()):
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("attention_mask", TensorProto.INT64, [1, 3]),
                                       helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, 3])],
                          [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(a, n) for n, a in inits])
    return _Graph(g)


def test_a_padding_mask_is_computed_from_attention_mask_alone():
    mask = [helper.make_node("Cast", ["attention_mask"], ["m"], to=TensorProto.FLOAT),
            helper.make_node("Sub", ["one", "m"], ["inv"]), helper.make_node("Mul", ["inv", "big"], ["out"])]
    consts = [("one", np.array(1.0, np.float32)), ("big", np.array(-1e4, np.float32))]
    assert _graph(mask, consts).is_padding_mask("out")
    # plus a learned table looked up by position (MPNet's relative bias): not a padding mask
    table = [*mask[:2], helper.make_node("Mul", ["inv", "big"], ["pad"]),
             helper.make_node("Gather", ["table", "input_ids"], ["bias"]), helper.make_node("Add", ["pad", "bias"],
                                                                                           ["out"])]
    assert not _graph(table, [*consts, ("table", np.zeros((8, 1), np.float32))]).is_padding_mask("out")
    # computed from the hidden states, or not from the mask at all
    hidden = [helper.make_node("MatMul", ["m", "w"], ["out"]), mask[0]]
    assert not _graph(hidden, [("w", np.zeros((3, 3), np.float32))]).is_padding_mask("out")
    assert not _graph([helper.make_node("Cast", ["input_ids"], ["out"], to=TensorProto.FLOAT)]).is_padding_mask("out")
