"""Evaluation sets for a detector: a registered set (whole, or one of its splits), an alias, or a file.

``NAME`` is the whole set, ``NAME:SPLIT`` one split of it as the detector's data assigned it (rows the detector's
run recorded keep their recorded split; the rest are split by the same rule, seed and fractions). Aliases:
``dna-test`` (Do-Not-Answer and its Safety-Contrast edits, test split), ``oktest-heldout`` (OKTest_heldout),
``jbb-heldout`` (JBB's test split) and ``beavertails`` (BeaverTails 30k_test, one row per prompt). A file or a
source spec mapping (``{path: ..., text: ..., label: ...}``) is read whole.

Two sets are generated (:mod:`safe_embed.data.frames`), test split by default: ``wrapped`` (every unsafe request of
:data:`REQUEST_SETS` in a jailbreak template, and its safe twin in the same template; the templates of a split are
the templates the training data of the same seed put there, so ``wrapped:test`` holds only unseen templates) and
``prefaced`` (the same requests after a benign preface of ordinary prompts or prose).
"""

from __future__ import annotations

import os

from safe_embed.data.dataset import Assigned, DataSpec, build_dataset
from safe_embed.data.frames import is_alone
from safe_embed.data.labelled import NAMED_SETS, TEST_ONLY, load_named
from safe_embed.data.schemas import SPLITS, LabelledPrompt
from safe_embed.data.sources import SourceSpec
from safe_embed.errors import ConfigError

ALIASES = {
    "dna-test": (("do-not-answer", "safety-contrast"), "test"),
    "oktest-heldout": (("oktest",), "test"),
    "jbb-heldout": (("jbb",), "test"),
    "beavertails": (("beavertails-prompts",), None),
}

GENERATED_SETS = {"wrapped": "template-swap", "prefaced": "preface-swap"}
REQUEST_SETS = ("advbench", "do-not-answer", "safety-tuned-llamas", "alpaca", "oktest")  # requests of those sets


def parse_eval_name(name: str) -> tuple[str, str | None]:
    """``NAME[:SPLIT]`` -> (name, split or None).

    >>> parse_eval_name("guardreasoner-train:test"), parse_eval_name("xstest")
    (('guardreasoner-train', 'test'), ('xstest', None))
    """
    base, sep, split = str(name).rpartition(":")
    if sep and split in SPLITS and (base in NAMED_SETS or base in GENERATED_SETS):
        return base, split
    return str(name), None


def load_eval_set(name: str | dict, split: str | None = None, seed: int = 0,
                  fractions: tuple[float, float, float] = (0.7, 0.1, 0.2),
                  data_dir: str | os.PathLike[str] | None = None, assigned: Assigned | None = None,
                  ) -> list[LabelledPrompt]:
    """The prompts of one evaluation set (see the module docstring)."""
    if isinstance(name, dict):
        if split is not None:
            raise ConfigError("a source spec given as an evaluation set is read whole; drop the split.")
        return SourceSpec.parse(name).load(data_dir)
    name, named_split = parse_eval_name(name)
    split = split or named_split
    if name in ALIASES:
        names, alias_split = ALIASES[name]
        if split is not None and alias_split is not None and split != alias_split:
            raise ConfigError(f"{name} is the {alias_split} split already; drop the split.")
        split = alias_split
    else:
        names = (name,)
    if name in GENERATED_SETS:
        return _generated(GENERATED_SETS[name], split or "test", seed, fractions, data_dir, assigned)
    if split in (None, "all"):
        if len(names) == 1 and names[0] in NAMED_SETS:
            return load_named(names[0], data_dir)
        return SourceSpec.parse(names[0]).load(data_dir)
    if split not in SPLITS:
        raise ConfigError(f"split must be one of {list(SPLITS)}, got {split!r}.")
    bad = [n for n in names if n in TEST_ONLY]
    if bad:
        raise ConfigError(f"{bad[0]} is a test set with no splits. Fix: evaluate it whole (drop the split).")
    spec = DataSpec(sources=[{"name": n} if n in NAMED_SETS else {"path": n} for n in names], held_out=[],
                    seed=seed, fractions=fractions)
    return build_dataset(spec, data_dir, assigned).split(split)


def _generated(source: str, split: str, seed: int, fractions, data_dir, assigned: Assigned | None,
               ) -> list[LabelledPrompt]:
    """One split of a generated twin set over the requests of :data:`REQUEST_SETS` (every request paired)."""
    if split not in SPLITS:
        raise ConfigError(f"split must be one of {list(SPLITS)}, got {split!r}.")
    spec = DataSpec(sources=[*({"name": n} for n in REQUEST_SETS), {"name": source, "sample": 10**6}],
                    held_out=[], seed=seed, fractions=fractions)
    return [r for r in build_dataset(spec, data_dir, assigned).split(split) if r.source == source and not is_alone(r)]
