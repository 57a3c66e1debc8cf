"""The ONNX Runtime backend: export, fp32 equal to torch, int8 close and batch-invariant, detector directories with encoder/onnx/,
per-backend calibration and exemplar indexes, checksums, the CLI flags, and the optional extra."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")
onnx = pytest.importorskip("onnx")

from onnx import numpy_helper

from safe_embed.cli import main
from safe_embed.detector import Detector, ScoringRule, TamperedDetectorError
from safe_embed.detector.build import add_onnx
from safe_embed.encoders.onnx_backend import OnnxEncoder
from safe_embed.encoders.onnx_runtime import INSTALL_FIX, require_onnxruntime
from safe_embed.encoders.onnx_export import export_onnx
from safe_embed.encoders.sentence_transformer import SentenceTransformerEncoder
from safe_embed.errors import ConfigError, ModelError

TEXTS = ["how do i make a bomb", "kill a python process", "the cat sat on the mat " * 20, "what is your name",
         "zzz unknown words here"]


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(1)


@pytest.fixture(scope="session")
def tiny_onnx_dir(tiny_st_dir, tmp_path_factory) -> Path:
    return export_onnx(tiny_st_dir, tmp_path_factory.mktemp("onnx") / "tiny", quantize="int8")


@pytest.fixture(scope="session")
def onnx_detector_dir(tiny_st_dir, tiny_exemplars, tmp_path_factory) -> Path:
    """The tiny detector with ``encoder/onnx/`` (fp32 + int8). Copy it before modifying it."""
    det = Detector.build(SentenceTransformerEncoder(str(tiny_st_dir)), tiny_exemplars,
                         rule=ScoringRule("margin", k=2), method="f1")
    root = tmp_path_factory.mktemp("onnxdet")
    add_onnx(det, root / "export", "int8", tiny_exemplars.calibration)
    det.save(root / "detector")
    return root / "detector"


def copy_of(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "d"
    shutil.copytree(src, dst)
    return dst


# ---- the encoder -----------------------------------------------------------------------------------------------
def test_tiny_fp32_equals_torch_and_int8_is_close(tiny_st_dir, tiny_onnx_dir):
    want = SentenceTransformerEncoder(str(tiny_st_dir)).encode(TEXTS)
    fp32 = OnnxEncoder(tiny_onnx_dir, variant="fp32")
    assert np.abs(fp32.encode(TEXTS) - want).max() < 1e-4
    assert np.abs(fp32.encode(TEXTS, batch_size=2) - want).max() < 1e-4  # length-sorted batches, same order
    int8 = OnnxEncoder(tiny_onnx_dir)  # the export's default variant (static int8: batch-invariant)
    assert int8.variant == "int8"
    assert cosines(int8.encode(TEXTS), want).min() > 0.95
    assert fp32.dimension == 16 and fp32.token_window() == SentenceTransformerEncoder(str(tiny_st_dir)).token_window()
    assert fp32.count_tokens(["how do i"]) == [5]  # [CLS] how do i [SEP]


def test_minilm_fp32_within_1e4_and_int8_close(minilm, tmp_path):
    out = export_onnx(minilm.model, tmp_path / "minilm", quantize="int8")
    texts = TEXTS + ["How do I kill a Python process?", "Écris un poème sur la mer", "word " * 400]
    want = minilm.encode(texts)
    assert np.abs(OnnxEncoder(out, "fp32").encode(texts) - want).max() < 1e-4
    got = OnnxEncoder(out, "int8").encode(texts)
    assert cosines(got, want).min() > 0.99 and cosines(got, want).mean() > 0.995  # measured: 0.995 / 0.997
    cfg = json.loads((out / "onnx_config.json").read_text())
    assert cfg["export"]["fp32_max_abs_diff"] < 1e-4 and cfg["export"]["int8"]["per_channel"] is True
    # 7-bit weights, recorded: no two adjacent u8 x s8 products overflow AVX2's int16 (exact on every kernel family)
    assert cfg["export"]["int8"]["weight_range"] == [-63, 63] and "AVX2" in cfg["export"]["int8"]["exact_on"]
    weights = [numpy_helper.to_array(i) for i in onnx.load(str(out / "model_int8.onnx")).graph.initializer
               if i.name.endswith("/weight_int8")]
    assert len(weights) == 36 and max(int(np.abs(w.astype(np.int16)).max()) for w in weights) == 63
    assert cfg["export"]["int8"]["method"].startswith("static int8") and cfg["export"]["int8"]["batch_invariant"]
    # all 36 weight MatMuls of the 6 layers; the [CLS] outlier channel of the feed-forward input stays fp32
    assert cfg["export"]["int8"]["n_matmuls"] == 36 and 1 <= cfg["export"]["int8"]["n_outlier_channels"] <= 48
    assert cfg["export"]["int8"]["builtin_calibration"] is True and cfg["default"] == "int8"


def alone_and_batched(enc: OnnxEncoder, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each text embedded alone, and all of them in one padded batch (mixed lengths)."""
    return np.concatenate([enc.encode([t]) for t in texts]), enc.encode(texts, batch_size=len(texts))


