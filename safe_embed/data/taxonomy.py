"""Taxonomies: one mapping file puts each source's own categories onto one set of categories.

A taxonomy file (YAML, ``configs/taxonomy/*.yaml``) has ``name``, ``categories`` (code -> title), ``map``
(source name -> {source category: code}) and, optionally, ``openai`` (OpenAI moderation category -> the codes
reported under it; the shipped MLCommons file documents its table). A mapped prompt's category becomes
``"<code>: <title>"`` (for MLCommons: ``"S1: Violent Crimes"``) and its ``source_category`` keeps the original. A category the map does not
cover passes through unchanged, or, in a taxonomy with ``unmapped: drop`` (MLCommons), leaves a prompt of a
source the map knows uncategorised (its ``source_category`` still kept), so a shipped set never adds a category of
its own; a source the map does not know (your own file) keeps its categories;
``require_mapped`` makes any gap an error listing every gap.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from safe_embed.data.schemas import LabelledPrompt
from safe_embed.errors import ConfigError

SHIPPED = "safe_embed.data.taxonomies"  # configs/taxonomy/, installed as package data
UNMAPPED = ("keep", "drop")


@dataclass(frozen=True)
class Taxonomy:
    """Category codes with titles, and per-source maps onto them.

    >>> t = Taxonomy("demo", {"S1": "Violent Crimes"}, {"mine": {"murder": "S1"}})
    >>> t.label("mine", "murder"), t.label("mine", "fraud"), t.label("other", "murder")
    ('S1: Violent Crimes', 'fraud', 'murder')
    >>> Taxonomy("demo", {"S1": "Violent Crimes"}, {"mine": {"murder": "S1"}},
    ...          unmapped_policy="drop").label("mine", "fraud") is None
    True
    """

    name: str
    categories: dict[str, str]
    map: dict[str, dict[str, str]] = field(default_factory=dict)
    openai: dict[str, tuple[str, ...]] = field(default_factory=dict)
    unmapped_policy: str = "keep"  # or "drop": an unmapped category leaves the prompt uncategorised

    def __post_init__(self) -> None:
        if self.unmapped_policy not in UNMAPPED:
            raise ConfigError(f"taxonomy {self.name!r}: unmapped must be one of {list(UNMAPPED)}, got "
                              f"{self.unmapped_policy!r}.")
        for where, codes in [*((f"source {s!r}", m.values()) for s, m in self.map.items()),
                             *((f"OpenAI category {c!r}", codes) for c, codes in self.openai.items())]:
            bad = sorted({code for code in codes if code not in self.categories})
            if bad:
                raise ConfigError(f"taxonomy {self.name!r}: {where} maps to unknown code(s) {bad}. "
                                  f"Fix: use one of {sorted(self.categories)}.")

    def code(self, source: str | None, category: str | None) -> str | None:
        """The code for ``category`` of ``source`` (None when unmapped)."""
        if category is None:
            return None
        return self.map.get(source or "", {}).get(category)

    def label(self, source: str | None, category: str | None) -> str | None:
        """The reported category: ``"<code>: <title>"`` when mapped, else ``category`` unchanged (None under
        ``unmapped: drop`` for a source the map knows)."""
        code = self.code(source, category)
        if code is None:
            return None if self.unmapped_policy == "drop" and (source or "") in self.map else category
        return f"{code}: {self.categories[code]}"

    def unmapped(self, prompts: list[LabelledPrompt]) -> dict[str, list[str]]:
        """Source -> categories of ``prompts`` the map does not cover (unsafe prompts only)."""
        gaps: dict[str, set[str]] = {}
        for p in prompts:
            cat = p.source_category or p.category
            if p.label == "unsafe" and cat and self.code(p.source, cat) is None:
                gaps.setdefault(p.source or "", set()).add(cat)
        return {s: sorted(c) for s, c in sorted(gaps.items())}

    def apply(self, prompts: list[LabelledPrompt], require_mapped: bool = False) -> list[LabelledPrompt]:
        """``prompts`` with their categories mapped (``source_category`` keeps the original)."""
        if require_mapped:
            gaps = self.unmapped(prompts)
            if gaps:
                listed = "; ".join(f"{s}: {', '.join(c[:8])}{' ...' if len(c) > 8 else ''}" for s, c in gaps.items())
                raise ConfigError(f"taxonomy {self.name!r} does not map these categories ({listed}). Fix: add them "
                                  "to the taxonomy's map, or set require_mapped: false to pass them through.")
        out = []
        for p in prompts:
            original = p.source_category or p.category
            out.append(dataclasses.replace(p, category=self.label(p.source, original) if original else None,
                                           source_category=original))
        return out


def load_taxonomy(name_or_path: str | os.PathLike[str]) -> Taxonomy:
    """A shipped taxonomy by name (``mlcommons``) or a YAML file.

    >>> load_taxonomy("mlcommons").label("do-not-answer", "Adult Content")
    'S12: Sexual Content'
    """
    import yaml

    p = Path(name_or_path)
    shipped = {e.name[:-5]: e for e in resources.files(SHIPPED).iterdir() if e.name.endswith(".yaml")}
    if not p.suffix and str(p) in shipped:
        text = shipped[str(p)].read_text(encoding="utf-8")
    elif p.is_file():
        text = p.read_text(encoding="utf-8")
    else:
        raise ConfigError(f"taxonomy not found: {name_or_path}. Fix: give a YAML file or one of {sorted(shipped)}.")
    try:
        d = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: invalid YAML ({e}).") from None
    if not isinstance(d, dict) or not isinstance(d.get("categories"), dict) or not isinstance(d.get("map", {}), dict):
        raise ConfigError(f"{p}: a taxonomy needs 'categories' (code: title) and 'map' (source: {{category: code}}).")
    maps = {}
    for source, m in (d.get("map") or {}).items():
        if not isinstance(m, dict):
            raise ConfigError(f"{p}: map.{source} must be a mapping of category -> code, got {type(m).__name__}.")
        maps[str(source)] = {str(k): str(v) for k, v in m.items()}
    openai = d.get("openai") or {}
    if not isinstance(openai, dict) or not all(isinstance(v, list) for v in openai.values()):
        raise ConfigError(f"{p}: 'openai' must map each OpenAI category to a list of codes, e.g. "
                          "'violence: [S1, S9]'.")
    return Taxonomy(str(d.get("name") or p.stem), {str(k): str(v) for k, v in d["categories"].items()}, maps,
                    {str(k): tuple(str(c) for c in v) for k, v in openai.items()}, str(d.get("unmapped", "keep")))
