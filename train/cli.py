"""``safe-embed fit --config configs/train/<name>.yaml``: LightningCLI over the module and datamodule.

An experiment YAML may start with ``base: base.yaml`` (a path relative to that YAML); the chain is expanded into
repeated ``--config`` files, so experiments state only their differences. The run directory is
``--trainer.default_root_dir`` (default ``runs/<experiment>/<timestamp>/``) and is printed as the last line. After
fitting, the best checkpoint is reloaded, ``adapter/`` + ``encoder/`` are exported and base vs tuned is compared on
the Do-Not-Answer test split and XSTest-aug (``comparison.json``, ``comparison.md``, heatmaps).
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import yaml

from safe_embed.errors import ConfigError

logger = logging.getLogger(__name__)

RUN_DIR_ENV = "SAFE_EMBED_RUN_DIR"
# The datamodule shards its own twin-aware batches across DDP ranks, so Lightning must not inject a sampler.
TRAINER_DEFAULTS = {"use_distributed_sampler": False}
MONITOR = "val/auroc"  # checkpoint selection: detection AUROC on the realistic val split (higher is better)


def default_checkpoint():
    """Keep the checkpoint with the best :data:`MONITOR` (used unless the config sets a monitored checkpoint)."""
    from pytorch_lightning.callbacks import ModelCheckpoint

    return ModelCheckpoint(monitor=MONITOR, mode="max", save_top_k=1, filename="best-{epoch}-{step}",
                           auto_insert_metric_name=False)  # shared with DDP child processes so all ranks agree on the run directory
BASE_KEY = "base"


def config_chain(path: str | Path, _seen: tuple[Path, ...] = ()) -> list[tuple[Path, dict]]:
    """The YAML at ``path`` preceded by its ``base:`` ancestors, each as (path, content without ``base``)."""
    p = Path(path).expanduser().resolve()
    if p in _seen:
        raise ConfigError(f"config {p} includes itself through 'base:'. Fix: break the cycle.")
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}. Fix: pass an existing YAML, e.g. configs/train/base.yaml.")
    content = yaml.safe_load(p.read_text()) or {}
    if not isinstance(content, dict):
        raise ConfigError(f"config {p} must be a YAML mapping, got {type(content).__name__}.")
    base = content.pop(BASE_KEY, None)
    chain = config_chain(p.parent / base, (*_seen, p)) if base else []
    return [*chain, (p, content)]


def expand_configs(argv: list[str], tmp_dir: str | Path) -> list[str]:
    """Replace every ``--config X`` (or ``--config=X``) by its chain of base files, written without ``base:``."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        value = None
        if arg == "--config" and i + 1 < len(argv):
            value, i = argv[i + 1], i + 2
        elif arg.startswith("--config="):
            value, i = arg.split("=", 1)[1], i + 1
        else:
            out.append(arg)
            i += 1
            continue
        for n, (p, content) in enumerate(config_chain(value)):
            flat = Path(tmp_dir) / f"{len(out):03d}_{n:02d}_{p.name}"
            flat.write_text(yaml.safe_dump(content, sort_keys=False))
            out += ["--config", str(flat)]
    return out


def _cli_class():
    from pytorch_lightning.callbacks import ModelCheckpoint
    from pytorch_lightning.cli import LightningCLI, SaveConfigCallback
    from safe_embed.train.datamodule import SafetyDataModule
    from safe_embed.train.module import SafetyEncoderModule
    from safe_embed.train.tracking import make_loggers, set_checkpoint_dirs

    class RunConfigSaver(SaveConfigCallback):
        """Save the config as run into ``<run dir>/config.yaml`` (not into a logger's subfolder)."""

        def setup(self, trainer, pl_module, stage: str) -> None:
            if self.already_saved:
                return
            if trainer.is_global_zero:
                path = Path(trainer.default_root_dir) / self.config_filename
                path.parent.mkdir(parents=True, exist_ok=True)
                self.parser.save(self.config, str(path), skip_none=False, overwrite=True)
            self.already_saved = True

    class SafeEmbedCLI(LightningCLI):
        def __init__(self, args: list[str]) -> None:
            super().__init__(SafetyEncoderModule, SafetyDataModule, run=False, args=args,
                             save_config_callback=RunConfigSaver, parser_kwargs={"prog": "safe-embed fit"},
                             auto_configure_optimizers=False, seed_everything_default=0,
                             trainer_defaults=TRAINER_DEFAULTS)

        def add_arguments_to_parser(self, parser) -> None:
            parser.add_argument("--experiment", type=str, default="default",
                                help="experiment name: run dir runs/<experiment>/<timestamp>, W&B run name")
            parser.add_argument("--wandb_project", type=str, default="safe-embed", help="W&B project")
            parser.add_argument("--compare", type=bool, default=True,
                                help="after fitting, export and compare base vs tuned on held-out data")

        def before_instantiate_classes(self) -> None:
            cfg = self.config
            run_dir = cfg.trainer.default_root_dir or os.environ.get(RUN_DIR_ENV)
            if not run_dir:
                run_dir = str(Path("runs") / cfg.experiment / time.strftime("%Y%m%d-%H%M%S"))
                os.environ[RUN_DIR_ENV] = str(run_dir)
            cfg.trainer.default_root_dir = str(run_dir)

        def instantiate_trainer(self, **kwargs):
            cfg = self.config
            if self.config_init.trainer.get("logger") in (None, True):
                kwargs["logger"] = make_loggers(cfg.trainer.default_root_dir, cfg.wandb_project, cfg.experiment)
            trainer = super().instantiate_trainer(**kwargs)
            if not trainer.fast_dev_run and not any(cb.monitor for cb in trainer.checkpoint_callbacks):
                trainer.callbacks = [cb for cb in trainer.callbacks if not isinstance(cb, ModelCheckpoint)]
                trainer.callbacks.append(default_checkpoint())
            set_checkpoint_dirs(trainer)
            return trainer

    return SafeEmbedCLI


def main(argv: list[str] | None = None, out=None) -> int:
    """Entry point of ``safe-embed fit``; prints the run directory as the last line (to ``out``, default stdout)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    from safe_embed.train.pipeline import run_fit

    with tempfile.TemporaryDirectory(prefix="safe-embed-fit-") as tmp, warnings.catch_warnings():
        # argv is passed explicitly (expanded configs) while sys.argv keeps the original for DDP relaunches
        warnings.filterwarnings("ignore", message="LightningCLI's args parameter")
        args = expand_configs(argv, tmp)
        cli = _cli_class()(args)
    run_dir = run_fit(cli.trainer, cli.model, cli.datamodule, compare=cli.config.compare,
                      experiment=cli.config.experiment)
    if run_dir is not None:
        print(run_dir, file=out or sys.stdout, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
