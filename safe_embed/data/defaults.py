"""The default data design, shared by training (``configs/train/base.yaml``) and detectors
(``configs/detector/default.yaml``), so a default detector is built from the splits its default encoder saw.

Realistic traffic (GuardReasoner's training prompts, ordinary Alpaca instructions) is the core; unsafe breadth
(ALERT, Safety-Tuned LLaMAs, AdvBench, Do-Not-Answer) is sampled so the classes and the styles stay balanced;
OKTest's look-alikes teach that a harmful word is not a harmful request. The Safety-Contrast edits and the
target-swap twins were measured and left out (configs/train/ablations/with_lookalike_edits.yaml: they moved
XSTest, JBB and BeaverTails AUROC by -0.03 to +0.01 in single runs, no gain). JBB is held out whole (its 100
harmful/benign pairs are a test set), and XSTest always is.
"""

from __future__ import annotations

from pathlib import Path

from safe_embed.data.dataset import DataSpec

DEFAULT_SOURCES: list[dict] = [
    {"name": "guardreasoner-train"},
    {"name": "alpaca", "sample": 2000},
    {"name": "alert", "sample": 1500},
    {"name": "safety-tuned-llamas", "sample": 700},
    {"name": "advbench"},
    {"name": "do-not-answer"},
    {"name": "oktest"},
]
DEFAULT_HELD_OUT: list[str] = ["jbb"]
DEFAULT_TAXONOMY = "mlcommons"


def default_held_out(sources: list) -> list[str]:
    """The default held-out sets, less any that ``sources`` names (naming a set as a source trains on it).

    >>> default_held_out([{"name": "alpaca"}]), default_held_out([{"name": "jbb"}])
    (['jbb'], [])
    """
    named = {s.get("name") if isinstance(s, dict) else getattr(s, "name", s) for s in sources}
    return [h for h in DEFAULT_HELD_OUT if h not in named]


def default_spec(config: dict | None = None, base: Path | None = None) -> DataSpec:
    """A data spec from the data keys of ``config`` (those of :class:`DataSpec`); ``sources`` and ``held_out``
    unset or None, and ``taxonomy`` unset, take the default design. Training and detectors both build theirs here.

    >>> spec = default_spec({"seed": 3})
    >>> spec.held_out, spec.taxonomy, spec.seed, len(spec.sources) == len(DEFAULT_SOURCES)
    (['jbb'], 'mlcommons', 3, True)
    """
    config = dict(config or {})
    sources = config.get("sources")
    sources = DEFAULT_SOURCES if sources is None else sources
    held_out = config.get("held_out")
    return DataSpec.parse({**config, "sources": sources,
                           "held_out": default_held_out(sources) if held_out is None else held_out,
                           "taxonomy": config.get("taxonomy", DEFAULT_TAXONOMY)}, base)
