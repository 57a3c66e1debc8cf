"""The int8 recipe: outlier channels, activation and weight quantization against brute force, the integer
arithmetic of ONNX Runtime's two u8 x s8 kernel families (exact int32 with VNNI; adjacent products summed into a
saturating int16 on AVX2) simulated in numpy, and the rewritten graph run by ONNX Runtime against those
simulations, which the recipe makes identical."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper

from safe_embed.encoders.onnx_quantize import (
    ACTIVATION_MAX,
    INT8_RECIPE,
    INT16_MAX,
    MAX_OUTLIERS,
    WEIGHT_MAX,
    activation_qparams,
    channel_ranges,
    is_current_recipe,
    outlier_channels,
    pair_sum_bound,
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
    assert WEIGHT_MAX == 63 and wq.min() >= -63 and wq.max() <= 63  # 7 bits
    np.testing.assert_allclose(np.abs(wq).max(axis=0)[[0, 1, 2, 4]], 63)  # each column uses its full range
    assert (np.abs(wq * scale - w) <= scale / 2 + 1e-7).all()
    assert (wq[:, 3] == 0).all()
    assert np.abs(quantize_weight(w, 127)[0]).max() == 127  # the older 8-bit recipe's range
    with pytest.raises(ValueError, match=r"level must be in 1\.\.127, got 128"):
        quantize_weight(w, 128)


# ---- the integer arithmetic of ONNX Runtime's u8 x s8 kernels, as numpy --------------------------------------
def vnni_int32(a: np.ndarray, zp: int, w: np.ndarray) -> np.ndarray:
    """VNNI (vpdpbusd): u8 a (m, k) x s8 w (k, n) accumulated in int32, exactly; minus the zero point's share."""
    a, w = a.astype(np.int64), w.astype(np.int64)
    return a @ w - zp * w.sum(0)


def avx2_int32(a: np.ndarray, zp: int, w: np.ndarray) -> np.ndarray:
    """AVX2 (vpmaddubsw, then vpmaddwd by ones): products of adjacent k pairs summed into a saturating int16, the
    pairs then summed in int32; minus the zero point's share (computed apart, exactly)."""
    a, w = a.astype(np.int64), w.astype(np.int64)
    if a.shape[1] % 2:  # the kernel pads k with zeros
        a, w = np.pad(a, ((0, 0), (0, 1))), np.pad(w, ((0, 1), (0, 0)))
    products = a[:, :, None] * w[None]  # (m, k, n)
    pairs = products.reshape(a.shape[0], -1, 2, w.shape[1]).sum(2)
    return np.clip(pairs, -INT16_MAX - 1, INT16_MAX).sum(1) - zp * w.sum(0)


