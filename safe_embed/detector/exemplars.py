"""Exemplar sets: which labelled prompts a detector indexes, and which it calibrates on.

An exemplar config (YAML, see ``configs/detector/default.yaml``) lists sources for ``unsafe``, ``safe`` and
``calibration``; each source is ``{dataset: NAME, split: train|val|test|all, label: safe|unsafe}`` or
``{file: PATH}``. Splits are the training issue's (:func:`safe_embed.train.splits.make_splits`, called as training calls it, so
a detector over a tuned encoder never calibrates or tests on what the encoder trained on):

* ``do-not-answer`` / ``safety-contrast``: train/val/test by Do-Not-Answer id (stratified by harm category);
* ``jbb``: train/val by pair (val = the held-out 30%); ``oktest``: train = OKTest, val = OKTest_heldout.

XSTest, XSTest-aug and BeaverTails are test sets: a config naming them is refused, and their texts are removed
from every set, as are the held-out parts (``HELDOUT``) of the split sets. ``held_out: [NAME, ...]`` makes whole
named sets test data too (the default config holds out JBB, whose harmful behaviours AdvBench partly repeats).
"""

from __future__ import annotations

import json
import logging
import os
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from safe_embed.data import load_do_not_answer, load_labelled
from safe_embed.data.schemas import LabelledPrompt
from safe_embed.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

TEST_ONLY = ("xstest", "xstest-aug", "beavertails", "beavertails-prompts")  # public benchmarks: evaluation only
TARGET_SWAP = "target-swap"  # rule-made safe twins of the unsafe prompts (safe_embed.data.augment)
SPLIT_SETS = ("do-not-answer", "safety-contrast", "jbb", "oktest")
HELDOUT = {"do-not-answer": "test", "safety-contrast": "test", "jbb": "val", "oktest": "val"}
SPLIT_FRACTIONS = (0.7, 0.1, 0.2)  # Do-Not-Answer train/val/test, as in safe_embed.train.examples
JBB_VAL_FRACTION = 0.3


@dataclass(frozen=True)
class Exemplar:
    """One indexed prompt. ``id`` is unique within a detector (``source:original_id``)."""

    id: str
    text: str
    label: str
    category: str | None = None
    source: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)


@dataclass
class ExemplarSets:
    """Unsafe and safe exemplars, the calibration prompts, and where they came from."""

    unsafe: list[Exemplar]
    safe: list[Exemplar]
    calibration: list[LabelledPrompt]
    provenance: dict = field(default_factory=dict)


def norm_text(text: str) -> str:
    """Case- and whitespace-insensitive key used to find duplicates across sets."""
    return " ".join(text.lower().split())


def select(dataset: str, split: str = "all", label: str | None = None, seed: int = 0,
           data_dir: str | os.PathLike[str] | None = None, evaluation: bool = False) -> list[LabelledPrompt]:
    """Labelled prompts of a named set (or file), restricted to a split and a label.

    Test-only sets (XSTest, XSTest-aug) are refused unless ``evaluation`` is true.
    """
    if dataset in TEST_ONLY and not evaluation:
        raise ConfigError(f"{dataset!r} is a test set and is never used as exemplars or calibration data. "
                          "Fix: remove it from the exemplar config.")
    if split not in ("all", "train", "val", "test"):
        raise ConfigError(f"split must be all/train/val/test, got {split!r}.")
    if dataset == TARGET_SWAP:
        prompts = _target_swaps(split, seed, data_dir)
        return [p for p in prompts if label is None or p.label == label]
    prompts = load_labelled(dataset, data_dir)
    if split != "all":
        if dataset not in SPLIT_SETS:
            raise ConfigError(f"dataset {dataset!r} has no splits (only {list(SPLIT_SETS)} do). Fix: use split: all.")
        prompts = _split(dataset, prompts, split, seed, data_dir)
    if label is not None:
        prompts = [p for p in prompts if p.label == label]
    return prompts


