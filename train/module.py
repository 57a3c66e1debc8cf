"""LightningModule: contrastive fine-tuning of a plain SentenceTransformer, LoRA (PEFT) or full.

One ``_shared_step`` for train/val/test logs ``<stage>/loss`` and each weighted loss term. At the end of every
validation epoch the Safe-Embed measures run on the held-out val split (never XSTest), each normalized by the
model's own avg cosine on the BeaverTails sample: ``val/contrast`` (Do-Not-Answer val Safety-Contrast mean),
``val/jbb_pairs`` (JBB val harmful/benign pair mean; only when JBB is a training set, else all of JBB is a test
set), ``val/cp@10``, ``val/avg_cosine``, ``val/lookalike`` (mean max normalized cosine of held-out OKTest prompts
to unsafe val prompts) and ``val/select`` (mean of contrast, jbb_pairs and lookalike; lower is better; the default
checkpoint monitor).
"""

from __future__ import annotations

import logging

import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from safe_embed.evaluate import AvgCosine, CategoricalPurity, SafetyChallenging, SafetyContrast
from safe_embed.train.encoder import (
    FINETUNE_MODES,
    LiveEncoder,
    apply_lora,
    count_parameters,
    freeze_unused,
    load_plain_encoder,
)
from safe_embed.train.losses import InfoNCE, PairLoss, TwinMargin, Uniformity

from safe_embed.encoders.sentence_transformer import embedding_dimension
from safe_embed.errors import ConfigError
from safe_embed.metrics import cosine_matrix, normalize_cosine

logger = logging.getLogger(__name__)

ROLES = ("anchor", "positive", "twin", "lookalike")


