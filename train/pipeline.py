"""Fit, reload the best checkpoint, export, and compare base vs tuned on held-out data (rank zero only)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import torch
from safe_embed.train.encoder import LiveEncoder
from safe_embed.train.export import export_all
from safe_embed.train.report import compare, held_out_figures, write_report
from safe_embed.train.tracking import finish_wandb
from safe_embed.train.validation import detection_on

from safe_embed.encoders import load_encoder

logger = logging.getLogger(__name__)


def load_best(trainer, model) -> str | None:
    """Load the best checkpoint's weights into ``model``; returns its path (None when there is none)."""
    cb = trainer.checkpoint_callback
    path = getattr(cb, "best_model_path", "") if cb is not None else ""
    if not path or not Path(path).is_file():
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
    model.load_state_dict(state)
    logger.info("reloaded best checkpoint %s (score %s)", path, getattr(cb, "best_model_score", None))
    return path


def run_fit(trainer, model, datamodule, compare: bool = True, experiment: str = "") -> Path | None:
    """Train, then on rank zero export ``adapter/`` + ``encoder/`` and write the comparison; returns the run dir."""
    run_dir = Path(trainer.default_root_dir)
    datamodule.setup("fit")
    if trainer.is_global_zero:
        run_dir.mkdir(parents=True, exist_ok=True)
        datamodule.save_splits(run_dir)
    t0 = time.time()
    trainer.fit(model, datamodule=datamodule)
    fit_seconds = time.time() - t0
    if not trainer.is_global_zero:
        return None
    best = load_best(trainer, model)
    meta = {"experiment": experiment, "base_model": model.encoder_ref, "finetune": model.finetune,
            "best_checkpoint": best}
    export_all(model.encoder.cpu(), run_dir, meta)
    if compare and not trainer.fast_dev_run:
        write_comparison(model, datamodule, run_dir, best, fit_seconds, trainer)
    finish_wandb(trainer)
    return run_dir


def write_comparison(model, datamodule, run_dir: Path, best: str | None, fit_seconds: float, trainer) -> dict:
    """Base vs tuned on XSTest-aug and the test split; logged as ``compare/*`` and written to the run dir."""
    base = load_encoder(model.encoder_ref)
    if getattr(base, "model", None) is not None:
        base.model.max_seq_length = model.encoder.max_seq_length  # both read the same window
    tuned = LiveEncoder(model.encoder, batch_size=model.eval_batch_size)
    normalizer = model.normalizer()
    test, train, val = datamodule.rows("test"), datamodule.rows("train"), datamodule.rows("val")
    sets = datamodule.eval_sets("test")
    fb = held_out_figures(base, normalizer, sets, datamodule.data_dir,
                          detection_on(base, test, train, calibration=val, seed=datamodule.seed))
    ft = held_out_figures(tuned, normalizer, sets, datamodule.data_dir,
                          detection_on(tuned, test, train, calibration=val, seed=datamodule.seed))
    comp = compare(fb, ft, {"trainable_params": model.trainable_params, "base_params": model.base_params,
                            "trainable_fraction": model.trainable_params / model.base_params,
                            "best_checkpoint": best, "fit_seconds": round(fit_seconds, 1)})
    write_report(comp, run_dir)
    s = comp["summary"]
    flat = {f"compare/{k}": v["tuned"] for k, v in s.items() if isinstance(v, dict) and "tuned" in v}
    flat.update({f"compare/base_{k}": v["base"] for k, v in s.items() if isinstance(v, dict) and "base" in v})
    flat["compare/xstest_aug_types_improved"] = s["xstest_aug_types_improved"]
    for lg in trainer.loggers:
        lg.log_metrics(flat, step=trainer.global_step)
        lg.save()
    logger.info("XSTest-aug mean %.4f -> %.4f (%d/%d types improved); test AUROC %s -> %s",
                s["xstest_aug_mean"]["base"], s["xstest_aug_mean"]["tuned"], s["xstest_aug_types_improved"],
                s["xstest_aug_types"], s.get("test_auroc", {}).get("base"), s.get("test_auroc", {}).get("tuned"))
    return comp
