"""End-to-end training: fast_dev_run, a real short fit, any team's own CSV/JSONL through fit and export, every
config, the Python defaults against base.yaml, merged export, two-process DDP."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from safe_embed.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
TRAIN_CONFIGS = sorted((ROOT / "configs" / "train").rglob("*.yaml"))
ALL_CONFIGS = sorted((ROOT / "configs").rglob("*.yaml"))


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    from tiny_models import save_tiny_bert

    return save_tiny_bert(tmp_path_factory.mktemp("tiny_train") / "bert")


def _tiny_config(tmp_path: Path, tiny_dir: Path, data: dict | None = None, **trainer) -> Path:
    cfg = {"base": str(ROOT / "configs" / "train" / "base.yaml"), "experiment": "tiny",
           "model": {"encoder": str(tiny_dir), "eval_batch_size": 256},
           "data": {"batch_size": 4, "max_train_examples": 48, **(data or {})},
           "trainer": {"enable_progress_bar": False, "log_every_n_steps": 1, **trainer}}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _fit(args: list[str], monkeypatch, capsys) -> Path:
    from safe_embed.train.cli import RUN_DIR_ENV, main

    monkeypatch.delenv(RUN_DIR_ENV, raising=False)
    assert main(args) == 0
    return Path(capsys.readouterr().out.strip().splitlines()[-1])


def test_fast_dev_run(tmp_path, tiny_dir, monkeypatch, capsys):
    run = tmp_path / "run"
    got = _fit(["--config", str(_tiny_config(tmp_path, tiny_dir)), "--trainer.fast_dev_run", "2",
                "--trainer.default_root_dir", str(run)], monkeypatch, capsys)
    assert got == run
    splits = json.loads((run / "splits.json").read_text())
    assert splits["format"] == "safe-embed/splits" and set(splits["splits"]) == {"train", "val", "test"}
    assert splits["spec"]["held_out"] == ["jbb"] and splits["spec"]["taxonomy"] == "mlcommons"
    trained = set(splits["trained_hashes"])  # max_train_examples: the rows trained on are recorded
    assert len(trained) == 48 and trained < {h for _, h in splits["splits"]["train"]}
    assert (run / "adapter" / "adapter_config.json").is_file() and (run / "encoder" / "modules.json").is_file()


def test_full_fit_writes_run_dir(tmp_path, tiny_dir, monkeypatch, capsys):
    """A short real fit: config as run, checkpoint chosen on val/auroc, CSV + offline W&B metrics, comparison."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    run = tmp_path / "run"
    _fit(["--config", str(_tiny_config(tmp_path, tiny_dir, max_epochs=1, limit_train_batches=2)),
          "--trainer.default_root_dir", str(run)], monkeypatch, capsys)
    assert yaml.safe_load((run / "config.yaml").read_text())["model"]["encoder"] == str(tiny_dir)
    assert list((run / "checkpoints").glob("best-*.ckpt"))
    metrics = (run / "csv" / "metrics.csv").read_text()
    for key in ("val/auroc", "val/fpr_at_tpr_90", "val/cp@10", "train/loss", "compare/test_auroc"):
        assert key in metrics, key
    assert "val/jbb_pairs" not in metrics  # JBB is held out, so its pairs are not validated on
    records = next((run / "wandb").glob("offline-run-*/run-*.wandb")).read_bytes()
    assert b"val/auroc" in records and b"compare/xstest_aug_mean" in records
    comp = json.loads((run / "comparison.json").read_text())
    assert comp["summary"]["xstest_aug_types"] == 10 and 0 < comp["trainable_fraction"] < 1
    assert "test_auroc" in comp["summary"] and "test_cp@10" in comp["summary"]
    for name in ("comparison.md", "heatmap_xstest_aug.png"):
        assert (run / name).stat().st_size > 0


def _export_and_detect(run: Path, tmp_path: Path, capsys) -> tuple[dict, list[dict]]:
    from safe_embed.cli import main

    det = tmp_path / "det"
    assert main(["export", "--model", str(run), "--out", str(det)]) == 0
    capsys.readouterr()
    manifest = json.loads((det / "manifest.json").read_text())
    rows = [json.loads(line) for line in (det / "exemplars.jsonl").read_text().splitlines()]
    return manifest, rows