def _target_swaps(split: str, seed: int, data_dir) -> list[LabelledPrompt]:
    """Safe twins made by swapping the human target of the unsafe prompts of ``split`` for a harmless object.

    The unsafe prompts are Do-Not-Answer and JBB's of that split (plus AdvBench, which has no split, for "train"
    and "all"), so a detector's safe twins come from the same prompts as its unsafe exemplars.
    """
    from safe_embed.data.augment import target_swaps

    if split == "test":
        raise ConfigError("target-swap is built from training material; use split: train (or val/all).")
    unsafe = [p for name in ("do-not-answer", "jbb") for p in select(name, split, "unsafe", seed, data_dir)]
    if split in ("train", "all"):
        unsafe += select("advbench", "all", "unsafe", seed, data_dir)
    rng = random.Random(seed)
    out = []
    for p in unsafe:
        for j, text in enumerate(target_swaps(p.text, rng, n=2)):
            out.append(LabelledPrompt(text=text, label="safe", category=None, pair_id=p.pair_id,
                                      type="target-swap", id=f"{p.source}:{p.id}:{j}", source=TARGET_SWAP))
    return out


def _splits(seed: int, data_dir):
    """The training issue's splits, built exactly as ``safe_embed.train.examples.build_training_data`` does."""
    from safe_embed.train.splits import make_splits  # stdlib only; no Lightning

    dna = load_do_not_answer(data_dir)
    jbb = load_labelled("jbb", data_dir)
    cats: dict[str, str] = {}
    labels: dict[str, set[str]] = {}
    for p in jbb:
        cats[str(p.pair_id)] = p.category or "unknown"
        labels.setdefault(str(p.pair_id), set()).add(p.label)
    jbb_ids = sorted((i for i, labs in labels.items() if {"safe", "unsafe"} <= labs), key=int)
    return make_splits([p.id for p in dna], [p.category for p in dna], seed, SPLIT_FRACTIONS, jbb_ids=jbb_ids,
                       jbb_categories=[cats[i] for i in jbb_ids], jbb_val_fraction=JBB_VAL_FRACTION)


def _split(dataset: str, prompts: list[LabelledPrompt], split: str, seed: int, data_dir) -> list[LabelledPrompt]:
    if dataset == "oktest":
        train = [p for p in prompts if p.type != "OKTest_heldout"]
        if split == "train":
            return train
        if split == "val":
            seen = {p.text for p in train}
            return [p for p in prompts if p.type == "OKTest_heldout" and p.text not in seen]
        raise ConfigError("oktest has splits train (OKTest) and val (OKTest_heldout) only.")
    sp = _splits(seed, data_dir)
    if dataset == "jbb":
        if split not in sp.jbb:
            raise ConfigError(f"jbb has splits {sorted(sp.jbb)} only (its val part is the held-out one).")
        ids = {str(i) for i in sp.jbb[split]}
    else:
        ids = {str(i) for i in sp.do_not_answer[split]}
    return [p for p in prompts if str(p.pair_id) in ids]


def _load_source(src: dict, seed: int, data_dir, base: Path | None) -> tuple[list[LabelledPrompt], str]:
    if not isinstance(src, dict) or ("dataset" in src) == ("file" in src):
        raise ConfigError(f"exemplar source must be a mapping with 'dataset' or 'file', got {src!r}.")
    unknown = set(src) - {"dataset", "file", "split", "label"}
    if unknown:
        raise ConfigError(f"unknown key(s) {sorted(unknown)} in exemplar source {src!r}; allowed: dataset, file, "
                          "split, label.")
    if "file" in src:
        path = Path(src["file"])
        if base is not None and not path.is_absolute():
            path = base / path
        prompts = load_labelled(str(path))
        if src.get("label"):
            prompts = [p for p in prompts if p.label == src["label"]]
        return prompts, f"file:{path}"
    prompts = select(src["dataset"], src.get("split", "all"), src.get("label"), seed, data_dir)
    return prompts, f"{src['dataset']}:{src.get('split', 'all')}" + (f":{src['label']}" if src.get("label") else "")


