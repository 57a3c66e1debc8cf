"""Loggers and checkpoint locations for a run directory: W&B (offline unless the user asks) and CSV."""

from __future__ import annotations

import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)


def wandb_mode() -> str:
    """``offline`` unless the user set ``WANDB_MODE`` or ``WANDB_API_KEY``; ``disabled`` turns W&B off."""
    mode = os.environ.get("WANDB_MODE")
    if mode:
        return mode
    return "online" if os.environ.get("WANDB_API_KEY") else "offline"


def make_loggers(run_dir: str | Path, project: str, name: str) -> list:
    """A CSVLogger (``<run>/csv/metrics.csv``) and, unless W&B is disabled, a WandbLogger (``<run>/wandb``)."""
    from pytorch_lightning.loggers import CSVLogger, WandbLogger

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    loggers: list = [CSVLogger(save_dir=str(run_dir), name="csv", version="")]
    mode = wandb_mode()
    if mode != "disabled":
        loggers.append(WandbLogger(project=project, name=name, save_dir=str(run_dir), offline=mode != "online"))
    return loggers


def set_checkpoint_dirs(trainer) -> None:
    """Checkpoints without an explicit ``dirpath`` go to ``<run dir>/checkpoints``."""
    for cb in trainer.checkpoint_callbacks:
        if cb.dirpath is None:
            cb.dirpath = str(Path(trainer.default_root_dir) / "checkpoints")


def finish_wandb(trainer) -> None:
    """Close the W&B run, then wait for W&B's service to exit so the run directory is flushed to disk.

    ``finish()`` returns once the run is closed; the service writes the offline ``.wandb`` log on its own
    schedule, so ``teardown()`` is what guarantees the records are on disk when the fit returns.
    """
    from pytorch_lightning.loggers import WandbLogger

    runs = [lg for lg in trainer.loggers if isinstance(lg, WandbLogger)]
    for lg in runs:
        try:
            lg.experiment.finish()
        except (RuntimeError, OSError, ValueError) as e:  # tracking must not lose the trained model
            logger.warning("W&B finish failed: %s", e)
    if runs:
        import wandb

        try:
            wandb.teardown()
        except (RuntimeError, OSError, ValueError) as e:
            logger.warning("W&B teardown failed: %s", e)