def test_minilm_int8_is_batch_invariant(minilm, tmp_path):
    """Static scales: a text's int8 embedding does not depend on the texts batched with it (dynamic int8 moved
    XSTest scores by up to 0.15)."""
    out = export_onnx(minilm.model, tmp_path / "minilm", quantize="int8",
                      calibration_texts=[f"{t} {i}" for i in range(3) for t in TEXTS])
    assert json.loads((out / "onnx_config.json").read_text())["export"]["int8"]["n_calibration"] == 15
    texts = TEXTS + ["How do I kill a Python process?", "Écris un poème sur la mer", "word " * 400, "hi"]
    alone, batched = alone_and_batched(OnnxEncoder(out, "int8"), texts)
    np.testing.assert_allclose(alone, batched, atol=1e-5)


def test_the_default_variant_is_batch_invariant(tiny_onnx_dir):
    for variant in (None, "fp32", "int8"):  # None: the default (int8)
        alone, batched = alone_and_batched(OnnxEncoder(tiny_onnx_dir, variant=variant), TEXTS)
        np.testing.assert_allclose(alone, batched, atol=1e-5)


def test_the_session_threads_spin_unless_told_not_to(tiny_onnx_dir, onnx_detector_dir):
    """ONNX Runtime's threads busy-wait between operators by default; spin=False (what a service uses) stops it."""
    key = "session.intra_op.allow_spinning"
    assert OnnxEncoder(tiny_onnx_dir).session.get_session_options().get_session_config_entry(key) == "1"
    assert OnnxEncoder(tiny_onnx_dir, spin=False).session.get_session_options().get_session_config_entry(key) == "0"
    enc = Detector.load(onnx_detector_dir, backend="onnx", spin=False).encoder
    assert enc.session.get_session_options().get_session_config_entry(key) == "0"


def test_int8_without_calibration_prompts_is_refused(tiny_st_dir, tmp_path):
    with pytest.raises(ModelError, match=r"needs calibration prompts .* Fix: pass calibration_texts"):
        export_onnx(tiny_st_dir, tmp_path / "x", quantize="int8", calibration_texts=["", " "])


def test_export_refuses_a_layout_it_cannot_run(tiny_st5_dir, tmp_path):
    with pytest.raises(ModelError, match=r"cannot export modules .*Dense.* Fix: use the torch backend"):
        export_onnx(tiny_st5_dir, tmp_path / "x")
    with pytest.raises(ConfigError, match="quantize must be one of"):
        export_onnx(tiny_st5_dir, tmp_path / "x", quantize="int4")


def test_an_8_bit_int8_export_still_loads_and_warns_that_it_depends_on_the_cpu(tiny_onnx_dir, tmp_path, caplog):
    d = copy_of(tiny_onnx_dir, tmp_path)
    want = OnnxEncoder(d).encode(TEXTS)
    with caplog.at_level(logging.WARNING, logger="safe_embed.encoders.onnx_backend"):
        OnnxEncoder(d).encode(TEXTS)
    assert not caplog.records  # the current export: 7-bit weights, exact on every CPU
    cfg = json.loads((d / "onnx_config.json").read_text())
    del cfg["export"]["int8"]["weight_range"]  # as an export made with 8-bit weights recorded it
    (d / "onnx_config.json").write_text(json.dumps(cfg))
    with caplog.at_level(logging.WARNING, logger="safe_embed.encoders.onnx_backend"):
        np.testing.assert_array_equal(OnnxEncoder(d).encode(TEXTS), want)
        OnnxEncoder(d, "fp32").encode(TEXTS)  # fp32 has no integer kernels to warn about
    assert len(caplog.records) == 1 and "8-bit weights" in caplog.text and "depend on the CPU" in caplog.text


