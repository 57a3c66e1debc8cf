"""Recipes that derive the project's data files from the public originals (byte-for-byte reproducible)."""

from __future__ import annotations

import ast
import json
import random
from collections.abc import Callable
from pathlib import Path

from safe_embed.data.derive_shared import SHARED_RECIPES
from safe_embed.data.io import read_csv_rows, read_json, write_csv
from safe_embed.errors import DataError

BEAVERTAILS_FLAGS = [
    "animal_abuse", "child_abuse", "controversial_topics,politics", "discrimination,stereotype,injustice",
    "drug_abuse,weapons,banned_substance", "financial_crime,property_crime,theft", "hate_speech,offensive_language",
    "misinformation_regarding_ethics,laws_and_safety", "non_violent_unethical_behavior", "privacy_violation",
    "self_harm", "sexually_explicit,adult_content", "terrorism,organized_crime",
    "violence,aiding_and_abetting,incitement",
]
JBB_CATEGORIES = ["Harassment/Discrimination", "Malware/Hacking", "Physical harm", "Economic harm",
                  "Fraud/Deception", "Disinformation", "Sexual/Adult content", "Privacy", "Expert advice",
                  "Government decision-making"]


def dna_prompts(src: dict[str, Path], out: Path) -> None:
    """do_not_answer.csv -> do_not_answer_prompts.csv (the five prompt columns, same row order)."""
    cols = ["id", "risk_area", "types_of_harm", "specific_harms", "question"]
    rows = read_csv_rows(src["do_not_answer"], cols)
    write_csv(out, cols, [[r[c] for c in cols] for r in rows])


def oktest_clean(src: dict[str, Path], out: Path) -> None:
    """OKTest.csv + OKTest_heldout.csv -> oktest_clean.csv (id, split, label=safe, stripped prompt)."""
    rows = []
    for split in ("OKTest", "OKTest_heldout"):
        for r in read_csv_rows(src[split], ["prompt"]):
            rows.append([len(rows), split, "safe", r["prompt"].strip()])
    write_csv(out, ["id", "split", "label", "prompt"], rows)


def _beavertails_records(path: Path) -> list[dict]:
    data = read_json(path)
    if not isinstance(data, list) or not all(isinstance(d, dict) and "text" in d and "label" in d for d in data):
        raise DataError(f"{path}: expected a list of records with 'text' and 'label'.")
    return data


def beavertails_prompts(src: dict[str, Path], out: Path) -> None:
    """wizard101 beavertails_30k.json -> beavertails_30k_test_prompts.csv (row, prompt, is_safe, label, flags)."""
    rows = []
    for i, rec in enumerate(_beavertails_records(src["beavertails_json"])):
        cats = rec.get("category") or "{}"
        flags = ast.literal_eval(cats) if isinstance(cats, str) else cats  # a literal dict, never code
        safe = rec["label"] == "safe"
        rows.append([i, rec["text"], str(safe), "safe" if safe else "unsafe",
                     *[str(bool(flags.get(f, False))) for f in BEAVERTAILS_FLAGS]])
    write_csv(out, ["row", "prompt", "is_safe", "label", *BEAVERTAILS_FLAGS], rows)


def beavertails_sample(src: dict[str, Path], out: Path, seed: int = 42, n: int = 500) -> None:
    """Prompts CSV -> the 500 safe + 500 unsafe normalization sample (dedupe keep-first; random.Random(seed)).

    Written safe rows first, then unsafe rows, each sorted by ``row``: the paper's concatenation order.
    """
    rows = read_csv_rows(src["beavertails_prompts"], ["row", "prompt", "is_safe", "label"])
    seen: set[str] = set()
    uniq = []
    for r in rows:
        if r["prompt"] not in seen:
            seen.add(r["prompt"])
            uniq.append(r)
    rng = random.Random(seed)
    safe = rng.sample([r for r in uniq if r["label"] == "safe"], n)
    unsafe = rng.sample([r for r in uniq if r["label"] == "unsafe"], n)
    picked = sorted(safe, key=lambda r: int(r["row"])) + sorted(unsafe, key=lambda r: int(r["row"]))
    write_csv(out, ["row", "prompt", "is_safe", "label"],
               [[r["row"], r["prompt"], r["is_safe"], r["label"]] for r in picked])


