"""The default data design, shared by training (``configs/train/base.yaml``) and detectors
(``configs/detector/default.yaml``), so a default detector is built from the splits its default encoder saw.

Realistic traffic is the core: GuardReasoner's training prompts, ToxicChat's real chatbot prompts whole (its 13%
unsafe is the real-traffic base rate, kept visible in calibration), ordinary Alpaca instructions and long
Arena-Hard prompts. Unsafe breadth (ALERT, Safety-Tuned LLaMAs, AdvBench, Do-Not-Answer, and the academic,
role-framed and role-play attacks of HarmfulQA, AART and SAP) is sampled so that no unsafe-only set outweighs the
realistic ones. Safe look-alikes teach intent over topic: OKTest, CoCoNot's risky-sounding requests and
CyberSecEval's benign cyber requests (beside its interpreter abuse). The frame-swap twins make the request, not the
frame, decide: GPTFuzz templates split by template (``template-swap``) and benign prefaces (``preface-swap``:
one-line prompts, or prose as a long document's window shows it), each around an unsafe request and around a safe
one. The Safety-Contrast edits and the target-swap twins were measured and left out
(configs/train/ablations/with_lookalike_edits.yaml: they moved XSTest, JBB and BeaverTails AUROC by -0.03 to +0.01
in single runs, no gain). JBB is held out whole (its 100 harmful/benign pairs are a test set), and
XSTest always is. Sizes keep the fit within 25 minutes on 2 CPU cores (README, "Training data").
"""

from __future__ import annotations

from pathlib import Path

from safe_embed.data.dataset import DataSpec

DEFAULT_SOURCES: list[dict] = [
    {"name": "guardreasoner-train", "sample": 3200},
    {"name": "toxicchat-train"},
    {"name": "alpaca", "sample": 1200},
    {"name": "arena-hard"},
    {"name": "alert", "sample": 900},
    {"name": "safety-tuned-llamas", "sample": 500},
    {"name": "advbench"},
    {"name": "do-not-answer"},
    {"name": "oktest"},
    {"name": "coconot-pref"},
    {"name": "cyberseceval", "sample": 300},
    {"name": "harmfulqa", "sample": 400},
    {"name": "aart", "sample": 400},
    {"name": "sap", "sample": 150},
    {"name": "template-swap", "sample": 1500},
    {"name": "preface-swap", "sample": 1500},
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
