"""The registered labelled sets: each name loads a set from the data directory as :class:`LabelledPrompt` rows.

Pair ids are namespaced by set (``dna:12`` links a Do-Not-Answer prompt to its Safety-Contrast edits, ``jbb:3`` a
JBB behaviour to its benign twin), so rows that share one always land in the same split. ``oktest`` carries its
own split (``OKTest`` = train, ``OKTest_heldout`` = test). :data:`TEST_ONLY` sets are public benchmarks: they
are evaluated on, never trained on, indexed or calibrated on.
"""

from __future__ import annotations

import dataclasses
import json
import os

from safe_embed.data.files import Columns, load_labelled_file
from safe_embed.data.io import read_csv_rows
from safe_embed.data.paper import load_contrast, load_do_not_answer, load_xstest_aug
from safe_embed.data.schemas import LabelledPrompt
from safe_embed.data.set_rows import NamedSet, csv_prompts, set_path
from safe_embed.data.shared_sets import SHARED_SETS
from safe_embed.errors import DataError

XSTEST = "xstest/xstest_prompts.csv"
JBB_LONG = "jbb_behaviors/jbb_behaviors_long.csv"
OKTEST = "oktest/oktest_clean.csv"
ADVBENCH = "advbench/harmful_behaviors.csv"
BEAVERTAILS = "beavertails/beavertails_30k_test_prompts.csv"
GUARDREASONER = "guardreasoner_train/guardreasoner_train.csv"
ALERT = "alert/alert_prompts.csv"
SAFETY_LLAMAS = "safety_tuned_llamas/safety_only_prompts.csv"
ALPACA = "alpaca/alpaca_prompts.csv"
ALPACA_ANSWERS = "alpaca/alpaca_5000.json"  # instruction, input, output; alpaca's row ids index it

TEST_ONLY = ("xstest", "xstest-aug", "beavertails", "beavertails-prompts")


def load_xstest(data_dir: str | os.PathLike[str] | None = None) -> list[LabelledPrompt]:
    """XSTest v2: 450 prompts (250 safe, 200 unsafe), with ``type``."""
    return csv_prompts("xstest", data_dir, XSTEST, ["id", "prompt", "type", "label"], text="prompt",
                 label=lambda r: r["label"].strip(), type="type", id="id")


def load_xstest_aug_labelled(data_dir: str | os.PathLike[str] | None = None) -> list[LabelledPrompt]:
    """XSTest-aug as 500 labelled prompts; ``pair_id`` links each unsafe prompt to its safe twin."""
    out = []
    for p in load_xstest_aug(data_dir):
        for label, text in (("unsafe", p.unsafe), ("safe", p.safe)):
            out.append(LabelledPrompt(text=text, label=label, type=p.type, pair_id=f"xstest-aug:{p.id}",
                                      id=f"{p.id}-{label}", source="xstest-aug"))
    return out


def load_jbb(data_dir: str | os.PathLike[str] | None = None) -> list[LabelledPrompt]:
    """JailbreakBench behaviours: 100 harmful goals and their 100 benign twins (``pair_id`` = ``jbb:<index>``)."""
    return csv_prompts("jbb", data_dir, JBB_LONG, ["index", "category", "label", "prompt"], text="prompt",
                 label=lambda r: r["label"].strip(), category="category", source_category="category",
                 type="category", pair_id=lambda r: f"jbb:{r['index']}", id=lambda r: f"{r['index']}-{r['label']}")


def load_oktest(data_dir: str | os.PathLike[str] | None = None) -> list[LabelledPrompt]:
    """OKTest: 350 safe prompts with harmful-looking words; its own split (OKTest train, OKTest_heldout test)."""
    return csv_prompts("oktest", data_dir, OKTEST, ["id", "split", "label", "prompt"], text="prompt",
                 label=lambda r: "safe", type="split", id="id",
                 split=lambda r: "test" if r["split"] == "OKTest_heldout" else "train")


