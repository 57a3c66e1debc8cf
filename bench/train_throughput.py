"""Training throughput (examples/s): the default LoRA design vs full fine-tuning, on the same batches.

    python bench/train_throughput.py [--batch-size 32] [--steps 30] [--warmup 5] [--out ...json]

Both variants run in this one process, one after the other, on the *same* batches: the training DataModule
(safe_embed.train.datamodule.SafetyDataModule, default data, seed 0) collates ``--steps + --warmup`` batches
once (length-bucketed, twins included), and each variant trains on them under a Lightning Trainer with the
default losses and sequence length. Only optimizer steps after ``--warmup`` are timed (forward, backward,
optimizer); an example is one text.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import data_dir, machine, table, write_json


def fixed_batches(batch_size: int, n: int, seed: int) -> list[dict]:
    import torch
    from safe_embed.train.datamodule import SafetyDataModule

    torch.manual_seed(seed)
    dm = SafetyDataModule(data_dir=data_dir(), batch_size=batch_size, seed=seed)
    dm.setup("fit")
    out = []
    while len(out) < n:
        for b in dm.train_dataloader():
            out.append(b)
            if len(out) == n:
                break
    return out


def run(finetune: str, batches: list[dict], warmup: int) -> dict:
    import pytorch_lightning as pl
    from safe_embed.train.module import SafetyEncoderModule
    from torch.utils.data import DataLoader

    class StepTimer(pl.Callback):
        def __init__(self) -> None:
            self.times, self.examples, self._t0 = [], [], 0.0

        def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
            self._t0 = time.perf_counter()

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
            if batch_idx >= warmup:
                self.times.append(time.perf_counter() - self._t0)
                self.examples.append(len(batch["text"]))

    module = SafetyEncoderModule(finetune=finetune, lr=1e-3 if finetune == "lora" else 5e-5)
    timer = StepTimer()
    with tempfile.TemporaryDirectory() as tmp:
        trainer = pl.Trainer(max_steps=len(batches), accelerator="cpu", devices=1, logger=False,
                             enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                             limit_val_batches=0, num_sanity_val_steps=0, callbacks=[timer], default_root_dir=tmp)
        trainer.fit(module, train_dataloaders=DataLoader(batches, batch_size=None, shuffle=False))
    return {"examples/s": sum(timer.examples) / sum(timer.times), "s/step": sum(timer.times) / len(timer.times),
            "steps": len(timer.times), "trainable": module.trainable_params, "params": module.base_params}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--steps", type=int, default=30, help="timed optimizer steps per variant (default 30)")
    ap.add_argument("--warmup", type=int, default=5, help="untimed first steps (default 5)")
    ap.add_argument("--variants", nargs="+", default=["lora", "full"], choices=["lora", "full"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    batches = fixed_batches(args.batch_size, args.steps + args.warmup, args.seed)
    rows = []
    for v in args.variants:
        print(f"{v} ...", file=sys.stderr)
        rows.append({"variant": v, **run(v, batches, args.warmup)})
    print(f"\nbatch {args.batch_size}, {args.steps} timed steps, default sequence length\n")
    print(table(rows, ["variant", "examples/s", "s/step", "trainable", "params", "steps"]))
    write_json(args.out, "train_throughput", {"batch_size": args.batch_size, "steps": args.steps,
                                              "warmup": args.warmup, "rows": rows, "machine": machine()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
