"""The int8 recipe: outlier channels, activation and weight quantization against brute force, and the rewritten
graph run by ONNX Runtime against a numpy simulation of the same integer arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper

from safe_embed.encoders.onnx_quantize import (
    INT8_RECIPE,
    MAX_OUTLIERS,
    activation_qparams,
    channel_ranges,
    is_current_recipe,
    outlier_channels,
    quantize_weight,
    rewrite_int8,
    weight_matmuls,
)


def test_outlier_channels_finds_the_planted_ones_largest_first():
    rng = np.random.default_rng(0)
    hi = rng.uniform(1.0, 3.0, 2048)
    lo = -rng.uniform(0.0, 0.2, 2048)
    assert outlier_channels(lo, hi) == []  # a smooth spread has none
    hi[17], lo[300] = 40.0, -25.0  # a negative outlier counts by magnitude
    assert outlier_channels(lo, hi) == [17, 300]
    hi[:12] = np.arange(100.0, 112.0)  # more than the cap: the largest MAX_OUTLIERS
    assert outlier_channels(lo, hi) == list(range(11, 11 - MAX_OUTLIERS, -1))
    hi[:100] = 50.0  # 5% of the channels are large: the 99th percentile is one of them, so none stands out
    assert outlier_channels(lo, hi) == []


@pytest.mark.parametrize("low, high", [(-0.17, 6.0), (0.5, 3.0), (-4.0, -1.0), (0.0, 0.0)])
def test_activation_qparams_cover_the_range_and_zero(low, high):
    scale, zp = activation_qparams(np.array([low]), np.array([high]))
    assert scale.dtype == np.float32 and zp.dtype == np.uint8
    x = np.linspace(min(low, 0.0), max(high, 0.0), 1001, dtype=np.float32)
    q = np.clip(np.round(x / scale) + int(zp), 0, 255)
    assert np.abs((q - int(zp)) * scale - x).max() <= scale / 2 + 1e-6  # brute force: every value within half a step
    assert (np.round(0.0 / scale) + int(zp) - int(zp)) * scale == 0.0  # zero is exact (padding stays zero)


def test_quantize_weight_is_symmetric_per_column_within_half_a_step():
    rng = np.random.default_rng(1)
    w = rng.normal(size=(64, 10)).astype(np.float32) * np.arange(1, 11, dtype=np.float32)  # columns of many sizes
    w[:, 3] = 0.0  # an all-zero column gets a finite scale
    wq, scale = quantize_weight(w)
    assert wq.dtype == np.int8 and scale.shape == (10,) and np.isfinite(scale).all()
    assert wq.min() >= -127 and wq.max() <= 127
    np.testing.assert_allclose(np.abs(wq).max(axis=0)[[0, 1, 2, 4]], 127)  # each column uses its full range
    assert (np.abs(wq * scale - w) <= scale / 2 + 1e-7).all()
    assert (wq[:, 3] == 0).all()


def two_matmul_graph(w1: np.ndarray, w2: np.ndarray):
    """x (b, t, k) -> LayerNorm-free toy: y1 = x @ w1, y2 = (x @ w2) + y1, both weights initializers."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", "t", w1.shape[0]])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", "t", w1.shape[1]])
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["y1"], name="mm1"),
             helper.make_node("MatMul", ["x", "w2"], ["y2"], name="mm2"),
             helper.make_node("Add", ["y1", "y2"], ["y"], name="sum")]
    g = helper.make_graph(nodes, "toy", [x], [y], [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def run(model, x: np.ndarray) -> np.ndarray:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]


def test_rewritten_graph_matches_the_integer_arithmetic_and_keeps_outliers_exact():
    rng = np.random.default_rng(2)
    k, n = 256, 12
    w1, w2 = (rng.normal(size=(k, n)).astype(np.float32) for _ in range(2))
    calib = [rng.normal(size=(2, 5, k)).astype(np.float32) for _ in range(6)]
    for c in calib:
        c[:, 0, 7] = 30.0  # an outlier channel on the first token, as BERT's [CLS] has
    model = two_matmul_graph(w1, w2)
    assert [m.name for m in weight_matmuls(model)] == ["mm1", "mm2"]
    ranges = channel_ranges(model, ({"x": c} for c in calib))
    lo, hi = ranges["x"]
    np.testing.assert_allclose(hi, np.max([c.reshape(-1, k).max(0) for c in calib], axis=0))  # brute force
    np.testing.assert_allclose(lo, np.min([c.reshape(-1, k).min(0) for c in calib], axis=0))
    assert rewrite_int8(model, ranges) == 1  # channel 7, counted once for the tensor both MatMuls read
    ops = [nd.op_type for nd in model.graph.node]
    assert ops.count("QuantizeLinear") == 1 and ops.count("Gather") == 1 and ops.count("MatMulIntegerToFloat") == 2
    onnx.checker.check_model(model)

    x = rng.normal(size=(3, 4, k)).astype(np.float32)
    x[:, 0, 7] = 28.0
    got = run(model, x)
    # numpy simulation: uint8 x without channel 7, per-column int8 weights without row 7, channel 7 in fp32
    keep = np.arange(k) != 7
    scale, zp = activation_qparams(lo[keep], hi[keep])
    xq = np.clip(np.round(x / scale) + int(zp), 0, 255) - int(zp)
    want = np.zeros_like(got)
    for w in (w1, w2):
        w_int = w.copy()
        w_int[7] = 0
        wq, ws = quantize_weight(w_int)
        want += (xq @ wq.astype(np.float32)) * scale * ws + x[..., [7]] @ w[[7]]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    exact = x @ w1 + x @ w2
    assert np.abs(got - exact).max() < 0.05 * np.abs(exact).max()  # close to fp32 despite the outlier
    # only the outlier channel set: the result is the fp32 product exactly
    only = np.zeros_like(x)
    only[..., 7] = x[..., 7]
    np.testing.assert_allclose(run(model, only), only @ w1 + only @ w2, rtol=1e-5, atol=1e-5)


def test_a_batch_mixes_nothing_between_its_rows():
    """Fixed scales: a row's output is the same alone and inside a batch with a much larger row."""
    rng = np.random.default_rng(3)
    w1, w2 = (rng.normal(size=(16, 4)).astype(np.float32) for _ in range(2))
    model = two_matmul_graph(w1, w2)
    rewrite_int8(model, channel_ranges(model, [{"x": rng.normal(size=(1, 3, 16)).astype(np.float32)}]))
    small, big = rng.normal(size=(1, 3, 16)).astype(np.float32), 50 * rng.normal(size=(1, 3, 16)).astype(np.float32)
    np.testing.assert_array_equal(run(model, small), run(model, np.concatenate([small, big]))[:1])


def test_an_export_with_an_older_recipe_is_not_current():
    assert is_current_recipe({"export": {"int8": {**INT8_RECIPE, "n_calibration": 9}}})
    assert is_current_recipe({"export": {"int8": None}})  # fp32 only
    old = {**INT8_RECIPE, "method": "onnxruntime static quantization (QDQ)"}
    assert not is_current_recipe({"export": {"int8": old}})
    assert not is_current_recipe({"export": {"int8": {**INT8_RECIPE, "outlier_channels": {"factor": 3.0}}}})
