"""Data sources: one spec for training, detectors and evaluation.

A source is a registered set or a file::

    {name: alpaca}
    {name: alert, sample: 1500, weight: 0.5}
    {path: my.csv, text: prompt, label: label, category: policy, pair_id: pair, weight: 2.0, sample: 4000}
    {path: extra.jsonl, default_label: unsafe, split: train}
    {name: target-swap, per_prompt: 4}

* ``text``/``label``/``category``/``pair_id``/``type``/``id``: a file's column names (defaults: ``text`` or
  ``prompt``, ``label``, and the others when present). ``default_label`` labels rows that have none.
* ``weight`` (> 0) scales each row's training loss; ``sample`` keeps at most that many rows (a seeded draw,
  taken from every split in proportion, so a row's split never depends on the sample size).
* ``split`` (``train``/``val``/``test``) puts the whole source in one split; otherwise the splitter assigns it.
* ``target-swap`` is generated, not read: safe twins of the other sources' unsafe prompts with their human
  target swapped for a harmless object (:mod:`safe_embed.data.augment`), ``per_prompt`` per prompt, each in
  its original's split.
* ``template-swap`` and ``preface-swap`` are generated twin pairs: one jailbreak template (split by template) or
  one benign preface around an unsafe request and around a safe one (:mod:`safe_embed.data.frames`); ``sample``
  caps their rows.
* ``typo-noise`` is generated: misspelled copies of the other sources' prompts, half safe and half unsafe, each
  with its original's label and split (:mod:`safe_embed.data.noise`); ``sample`` sets how many.
* ``prose-windows`` is generated: safe stretches (a window, or a sentence or two) of the train split's long safe
  prompts and of ordinary prose, as a detector reads a long prompt in pieces (:mod:`safe_embed.data.windows`);
  ``sample`` sets how many.

A spec is given as a mapping, or as a bare string (a name or a path).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from safe_embed.data.files import Columns, load_labelled_file, parse_label
from safe_embed.data.labelled import NAMED_SETS, TEST_ONLY, load_named
from safe_embed.data.schemas import SPLITS, LabelledPrompt
from safe_embed.errors import ConfigError

GENERATED = ("target-swap", "template-swap", "preface-swap", "typo-noise", "prose-windows")
COLUMN_KEYS = ("text", "label", "category", "pair_id", "type", "id")
KEYS = ("name", "path", *COLUMN_KEYS, "default_label", "weight", "sample", "split", "per_prompt")


@dataclass(frozen=True)
class SourceSpec:
    """One data source (see the module docstring).

    >>> SourceSpec.parse({"name": "alert", "sample": 1000}).key
    'alert'
    >>> SourceSpec.parse("my_prompts.csv").path
    'my_prompts.csv'
    """

    name: str | None = None
    path: str | None = None
    columns: Columns = field(default_factory=Columns)
    default_label: str | None = None
    weight: float = 1.0
    sample: int | None = None
    split: str | None = None
    per_prompt: int | None = None

    @classmethod
    def parse(cls, spec: object, base: Path | None = None) -> SourceSpec:
        """Validate one spec; a relative ``path`` is taken relative to ``base`` (the config's folder)."""
        if isinstance(spec, SourceSpec):
            return spec
        if isinstance(spec, (str, os.PathLike)):
            s = str(spec)
            spec = {"name": s} if s in NAMED_SETS or s in GENERATED else {"path": s}
        if not isinstance(spec, dict):
            raise ConfigError(f"a data source must be a mapping such as {{name: alpaca}} or {{path: my.csv}}, got "
                              f"{spec!r}.")
        if "dataset" in spec or "file" in spec:
            raise ConfigError(f"data source {spec!r}: 'dataset'/'file' are now 'name'/'path'. Fix: write "
                              "{name: do-not-answer} or {path: my.csv}.")
        unknown = sorted(set(spec) - set(KEYS))
        if unknown:
            raise ConfigError(f"unknown key(s) {unknown} in data source {spec!r}. Fix: use {', '.join(KEYS)}.")
        if ("name" in spec) == ("path" in spec):
            raise ConfigError(f"data source {spec!r} needs exactly one of 'name' (a registered set) or 'path' "
                              "(a file).")
        cols = Columns(**{k: spec[k] for k in COLUMN_KEYS if k in spec})
        out = cls(**{k: spec[k] for k in KEYS if k in spec and k not in COLUMN_KEYS}, columns=cols)
        if out.path is not None and base is not None and not Path(out.path).expanduser().is_absolute():
            out = _replace(out, path=str(base / out.path))
        out._check()
        return out

    def _check(self) -> None:
        where = f"data source {self.key!r}"
        if self.name is not None:
            if self.name in TEST_ONLY:
                raise ConfigError(f"{where} is a test set: it is never trained on, indexed or calibrated on. Fix: "
                                  "remove it (evaluate on it with `safe-embed evaluate-detector`).")
            if self.name not in NAMED_SETS and self.name not in GENERATED:
                allowed = sorted(n for n in NAMED_SETS if n not in TEST_ONLY) + list(GENERATED)
                raise ConfigError(f"unknown data source name {self.name!r}. Fix: use one of {allowed}, or "
                                  "{path: FILE} for your own data.")
            given = [k for k in COLUMN_KEYS if getattr(self.columns, k) is not None]
            given += ["default_label"] if self.default_label is not None else []
            if given:
                raise ConfigError(f"{where}: {given} apply to files only (a registered set knows its columns).")
        if not isinstance(self.weight, (int, float)) or isinstance(self.weight, bool) or not self.weight > 0:
            raise ConfigError(f"{where}: weight must be a number > 0, got {self.weight!r}.")
        if self.sample is not None and (not isinstance(self.sample, int) or isinstance(self.sample, bool)
                                        or self.sample < 1):
            raise ConfigError(f"{where}: sample must be a whole number >= 1, got {self.sample!r}.")
        if self.split is not None and self.split not in SPLITS:
            raise ConfigError(f"{where}: split must be one of {list(SPLITS)}, got {self.split!r}.")
        if self.per_prompt is not None:
            if self.name not in GENERATED:
                raise ConfigError(f"{where}: per_prompt applies to generated sources ({list(GENERATED)}) only.")
            if not isinstance(self.per_prompt, int) or self.per_prompt < 1:
                raise ConfigError(f"{where}: per_prompt must be a whole number >= 1, got {self.per_prompt!r}.")
        if self.default_label is not None:
            parse_label(self.default_label, f"{where}: default_label: ")
        for k in COLUMN_KEYS:
            v = getattr(self.columns, k)
            if v is not None and not isinstance(v, str):
                raise ConfigError(f"{where}: {k} names a column and must be a string, got {v!r}.")

    @property
    def key(self) -> str:
        """The source's name in provenance and ids: the set name, or the file's stem."""
        return self.name if self.name is not None else Path(str(self.path)).stem

    @property
    def generated(self) -> bool:
        return self.name in GENERATED

    def to_dict(self) -> dict:
        """The spec as given (columns flat), without unset keys (``weight`` 1 is unset)."""
        d = asdict(self)
        flat = {**{k: d[k] for k in ("name", "path")}, **d.pop("columns"), **{k: d[k] for k in d if k not in
                                                                              ("name", "path", "columns")}}
        return {k: v for k, v in flat.items() if v is not None and not (k == "weight" and v == 1.0)}

    def load(self, data_dir: str | os.PathLike[str] | None = None) -> list[LabelledPrompt]:
        """The source's rows, with ``source`` = :attr:`key`, its ``weight`` and any spec ``split``."""
        if self.generated:
            raise ConfigError(f"{self.key} is generated from the other sources; it has no rows of its own.")
        if self.name is not None:
            rows = load_named(self.name, data_dir)
        else:
            rows = load_labelled_file(Path(str(self.path)).expanduser(), self.columns, source=self.key,
                                      default_label=self.default_label)
        return [_replace(r, weight=float(self.weight), split=self.split or r.split) for r in rows]


def _replace(obj, **changes):
    import dataclasses

    return dataclasses.replace(obj, **changes)


def parse_sources(specs: object, base: Path | None = None) -> list[SourceSpec]:
    """A list of source specs, validated; two sources may not share a key (their ids would clash)."""
    if isinstance(specs, (str, dict, SourceSpec)):
        specs = [specs]
    if not isinstance(specs, (list, tuple)) or not specs:
        raise ConfigError(f"data sources must be a non-empty list such as [{{name: alpaca}}, {{path: my.csv}}], got "
                          f"{specs!r}.")
    out = [SourceSpec.parse(s, base) for s in specs]
    keys = [s.key for s in out]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise ConfigError(f"data sources {dup} are listed twice. Fix: list each set or file once (merge their "
                          "options).")
    return out