class ContrastiveEncoderModule(pl.LightningModule):
    """Fine-tune ``encoder`` so unsafe prompts move away from their safe twins and cluster by harm category.

    >>> # m = ContrastiveEncoderModule("all-MiniLM-L6-v2", finetune="lora", lora_r=8)
    """

    def __init__(self, encoder: str = "all-MiniLM-L6-v2", finetune: str = "lora", lora_r: int = 8,
                 lora_alpha: int = 16, lora_dropout: float = 0.1,
                 lora_targets: list[str] | None = None, losses: list[PairLoss] | None = None,
                 lr: float = 2e-4, weight_decay: float = 0.01, warmup_steps: int = 0,
                 max_seq_length: int | None = 128, eval_k: int = 10, eval_batch_size: int = 64) -> None:
        super().__init__()
        if finetune not in FINETUNE_MODES:
            raise ConfigError(f"finetune must be one of {FINETUNE_MODES}, got {finetune!r}.")
        if lr <= 0:
            raise ConfigError(f"lr must be > 0, got {lr}.")
        self.save_hyperparameters(ignore=["losses"])
        self.encoder_ref = encoder
        self.finetune = finetune
        self.lora_targets = list(lora_targets or ["query", "key", "value", "attention.output.dense"])
        self.encoder = load_plain_encoder(encoder, max_seq_length)
        if finetune == "lora":
            apply_lora(self.encoder, lora_r, lora_alpha, lora_dropout, self.lora_targets)
        freeze_unused(self.encoder)
        self.losses = torch.nn.ModuleList(losses if losses is not None else
                                          [InfoNCE(0.05), TwinMargin(0.1), Uniformity(weight=0.1)])
        if not len(self.losses):
            raise ConfigError("model.losses is empty. Fix: list at least one loss (class_path/init_args).")
        for loss in self.losses:
            if hasattr(loss, "bind"):
                loss.bind(embedding_dimension(self.encoder))  # losses with parameters sized by the encoder
        self.lr = lr
        self.weight_decay = weight_decay
        self.warmup_steps = warmup_steps
        self.eval_k = eval_k
        self.eval_batch_size = eval_batch_size
        self._normalizer: AvgCosine | None = None
        trainable, base = count_parameters(self.encoder)
        self.trainable_params, self.base_params = trainable, base
        logger.info("%s (%s): %d trainable of %d parameters (%.3f%%)", encoder, finetune, trainable, base,
                    100.0 * trainable / base)

    # ---- forward ------------------------------------------------------------------------------------------------
    def embed(self, texts: list[str]) -> torch.Tensor:
        """L2-normalized sentence embeddings (n, d) with gradients."""
        features = self.encoder.preprocess(texts)
        features = {k: v.to(self.device) if torch.is_tensor(v) else v for k, v in features.items()}
        return F.normalize(self.encoder(features)["sentence_embedding"], dim=-1)

    def base_embed(self, batch: dict, roles: list[str]) -> dict[str, torch.Tensor]:
        """Embeddings of ``roles`` by the frozen base model (LoRA adapter disabled), as ``base_<role>``."""
        from safe_embed.train.encoder import is_peft, transformer_of

        if not is_peft(self.encoder):
            raise ConfigError("losses that preserve base embeddings need finetune: lora (the base is the model "
                              "with its adapter disabled).")
        n = len(batch["anchor"])
        with torch.no_grad(), transformer_of(self.encoder).disable_adapter():
            x = self.embed([t for r in roles for t in batch[r]])
        return {f"base_{r}": x[i * n:(i + 1) * n] for i, r in enumerate(roles)}

    def _shared_step(self, batch: dict, stage: str) -> torch.Tensor:
        n = len(batch["anchor"])
        roles = [r for r in ROLES if any(r in loss.roles for loss in self.losses) or r in ("anchor", "twin")]
        x = self.embed([t for r in roles for t in batch[r]])
        emb = {r: x[i * n:(i + 1) * n] for i, r in enumerate(roles)}
        emb["category"] = batch["category"].to(self.device)
        base_roles = sorted({r for loss in self.losses for r in loss.base_roles})
        if base_roles:
            emb.update(self.base_embed(batch, base_roles))
        total = x.new_zeros(())
        logs = {}
        for loss in self.losses:
            value = loss(emb)
            logs[f"{stage}/{loss.name}"] = value.detach()
            total = total + loss.weight * value
        with torch.no_grad():
            logs[f"{stage}/twin_cos"] = (emb["anchor"] * emb["twin"]).sum(-1).mean()
            a = emb["anchor"]
            logs[f"{stage}/anchor_cos"] = ((a @ a.T).sum() - n) / max(n * (n - 1), 1)
        self.log_dict(logs, batch_size=n, prog_bar=False, sync_dist=stage != "train")
        self.log(f"{stage}/loss", total.detach(), batch_size=n, prog_bar=True, sync_dist=stage != "train")
        return total

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self._shared_step(batch, "train")

    def validation_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self._shared_step(batch, "val")

    def test_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self._shared_step(batch, "test")

    def on_train_epoch_start(self) -> None:
        self.encoder.train()  # a SentenceTransformer may come back from encode() in eval mode

    # ---- held-out measures ---------------------------------------------------------------------------------------
    def _data_dir(self):
        dm = getattr(self.trainer, "datamodule", None)
        return getattr(dm, "data_dir", None)

    def normalizer(self) -> AvgCosine:
        if self._normalizer is None:
            self._normalizer = AvgCosine.from_data_dir(self._data_dir())
        return self._normalizer

    def held_out_measures(self, split: str = "val") -> dict[str, float]:
        """The Safe-Embed measures of the current weights on a held-out split of the datamodule."""
        dm = self.trainer.datamodule
        sets = dm.eval_sets(split)
        enc = LiveEncoder(self.encoder, batch_size=self.eval_batch_size)
        avg = self.normalizer().value(enc)
        out = {"avg_cosine": avg}
        out["contrast"] = SafetyContrast(sets.contrast).compute(enc, avg).mean
        k = min(self.eval_k, len(sets.taxonomy) - 1)
        out[f"cp@{self.eval_k}"] = CategoricalPurity(sets.taxonomy, k=k).compute(enc).mean
        parts = [out["contrast"]]  # select: mean of the held-out twin measures (lower is better)
        if sets.jbb_pairs:
            out["jbb_pairs"] = SafetyChallenging(sets.jbb_pairs).compute(enc, avg).mean
            parts.append(out["jbb_pairs"])
        if sets.lookalikes:
            unsafe = [p.text for p in sets.taxonomy] + [p.unsafe for p in sets.jbb_pairs]
            x = enc.encode(sets.lookalikes + unsafe)
            sim = cosine_matrix(x[:len(sets.lookalikes)], x[len(sets.lookalikes):]).max(axis=1)
            out["lookalike"] = float(np.mean(normalize_cosine(sim, avg)))
            parts.append(out["lookalike"])
        out["select"] = float(np.mean(parts))
        return out

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            return
        measures = self.held_out_measures("val")
        self.log_dict({f"val/{k}": float(v) for k, v in measures.items()}, prog_bar=False, sync_dist=False)
        logger.info("epoch %d val: %s", self.current_epoch,
                    ", ".join(f"{k}={v:.4f}" for k, v in measures.items()))

    # ---- optimization --------------------------------------------------------------------------------------------
    def configure_optimizers(self):
        params = [p for p in self.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=self.lr, weight_decay=self.weight_decay)
        if not self.warmup_steps:
            return opt
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / self.warmup_steps))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
