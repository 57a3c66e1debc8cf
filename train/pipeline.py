"""Fit, reload the best checkpoint, export, and compare base vs tuned on held-out data (rank zero only)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import torch
from safe_embed.train.export import export_all
from safe_embed.train.report import compare, held_out_figures, write_report
from safe_embed.train.tracking import finish_wandb

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
    paths = export_all(model.encoder.cpu(), run_dir, meta)
    if compare and not trainer.fast_dev_run:
        base = load_encoder(model.encoder_ref)
        tuned = load_encoder(paths["encoder"], cache=False)
        normalizer = model.normalizer()
        test = datamodule.eval_sets("test")
        data_dir = datamodule.data_dir
        fb = held_out_figures(base, normalizer, test.taxonomy, test.contrast, data_dir)
        ft = held_out_figures(tuned, normalizer, test.taxonomy, test.contrast, data_dir)
        comp = compare_figures(fb, ft, model, best, fit_seconds)
        write_report(comp, run_dir)
        s = comp["summary"]
        flat = {"compare/xstest_aug_mean": s["xstest_aug_mean"]["tuned"],
                "compare/xstest_aug_types_improved": s["xstest_aug_types_improved"],
                "compare/avg_cosine": s["avg_cosine"]["tuned"],
                "compare/test_contrast_mean": s["test_contrast_mean"]["tuned"],
                "compare/test_cp_mean": s["test_cp_mean"]["tuned"],
                "compare/base_xstest_aug_mean": s["xstest_aug_mean"]["base"]}
        for lg in trainer.loggers:
            lg.log_metrics(flat, step=trainer.global_step)
            lg.save()
        logger.info("XSTest-aug mean %.4f -> %.4f (%d/%d types improved); avg cos %.4f -> %.4f",
                    s["xstest_aug_mean"]["base"], s["xstest_aug_mean"]["tuned"], s["xstest_aug_types_improved"],
                    s["xstest_aug_types"], s["avg_cosine"]["base"], s["avg_cosine"]["tuned"])
    finish_wandb(trainer)
    return run_dir


def compare_figures(fb, ft, model, best, fit_seconds: float) -> dict:
    return compare(fb, ft, {"trainable_params": model.trainable_params, "base_params": model.base_params,
                            "trainable_fraction": model.trainable_params / model.base_params,
                            "best_checkpoint": best, "fit_seconds": round(fit_seconds, 1)})
