"""LightningModule: fine-tuning a plain SentenceTransformer (LoRA through PEFT, or fully) on labelled prompts.

One ``_shared_step`` for train/val/test logs ``<stage>/loss`` and each loss term. At the end of every validation
epoch the held-out measures of :mod:`safe_embed.train.validation` run on the val split: ``val/auroc`` (the
default checkpoint monitor: detection AUROC with the exported detector's scoring rule), ``val/auprc``,
``val/tpr_at_fpr_5``, ``val/fpr_at_tpr_90``, and the paper's measures when their data is in the spec
(``val/contrast``, ``val/cp@10``, ``val/jbb_pairs``, ``val/avg_cosine``).
"""

from __future__ import annotations

import logging

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from safe_embed.evaluate import AvgCosine
from safe_embed.train.encoder import (
    FINETUNE_MODES,
    LiveEncoder,
    apply_lora,
    count_parameters,
    freeze_unused,
    is_peft,
    load_plain_encoder,
    transformer_of,
)
from safe_embed.train.losses import Classification, PairLoss
from safe_embed.train.validation import detection_on, paper_measures

from safe_embed import DEFAULT_MODEL
from safe_embed.encoders.sentence_transformer import embedding_dimension
from safe_embed.errors import ConfigError

logger = logging.getLogger(__name__)

# Every linear layer of a BERT-style block: attention (query, key, value, output) and feed-forward.
DEFAULT_LORA_TARGETS = ["query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense"]


class SafetyEncoderModule(pl.LightningModule):
    """Fine-tune ``encoder`` so unsafe prompts separate from safe ones, look-alikes included.

    >>> m = SafetyEncoderModule()  # the default design: LoRA on the packaged all-MiniLM-L6-v2
    >>> m.finetune, m.trainable_params < 0.05 * m.base_params
    ('lora', True)
    """

    def __init__(self, encoder: str = DEFAULT_MODEL, finetune: str = "lora", lora_r: int = 16,
                 lora_alpha: int = 32, lora_dropout: float = 0.1, lora_targets: list[str] | None = None,
                 losses: list[PairLoss] | None = None, lr: float = 1e-3, head_lr: float = 1e-2,
                 weight_decay: float = 0.01, warmup_ratio: float = 0.1, max_seq_length: int | None = 128,
                 eval_k: int = 10, eval_batch_size: int = 64) -> None:
        super().__init__()
        if finetune not in FINETUNE_MODES:
            raise ConfigError(f"finetune must be one of {FINETUNE_MODES}, got {finetune!r}.")
        if lr <= 0 or head_lr <= 0:
            raise ConfigError(f"lr and head_lr must be > 0, got {lr} and {head_lr}.")
        if not 0.0 <= warmup_ratio < 1.0:
            raise ConfigError(f"warmup_ratio must be in [0, 1), got {warmup_ratio}.")
        self.save_hyperparameters(ignore=["losses"])
        self.encoder_ref = encoder
        self.finetune = finetune
        self.lora_targets = list(lora_targets or DEFAULT_LORA_TARGETS)
        self.encoder = load_plain_encoder(encoder, max_seq_length)
        if finetune == "lora":
            apply_lora(self.encoder, lora_r, lora_alpha, lora_dropout, self.lora_targets)
        freeze_unused(self.encoder)
        self.losses = torch.nn.ModuleList(losses if losses is not None else [Classification()])
        if not len(self.losses):
            raise ConfigError("model.losses is empty. Fix: list at least one loss (class_path/init_args).")
        dim = embedding_dimension(self.encoder)
        for loss in self.losses:
            loss.bind(dim)
        if any(loss.needs_base for loss in self.losses) and finetune != "lora":
            raise ConfigError("losses that preserve base embeddings need finetune: lora (the base is the model "
                              "with its adapter disabled).")
        self.lr, self.head_lr = lr, head_lr
        self.weight_decay = weight_decay
        self.warmup_ratio = warmup_ratio
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

    def head(self) -> Classification | None:
        """The classification loss whose head scores prompts, when the design has one."""
        return next((loss for loss in self.losses if isinstance(loss, Classification)), None)

    def _shared_step(self, batch: dict, stage: str) -> torch.Tensor:
        x = self.embed(batch["text"])
        emb = {"x": x, **{k: batch[k].to(self.device) for k in ("label", "category", "weight", "twin")}}
        if any(loss.needs_base for loss in self.losses):
            with torch.no_grad(), transformer_of(self.encoder).disable_adapter():
                emb["base_x"] = self.embed(batch["text"])
        total = x.new_zeros(())
        logs = {}
        for loss in self.losses:
            value = loss(emb)
            logs[f"{stage}/{loss.name}"] = value.detach()
            total = total + loss.weight * value
        n = len(x)
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
    def normalizer(self) -> AvgCosine:
        if self._normalizer is None:
            dm = getattr(self.trainer, "datamodule", None)
            self._normalizer = AvgCosine.from_data_dir(getattr(dm, "data_dir", None))
        return self._normalizer

    def held_out_measures(self, split: str = "val") -> dict[str, float]:
        """Detection measures and the paper's measures of the current weights on a split of the datamodule."""
        dm = self.trainer.datamodule
        enc = LiveEncoder(self.encoder, batch_size=self.eval_batch_size)
        out = detection_on(enc, dm.rows(split), dm.rows("train"), seed=dm.seed)
        paper = paper_measures(enc, dm.eval_sets(split), self.normalizer(), self.eval_k) if split != "train" else {}
        out.update(paper)
        return out

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            return
        measures = self.held_out_measures("val")
        self.log_dict({f"val/{k}": float(v) for k, v in measures.items()}, prog_bar=False, sync_dist=False)
        logger.info("epoch %d val: %s", self.current_epoch, ", ".join(f"{k}={v:.4f}" for k, v in measures.items()))

    # ---- optimization --------------------------------------------------------------------------------------------
    def configure_optimizers(self):
        enc = [p for p in self.encoder.parameters() if p.requires_grad]
        heads = [p for loss in self.losses for p in loss.parameters() if p.requires_grad]
        groups = [{"params": enc, "lr": self.lr}]
        if heads:
            groups.append({"params": heads, "lr": self.head_lr})
        opt = torch.optim.AdamW(groups, weight_decay=self.weight_decay)
        total = max(int(self.trainer.estimated_stepping_batches), 1)
        warmup = int(self.warmup_ratio * total)

        def schedule(step: int) -> float:  # linear warmup, then linear decay to zero
            if step < warmup:
                return (step + 1) / warmup
            return max(0.0, (total - step) / max(total - warmup, 1))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    @property
    def is_lora(self) -> bool:
        return is_peft(self.encoder)