def _protected_texts(seed: int, data_dir, held_out: list[str] = ()) -> set[str]:
    """Texts that must never be exemplars: the test-only sets, the held-out parts of split sets, and every text of
    the sets a config names under ``held_out``."""
    out: set[str] = set()
    for name in held_out:
        out |= {norm_text(p.text) for p in select(name, seed=seed, data_dir=data_dir, evaluation=True)}
    for name in (*TEST_ONLY, *HELDOUT):
        try:
            prompts = load_labelled(name, data_dir)
        except DataError as e:
            logger.warning("test set %s unavailable (%s); exemplars are not checked against it", name, e)
            continue
        out |= {norm_text(p.text) for p in (_split(name, prompts, HELDOUT[name], seed, data_dir)
                                             if name in HELDOUT else prompts)}
    return out


def load_exemplar_config(config: dict, seed: int | None = None, data_dir: str | os.PathLike[str] | None = None,
                         base: Path | None = None) -> ExemplarSets:
    """Resolve an exemplar config mapping into :class:`ExemplarSets` (deduplicated, test texts removed)."""
    unknown = set(config) - {"seed", "unsafe", "safe", "calibration", "calibration_fraction", "held_out"}
    if unknown:
        raise ConfigError(f"unknown key(s) {sorted(unknown)} in exemplar config; allowed: seed, unsafe, safe, "
                          "calibration, calibration_fraction, held_out.")
    held_out = config.get("held_out") or []
    if not isinstance(held_out, list) or not all(isinstance(h, str) for h in held_out):
        raise ConfigError(f"held_out must be a list of dataset names, got {held_out!r}.")
    seed = int(config.get("seed", 0) if seed is None else seed)
    if not config.get("unsafe") or not config.get("safe"):
        raise ConfigError("an exemplar config needs non-empty 'unsafe' and 'safe' source lists.")
    named = {src.get("dataset") for label in ("unsafe", "safe", "calibration") for src in config.get(label) or []}
    clash = sorted(set(held_out) & named)
    if clash:
        raise ConfigError(f"{clash} is both held out and an exemplar/calibration source. Fix: drop it from one.")
    protected = _protected_texts(seed, data_dir, held_out)
    prov: dict = {"seed": seed, "sources": [], "held_out": list(held_out), "dropped_test_overlap": 0,
                  "dropped_duplicates": 0}
    calib: list[LabelledPrompt] = []
    for src in config.get("calibration") or []:
        prompts, name = _load_source(src, seed, data_dir, base)
        kept = [p for p in prompts if norm_text(p.text) not in protected]
        prov["dropped_test_overlap"] += len(prompts) - len(kept)
        prov["sources"].append({"use": "calibration", "source": name, "n": len(kept)})
        calib.extend(kept)
    pools: dict[str, list[LabelledPrompt]] = {"unsafe": [], "safe": []}
    for label in ("unsafe", "safe"):
        for src in config[label]:
            prompts, name = _load_source({**src, "label": src.get("label", label)}, seed, data_dir, base)
            prov["sources"].append({"use": f"exemplar:{label}", "source": name, "n": len(prompts)})
            pools[label].extend(prompts)
    if not calib:
        frac = float(config.get("calibration_fraction", 0.2))
        calib = _hold_out(pools, frac, seed)
        prov["sources"].append({"use": "calibration", "source": f"held-out {frac:.0%} of the exemplar sources",
                                "n": len(calib)})
    blocked = protected | {norm_text(p.text) for p in calib}
    sets = {}
    for label, prompts in pools.items():
        seen: set[str] = set()
        out = []
        for p in prompts:
            key = norm_text(p.text)
            if key in blocked:
                prov["dropped_test_overlap"] += 1
            elif key in seen or not key:
                prov["dropped_duplicates"] += 1
            else:
                seen.add(key)
                out.append(Exemplar(id=f"{p.source}:{p.id if p.id is not None else len(out)}", text=p.text,
                                    label=label, category=p.category, source=p.source))
        sets[label] = out
    if not sets["unsafe"] or not sets["safe"]:
        raise ConfigError("the exemplar config yields no unsafe or no safe exemplars after removing test texts.")
    return ExemplarSets(sets["unsafe"], sets["safe"], calib, prov)