def jbb_long(src: dict[str, Path], out: Path) -> None:
    """wizard101 jailbreakbench.json (100 harmful then 100 benign) -> jbb_behaviors_long.csv."""
    data = _beavertails_records(src["jbb_json"])
    if len(data) != 200:
        raise DataError(f"{src['jbb_json']}: expected 200 records (100 harmful + 100 benign), got {len(data)}.")
    rows = [[i % 100, JBB_CATEGORIES[(i % 100) // 10], "unsafe" if i < 100 else "safe", d["text"]]
            for i, d in enumerate(data)]
    write_csv(out, ["index", "category", "label", "prompt"], rows)


def jbb_pairs(src: dict[str, Path], out: Path) -> None:
    """wizard101 jailbreakbench.json -> jbb_behaviors_pairs.csv (index, category, harmful_goal, benign_goal)."""
    data = _beavertails_records(src["jbb_json"])
    rows = [[i, JBB_CATEGORIES[i // 10], data[i]["text"], data[100 + i]["text"]] for i in range(100)]
    write_csv(out, ["index", "category", "harmful_goal", "benign_goal"], rows)


def _instruction(d: dict) -> str:
    return d["instruction"] + ("\n" + d["input"] if d.get("input") else "")


def guardreasoner_prompts(src: dict[str, Path], out: Path, exclude: list[int] = ()) -> None:
    """guardreasoner_test_5k.json -> guardreasoner_train.csv (id = position; harmful -> unsafe; ``exclude``:
    the duplicates and the prompts found verbatim in evaluation sets)."""
    data, drop = read_json(src["guardreasoner_json"]), set(exclude)
    rows = [[i, d["source"], "unsafe" if d["label"] == "harmful" else "safe", d["prompt"]]
            for i, d in enumerate(data) if i not in drop]
    write_csv(out, ["id", "source", "label", "prompt"], rows, "\n")


def alert_prompts(src: dict[str, Path], out: Path, exclude: list[int] = ()) -> None:
    """alert.jsonl -> alert_prompts.csv (the "### Instruction:" template stripped; every prompt unsafe)."""
    drop = set(exclude)
    rows = []
    for line in src["alert_jsonl"].read_text(encoding="utf-8").splitlines():
        if line.strip():
            d = json.loads(line)
            q = d["query"].removeprefix("### Instruction:\n").removesuffix("\n### Response:\n").strip()
            if d["id"] not in drop:
                rows.append([d["id"], d["category"], "unsafe", q])
    write_csv(out, ["id", "category", "label", "prompt"], rows, "\n")


def instruction_prompts(src: dict[str, Path], out: Path, label: str = "safe", exclude: list[int] = ()) -> None:
    """An instruction/input/output JSON list -> id, label, prompt (instruction, plus input on a new line)."""
    drop = set(exclude)
    rows = [[i, label, _instruction(d)] for i, d in enumerate(read_json(src["instructions_json"])) if i not in drop]
    write_csv(out, ["id", "label", "prompt"], rows, "\n")


RECIPES: dict[str, Callable[..., None]] = {
    "dna_prompts": dna_prompts,
    "oktest_clean": oktest_clean,
    "beavertails_prompts": beavertails_prompts,
    "beavertails_sample": beavertails_sample,
    "jbb_long": jbb_long,
    "jbb_pairs": jbb_pairs,
    "guardreasoner_prompts": guardreasoner_prompts,
    "alert_prompts": alert_prompts,
    "instruction_prompts": instruction_prompts,
    **SHARED_RECIPES,
}
