"""Which labelled prompts a detector indexes and which it calibrates on: the train and val splits of a data spec.

A detector config (YAML, ``configs/detector/*.yaml``) holds the data keys of :class:`~safe_embed.data.DataSpec`
(``sources``, ``held_out``, ``seed``, ``fractions``, ``taxonomy``, ``require_mapped``); unset keys take the
default design (:mod:`safe_embed.data.defaults`). Instead of ``sources`` it may list ``unsafe``, ``safe`` and
``calibration`` sources: all of them are split together, unsafe exemplars are the train-split unsafe rows of the
``unsafe`` sources, safe exemplars the train-split safe rows of the ``safe`` sources, and calibration prompts the
val-split rows of the ``calibration`` sources (of all sources when there is no such list).

Built over a training run (``assigned``: the run's ``splits.json``), every text the run saw keeps the run's split,
so nothing the encoder trained on is a calibration prompt, and nothing the run held out or tested on is indexed.
Test splits, XSTest, XSTest-aug and BeaverTails are never exemplars or calibration prompts.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from safe_embed.data.dataset import Assigned, DataSpec, SplitDataset, build_dataset
from safe_embed.data.defaults import default_spec
from safe_embed.data.schemas import LABELS, LabelledPrompt
from safe_embed.data.sources import parse_sources
from safe_embed.errors import ConfigError

ROLE_KEYS = ("unsafe", "safe", "calibration")
SPEC_KEYS = ("held_out", "seed", "fractions", "taxonomy", "require_mapped")
CONFIG_KEYS = ("sources", *ROLE_KEYS, *SPEC_KEYS)


@dataclass(frozen=True)
class Exemplar:
    """One indexed prompt. ``id`` is unique within a detector (``source:original_id``); ``category`` is the
    reported (taxonomy) category, ``source_category`` the source's own."""

    id: str
    text: str
    label: str
    category: str | None = None
    source: str | None = None
    source_category: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)


@dataclass
class ExemplarSets:
    """Unsafe and safe exemplars, the calibration prompts, where they came from, and the split dataset."""

    unsafe: list[Exemplar]
    safe: list[Exemplar]
    calibration: list[LabelledPrompt]
    provenance: dict = field(default_factory=dict)
    dataset: SplitDataset | None = None


@dataclass
class DetectorData:
    """A detector config resolved: the data spec, and which sources play which role (None = all)."""

    spec: DataSpec
    roles: dict[str, list[str] | None]

    @classmethod
    def parse(cls, config: dict | None = None, base: Path | None = None) -> DetectorData:
        """Validate a detector config mapping; unset keys are the default design.

        >>> DetectorData.parse({}).spec.held_out
        ['jbb']
        """
        config = dict(config or {})
        unknown = sorted(set(config) - set(CONFIG_KEYS))
        if unknown:
            raise ConfigError(f"unknown key(s) {unknown} in detector config; allowed: {', '.join(CONFIG_KEYS)}.")
        roles_given = [k for k in ROLE_KEYS if k in config]
        if "sources" in config and roles_given:
            raise ConfigError(f"a detector config lists either 'sources' or {list(ROLE_KEYS)}, not both. Fix: "
                              "keep one form.")
        roles: dict[str, list[str] | None] = {k: None for k in ROLE_KEYS}
        if roles_given:
            if not config.get("unsafe") or not config.get("safe"):
                raise ConfigError("a detector config with role lists needs non-empty 'unsafe' and 'safe' lists.")
            merged: dict[str, dict] = {}
            for role in roles_given:
                specs = parse_sources(config[role], base)
                roles[role] = [s.key for s in specs]
                for s in specs:
                    if s.key in merged and merged[s.key] != s.to_dict():
                        raise ConfigError(f"source {s.key!r} is listed with different options ({merged[s.key]} vs "
                                          f"{s.to_dict()}). Fix: give it the same options in every list.")
                    merged[s.key] = s.to_dict()
            config["sources"] = list(merged.values())
        spec = default_spec({k: config[k] for k in ("sources", *SPEC_KEYS) if k in config}, base)
        return cls(spec, roles)


def build_exemplar_sets(data: DetectorData, data_dir: str | os.PathLike[str] | None = None,
                        assigned: Assigned | None = None) -> ExemplarSets:
    """Exemplars from the train split (over a run that trained on a sample of it: that sample), calibration
    prompts from the val split."""
    ds = build_dataset(data.spec, data_dir, assigned)
    pools = {}
    for label in LABELS:
        keep = data.roles[label]
        pools[label] = [Exemplar(f"{p.source}:{p.id}", p.text, label, p.category, p.source, p.source_category)
                        for p in ds.trained_split(label) if keep is None or p.source in keep]
    keep = data.roles["calibration"]
    calib = [p for p in ds.split("val") if keep is None or p.source in keep]
    if not pools["unsafe"] or not pools["safe"]:
        raise ConfigError(f"the detector data has {len(pools['unsafe'])} unsafe and {len(pools['safe'])} safe train "
                          "rows; it needs both. Fix: add sources with the missing label.")
    prov = {"data": data.spec.to_dict(), "roles": data.roles, "report": ds.report, "counts": ds.counts(),
            "seed": data.spec.seed, "held_out": list(data.spec.held_out),
            "splits_from": assigned.path if assigned is not None else None}
    return ExemplarSets(pools["unsafe"], pools["safe"], calib, prov, ds)


def read_config(path: str | os.PathLike[str]) -> dict:
    """A detector config YAML as a mapping (a clear error for a missing or malformed file)."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"detector config not found: {p}. Fix: see configs/detector/*.yaml.")
    try:
        config = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: invalid YAML ({e}).") from None
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise ConfigError(f"{p}: expected a mapping with detector data keys ({', '.join(CONFIG_KEYS)}).")
    return config


def load_exemplars(spec: str | os.PathLike[str] | list | dict | None = None, seed: int | None = None,
                   data_dir: str | os.PathLike[str] | None = None, assigned: Assigned | None = None,
                   ) -> ExemplarSets:
    """Exemplar sets from a detector config (a YAML path or a mapping), from labelled files, or the default.
    ``seed`` overrides the split seed; None keeps the config's own ``seed:``, else the default. The seed used is
    ``provenance["seed"]``.

    >>> sets = load_exemplars({"sources": [{"name": "advbench"}, {"name": "alpaca", "sample": 200}]})
    >>> sets.unsafe[0].label, sets.safe[0].label, {p.label for p in sets.calibration} == {"safe", "unsafe"}
    ('unsafe', 'safe', True)
    """
    base = None
    if spec is None:
        config: dict = {}
    elif isinstance(spec, dict):
        config = dict(spec)
    else:
        specs = [spec] if isinstance(spec, (str, os.PathLike)) else list(spec)
        if len(specs) == 1 and Path(specs[0]).suffix.lower() in (".yaml", ".yml"):
            config, base = read_config(specs[0]), Path(specs[0]).parent
        else:
            config = {"sources": [{"path": str(s)} for s in specs]}
    if seed is not None:
        config["seed"] = seed
    return build_exemplar_sets(DetectorData.parse(config, base), data_dir, assigned)