def load_advbench(data_dir: str | os.PathLike[str] | None = None) -> list[LabelledPrompt]:
    """AdvBench harmful behaviours: 520 unsafe instructions."""
    rows = read_csv_rows(set_path(data_dir, ADVBENCH), ["goal"])
    return [LabelledPrompt(text=r["goal"], label="unsafe", id=str(i), source="advbench") for i, r in enumerate(rows)]


def load_do_not_answer_labelled(data_dir: str | os.PathLike[str] | None = None) -> list[LabelledPrompt]:
    """Do-Not-Answer as 939 unsafe labelled prompts with ``category`` = ``types_of_harm``."""
    return [LabelledPrompt(text=p.text, label="unsafe", category=p.category, source_category=p.category,
                           pair_id=f"dna:{p.id}", id=str(p.id), source="do-not-answer")
            for p in load_do_not_answer(data_dir)]


def load_contrast_labelled(data_dir: str | os.PathLike[str] | None = None) -> list[LabelledPrompt]:
    """The Safety-Contrast edits as 4,695 safe prompts; ``pair_id`` = ``dna:<id>`` of the prompt they edit."""
    out = []
    for item in load_contrast(data_dir):
        for j, e in enumerate(item.edits, 1):
            out.append(LabelledPrompt(text=e, label="safe", category=None, source_category=item.category,
                                      pair_id=f"dna:{item.id}", id=f"{item.id}-{j}", source="safety-contrast"))
    return out


def load_beavertails(data_dir: str | os.PathLike[str] | None = None) -> list[LabelledPrompt]:
    """BeaverTails 30k_test rows; labels describe the RESPONSE, so they are noisy as prompt labels."""
    return csv_prompts("beavertails", data_dir, BEAVERTAILS, ["row", "prompt", "label"], text="prompt",
                 label=lambda r: r["label"].strip(), id="row")


def load_beavertails_prompts(data_dir: str | os.PathLike[str] | None = None) -> list[LabelledPrompt]:
    """BeaverTails 30k_test as a prompt-level set: one row per distinct prompt (first occurrence), labelled
    ``unsafe`` when any of its responses was judged harmful (the prompt elicited harm), else ``safe``.

    The safe side stays noisy (a harmful prompt whose responders all refused is ``safe``), so use it to compare
    detectors, not as an absolute figure.
    """
    out: dict[str, LabelledPrompt] = {}
    for p in load_beavertails(data_dir):
        key = " ".join(p.text.split())
        first = out.setdefault(key, p)
        if p.label == "unsafe" and first.label != "unsafe":
            out[key] = dataclasses.replace(first, label="unsafe")
    return list(out.values())


def load_guardreasoner_train(data_dir: str | os.PathLike[str] | None = None) -> list[LabelledPrompt]:
    """4,539 realistic prompts (WildGuardMix, BeaverTails, Aegis, ToxicChat training splits); ``type`` = origin."""
    return csv_prompts("guardreasoner-train", data_dir, GUARDREASONER, ["id", "source", "label", "prompt"],
                 text="prompt", label=lambda r: r["label"].strip(), type="source", id="id")


def load_alert(data_dir: str | os.PathLike[str] | None = None) -> list[LabelledPrompt]:
    """ALERT: 13,257 unsafe red-teaming prompts in 32 categories."""
    return csv_prompts("alert", data_dir, ALERT, ["id", "category", "label", "prompt"], text="prompt",
                 label=lambda r: "unsafe", category="category", source_category="category", id="id")


def load_safety_tuned_llamas(data_dir: str | os.PathLike[str] | None = None) -> list[LabelledPrompt]:
    """Safety-Tuned LLaMAs: 2,479 unsafe instructions (no categories)."""
    return csv_prompts("safety-tuned-llamas", data_dir, SAFETY_LLAMAS, ["id", "label", "prompt"], text="prompt",
                 label=lambda r: "unsafe", id="id")


