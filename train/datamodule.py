"""LightningDataModule: labelled prompts from any data spec, split once, batched with their look-alike twins.

The data is a list of sources (:mod:`safe_embed.data.sources`; default: :data:`safe_embed.data.defaults.
DEFAULT_SOURCES`) resolved by :func:`safe_embed.data.dataset.build_dataset`: seeded, stratified, group-aware
train/val/test splits, with the ``held_out`` sets and the test-only benchmarks removed, and at most
``max_train_examples`` train rows in use. ``fit`` writes the result, the train rows in use included, to
``<run>/splits.json``; ``safe-embed export --model <run>`` reads it back and indexes exactly those rows.

A batch is a dict: ``text`` (list of str), ``label`` (B,) float (1 = unsafe), ``category`` (B,) long (-1 = none),
``weight`` (B,) float and ``twin`` (B,) long, the position in the batch of a twin with the other label (-1 =
none). With ``pair_rate`` 1 every example that has a twin in the split brings one into its batch.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

import pytorch_lightning as pl
import torch
from safe_embed.train.examples import EvalSets, Example, eval_sets, make_examples
from torch.utils.data import DataLoader, Sampler

from safe_embed.data.dataset import SPLITS_FILE, SplitDataset, build_dataset
from safe_embed.data.defaults import DEFAULT_TAXONOMY, default_spec
from safe_embed.data.splits import DEFAULT_FRACTIONS
from safe_embed.errors import ConfigError

logger = logging.getLogger(__name__)


class TwinBatchSampler(Sampler[list[int]]):
    """Shuffled batches of example positions in which examples bring a twin along (``pair_rate``).

    Batches are length-bucketed (each window of 50 batches is sorted by text length, then shuffled), so padding
    stays small. ``seed=None`` draws from torch's generator each epoch (reproducible under ``seed_everything``).
    """

    def __init__(self, examples: list[Example], batch_size: int, pair_rate: float = 1.0, shuffle: bool = True,
                 seed: int | None = None, drop_last: bool = True, num_replicas: int = 1, rank: int = 0) -> None:
        self.examples = examples
        self.batch_size = batch_size
        self.pair_rate = pair_rate
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.num_replicas = num_replicas  # DDP: each rank takes every num_replicas-th batch, all ranks equally many
        self.rank = rank

    def _units(self, rng: random.Random) -> list[list[int]]:
        """The epoch's examples in order, each with the twin it brings along (a unit never splits)."""
        order = list(range(len(self.examples)))
        if self.shuffle:
            rng.shuffle(order)
        used: set[int] = set()
        units = []
        for i in order:
            if i in used:
                continue
            unit = [i]
            twins = [j for j in self.examples[i].twins if j not in used and j != i]
            if twins and self.batch_size > 1 and rng.random() < self.pair_rate:
                unit.append(rng.choice(twins))
            used.update(unit)
            units.append(unit)
        return units

    def _pack(self, units: list[list[int]]) -> list[list[int]]:
        """Consecutive batches of ``batch_size`` (a unit straddling a boundary is split), the last one partial
        unless ``drop_last``: exactly ``len(self)`` batches."""
        flat = [i for u in units for i in u]
        batches = [flat[k:k + self.batch_size] for k in range(0, len(flat), self.batch_size)]
        if batches and self.drop_last and len(batches[-1]) < self.batch_size:
            batches.pop()
        return batches

    def _batches(self) -> list[list[int]]:
        seed = self.seed if self.seed is not None else int(torch.randint(0, 2**31 - 1, (1,)).item())
        rng = random.Random(seed)
        units = self._units(rng)
        if not self.shuffle:
            return self._pack(units)
        window = 25 * self.batch_size  # length buckets: sort each window of units by length, then shuffle batches
        length = [max(len(self.examples[i].text) for i in u) for u in units]
        ordered = []
        for w in range(0, len(units), window):
            ordered += [units[k] for k in sorted(range(w, min(w + window, len(units))), key=length.__getitem__)]
        batches = self._pack(ordered)
        rng.shuffle(batches)
        return batches

    def __iter__(self):
        batches = self._batches()
        if self.num_replicas > 1:
            per_rank = len(batches) // self.num_replicas
            batches = batches[self.rank::self.num_replicas][:per_rank]
        return iter(batches)

    def __len__(self) -> int:
        n = len(self.examples)
        total = n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return total // self.num_replicas if self.num_replicas > 1 else total


class Collator:
    """Positions -> the batch dict (texts, labels, categories, weights, in-batch twin positions)."""

    def __init__(self, examples: list[Example]) -> None:
        self.examples = examples

    def __call__(self, positions: list[int]) -> dict:
        where = {p: k for k, p in enumerate(positions)}
        ex = [self.examples[p] for p in positions]
        twin = [next((where[j] for j in e.twins if j in where), -1) for e in ex]
        return {"text": [e.text for e in ex],
                "label": torch.tensor([e.label for e in ex], dtype=torch.float32),
                "category": torch.tensor([e.category for e in ex], dtype=torch.long),
                "weight": torch.tensor([e.weight for e in ex], dtype=torch.float32),
                "twin": torch.tensor(twin, dtype=torch.long)}