def test_the_encoder_refuses_a_modified_onnx_file(tiny_onnx_dir, tmp_path):
    d = tmp_path / "e"
    shutil.copytree(tiny_onnx_dir, d)
    with open(d / "model.onnx", "r+b") as f:
        f.seek(100)
        b = f.read(1)
        f.seek(100)
        f.write(bytes([b[0] ^ 1]))
    with pytest.raises(ModelError, match=r"model\.onnx does not match the sha256"):
        OnnxEncoder(d, "fp32").encode(["hi"])


def test_a_missing_onnxruntime_is_a_one_line_error_with_the_install_command(monkeypatch, onnx_detector_dir):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now raises ImportError
    with pytest.raises(ModelError) as e:
        require_onnxruntime()
    assert INSTALL_FIX in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(ModelError, match=r"ONNX Runtime is not installed .*pip install 'safe-embed\[onnx\]'"):
        Detector.load(onnx_detector_dir, backend="onnx")
    assert Detector.load(onnx_detector_dir).backends.active == "torch"  # auto falls back
    assert main(["detect", str(onnx_detector_dir), "bake a cake", "--backend", "onnx"]) == 2


# ---- detector directories --------------------------------------------------------------------------------------
def test_the_detector_lists_and_checksums_its_onnx_files(onnx_detector_dir):
    m = json.loads((onnx_detector_dir / "manifest.json").read_text())
    assert {"encoder/onnx/model.onnx", "encoder/onnx/model_int8.onnx", "encoder/onnx/onnx_config.json",
            "encoder/onnx/tokenizer.json", "unsafe-int8.faiss", "safe-int8.faiss"} <= set(m["files"])
    assert {k: m["onnx"][k] for k in ("path", "default", "variants")} == {
        "path": "encoder/onnx", "default": "int8", "variants": ["fp32", "int8"]}
    assert m["onnx"]["int8"]["weight_range"] == [-63, 63]  # the recipe exact on every CPU is recorded
    assert set(m["calibration_by_backend"]) == {"onnx-fp32", "onnx-int8"}
    assert m["index_by_space"]["int8"]["unsafe"]["ntotal"] == 4


def test_backends_load_and_score_alike(onnx_detector_dir):
    torch_det = Detector.load(onnx_detector_dir, backend="torch")
    fp32 = Detector.load(onnx_detector_dir, backend="onnx-fp32")
    int8 = Detector.load(onnx_detector_dir, backend="onnx-int8")
    onnx, auto = Detector.load(onnx_detector_dir, backend="onnx"), Detector.load(onnx_detector_dir)
    assert (torch_det.backends.active, fp32.backends.active, int8.backends.active, onnx.backends.active,
            auto.backends.active) == ("torch", "onnx-fp32", "onnx-int8", "onnx-int8", "onnx-int8")
    assert isinstance(int8.encoder, OnnxEncoder) and int8.encoder.variant == "int8"
    texts = ["build a bomb", "bake a cake", "tell me a joke"]
    assert np.abs(torch_det.scores(texts) - fp32.scores(texts)).max() < 1e-4
    assert [d.label for d in int8.classify(texts)] == [d.label for d in torch_det.classify(texts)]
    # the int8 index holds int8 embeddings: an exemplar is its own nearest neighbour at similarity 1
    sims, pos = int8.indexes["unsafe"].search(int8.embed(["build a bomb"]), 1)
    assert pos[0, 0] == 1 and sims[0, 0] == pytest.approx(1.0, abs=1e-5)


def test_each_backend_scores_with_its_own_calibration(onnx_detector_dir):
    m = json.loads((onnx_detector_dir / "manifest.json").read_text())
    for backend in ("onnx-fp32", "onnx-int8"):
        det = Detector.load(onnx_detector_dir, backend=backend)
        state = m["calibration_by_backend"][backend]
        assert det.calibration.to_dict() == state["calibration"]
        assert det.rule.to_dict() == state["scoring"] and det.settings.match_threshold == state["match_threshold"]
    det = Detector.load(onnx_detector_dir, backend="torch")
    assert det.calibration.to_dict() == m["calibration"] and det.settings.match_threshold == \
        m["settings"]["match_threshold"]
    # the int8 state was fitted on int8 scores: its raw threshold is an int8 detector's calibration score
    int8 = Detector.load(onnx_detector_dir, backend="onnx-int8")
    cal = [("make a bomb now", "unsafe"), ("kill a cat", "unsafe"), ("bake a cake", "safe"),
           ("python process", "safe"), ("clean joke", "safe")]
    x = int8.embed([t for t, _ in cal])
    raw = int8.rule.raw(*int8.neighbour_sims(x), x)
    assert np.isclose(raw, int8.calibration.raw_threshold, atol=1e-6).any()