def _hold_out(pools: dict[str, list[LabelledPrompt]], frac: float, seed: int) -> list[LabelledPrompt]:
    """Move a seeded ``frac`` of each label's prompts out into a calibration set."""
    rng = np.random.default_rng(seed)
    calib = []
    for label in ("unsafe", "safe"):
        prompts = pools[label]
        cal = set(rng.permutation(len(prompts))[: round(frac * len(prompts))].tolist())
        calib += [p for i, p in enumerate(prompts) if i in cal]
        pools[label] = [p for i, p in enumerate(prompts) if i not in cal]
    return calib


def load_exemplars(spec: str | os.PathLike[str] | list[str], seed: int | None = None,
                   data_dir: str | os.PathLike[str] | None = None) -> ExemplarSets:
    """Exemplar sets from a YAML config path, or from labelled files (20% held out per label to calibrate).

    >>> # sets = load_exemplars("configs/detector/default.yaml"); len(sets.unsafe)
    """
    import yaml

    specs = [spec] if isinstance(spec, (str, os.PathLike)) else list(spec)
    if len(specs) == 1 and Path(specs[0]).suffix.lower() in (".yaml", ".yml"):
        path = Path(specs[0])
        if not path.is_file():
            raise ConfigError(f"exemplar config not found: {path}. Fix: see configs/detector/*.yaml.")
        try:
            config = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: invalid YAML ({e}).") from None
        if not isinstance(config, dict):
            raise ConfigError(f"{path}: expected a mapping with unsafe/safe/calibration lists.")
        return load_exemplar_config(config, seed=seed, data_dir=data_dir, base=path.parent)
    files = [{"file": str(s)} for s in specs]
    return load_exemplar_config({"unsafe": files, "safe": files}, seed=seed, data_dir=data_dir)


def _dna_test(seed: int, data_dir) -> list[LabelledPrompt]:
    return (select("do-not-answer", "test", seed=seed, data_dir=data_dir)
            + select("safety-contrast", "test", seed=seed, data_dir=data_dir))


# Evaluation sets that are neither exemplars nor calibration data of the default config, nor training data of
# the tuned encoders. ``oktest-heldout`` is all safe (FPR only).
HELDOUT_SETS = {
    "dna-test": _dna_test,
    "jbb-heldout": lambda seed, data_dir: select("jbb", "val", seed=seed, data_dir=data_dir),
    "oktest-heldout": lambda seed, data_dir: select("oktest", "val", seed=seed, data_dir=data_dir),
    "beavertails": lambda seed, data_dir: select("beavertails-prompts", seed=seed, data_dir=data_dir,
                                                 evaluation=True),
}


def load_eval_set(name: str, seed: int = 0, data_dir: str | os.PathLike[str] | None = None,
                  split: str = "all") -> list[LabelledPrompt]:
    """An evaluation set: a held-out set (``dna-test``, ``jbb-heldout``, ``oktest-heldout``), a named set
    (``xstest``, ``xstest-aug``, ``jbb``, ``oktest``, ...; optionally one ``split``) or a labelled file."""
    if name in HELDOUT_SETS:
        return HELDOUT_SETS[name](seed, data_dir)
    return select(name, split, seed=seed, data_dir=data_dir, evaluation=True)


def heldout_sets(seed: int = 0, data_dir: str | os.PathLike[str] | None = None) -> dict[str, list[LabelledPrompt]]:
    """The held-out sets plus XSTest, XSTest-aug and all of JBB (held out by the default config), by name."""
    names = [*HELDOUT_SETS, "xstest", "xstest-aug", "jbb"]
    return {n: load_eval_set(n, seed, data_dir) for n in names}
