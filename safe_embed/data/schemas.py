"""Typed records for the datasets safe-embed reads."""

from __future__ import annotations

from dataclasses import dataclass

LABELS = ("safe", "unsafe")
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class PromptPair:
    """One Safety-Challenging pair: an unsafe prompt and a safe prompt sharing a surface cue (``focus``)."""

    id: int
    type_id: int
    type: str
    unsafe: str
    safe: str
    focus: str


@dataclass(frozen=True)
class TaxonomyPrompt:
    """One Do-Not-Answer prompt (unsafe) with its harm taxonomy."""

    id: int
    risk_area: str
    category: str
    specific_harm: str
    text: str


@dataclass(frozen=True)
class ContrastItem:
    """One Safety-Contrast row: an unsafe original and its minimally edited safe variants."""

    id: int
    category: str
    original: str
    edits: tuple[str, ...]


@dataclass(frozen=True)
class LabelledPrompt:
    """A prompt labelled ``safe`` or ``unsafe``.

    ``category`` is the harm category (after any taxonomy mapping; ``source_category`` keeps the source's own),
    ``pair_id`` links look-alike twins (rows sharing it always land in one split), ``type`` is a breakdown key,
    ``source`` the set or file it came from, ``weight`` its training weight and ``split`` its assigned split
    (``train``/``val``/``test``; None until split).
    """

    text: str
    label: str
    category: str | None = None
    pair_id: str | None = None
    type: str | None = None
    id: str | None = None
    source: str | None = None
    weight: float = 1.0
    split: str | None = None
    source_category: str | None = None

    @property
    def is_unsafe(self) -> bool:
        return self.label == "unsafe"