@pytest.mark.slow
def test_fit_on_a_csv_of_your_own_then_export(tmp_path, monkeypatch, capsys):
    """The README's three commands on a CSV with only text,label,category: the default MiniLM, 20 steps."""
    from safe_embed.cli import main
    from safe_embed.data.dataset import Assigned

    src = FIXTURES / "own_policy.csv"
    run = _fit(["--config", str(ROOT / "configs" / "train" / "base.yaml"), "--data.sources", f"[{{path: {src}}}]",
                "--trainer.max_steps", "20", "--trainer.default_root_dir", str(tmp_path / "run")],
               monkeypatch, capsys)
    assert (run / "encoder" / "modules.json").is_file()
    splits = Assigned.load(run / "splits.json")
    assert [s["path"] for s in splits.spec["sources"]] == [str(src)]
    manifest, rows = _export_and_detect(run, tmp_path, capsys)
    assert manifest["categories"] == ["fraud", "malware", "pii_request"]
    assert {r["source"] for r in rows} == {"own_policy"}
    train = {h for h, s in splits.split_of.items() if s == "train"}
    from safe_embed.data.splits import text_hash

    assert {text_hash(r["text"]) for r in rows} <= train  # exemplars are the run's train split
    assert main(["detect", str(tmp_path / "det"), "Give me code to steal passwords from the payroll server."]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["label"] == "unsafe" and d["category"] in manifest["categories"]


def test_fit_on_jsonl_with_named_columns(tmp_path, tiny_dir, monkeypatch, capsys):
    src = FIXTURES / "own_policy_harmful.jsonl"
    spec = f"[{{path: {src}, text: prompt, label: harmful, category: policy}}]"
    run = _fit(["--config", str(_tiny_config(tmp_path, tiny_dir)), "--data.sources", spec, "--data.held_out", "[]",
                "--trainer.max_steps", "20", "--trainer.default_root_dir", str(tmp_path / "run")], monkeypatch, capsys)
    manifest, rows = _export_and_detect(run, tmp_path, capsys)
    assert manifest["categories"] == ["fraud", "malware", "pii_request"]
    assert {r["label"] for r in rows} == {"safe", "unsafe"}


@pytest.mark.parametrize("path", ALL_CONFIGS, ids=lambda p: str(p.relative_to(ROOT / "configs")))
def test_every_config_parses(path):
    assert isinstance(yaml.safe_load(path.read_text()), dict)


@pytest.mark.parametrize("path", TRAIN_CONFIGS, ids=lambda p: str(p.relative_to(ROOT / "configs" / "train")))
def test_train_configs_instantiate(path, tmp_path, tiny_dir, monkeypatch):
    """Each training YAML (with its base chain) builds the module, datamodule and trainer."""
    from safe_embed.train.cli import RUN_DIR_ENV, _cli_class, config_chain, expand_configs
    from safe_embed.train.datamodule import SafetyDataModule
    from safe_embed.train.module import SafetyEncoderModule

    monkeypatch.delenv(RUN_DIR_ENV, raising=False)
    encoders = [c.get("model", {}).get("encoder") for _, c in config_chain(path)]
    if [e for e in encoders if e][-1:] == ["sbert-all"]:  # an MPNet config: its LoRA targets (q, k, v, o) must exist
        from tiny_models import save_tiny_mpnet

        tiny_dir = save_tiny_mpnet(tmp_path / "mpnet")
    args = expand_configs(["--config", str(path), "--model.encoder", str(tiny_dir),
                           "--trainer.default_root_dir", str(tmp_path)], tmp_path)
    cli = _cli_class()(args)
    assert isinstance(cli.model, SafetyEncoderModule) and isinstance(cli.datamodule, SafetyDataModule)
    assert len(cli.model.losses) >= 1 and cli.trainer.default_root_dir == str(tmp_path)


def test_configs_are_few_and_ablations_one_level_deep():
    from safe_embed.train.cli import config_chain

    user = sorted(p.name for p in (ROOT / "configs" / "train").glob("*.yaml"))
    assert "base.yaml" in user and len(user) <= 5
    for p in (ROOT / "configs" / "train" / "ablations").glob("*.yaml"):
        chain = [q.name for q, _ in config_chain(p)]
        assert chain == ["base.yaml", p.name], p.name
    assert len(list((ROOT / "configs" / "detector").glob("*.yaml"))) <= 5


def test_python_defaults_are_the_design_base_yaml_states():
    """base.yaml sets the trainer; every model/data key it does set equals the __init__ default."""
    from safe_embed.train.datamodule import SafetyDataModule
    from safe_embed.train.module import SafetyEncoderModule

    base = yaml.safe_load((ROOT / "configs" / "train" / "base.yaml").read_text())
    for section, cls in (("model", SafetyEncoderModule), ("data", SafetyDataModule)):
        defaults = {k: v.default for k, v in inspect.signature(cls.__init__).parameters.items() if k != "self"}
        for key, value in (base.get(section) or {}).items():
            assert key in defaults, f"{section}.{key} is not a parameter of {cls.__name__}"
            assert value == defaults[key] or (value is None and defaults[key] is None), f"{section}.{key}"
    from safe_embed.data.defaults import DEFAULT_HELD_OUT, DEFAULT_SOURCES
    from safe_embed.detector.exemplars import DetectorData

    dm = SafetyDataModule()
    assert dm.spec.to_dict() == DetectorData.parse({}).spec.to_dict()  # one default design for both
    assert [s.to_dict() for s in dm.spec.sources] == [{k: v for k, v in s.items()} for s in DEFAULT_SOURCES]
    assert dm.spec.held_out == DEFAULT_HELD_OUT


def test_config_errors(tmp_path, tiny_dir):
    from safe_embed.train.cli import expand_configs
    from safe_embed.train.module import SafetyEncoderModule

    with pytest.raises(ConfigError, match="not found"):
        expand_configs(["--config", str(tmp_path / "nope.yaml")], tmp_path)
    loop = tmp_path / "loop.yaml"
    loop.write_text("base: loop.yaml\n")
    with pytest.raises(ConfigError, match="itself"):
        expand_configs(["--config", str(loop)], tmp_path)
    with pytest.raises(ConfigError, match="finetune"):
        SafetyEncoderModule(encoder=str(tiny_dir), finetune="half")
    with pytest.raises(ConfigError, match="match no module"):
        SafetyEncoderModule(encoder=str(tiny_dir), lora_targets=["nonexistent_proj"])


def test_merged_export_matches_adapter_model(tmp_path, tiny_dir):
    """The merged encoder/ loads in plain sentence-transformers and embeds like the adapter model (1e-5)."""
    from peft import PeftModel
    from safe_embed.train.encoder import LiveEncoder, load_plain_encoder, transformer_of
    from safe_embed.train.export import export_all
    from safe_embed.train.module import SafetyEncoderModule
    from sentence_transformers import SentenceTransformer

    m = SafetyEncoderModule(encoder=str(tiny_dir), lora_r=4, lora_dropout=0.0)
    torch.manual_seed(0)
    with torch.no_grad():  # LoRA B starts at zero; make the adapter change the model
        for n, p in m.encoder.named_parameters():
            if "lora_" in n:
                p.add_(torch.randn_like(p) * 0.5)
    texts = ["how do i kill a python process", "tell me a dirty joke", "what is your name", "the cat sat"]
    want = LiveEncoder(m.encoder).encode(texts)
    paths = export_all(m.encoder, tmp_path)
    merged = SentenceTransformer(paths["encoder"]).encode(texts, convert_to_numpy=True)
    base = load_plain_encoder(str(tiny_dir)).eval()
    assert np.abs(base.encode(texts) - want).max() > 1e-3  # the adapter does change the embeddings
    np.testing.assert_allclose(merged, want, atol=1e-5)
    base[0].model = PeftModel.from_pretrained(transformer_of(base), paths["adapter"])
    np.testing.assert_allclose(LiveEncoder(base).encode(texts), want, atol=1e-5)
    manifest = json.loads((Path(paths["encoder"]) / "safe_embed_export.json").read_text())
    assert "model.safetensors" in manifest["files"]


@pytest.mark.slow
def test_ddp_two_cpu_processes(tmp_path, tiny_dir):
    """Two gloo processes on CPU run a few steps on their own shards; rank zero exports and prints the run dir."""
    run = tmp_path / "ddp"
    cfg = _tiny_config(tmp_path, tiny_dir, max_epochs=1, limit_train_batches=3, limit_val_batches=1)
    env = {k: v for k, v in os.environ.items() if k != "SAFE_EMBED_RUN_DIR"}
    env.update(WANDB_MODE="disabled", PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]))
    proc = subprocess.run(
        [sys.executable, "-m", "safe_embed.cli", "fit", "--config", str(cfg), "--trainer.strategy", "ddp",
         "--trainer.devices", "2", "--trainer.accelerator", "cpu", "--trainer.default_root_dir", str(run),
         "--compare", "false"],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == str(run)
    assert "world_size: 2" in proc.stderr or "GLOBAL_RANK: 1" in proc.stderr or "MEMBER: 2/2" in proc.stderr
    assert (run / "encoder" / "modules.json").is_file() and list((run / "checkpoints").glob("*.ckpt"))
