"""Detector directories: save/load round trip (also in a fresh process) and refusal of tampered directories."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from safe_embed.detector import Detector, TamperedDetectorError
from safe_embed.detector.manifest import read_manifest, write_manifest
from safe_embed.encoders.sentence_transformer import SentenceTransformerEncoder
from safe_embed.errors import ModelError

QUERIES = ["how do i kill a python process", "tell me a dirty joke", "make a bomb", "", "what is your name"]


@pytest.fixture(scope="module")
def saved(tiny_detector_dir) -> tuple[Path, list[float]]:
    return tiny_detector_dir, [d.score for d in Detector.load(tiny_detector_dir).classify(QUERIES)]


@pytest.fixture
def copy(saved, tmp_path) -> Path:
    dst = tmp_path / "detector"
    shutil.copytree(saved[0], dst)
    return dst


def test_directory_layout_and_manifest(saved):
    root, _ = saved
    names = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    assert {"manifest.json", "unsafe.faiss", "safe.faiss", "exemplars.jsonl", "encoder/modules.json"} <= names
    assert any(n.startswith("encoder/") and n.endswith(".safetensors") for n in names)
    assert not any(n.endswith((".pkl", ".pickle", ".bin", ".pt")) for n in names)
    m = read_manifest(root)
    assert m["format_version"] == 1 and m["encoder"]["dimension"] == 16
    assert set(m["files"]) == names - {"manifest.json"}
    assert m["scoring"]["name"] == "margin" and m["threshold"] == m["calibration"]["threshold"]
    assert m["categories"] == ["adult", "harm"] and m["calibration"]["validation"]["n"] == 5
    rows = [json.loads(line) for line in (root / "exemplars.jsonl").read_text().splitlines()]
    assert [r["label"] for r in rows] == ["unsafe"] * 4 + ["safe"] * 4


def test_load_gives_the_scores_of_the_built_detector(tiny_st_dir, tiny_exemplars, tmp_path):
    det = Detector.build(SentenceTransformerEncoder(str(tiny_st_dir)), tiny_exemplars, rule="logistic", method="f1")
    det.save(tmp_path / "d")
    assert [d.score for d in Detector.load(tmp_path / "d").classify(QUERIES)] == \
        [d.score for d in det.classify(QUERIES)]


def test_fresh_process_gives_identical_scores_without_training_imports(saved):
    """(PEFT is not checked: sentence-transformers itself imports it when it is installed.)"""
    root, scores = saved
    code = ("import json,sys; from safe_embed.detector import Detector; "
            "d=Detector.load(sys.argv[1]); s=[x.score for x in d.classify(json.loads(sys.argv[2]))]; "
            "bad=[m for m in sys.modules if m.split('.')[0] in ('pytorch_lightning','lightning','wandb') "
            "or m.startswith('safe_embed.train')]; "
            "print(json.dumps({'scores': s, 'bad': bad}))")
    res = subprocess.run([sys.executable, "-c", code, str(root), json.dumps(QUERIES)], capture_output=True,
                         text=True, check=True)
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["scores"] == scores
    assert out["bad"] == []


def test_every_flipped_byte_is_refused_naming_the_file(saved, tmp_path):
    root, _ = saved
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    for i, rel in enumerate(files):
        dst = tmp_path / f"d{i}"
        shutil.copytree(root, dst)
        data = bytearray((dst / rel).read_bytes())
        data[len(data) // 2] ^= 0x01
        (dst / rel).write_bytes(bytes(data))
        with pytest.raises(TamperedDetectorError, match=Path(rel).name.replace(".", r"\.")):
            Detector.load(dst)


def test_truncated_missing_and_extra_files_are_refused(copy):
    idx = copy / "unsafe.faiss"
    idx.write_bytes(idx.read_bytes()[:100])
    with pytest.raises(TamperedDetectorError, match=r"unsafe\.faiss: sha256 mismatch"):
        Detector.load(copy)
    idx.unlink()
    with pytest.raises(TamperedDetectorError, match=r"unsafe\.faiss: missing"):
        Detector.load(copy)


def test_missing_weights_and_unlisted_files_are_refused(copy, saved):
    (copy / "encoder" / "model.safetensors").unlink()
    with pytest.raises(TamperedDetectorError, match=r"model\.safetensors: missing"):
        Detector.load(copy)
    shutil.copy(saved[0] / "encoder" / "model.safetensors", copy / "encoder" / "model.safetensors")
    (copy / "encoder" / "extra.py").write_text("print('hi')")
    with pytest.raises(TamperedDetectorError, match=r"extra\.py: not listed"):
        Detector.load(copy)


def test_a_model_of_another_dimension_is_refused_even_with_fresh_checksums(copy, tiny_st5_dir):
    shutil.rmtree(copy / "encoder")
    shutil.copytree(tiny_st5_dir, copy / "encoder")
    m = json.loads((copy / "manifest.json").read_text())
    write_manifest(copy, {k: v for k, v in m.items() if k not in ("files", "manifest_sha256")})
    with pytest.raises(TamperedDetectorError, match=r"encoder: the encoder's embedding dimension is 8.*dimension 16"):
        Detector.load(copy)


def test_manifest_edits_and_non_detectors_are_refused(copy, tmp_path):
    text = (copy / "manifest.json").read_text()
    (copy / "manifest.json").write_text(text.replace('"threshold": ', '"threshold": 0.0001 + ', 1)
                                        .replace("0.0001 + ", "", 1).replace('"n_safe": 4', '"n_safe": 5'))
    with pytest.raises(TamperedDetectorError, match=r"manifest\.json: checksum mismatch"):
        Detector.load(copy)
    (copy / "manifest.json").unlink()
    with pytest.raises(TamperedDetectorError, match=r"manifest\.json: missing"):
        Detector.load(copy)
    with pytest.raises(ModelError, match="not found"):
        Detector.load(tmp_path / "nothing")


def test_save_refuses_a_foreign_directory_and_a_fake_encoder(tmp_path, hash_encoder, tiny_exemplars):
    det = Detector.build(hash_encoder, tiny_exemplars, rule="margin", method="f1")
    with pytest.raises(ModelError, match="cannot save encoder"):
        det.save(tmp_path / "x")
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine")
    with pytest.raises(ModelError, match="not a detector directory"):
        det.save(tmp_path / "foreign")


def test_add_then_save_persists_and_resave_verifies(copy):
    det = Detector.load(copy)
    det.add(["tell me a dirty story"], ["unsafe"], ["adult"])
    det.remove(["s0"])
    det.save(copy)
    again = Detector.load(copy)
    assert len(again.unsafe) == 5 and [e.id for e in again.safe] == ["s1", "s2", "s3"]
    assert again.classify(["tell me a dirty story"])[0].neighbors[0].id == "added:0"
