"""Training throughput (examples/s): the LoRA path vs full fine-tuning vs sentence-transformers' own trainer.

    python bench/train_throughput.py [--batch-size 32] [--steps 30] [--warmup 5] [--out ...json]

All variants run in this one process, one after the other, on the *same* batches: the training DataModule
(safe_embed.train.SafetyPairDataModule, seed 0) collates ``--steps + --warmup`` batches of (anchor, positive,
safe twin, benign look-alike) once, and every variant trains on them with the same batch size, sequence length
(128) and the same loss: InfoNCE at temperature 0.05 over positives + twins + look-alikes, which is exactly
sentence-transformers' MultipleNegativesRankingLoss (scale 20) on (anchor, positive, negative_1, negative_2)
columns. Variants:
  lora       safe_embed.train.ContrastiveEncoderModule(finetune="lora", r=8 on query/key/value/attention out)
             under a Lightning Trainer (the project's path);
  full       the same module with finetune="full";
  st         SentenceTransformerTrainer + MultipleNegativesRankingLoss (full fine-tuning, its default);
  st-lora    the same with a PEFT LoRA adapter of the same config (model.add_adapter), when it works.
Only optimizer steps after ``--warmup`` are timed (forward, backward, optimizer); an example = one anchor row
(4 texts encoded). Needs the `datasets` package for the sentence-transformers trainer (pip install datasets).
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

ROLES = ("anchor", "positive", "twin", "lookalike")
LORA = {"r": 8, "alpha": 16, "dropout": 0.1, "targets": ["query", "key", "value", "attention.output.dense"]}


def fixed_batches(batch_size: int, n: int, seed: int) -> list[dict]:
    import torch
    from safe_embed.train.datamodule import SafetyPairDataModule

    torch.manual_seed(seed)
    dm = SafetyPairDataModule(data_dir=data_dir(), batch_size=batch_size, seed=seed)
    dm.setup("fit")
    out = []
    while len(out) < n:
        for b in dm.train_dataloader():
            if len(b["anchor"]) == batch_size:
                out.append(b)
            if len(out) == n:
                break
    return out


def run_lightning(finetune: str, batches: list[dict], warmup: int, lr: float) -> dict:
    import pytorch_lightning as pl
    from safe_embed.train.losses import InfoNCE
    from safe_embed.train.module import ContrastiveEncoderModule
    from torch.utils.data import DataLoader

    class StepTimer(pl.Callback):
        def __init__(self) -> None:
            self.times, self.examples, self._t0 = [], [], 0.0

        def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
            self._t0 = time.perf_counter()

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
            if batch_idx >= warmup:
                self.times.append(time.perf_counter() - self._t0)
                self.examples.append(len(batch["anchor"]))

    module = ContrastiveEncoderModule("all-MiniLM-L6-v2", finetune=finetune, lora_r=LORA["r"],
                                      lora_alpha=LORA["alpha"], lora_dropout=LORA["dropout"],
                                      lora_targets=LORA["targets"], losses=[InfoNCE(0.05)], lr=lr,
                                      max_seq_length=128)
    timer = StepTimer()
    with tempfile.TemporaryDirectory() as tmp:
        trainer = pl.Trainer(max_steps=len(batches), accelerator="cpu", devices=1, logger=False,
                             enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                             limit_val_batches=0, num_sanity_val_steps=0, callbacks=[timer], default_root_dir=tmp)
        trainer.fit(module, train_dataloaders=DataLoader(batches, batch_size=None, shuffle=False))
    return {"examples/s": sum(timer.examples) / sum(timer.times), "s/step": sum(timer.times) / len(timer.times),
            "steps": len(timer.times), "trainable": module.trainable_params, "params": module.base_params}


def run_st(batches: list[dict], warmup: int, lr: float, lora: bool) -> dict:
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer
    from transformers import TrainerCallback

    try:  # sentence-transformers >= 6
        from sentence_transformers.sentence_transformer import SentenceTransformerTrainingArguments
        from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    except ImportError:
        from sentence_transformers import SentenceTransformerTrainingArguments
        from sentence_transformers.losses import MultipleNegativesRankingLoss

    from safe_embed.encoders.packaged import minilm_dir

    bs = len(batches[0]["anchor"])
    rows = {r: [t for b in batches for t in b[r]] for r in ROLES}
    ds = Dataset.from_dict(rows)
    model = SentenceTransformer(str(minilm_dir()), device="cpu")
    model.max_seq_length = 128
    if lora:
        from peft import LoraConfig, TaskType

        model.add_adapter(LoraConfig(task_type=TaskType.FEATURE_EXTRACTION, r=LORA["r"], lora_alpha=LORA["alpha"],
                                     lora_dropout=LORA["dropout"], target_modules=LORA["targets"]))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.times, self._t0 = [], 0.0

        def on_step_begin(self, args, state, control, **kw):
            self._t0 = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            if state.global_step > warmup:
                self.times.append(time.perf_counter() - self._t0)

    timer = StepTimer()
    with tempfile.TemporaryDirectory() as tmp:
        args = SentenceTransformerTrainingArguments(
            output_dir=tmp, per_device_train_batch_size=bs, max_steps=len(batches), learning_rate=lr,
            warmup_steps=0, save_strategy="no", report_to="none", logging_steps=10_000, use_cpu=True,
            dataloader_drop_last=True, seed=0, disable_tqdm=True)
        trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=ds,
                                             loss=MultipleNegativesRankingLoss(model, scale=20.0), callbacks=[timer])
        trainer.train()
    return {"examples/s": bs * len(timer.times) / sum(timer.times), "s/step": sum(timer.times) / len(timer.times),
            "steps": len(timer.times), "trainable": trainable, "params": total}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--steps", type=int, default=30, help="timed optimizer steps per variant (default 30)")
    ap.add_argument("--warmup", type=int, default=5, help="untimed first steps (default 5)")
    ap.add_argument("--variants", nargs="+", default=["lora", "full", "st", "st-lora"])
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    logging.getLogger("lightning").setLevel(logging.WARNING)

    batches = fixed_batches(args.batch_size, args.steps + args.warmup, args.seed)
    rows = []
    for v in args.variants:
        print(f"{v} ...", file=sys.stderr)
        try:
            if v in ("lora", "full"):
                r = run_lightning(v, batches, args.warmup, args.lr)
            elif v in ("st", "st-lora"):
                r = run_st(batches, args.warmup, args.lr, lora=v == "st-lora")
            else:
                sys.exit(f"error: unknown variant {v!r}")
        except Exception as e:  # noqa: BLE001 - report a variant that cannot run, keep the others
            r = {"error": f"{type(e).__name__}: {e}"[:300]}
            print(f"{v} failed: {r['error']}", file=sys.stderr)
        rows.append({"variant": v, **r})
    st = next((r for r in rows if r["variant"] == "st" and "examples/s" in r), None)
    for r in rows:
        if st and "examples/s" in r:
            r["vs st"] = r["examples/s"] / st["examples/s"]
    print(f"\nbatch {args.batch_size}, {args.steps} timed steps, 4 texts per example, max_seq_length 128\n")
    print(table(rows, ["variant", "examples/s", "s/step", "vs st", "trainable", "params", "steps", "error"]))
    write_json(args.out, "train_throughput", {"batch_size": args.batch_size, "steps": args.steps,
                                              "warmup": args.warmup, "rows": rows, "machine": machine()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