def load_alpaca(data_dir: str | os.PathLike[str] | None = None) -> list[LabelledPrompt]:
    """Stanford Alpaca: 5,000 ordinary instructions (all safe)."""
    return csv_prompts("alpaca", data_dir, ALPACA, ["id", "label", "prompt"], text="prompt", label=lambda r: "safe",
                       id="id")


def load_alpaca_answers(data_dir: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """The answer Stanford Alpaca gives to each of its instructions, by the ``alpaca`` set's row id, each on one
    line (runs of whitespace made one space): ordinary prose that no set labels."""
    path = set_path(data_dir, ALPACA_ANSWERS)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {str(i): " ".join(str(r["output"]).split()) for i, r in enumerate(data)}
    except (ValueError, TypeError, KeyError) as e:
        raise DataError(f"{path}: not Alpaca's JSON list of {{instruction, input, output}} records ({e}). Fix: use "
                        "the upstream file (see alpaca/SOURCES.md).") from e


NAMED_SETS: dict[str, NamedSet] = {
    "xstest": NamedSet(load_xstest, "xstest", "450 prompts, 200 unsafe"),
    "xstest-aug": NamedSet(load_xstest_aug_labelled, "safe_embed", "250 unsafe/safe look-alike pairs"),
    "jbb": NamedSet(load_jbb, "jbb_behaviors", "100 harmful behaviours and their benign twins, 10 categories"),
    "oktest": NamedSet(load_oktest, "oktest", "350 safe prompts with harmful-looking words"),
    "advbench": NamedSet(load_advbench, "advbench", "520 harmful behaviours"),
    "do-not-answer": NamedSet(load_do_not_answer_labelled, "safe_embed", "939 unsafe questions, 12 harm types"),
    "safety-contrast": NamedSet(load_contrast_labelled, "safe_embed",
                                "4,695 safe minimal edits of the Do-Not-Answer questions"),
    "beavertails": NamedSet(load_beavertails, "beavertails", "BeaverTails 30k_test rows (response labels)"),
    "beavertails-prompts": NamedSet(load_beavertails_prompts, "beavertails",
                                    "BeaverTails 30k_test, one row per prompt"),
    "guardreasoner-train": NamedSet(load_guardreasoner_train, "guardreasoner_train",
                                    "4,539 realistic user and red-team prompts, 2,245 unsafe"),
    "alert": NamedSet(load_alert, "alert", "13,257 unsafe red-teaming prompts, 32 categories"),
    "safety-tuned-llamas": NamedSet(load_safety_tuned_llamas, "safety_tuned_llamas", "2,479 unsafe instructions"),
    "alpaca": NamedSet(load_alpaca, "alpaca", "5,000 ordinary instructions, all safe"),
    **SHARED_SETS,
}


def load_named(name: str, data_dir: str | os.PathLike[str] | None = None) -> list[LabelledPrompt]:
    """A registered set by name, or a :class:`DataError` listing the names."""
    if name not in NAMED_SETS:
        raise DataError(f"unknown dataset {name!r}. Fix: use one of {sorted(NAMED_SETS)} or a file path.")
    return NAMED_SETS[name].load(data_dir)


def load_labelled(name_or_path: str | os.PathLike[str], data_dir: str | os.PathLike[str] | None = None,
                  ) -> list[LabelledPrompt]:
    """Load a named set (``xstest``, ``alpaca``, ``guardreasoner-train``, ...) or a labelled file.

    >>> sorted(NAMED_SETS)[:3]
    ['aart', 'advbench', 'alert']
    """
    key = str(name_or_path)
    if key in NAMED_SETS:
        return NAMED_SETS[key].load(data_dir)
    from pathlib import Path

    p = Path(key)
    if p.suffix.lower() in (".csv", ".jsonl", ".json", ".ndjson", ".parquet") or p.exists():
        return load_labelled_file(p, Columns())
    raise DataError(f"unknown dataset {key!r}. Fix: use one of {sorted(NAMED_SETS)} or a path to a .csv/.jsonl "
                    "file with 'text' and 'label' columns.")