def test_the_recipe_is_exact_on_both_kernel_families_where_the_8_bit_recipe_saturates():
    assert pair_sum_bound() == 2 * 255 * 63 <= INT16_MAX < pair_sum_bound(127)
    assert INT8_RECIPE["weight_range"] == [-WEIGHT_MAX, WEIGHT_MAX]
    assert INT8_RECIPE["activation_range"] == [0, ACTIVATION_MAX]
    rng = np.random.default_rng(4)
    w = np.abs(rng.normal(size=(33, 6))).astype(np.float32) + 1.0  # same-signed rows: pairs add up, k odd
    w[:, 5] *= -1
    full = np.full((1, 33), 255, np.uint8)  # the largest activation, which a runtime input can reach
    spread = rng.integers(0, 256, size=(50, 33)).astype(np.uint8)
    for a in (full, spread, np.zeros_like(full)):
        wq, _ = quantize_weight(w)
        np.testing.assert_array_equal(avx2_int32(a, 7, wq), vnni_int32(a, 7, wq))
    old, _ = quantize_weight(w, 127)
    differ = avx2_int32(full, 7, old) != vnni_int32(full, 7, old)
    assert differ.all()  # every column saturates on AVX2 with 8-bit weights
    assert (avx2_int32(full, 7, old)[:, 5] > vnni_int32(full, 7, old)[:, 5]).all()  # negative sums clip upwards


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
    """ONNX Runtime on this CPU (whichever kernel family it has) gives what both simulated families give."""
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
    x[0, 1], x[0, 2] = 10.0, -10.0  # beyond the calibrated range: uint8 255 and 0 everywhere (the extreme pairs)
    got = run(model, x)
    # uint8 x without channel 7, per-column int8 weights without row 7, channel 7 in fp32
    keep = np.arange(k) != 7
    scale, zp = activation_qparams(lo[keep], hi[keep])
    xq = np.clip(np.round(x / scale) + int(zp), 0, 255).astype(np.uint8).reshape(-1, k)
    assert xq[:, keep].max() == 255 and xq[:, keep].min() == 0
    xq[:, 7] = int(zp)  # the outlier channel's int8 row is zero; any value gives the same product
    want = np.zeros_like(got)
    for w in (w1, w2):
        w_int = w.copy()
        w_int[7] = 0
        wq, ws = quantize_weight(w_int)
        vnni, avx2 = vnni_int32(xq, int(zp), wq), avx2_int32(xq, int(zp), wq)
        np.testing.assert_array_equal(vnni, avx2)  # the recipe: both kernel families compute the same integers
        want += (vnni.reshape(got.shape) * scale * ws).astype(np.float32) + x[..., [7]] @ w[[7]]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    inside = x.copy()
    inside[0, 1:3] = x[1, 1:3]  # within the calibrated range: close to fp32 despite the outlier
    exact = inside @ w1 + inside @ w2
    assert np.abs(run(model, inside) - exact).max() < 0.05 * np.abs(exact).max()
    # only the outlier channel set: the result is the fp32 product exactly
    only = np.zeros_like(x)
    only[..., 7] = x[..., 7]
    np.testing.assert_allclose(run(model, only), only @ w1 + only @ w2, rtol=1e-5, atol=1e-5)


def test_the_simulations_describe_onnx_runtime_with_8_bit_weights(monkeypatch):
    """With the 8-bit weights of the older recipe, crafted to saturate, ONNX Runtime gives one family's sums
    (VNNI's on a CPU with VNNI, AVX2's on one without; the two differ here, so an unknown third fails)."""
    import safe_embed.encoders.onnx_quantize as q

    eight_bit = q.quantize_weight
    monkeypatch.setattr(q, "quantize_weight", lambda w: eight_bit(w, 127))
    rng = np.random.default_rng(5)
    w = np.abs(rng.normal(size=(64, 4))).astype(np.float32) + 1.0
    w[:, 1] *= -1
    model = two_matmul_graph(w, np.zeros_like(w))
    rewrite_int8(model, {"x": (np.full(64, -1.0, np.float32), np.full(64, 1.0, np.float32))})
    x = np.ones((1, 2, 64), np.float32)
    x[0, 1] = rng.uniform(-1, 1, 64)
    got = run(model, x).reshape(2, 4)
    scale, zp = activation_qparams(np.array([-1.0]), np.array([1.0]))
    xq = np.clip(np.round(x.reshape(2, 64) / scale) + int(zp), 0, 255).astype(np.uint8)
    wq, ws = eight_bit(w, 127)
    sums = {"vnni": vnni_int32(xq, int(zp), wq), "avx2": avx2_int32(xq, int(zp), wq)}
    assert (sums["vnni"][0] != sums["avx2"][0]).all()  # the all-255 row saturates every column on AVX2
    matches = [f for f, v in sums.items() if np.allclose(got, v * scale * ws, rtol=1e-5, atol=1e-4)]
    assert len(matches) == 1, f"ONNX Runtime's int8 sums match neither kernel family: {got}"


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
    eight_bit = {k: v for k, v in INT8_RECIPE.items() if k not in ("weight_range", "activation_range", "exact_on")}
    assert not is_current_recipe({"export": {"int8": eight_bit}})  # 8-bit weights: saturates on AVX2