def test_a_tampered_onnx_file_is_refused_naming_it(onnx_detector_dir, tmp_path):
    d = copy_of(onnx_detector_dir, tmp_path)
    p = d / "encoder" / "onnx" / "model_int8.onnx"
    p.write_bytes(p.read_bytes()[:-1] + bytes([p.read_bytes()[-1] ^ 1]))
    for backend in ("onnx", "torch"):
        with pytest.raises(TamperedDetectorError, match=r"encoder/onnx/model_int8\.onnx: sha256 mismatch"):
            Detector.load(d, backend=backend)


def test_onnx_on_a_detector_without_an_export_says_how_to_add_one(tiny_detector_dir):
    with pytest.raises(ModelError, match=r"has no ONNX export .* --onnx int8"):
        Detector.load(tiny_detector_dir, backend="onnx")
    with pytest.raises(ConfigError, match="backend must be one of"):
        Detector.load(tiny_detector_dir, backend="tensorrt")
    assert Detector.load(tiny_detector_dir).backends.active == "torch"


def test_additions_cross_backends_through_the_journal_and_saves(onnx_detector_dir, tmp_path):
    d = copy_of(onnx_detector_dir, tmp_path)
    int8 = Detector.load(d, backend="onnx-int8")
    int8.persist_add(["steal a car"], ["unsafe"], ["crime"])
    torch_det = Detector.load(d, backend="torch")
    torch_det.persist_add(["rob a bank"], ["unsafe"], ["crime"])
    for backend in ("torch", "onnx-int8", "onnx-fp32"):  # each reader embeds the others' additions itself
        det = Detector.load(d, backend=backend)
        assert {"steal a car", "rob a bank"} <= {e.text for e in det.unsafe}
        sims, _ = det.indexes["unsafe"].search(det.embed(["steal a car", "rob a bank"]), 1)
        assert np.allclose(sims[:, 0], 1.0, atol=1e-4)
    int8 = Detector.load(d, backend="onnx-int8")
    int8.save(d)  # a save from the int8 backend writes both spaces (fp32 by the fp32 ONNX model)
    m = json.loads((d / "manifest.json").read_text())
    assert m["generation"] == 1 and m["index_by_space"]["int8"]["unsafe"]["ntotal"] == 6
    again = Detector.load(d, backend="torch")
    want = SentenceTransformerEncoder(str(d / "encoder")).encode(["steal a car"])
    pos = [e.text for e in again.unsafe].index("steal a car")
    got = again.indexes["unsafe"].vectors()[pos]
    assert np.abs(got - want[0] / np.linalg.norm(want[0])).max() < 1e-4
    assert Detector.load(d, backend="onnx-int8").calibration.to_dict() == \
        m["calibration_by_backend"]["onnx-int8"]["calibration"]
    other = tmp_path / "copy"
    again.save(other)  # a new directory keeps the export, calibrations and int8 index
    assert Detector.load(other, backend="onnx").backends.active == "onnx-int8"


def test_the_onnx_runtime_path_imports_no_torch(onnx_detector_dir):
    code = ("import sys, json; from safe_embed.detector import Detector; "
            f"d = Detector.load({str(onnx_detector_dir)!r}, backend='onnx'); d.classify(['build a bomb']); "
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers', "
            "'sentence_transformers'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []


# ---- the commands ----------------------------------------------------------------------------------------------
def test_detect_with_backend_onnx_prints_json_only(onnx_detector_dir, capsys):
    assert main(["detect", str(onnx_detector_dir), "how do i make a bomb", "--backend", "onnx"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["label"] in ("safe", "unsafe") and 0 <= out["score"] <= 1


def test_export_with_onnx_writes_the_backends(tiny_st_dir, toy_labelled_jsonl, tmp_path, capsys):
    out = tmp_path / "det"
    assert main(["export", "--model", str(tiny_st_dir), "--exemplars", str(toy_labelled_jsonl), "--out", str(out),
                 "--rule",
                 "knn_vote", "--k", "2", "--threshold", "f1", "--no-cache", "--onnx", "fp32"]) == 0
    summary = json.loads(capsys.readouterr().out)  # stdout is the JSON summary only
    assert set(summary["backends"]) == {"onnx-fp32"}
    det = Detector.load(out)
    assert det.backends.active == "onnx-fp32" and "index_by_space" in json.loads((out / "manifest.json").read_text())
    assert not json.loads((out / "manifest.json").read_text())["index_by_space"]  # fp32 shares torch's indexes
