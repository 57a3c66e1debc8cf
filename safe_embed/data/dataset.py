"""A data spec resolved into split rows: the one place that decides what is train, val, test or held out.

:func:`build_dataset` loads the sources, maps categories through the taxonomy, removes every text of the
test-only benchmarks (:data:`~safe_embed.data.labelled.TEST_ONLY`) and of the ``held_out`` sets, splits the
rest (:mod:`safe_embed.data.splits`), draws the ``sample`` sizes, generates ``target-swap`` twins in their
originals' splits, and drops repeated texts. Training, detector export and evaluation all read the result;
``splits.json`` (:data:`SPLITS_FILE`) records it (every row's id and text hash per split; the train rows a run
used, when :meth:`SplitDataset.limit_train` cut them) so a later step reads it instead of re-deriving it: a row
the run saw keeps the run's split, a text it held out stays out, a train row it left out of training stays out.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from safe_embed.data.augment import target_swap_rows
from safe_embed.data.frames import frame_swap_rows
from safe_embed.data.labelled import NAMED_SETS, TEST_ONLY, load_alpaca_answers, load_named
from safe_embed.data.noise import noise_rows
from safe_embed.data.schemas import SPLITS, LabelledPrompt
from safe_embed.data.shared_sets import load_jailbreak_templates
from safe_embed.data.sources import SourceSpec, parse_sources
from safe_embed.data.splits import (
    DEFAULT_FRACTIONS,
    assign_splits,
    check_fractions,
    sample_rows,
    text_hash,
    text_key,
)
from safe_embed.data.windows import prose_window_rows
from safe_embed.errors import ConfigError, DataError

logger = logging.getLogger(__name__)
PROSE_SOURCES = ("preface-swap", "prose-windows")  # generated sources that read Alpaca's answers as prose

SPLITS_FILE = "splits.json"  # a run's (and a detector's) split record, beside its encoder
SPLITS_FORMAT = "safe-embed/splits"
SPLITS_VERSION = 2


@dataclass
class DataSpec:
    """What to load and how to split it.

    >>> DataSpec.parse({"sources": [{"name": "alpaca"}], "held_out": ["jbb"]}).held_out
    ['jbb']
    """

    sources: list[SourceSpec]
    held_out: list[str] = field(default_factory=list)
    seed: int = 0
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS
    taxonomy: str | None = None
    require_mapped: bool = False

    def __post_init__(self) -> None:
        self.sources = parse_sources(self.sources)
        self.fractions = check_fractions(self.fractions)
        if not isinstance(self.held_out, (list, tuple)) or not all(isinstance(h, str) for h in self.held_out):
            raise ConfigError(f"held_out must be a list of dataset names, got {self.held_out!r}.")
        self.held_out = list(self.held_out)
        unknown = [h for h in self.held_out if h not in NAMED_SETS]
        if unknown:
            raise ConfigError(f"held_out names unknown set(s) {unknown}. Fix: use names from {sorted(NAMED_SETS)}.")
        clash = sorted({s.name for s in self.sources} & set(self.held_out))
        if clash:
            raise ConfigError(f"{clash} is both held out and a data source. Fix: drop it from one of the two.")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ConfigError(f"seed must be an integer, got {self.seed!r}.")

    @classmethod
    def parse(cls, d: dict, base: Path | None = None) -> DataSpec:
        allowed = ("sources", "held_out", "seed", "fractions", "taxonomy", "require_mapped")
        unknown = sorted(set(d) - set(allowed))
        if unknown:
            raise ConfigError(f"unknown data key(s) {unknown}. Fix: use {', '.join(allowed)}.")
        kw = dict(d)
        kw["sources"] = parse_sources(d.get("sources"), base)
        if "fractions" in kw:
            kw["fractions"] = check_fractions(kw["fractions"])
        return cls(**kw)

    def to_dict(self) -> dict:
        return {"sources": [s.to_dict() for s in self.sources], "held_out": list(self.held_out), "seed": self.seed,
                "fractions": list(self.fractions), "taxonomy": self.taxonomy, "require_mapped": self.require_mapped}


@dataclass
class Assigned:
    """A run's recorded splits: text hash -> split, the hashes it held out, and the hashes of the train rows it
    trained on (None: all of them; files written before this record have none)."""

    split_of: dict[str, str]
    held_out: set[str]
    spec: dict
    path: str = ""
    trained: set[str] | None = None

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Assigned:
        p = Path(path)
        try:
            d = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise DataError(f"cannot read {p} ({e}). Fix: point at the run directory that `safe-embed fit` "
                            "wrote.") from None
        return cls.from_json(d, str(p))

    @classmethod
    def from_json(cls, d: object, path: str = "") -> Assigned:
        """From the content of a ``splits.json`` (see :meth:`SplitDataset.to_json`)."""
        if not isinstance(d, dict) or d.get("format") != SPLITS_FORMAT or not isinstance(d.get("splits"), dict):
            raise DataError(f"{path or 'splits'} is not a safe-embed splits file (format {SPLITS_FORMAT!r}, version "
                            f"{SPLITS_VERSION}). Fix: retrain with this version, or export without --model RUN.")
        split_of = {h: name for name in SPLITS for _, h in d["splits"].get(name, [])}
        trained = d.get("trained_hashes")
        return cls(split_of, set(d.get("held_out_hashes", [])), d.get("spec", {}), path,
                   None if trained is None else set(trained))


@dataclass
class SplitDataset:
    """Rows with their split (``train``/``val``/``test``), what was held out, what was dropped, and the text
    hashes of the train rows in use (``trained``; None: all of them)."""

    spec: DataSpec
    rows: list[LabelledPrompt]
    held_out_hashes: set[str] = field(default_factory=set)
    report: dict = field(default_factory=dict)
    trained: set[str] | None = None

    def split(self, name: str, label: str | None = None) -> list[LabelledPrompt]:
        if name not in SPLITS:
            raise ConfigError(f"split must be one of {list(SPLITS)}, got {name!r}.")
        return [r for r in self.rows if r.split == name and (label is None or r.label == label)]

    def trained_split(self, label: str | None = None) -> list[LabelledPrompt]:
        """The train rows in use: those a model trained on (all train rows unless :meth:`limit_train` cut them)."""
        rows = self.split("train", label)
        return rows if self.trained is None else [r for r in rows if text_hash(r.text) in self.trained]

    def limit_train(self, n: int | None, seed: int) -> SplitDataset:
        """This dataset with at most ``n`` train rows in use, a seeded sample (None: all); ``splits.json`` records
        which, so a detector built over the run indexes exactly the rows it trained on.

        >>> ds = SplitDataset(DataSpec([{"name": "advbench"}]),
        ...                   [LabelledPrompt(f"p{i}", "unsafe", split="train") for i in range(5)])
        >>> len(ds.limit_train(2, seed=0).trained_split()), len(ds.limit_train(None, seed=0).trained_split())
        (2, 5)
        """
        train = self.trained_split()
        if n is None or len(train) <= n:
            return self
        keep = sorted(random.Random(seed).sample(range(len(train)), n))
        return dataclasses.replace(self, trained={text_hash(train[i].text) for i in keep})

    def sources(self, split: str | None = None) -> list[str]:
        return list(dict.fromkeys(r.source or "" for r in self.rows if split is None or r.split == split))

    def counts(self) -> dict:
        c: dict = {}
        for r in self.rows:
            c.setdefault(r.split, {}).setdefault(r.source, Counter())[r.label] += 1
        return {s: {src: dict(v) for src, v in d.items()} for s, d in c.items()}

    def to_json(self) -> dict:
        return {"format": SPLITS_FORMAT, "version": SPLITS_VERSION, "seed": self.spec.seed,
                "fractions": list(self.spec.fractions), "spec": self.spec.to_dict(), "counts": self.counts(),
                "report": self.report,
                "splits": {s: [[f"{r.source}:{r.id}", text_hash(r.text)] for r in self.split(s)] for s in SPLITS},
                "held_out_hashes": sorted(self.held_out_hashes),
                **({} if self.trained is None else {"trained_hashes": sorted(self.trained)})}

    def save(self, path: str | os.PathLike[str]) -> Path:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(self.to_json(), indent=None, separators=(",", ":")) + "\n", encoding="utf-8")
        return p


def protected_texts(data_dir: str | os.PathLike[str] | None, held_out: list[str]) -> tuple[set[str], set[str]]:
    """Text keys of the test-only benchmarks, and of the ``held_out`` sets (each loaded when present)."""
    test_only: set[str] = set()
    for name in TEST_ONLY:
        try:
            test_only |= {text_key(p.text) for p in load_named(name, data_dir)}
        except DataError as e:
            logger.warning("test set %s unavailable (%s); data is not checked against it", name, e)
    held = {text_key(p.text) for name in held_out for p in load_named(name, data_dir)}
    return test_only, held


def build_dataset(spec: DataSpec, data_dir: str | os.PathLike[str] | None = None,
                  assigned: Assigned | None = None) -> SplitDataset:
    """Resolve ``spec`` into split rows (see the module docstring)."""
    test_only, held = protected_texts(data_dir, spec.held_out)
    report: Counter = Counter()
    held_hashes = set(assigned.held_out) if assigned is not None else set()
    rows: list[LabelledPrompt] = []
    for src in spec.sources:
        if src.generated:
            continue
        for r in src.load(data_dir):
            key = text_key(r.text)
            if not key:
                report["dropped_empty"] += 1
            elif key in test_only:
                report["dropped_test_only"] += 1
            elif key in held or text_hash(r.text) in held_hashes:
                report["dropped_held_out"] += 1
            else:
                rows.append(r)
    if spec.taxonomy:
        from safe_embed.data.taxonomy import load_taxonomy

        rows = load_taxonomy(spec.taxonomy).apply(rows, spec.require_mapped)
    rows = _split(rows, spec, assigned)
    by_source: dict[str, list[LabelledPrompt]] = {}
    for r in rows:
        by_source.setdefault(r.source or "", []).append(r)
    rows = []
    for src in spec.sources:
        part = by_source.get(src.key, [])
        if src.sample is not None and len(part) > src.sample:
            report[f"sampled_out:{src.key}"] += len(part) - src.sample
            part = sample_rows(part, src.sample, spec.seed)
        rows += part
    recorded = None if assigned is None else (assigned.held_out, assigned.split_of)
    read = list(rows)  # generated twins are built from the read rows, never from each other
    answers = load_alpaca_answers(data_dir) if any(s.name in PROSE_SOURCES for s in spec.sources) and any(
        r.source == "alpaca" for r in read) else None
    for src in spec.sources:
        if not src.generated:
            continue
        if src.name == "target-swap":
            twins = target_swap_rows(read, src, spec.seed, test_only | held, recorded)
        elif src.name == "typo-noise":
            twins = noise_rows(read, src, spec.seed, test_only | held, recorded)
        elif src.name == "prose-windows":
            twins = prose_window_rows(read, src, spec.seed, test_only | held, recorded, answers)
        else:
            templates = load_jailbreak_templates(data_dir) if src.name == "template-swap" else ()
            twins = frame_swap_rows(read, src, spec.seed, test_only | held, recorded, templates, spec.fractions,
                                    answers)
        if src.sample is not None and len(twins) > src.sample:
            twins = sample_rows(twins, src.sample, spec.seed)
        rows += twins
    rows = _dedupe(rows, report)
    held_hashes |= {text_hash(k) for k in held}  # a key is its own normal form
    if not rows:
        raise ConfigError("the data spec yields no rows after removing test and held-out texts. Fix: add sources.")
    trained = None
    if assigned is not None and assigned.trained is not None:  # the run's train rows it did not train on stay out
        trained = {h for r in rows if r.split == "train" and
                   ((h := text_hash(r.text)) in assigned.trained or h not in assigned.split_of)}
    return SplitDataset(spec, rows, held_hashes, dict(sorted(report.items())), trained)


def _split(rows: list[LabelledPrompt], spec: DataSpec, assigned: Assigned | None) -> list[LabelledPrompt]:
    """Assign splits; rows a run recorded keep the run's split, the rest go through the splitter."""
    known = {}
    if assigned is not None:
        known = {i: assigned.split_of[h] for i, r in enumerate(rows) if (h := text_hash(r.text)) in assigned.split_of}
    todo = [i for i in range(len(rows)) if i not in known]
    splits = assign_splits([rows[i] for i in todo], spec.seed, spec.fractions)
    out = list(rows)
    for i, s in zip(todo, splits, strict=True):
        out[i] = dataclasses.replace(rows[i], split=s)
    for i, s in known.items():
        out[i] = dataclasses.replace(rows[i], split=s)
    return out


def _dedupe(rows: list[LabelledPrompt], report: Counter) -> list[LabelledPrompt]:
    """One row per text key (the first source listed wins); conflicting labels are counted and logged."""
    seen: dict[str, LabelledPrompt] = {}
    out = []
    for r in rows:
        key = text_key(r.text)
        first = seen.get(key)
        if first is None:
            seen[key] = r
            out.append(r)
            continue
        report["dropped_duplicates"] += 1
        if first.label != r.label:
            report["label_conflicts"] += 1
            logger.info("%r is %s in %s but %s in %s; keeping %s", r.text[:60], first.label, first.source, r.label,
                        r.source, first.label)
    return out
