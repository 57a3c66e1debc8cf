"""LightningDataModule: batches of unsafe anchors with a positive, a safe twin and a benign look-alike each.

A batch is a dict of equal-length text lists ``anchor``, ``positive``, ``twin``, ``lookalike`` and a ``category``
tensor (-1 = unknown). Positives are another unsafe prompt of the anchor's category (``positive="category"``) or
the anchor itself (``positive="self"``, dropout noise as in SimCSE). No text occurs twice in a batch across roles
(except the anchor/positive pair in ``"self"`` mode): duplicates would be false negatives for in-batch losses.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from safe_embed.train.examples import Anchor, EvalSets, TrainingData, build_training_data
from torch.utils.data import DataLoader, Dataset

from safe_embed.errors import ConfigError

logger = logging.getLogger(__name__)

POSITIVE_MODES = ("category", "self")
MINING_MODES = ("random", "nearest")


class AnchorDataset(Dataset):
    def __init__(self, anchors: list[Anchor]) -> None:
        self.anchors = anchors

    def __len__(self) -> int:
        return len(self.anchors)

    def __getitem__(self, i: int) -> Anchor:
        return self.anchors[i]


class PairCollator:
    """Turn a list of anchors into a batch, drawing positives, twins and look-alikes without duplicate texts.

    ``seed=None`` draws a fresh seed from torch's generator per batch (reproducible under ``seed_everything``);
    an int makes every batch deterministic (validation).
    """

    def __init__(self, anchors: list[Anchor], lookalikes: list[str], categories: dict[str, int],
                 positive: str = "category", seed: int | None = None,
                 nearest: dict[str, list[str]] | None = None) -> None:
        if positive not in POSITIVE_MODES:
            raise ConfigError(f"positive must be one of {POSITIVE_MODES}, got {positive!r}.")
        self.by_category: dict[str, list[str]] = {}
        for a in anchors:
            if a.category is not None:
                self.by_category.setdefault(a.category, []).append(a.text)
        self.lookalikes = lookalikes
        self.fallback = sorted({t for a in anchors for t in a.twins})  # safe texts for anchors without twins
        self.categories = categories
        self.positive = positive
        self.seed = seed
        self.nearest = nearest or {}

    def _pick(self, rng: random.Random, pool: list[str], used: set[str], tries: int = 8) -> str | None:
        for _ in range(min(tries, len(pool))):
            t = rng.choice(pool)
            if t not in used:
                return t
        free = [t for t in pool if t not in used] if len(pool) <= 64 else []
        return rng.choice(free) if free else None

    def __call__(self, anchors: list[Anchor]) -> dict:
        seed = self.seed if self.seed is not None else int(torch.randint(0, 2**31 - 1, (1,)).item())
        rng = random.Random(seed)
        used = {a.text for a in anchors}
        out: dict[str, list] = {"anchor": [], "positive": [], "twin": [], "lookalike": [], "category": []}
        for a in anchors:
            if self.positive == "self" or a.category is None:
                pos = a.text
            else:
                pos = self._pick(rng, [t for t in self.by_category[a.category] if t != a.text], used) or a.text
            twin = self._pick(rng, list(a.twins), used) if a.twins else None
            twin = twin or self._pick(rng, self.fallback or self.lookalikes, used)
            pool = self.nearest.get(a.text) or self.lookalikes or self.fallback
            look = self._pick(rng, pool, used | {twin} if twin else used)
            if look is None and pool is not self.lookalikes and self.lookalikes:
                look = self._pick(rng, self.lookalikes, used | {twin} if twin else used)
            if twin is None or look is None:
                continue
            used.update((pos, twin, look))
            out["anchor"].append(a.text)
            out["positive"].append(pos)
            out["twin"].append(twin)
            out["lookalike"].append(look)
            out["category"].append(self.categories.get(a.category, -1) if a.category else -1)
        out["category"] = torch.tensor(out["category"], dtype=torch.long)
        return out


def mine_nearest(anchors: list[Anchor], lookalikes: list[str], encoder: str, k: int) -> dict[str, list[str]]:
    """Each anchor's ``k`` most cosine-similar benign look-alikes under the (frozen, cached) base encoder.

    Look-alikes that share an unsafe prompt's words but not its intent are the XSTest-like hard negatives.
    """
    from safe_embed.encoders import load_encoder
    from safe_embed.metrics import cosine_matrix

    if not anchors or not lookalikes:
        return {}
    enc = load_encoder(encoder)
    x = enc.encode([a.text for a in anchors] + lookalikes)
    sim = cosine_matrix(x[:len(anchors)], x[len(anchors):])
    top = np.argsort(-sim, axis=1)[:, :min(k, len(lookalikes))]
    return {a.text: [lookalikes[j] for j in row] for a, row in zip(anchors, top)}


class SafetyPairDataModule(pl.LightningDataModule):
    """Seeded splits of Do-Not-Answer (+ Safety-Contrast twins), JBB pairs, OKTest look-alikes, AdvBench.

    >>> # dm = SafetyPairDataModule(data_dir="../shared/data", batch_size=32); dm.setup("fit")
    """

    def __init__(self, data_dir: str | None = None,
                 train_sets: list[str] | None = None,
                 batch_size: int = 32, positive: str = "category", seed: int = 0,
                 split_fractions: tuple[float, float, float] = (0.7, 0.1, 0.2), jbb_val_fraction: float = 0.3,
                 max_train_anchors: int | None = None, num_workers: int = 0,
                 lookalike_mining: str = "random", mining_encoder: str = "all-MiniLM-L6-v2",
                 mining_topk: int = 5, target_swaps_per_anchor: int = 2) -> None:
        super().__init__()
        if batch_size < 2:
            raise ConfigError(f"batch_size must be >= 2 for in-batch negatives, got {batch_size}.")
        if positive not in POSITIVE_MODES:
            raise ConfigError(f"data.positive must be one of {POSITIVE_MODES}, got {positive!r}.")
        if lookalike_mining not in MINING_MODES:
            raise ConfigError(f"data.lookalike_mining must be one of {MINING_MODES}, got {lookalike_mining!r}.")
        if target_swaps_per_anchor < 1:
            raise ConfigError(f"data.target_swaps_per_anchor must be >= 1, got {target_swaps_per_anchor}.")
        if mining_topk < 1:
            raise ConfigError(f"data.mining_topk must be >= 1, got {mining_topk}.")
        self.save_hyperparameters()
        self.lookalike_mining = lookalike_mining
        self.mining_encoder = mining_encoder
        self.mining_topk = mining_topk
        self.target_swaps_per_anchor = target_swaps_per_anchor
        self.nearest: dict[str, dict[str, list[str]]] = {}
        self.data_dir = data_dir
        self.train_sets = list(train_sets or ["do-not-answer", "safety-contrast", "jbb", "oktest"])
        self.batch_size = batch_size
        self.positive = positive
        self.seed = seed
        self.split_fractions = tuple(split_fractions)
        self.jbb_val_fraction = jbb_val_fraction
        self.max_train_anchors = max_train_anchors
        self.num_workers = num_workers
        self.data: TrainingData | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.data is not None:
            return
        self.data = build_training_data(self.data_dir, self.train_sets, self.seed, self.split_fractions,
                                        self.jbb_val_fraction, self.target_swaps_per_anchor)
        train = self.data.parts["train"]
        if self.max_train_anchors is not None:
            rng = random.Random(self.seed)
            train.anchors = rng.sample(train.anchors, min(self.max_train_anchors, len(train.anchors)))
        if self.lookalike_mining == "nearest":
            self.nearest = {name: mine_nearest(part.anchors, part.lookalikes, self.mining_encoder, self.mining_topk)
                            for name, part in self.data.parts.items()}
        cats = sorted({a.category for p in self.data.parts.values() for a in p.anchors if a.category})
        self.categories = {c: i for i, c in enumerate(cats)}
        logger.info("train: %d anchors, %d look-alikes; val: %d anchors", len(train.anchors),
                    len(train.lookalikes), len(self.data.parts["val"].anchors))

    def _require(self) -> TrainingData:
        if self.data is None:
            self.setup()
        assert self.data is not None
        return self.data

    def eval_sets(self, split: str) -> EvalSets:
        return self._require().evals[split]

    def save_splits(self, run_dir: str | Path) -> Path:
        return self._require().splits.save(Path(run_dir) / "splits.json")

    def _loader(self, split: str, shuffle: bool, seed: int | None) -> DataLoader:
        part = self._require().parts[split]
        collate = PairCollator(part.anchors, part.lookalikes, self.categories, self.positive, seed=seed,
                               nearest=self.nearest.get(split))
        return DataLoader(AnchorDataset(part.anchors), batch_size=self.batch_size, shuffle=shuffle,
                          collate_fn=collate, num_workers=self.num_workers, drop_last=shuffle)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True, seed=None)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False, seed=self.seed)
