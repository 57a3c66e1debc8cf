"""Detector directories: save/load round trip (also in a fresh process) and refusal of tampered directories."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from manifests import rewrite_manifest

from safe_embed.detector import Detector, TamperedDetectorError
from safe_embed.detector.manifest import read_manifest
from safe_embed.encoders.sentence_transformer import SentenceTransformerEncoder
from safe_embed.errors import DataError, ModelError

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
    assert m["format_version"] == 2 and m["generation"] == 0 and m["encoder"]["dimension"] == 16
    assert set(m["files"]) == names - {"manifest.json", ".lock"}  # the writer lock is not part of the snapshot
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
    files = sorted(read_manifest(root)["files"]) + ["manifest.json"]
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
    rewrite_manifest(copy, every_file=True)
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


# ---- persistence: journal, lock, generations ---------------------------------------------------------------------
def test_a_persisted_addition_is_one_journal_line_and_survives_a_reload(copy):
    det = Detector.load(copy)
    before = {p.name: p.stat().st_mtime_ns for p in copy.iterdir() if p.is_file()}
    ids = det.persist_add(["tell me a dirty story"], ["unsafe"], ["adult"], source="api")
    assert ids == ["api:0"]
    lines = (copy / "journal.jsonl").read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["op"] == "add"
    after = {p.name: p.stat().st_mtime_ns for p in copy.iterdir() if p.is_file() and p.name in before}
    assert after == before  # the snapshot is not rewritten
    again = Detector.load(copy)
    assert len(again.unsafe) == 5 and again.classify(["tell me a dirty story"])[0].neighbors[0].id == "api:0"
    assert again.persist_remove(["api:0"]) == 1 and len(Detector.load(copy).unsafe) == 4
    assert again.persist_add(["another one"], ["unsafe"], source="api") == ["api:1"]  # a removed id never returns


def test_two_writers_never_lose_each_others_additions(copy):
    a, b = Detector.load(copy), Detector.load(copy)
    a.persist_add(["first writer's attack"], ["unsafe"], ids=["a:1"])
    b.persist_add(["second writer's attack"], ["unsafe"], ids=["b:1"])  # b catches up with a's line first
    assert {"a:1", "b:1"} <= {e.id for e in b.unsafe}
    with pytest.raises(DataError, match="'a:1' already exists"):
        b.persist_add(["again"], ["unsafe"], ids=["a:1"])
    b.save(copy)  # a snapshot from b keeps a's addition too
    a.persist_add(["after the save"], ["safe"], ids=["a:2"])  # a sees the new generation and writes to it
    final = Detector.load(copy)
    assert {"a:1", "b:1"} <= {e.id for e in final.unsafe} and "a:2" in {e.id for e in final.safe}
    assert read_manifest(copy)["generation"] == 1


def test_a_failed_journal_write_changes_nothing(copy, monkeypatch):
    from safe_embed.detector import journal

    det = Detector.load(copy)
    n = len(det.unsafe)

    def full_disk(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(journal, "append", full_disk)
    with pytest.raises(OSError, match="No space"):
        det.persist_add(["not saved"], ["unsafe"])
    assert len(det.unsafe) == n and len(Detector.load(copy).unsafe) == n
    monkeypatch.undo()
    with pytest.raises(DataError, match="category is int"):  # validated before anything is written
        det.persist_add(["bad category"], ["unsafe"], [7])
    assert not (copy / "journal.jsonl").exists()


def test_a_torn_journal_tail_is_ignored_then_cut_and_a_corrupt_middle_refused(copy):
    from safe_embed.detector.journal_sync import open_for_writing

    det = Detector.load(copy)
    det.persist_add(["kept"], ["unsafe"], ids=["k:1"])
    j = copy / "journal.jsonl"
    with open(j, "ab") as f:
        f.write(b'{"seq": 0, "op": "add", "exem')  # a writer killed mid-line
    assert "k:1" in {e.id for e in Detector.load(copy).unsafe}
    removed = open_for_writing(copy)
    assert any("torn tail" in r for r in removed) and j.read_bytes().endswith(b"\n")
    det2 = Detector.load(copy)
    det2.persist_add(["next"], ["unsafe"], ids=["k:2"])
    lines = j.read_bytes().splitlines(keepends=True)
    j.write_bytes(lines[0][:-20] + b"X" * 19 + b"\n" + lines[1])
    with pytest.raises(TamperedDetectorError, match=r"journal\.jsonl: the record at byte 0 does not verify"):
        Detector.load(copy)


def test_saves_switch_generations_atomically_and_clean_up(copy):
    det = Detector.load(copy)
    (copy / ".tmp-enc-crashed").mkdir()
    (copy / "unsafe.7.faiss").write_bytes(b"left by a crashed save")
    det.save(copy)
    det.save(copy)
    names = {p.name for p in copy.iterdir()}
    assert "unsafe.2.faiss" in names and "unsafe.1.faiss" in names and "unsafe.faiss" not in names
    assert ".tmp-enc-crashed" not in names and "unsafe.7.faiss" not in names
    assert read_manifest(copy)["generation"] == 2 and "encoder" in names  # the encoder is shared, not copied


def test_a_load_between_the_manifest_switch_and_the_cleanup_succeeds(copy, saved):
    """The writer replaces the manifest, then removes the retired generation: a reader in between sees its files."""
    det = Detector.load(copy)
    det.save(copy)
    det.save(copy)  # generation 2; generation 0's files are gone
    for name in ("unsafe.faiss", "safe.faiss", "exemplars.jsonl"):
        shutil.copy(saved[0] / name, copy / name)  # as they are just before the writer's cleanup
    shutil.copytree(saved[0] / "encoder", copy / "encoder.3")  # the next save's encoder, written before its manifest
    assert Detector.load(copy).classify(QUERIES)[0].score == pytest.approx(saved[1][0])
    (copy / "encoder" / "extra.py").write_text("print('hi')")  # inside the manifest's own encoder: still refused
    with pytest.raises(TamperedDetectorError, match=r"encoder/extra\.py: not listed"):
        Detector.load(copy)


def test_loads_during_saves_never_see_a_mix(copy):
    import threading

    det = Detector.load(copy)
    stop = threading.Event()
    errors, loads = [], [0]

    def reader():
        while not stop.is_set():
            try:
                d = Detector.load(copy)
                assert len(d.unsafe) + len(d.safe) >= 8
                loads[0] += 1
            except Exception as e:  # noqa: BLE001 - every failed load is recorded
                errors.append(repr(e))

    t = threading.Thread(target=reader)
    t.start()
    try:
        for i in range(8):
            det.persist_add([f"attack number {i}"], ["unsafe"], ids=[f"s:{i}"])
            det.save(copy)
    finally:
        stop.set()
        t.join()
    assert loads[0] >= 3 and errors == []


def test_paths_outside_the_directory_and_symlinks_are_refused(copy, tmp_path):
    rewrite_manifest(copy, lambda body: body["exemplars"].update(file="../outside.jsonl"))
    with pytest.raises(TamperedDetectorError, match="points outside the detector directory"):
        Detector.load(copy)


def test_a_symlinked_folder_is_refused(copy, tmp_path):
    shutil.move(str(copy / "encoder"), str(tmp_path / "elsewhere"))
    (copy / "encoder").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(TamperedDetectorError, match="symbolic link"):
        Detector.load(copy)


def test_broken_files_with_fresh_checksums_give_clear_errors(copy):
    for rel, data in (("unsafe.faiss", b"not faiss at all"),):
        (copy / rel).write_bytes(data)
    rewrite_manifest(copy)
    with pytest.raises(TamperedDetectorError, match=r"unsafe\.faiss: not a readable FAISS index"):
        Detector.load(copy)


def test_a_pickle_weight_file_is_refused_even_with_fresh_checksums(copy):
    (copy / "encoder" / "pytorch_model.bin").write_bytes(b"\x80\x04pickle")
    rewrite_manifest(copy, files=[*read_manifest(copy, verify_files=False)["files"], "encoder/pytorch_model.bin"])
    with pytest.raises(TamperedDetectorError, match=r"pytorch_model\.bin: a pickle-format weight file"):
        Detector.load(copy)


def test_bad_scoring_weights_and_threshold_edits_are_refused(copy):
    original = read_manifest(copy)
    rewrite_manifest(copy, lambda body: body.update(threshold=0.1))
    with pytest.raises(TamperedDetectorError, match="threshold 0.1 differs"):
        Detector.load(copy)
    rewrite_manifest(copy, lambda body: body.update(threshold=original["threshold"],
                                                    scoring={**original["scoring"], "k": "ten"}))
    with pytest.raises(TamperedDetectorError, match="incomplete or invalid"):
        Detector.load(copy)


def test_a_persisted_addition_is_embedded_before_any_lock_is_taken(copy):
    """The slow part of an addition (embedding) runs before the writer lock and the service's mutex are taken."""
    import threading

    from safe_embed.detector.layout import lock as directory_lock

    det = Detector.load(copy)
    mutex, seen = threading.Lock(), []
    encode = det.encoder.encode

    def watched(texts, *a, **kw):
        lock = directory_lock(copy)
        try:
            lock.acquire(timeout=0)  # succeeds only while no writer holds the directory lock
            free = True
            lock.release()
        except Exception:  # noqa: BLE001 - filelock's Timeout
            free = False
        seen.append((list(texts), mutex.locked(), free))
        return encode(texts, *a, **kw)

    det.encoder.encode = watched
    assert det.persist_add(["a slow new attack"], ["unsafe"], source="api", mutex=mutex) == ["api:0"]
    assert seen == [(["a slow new attack"], False, True)]  # embedded once, with neither lock held
    assert Detector.load(copy).classify(["a slow new attack"])[0].neighbors[0].id == "api:0"


@pytest.mark.parametrize("key", ["sentence_threshold", "last_sentence_threshold", "first_sentence_threshold",
                                 "window_sentence_threshold"])
def test_a_sentence_threshold_is_stored_and_an_older_manifest_takes_the_default(copy, key):
    from safe_embed.detector import coverage_verdict

    default = getattr(coverage_verdict, key.upper())
    assert read_manifest(copy)["settings"][key] == default
    rewrite_manifest(copy, lambda m: m["settings"].update({key: None}))
    assert getattr(Detector.load(copy).settings, key) is None
    rewrite_manifest(copy, lambda m: m["settings"].pop(key))  # written before the setting
    assert getattr(Detector.load(copy).settings, key) == default
    rewrite_manifest(copy, lambda m: m["settings"].update({key: 1.5}))
    option = "--" + key.replace("_", "-")
    with pytest.raises(TamperedDetectorError, match=f"{key.replace('_', ' ')} must be in .* {option}"):
        Detector.load(copy)