class SafetyDataModule(pl.LightningDataModule):
    """Train/val/test splits of any labelled sources, batched with twins.

    >>> dm = SafetyDataModule(sources=[{"name": "alpaca"}, {"name": "advbench"}], batch_size=16)
    >>> dm.spec.held_out
    ['jbb']
    """

    def __init__(self, sources: list[dict] | None = None, held_out: list[str] | None = None,
                 taxonomy: str | None = DEFAULT_TAXONOMY, require_mapped: bool = False,
                 data_dir: str | None = None, seed: int = 0,
                 fractions: tuple[float, float, float] = DEFAULT_FRACTIONS, batch_size: int = 32,
                 pair_rate: float = 1.0, balance_classes: bool = True, max_train_examples: int | None = None,
                 num_workers: int = 0, split_fractions: tuple[float, float, float] | None = None) -> None:
        super().__init__()
        if split_fractions is not None:
            raise ConfigError(f"data.split_fractions is now data.fractions (the name detector configs use). Fix: "
                              f"write `fractions: {list(split_fractions)}` under data.")
        if batch_size < 2:
            raise ConfigError(f"data.batch_size must be >= 2 for in-batch losses, got {batch_size}.")
        if not 0.0 <= pair_rate <= 1.0:
            raise ConfigError(f"data.pair_rate must be in [0, 1], got {pair_rate}.")
        if max_train_examples is not None and max_train_examples < 2:
            raise ConfigError(f"data.max_train_examples must be >= 2, got {max_train_examples}.")
        self.save_hyperparameters()
        self.spec = default_spec({"sources": sources, "held_out": held_out, "seed": seed, "fractions": fractions,
                                  "taxonomy": taxonomy, "require_mapped": require_mapped})
        self.data_dir = data_dir
        self.seed = seed
        self.batch_size = batch_size
        self.pair_rate = pair_rate
        self.balance_classes = balance_classes
        self.max_train_examples = max_train_examples
        self.num_workers = num_workers
        self.dataset: SplitDataset | None = None
        self.examples: dict[str, list[Example]] = {}
        self.categories: dict[str, int] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.dataset is not None:
            return
        self.dataset = build_dataset(self.spec, self.data_dir).limit_train(self.max_train_examples, self.seed)
        train = self.dataset.trained_split()
        labels = {r.label for r in train}
        if labels != {"safe", "unsafe"}:
            raise ConfigError(f"the train split has only {sorted(labels)} prompts; training needs both labels. "
                              "Fix: add sources with the other label.")
        self.categories = {c: i for i, c in enumerate(sorted({r.category for r in train
                                                             if r.label == "unsafe" and r.category}))}
        self.examples = {"train": make_examples(train, self.categories, self.balance_classes),
                         "val": make_examples(self.dataset.split("val"), self.categories, self.balance_classes)}
        logger.info("train: %d examples (%d unsafe) from %s; val: %d", len(train),
                    sum(r.label == "unsafe" for r in train), ", ".join(self.dataset.sources("train")),
                    len(self.examples["val"]))

    def _require(self) -> SplitDataset:
        if self.dataset is None:
            self.setup()
        assert self.dataset is not None
        return self.dataset

    def rows(self, split: str):
        """The rows of a split (train: the rows in use, after ``max_train_examples``)."""
        ds = self._require()
        return ds.trained_split() if split == "train" else ds.split(split)

    def eval_sets(self, split: str) -> EvalSets:
        return eval_sets(self._require(), split)

    def save_splits(self, run_dir: str | Path) -> Path:
        return self._require().save(Path(run_dir) / SPLITS_FILE)

    def _loader(self, split: str, shuffle: bool, seed: int | None) -> DataLoader:
        self._require()
        ex = self.examples[split]
        if not ex:
            raise ConfigError(f"the {split} split is empty. Fix: give data.fractions a non-zero {split} share "
                              "or more data.")
        trainer = getattr(self, "trainer", None)
        replicas, rank = (trainer.world_size, trainer.global_rank) if trainer is not None and shuffle else (1, 0)
        sampler = TwinBatchSampler(ex, self.batch_size, self.pair_rate, shuffle=shuffle, seed=seed,
                                   drop_last=shuffle and len(ex) >= self.batch_size, num_replicas=replicas, rank=rank)
        return DataLoader(list(range(len(ex))), batch_sampler=sampler, collate_fn=Collator(ex),
                          num_workers=self.num_workers)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True, seed=None)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False, seed=self.seed)
