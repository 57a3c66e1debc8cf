"""End-to-end training checks on a tiny random BERT: fast_dev_run, configs, merged export, two-process DDP."""

from __future__ import annotations

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
TRAIN_CONFIGS = sorted((ROOT / "configs" / "train").glob("*.yaml"))
ALL_CONFIGS = sorted((ROOT / "configs").rglob("*.yaml"))


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    from tiny_models import save_tiny_bert

    return save_tiny_bert(tmp_path_factory.mktemp("tiny_train") / "bert")


def _tiny_config(tmp_path: Path, tiny_dir: Path, **trainer) -> Path:
    cfg = {"base": str(ROOT / "configs" / "train" / "base.yaml"), "experiment": "tiny",
           "model": {"encoder": str(tiny_dir), "eval_batch_size": 256},
           "data": {"batch_size": 4, "max_train_anchors": 24, "mining_encoder": str(tiny_dir)},
           "trainer": {"enable_progress_bar": False, "log_every_n_steps": 1, **trainer}}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_fast_dev_run(tmp_path, tiny_dir, monkeypatch, capsys):
    from safe_embed.train.cli import RUN_DIR_ENV, main

    monkeypatch.delenv(RUN_DIR_ENV, raising=False)
    run = tmp_path / "run"
    rc = main(["--config", str(_tiny_config(tmp_path, tiny_dir)), "--trainer.fast_dev_run", "2",
               "--trainer.default_root_dir", str(run)])
    assert rc == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(run)
    splits = json.loads((run / "splits.json").read_text())
    assert set(splits["do_not_answer"]) == {"train", "val", "test"}
    assert (run / "adapter" / "adapter_config.json").is_file()
    assert (run / "encoder" / "modules.json").is_file()


def test_full_fit_writes_run_dir(tmp_path, tiny_dir, monkeypatch, capsys):
    """A short real fit: config as run, checkpoint, CSV + offline W&B metrics, comparison and heatmaps."""
    from safe_embed.train.cli import RUN_DIR_ENV, main

    monkeypatch.delenv(RUN_DIR_ENV, raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    run = tmp_path / "run"
    rc = main(["--config", str(_tiny_config(tmp_path, tiny_dir, max_epochs=1, limit_train_batches=2,
                                            limit_val_batches=1)), "--trainer.default_root_dir", str(run)])
    assert rc == 0 and capsys.readouterr().out.strip().splitlines()[-1] == str(run)
    assert yaml.safe_load((run / "config.yaml").read_text())["model"]["encoder"] == str(tiny_dir)
    assert list((run / "checkpoints").glob("*.ckpt"))
    metrics = (run / "csv" / "metrics.csv").read_text()
    assert "val/select" in metrics and "train/loss" in metrics and "compare/xstest_aug_mean" in metrics
    wandb_files = list((run / "wandb").glob("offline-run-*/run-*.wandb"))  # the offline run's record log
    assert len(wandb_files) == 1
    records = wandb_files[0].read_bytes()
    assert b"val/select" in records and b"train/loss" in records and b"compare/xstest_aug_mean" in records
    comp = json.loads((run / "comparison.json").read_text())
    assert comp["summary"]["xstest_aug_types"] == 10 and 0 < comp["trainable_fraction"] < 1
    for name in ("comparison.md", "heatmap_xstest_aug.png", "heatmap_test.png"):
        assert (run / name).stat().st_size > 0


@pytest.mark.parametrize("path", ALL_CONFIGS, ids=lambda p: str(p.relative_to(ROOT / "configs")))
def test_every_config_parses(path):
    assert isinstance(yaml.safe_load(path.read_text()), dict)


@pytest.mark.parametrize("path", TRAIN_CONFIGS, ids=lambda p: p.name)
def test_train_configs_instantiate(path, tmp_path, tiny_dir, monkeypatch):
    """Each training YAML (with its base chain) builds the module, datamodule and trainer."""
    from safe_embed.train.cli import RUN_DIR_ENV, _cli_class, expand_configs
    from safe_embed.train.datamodule import SafetyPairDataModule
    from safe_embed.train.module import ContrastiveEncoderModule

    monkeypatch.delenv(RUN_DIR_ENV, raising=False)
    from safe_embed.train.cli import config_chain

    encoders = [c.get("model", {}).get("encoder") for _, c in config_chain(path)]
    if [e for e in encoders if e][-1] == "sbert-all":  # an MPNet config: its LoRA targets (q, k, v, o) must exist
        from tiny_models import save_tiny_mpnet

        tiny_dir = save_tiny_mpnet(tmp_path / "mpnet")
    args = expand_configs(["--config", str(path), "--model.encoder", str(tiny_dir),
                           "--trainer.default_root_dir", str(tmp_path)], tmp_path)
    cli = _cli_class()(args)
    assert isinstance(cli.model, ContrastiveEncoderModule) and isinstance(cli.datamodule, SafetyPairDataModule)
    assert len(cli.model.losses) >= 1 and cli.trainer.default_root_dir == str(tmp_path)


def test_lora_minilm_trains_under_two_percent():
    from safe_embed.train.module import ContrastiveEncoderModule

    cfg = yaml.safe_load((ROOT / "configs" / "train" / "base.yaml").read_text())["model"]
    m = ContrastiveEncoderModule(encoder="all-MiniLM-L6-v2", finetune="lora", lora_r=cfg["lora_r"],
                                 lora_targets=cfg["lora_targets"])
    assert m.trainable_params / m.base_params < 0.02


def test_config_errors(tmp_path, tiny_dir):
    from safe_embed.train.cli import expand_configs
    from safe_embed.train.module import ContrastiveEncoderModule

    with pytest.raises(ConfigError, match="not found"):
        expand_configs(["--config", str(tmp_path / "nope.yaml")], tmp_path)
    loop = tmp_path / "loop.yaml"
    loop.write_text("base: loop.yaml\n")
    with pytest.raises(ConfigError, match="itself"):
        expand_configs(["--config", str(loop)], tmp_path)
    with pytest.raises(ConfigError, match="finetune"):
        ContrastiveEncoderModule(encoder=str(tiny_dir), finetune="half")
    with pytest.raises(ConfigError, match="match no module"):
        ContrastiveEncoderModule(encoder=str(tiny_dir), lora_targets=["nonexistent_proj"])


def test_merged_export_matches_adapter_model(tmp_path, tiny_dir):
    """The merged encoder/ loads in plain sentence-transformers and embeds like the adapter model (1e-5)."""
    from peft import PeftModel
    from safe_embed.train.encoder import LiveEncoder, load_plain_encoder, transformer_of
    from safe_embed.train.export import export_all
    from safe_embed.train.module import ContrastiveEncoderModule
    from sentence_transformers import SentenceTransformer

    m = ContrastiveEncoderModule(encoder=str(tiny_dir), lora_r=4, lora_dropout=0.0)
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
    """Two gloo processes on CPU run a few steps; rank zero exports and prints the run dir."""
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
