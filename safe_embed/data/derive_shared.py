"""Recipes that derive the shared sets' prompt CSVs from their upstream files, byte for byte.

Every recipe writes ``id`` as the row's position in the output (ToxicChat keeps a prefix of its upstream id),
and takes ``exclude``: positions in the upstream record sequence to leave out (the duplicates, the texts found in
evaluation sets and the texts already in another shared set, listed in each card). Where a set has several
upstream files, positions run on through them in the order the docstring gives. :data:`SHARED_RECIPES` is merged
into :data:`~safe_embed.data.derive.RECIPES`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from safe_embed.data.io import read_csv_rows, read_json, read_jsonl_rows, write_csv
from safe_embed.errors import DataError

COCONOT_SAFETY = "Requests with safety concerns"  # the CoCoNot category whose prompts should be answered


def _kept(records: Iterable, exclude: Iterable[int]) -> list:
    """``records`` without the positions in ``exclude``.

    >>> _kept("abcd", [1, 3])
    ['a', 'c']
    """
    drop = set(exclude)
    return [r for i, r in enumerate(records) if i not in drop]


def _write(out: Path, header: list[str], rows: list[list]) -> None:
    """``rows`` numbered from 0 in a first ``id`` column (LF line ends, as published)."""
    write_csv(out, ["id", *header], [[i, *r] for i, r in enumerate(rows)], "\n")


def _typed(path: Path, value, kind: type, what: str):
    if not isinstance(value, kind):
        raise DataError(f"{path}: expected {what}, got {type(value).__name__}. Fix: use the upstream file named in "
                        "the card (`safe-embed data pull NAME`).")
    return value


def toxicchat_prompts(src: dict[str, Path], out: Path, exclude: list[int] = ()) -> None:
    """JUDGE-BENCH ``toxic_chat_train.json`` -> id (16 hex digits of the upstream id), label (toxicity majority:
    ``1`` -> unsafe), jailbreaking (its majority, 0/1), prompt."""
    path = src["toxicchat_json"]
    data = _typed(path, read_json(path), dict, "an object with 'instances'")
    rows = []
    for d in _kept(_typed(path, data.get("instances"), list, "a list under 'instances'"), exclude):
        votes = d["annotations"]
        label = "unsafe" if votes["toxicity"]["majority_human"] == "1" else "safe"
        rows.append([d["id"][:16], label, votes["jailbreaking"]["majority_human"], d["instance"]])
    write_csv(out, ["id", "label", "jailbreaking", "prompt"], rows, "\n")


def aart_prompts(src: dict[str, Path], out: Path, exclude: list[int] = ()) -> None:
    """``aart-v1-20231117.csv`` -> id, category (crime), use_case, label (unsafe), prompt."""
    rows = read_csv_rows(src["aart_csv"], ["prompt", "crime", "use_case"])
    _write(out, ["category", "use_case", "label", "prompt"],
           [[r["crime"], r["use_case"], "unsafe", r["prompt"]] for r in _kept(rows, exclude)])


def sap_prompts(src: dict[str, Path], out: Path, exclude: list[int] = ()) -> None:
    """SAP200 ``<category>/generated_cases.json`` files (inputs keyed by category, read in alphabetical order)
    -> id, category, label (unsafe), prompt (the ``Attack Prompt`` field)."""
    records = [(cat, d["Attack Prompt"]) for cat in sorted(src)
               for d in _typed(src[cat], read_json(src[cat]), list, "a list of cases")]
    _write(out, ["category", "label", "prompt"], [[c, "unsafe", p] for c, p in _kept(records, exclude)])


def harmfulqa_prompts(src: dict[str, Path], out: Path, exclude: list[int] = ()) -> None:
    """``harmfulqa.json`` then ``catqa_english.json`` ({topic: {subtopic: [question]}}) -> id, subset, category
    (``topic/subtopic``, a trailing ``:`` of the subtopic dropped), label (unsafe), prompt."""
    records = []
    for subset, key in (("harmfulqa", "harmfulqa_json"), ("catqa", "catqa_json")):
        tree = _typed(src[key], read_json(src[key]), dict, "{topic: {subtopic: [question]}}")
        records += [(subset, f"{topic}/{sub.removesuffix(':')}", q)
                    for topic, subs in tree.items() for sub, questions in subs.items() for q in questions]
    _write(out, ["subset", "category", "label", "prompt"],
           [[s, c, "unsafe", q] for s, c, q in _kept(records, exclude)])


def cyberseceval_prompts(src: dict[str, Path], out: Path, exclude: list[int] = ()) -> None:
    """``mitre_frr.json`` (safe, no category) then ``interpreter.json`` (unsafe, category = its attack types)
    -> id, subset, category, label, prompt (the ``mutated_prompt`` field)."""
    records = [("mitre_frr", "", "safe", d["mutated_prompt"])
               for d in _typed(src["mitre_frr_json"], read_json(src["mitre_frr_json"]), list, "a list of prompts")]
    records += [("interpreter", "; ".join(d["attack_type"]), "unsafe", d["mutated_prompt"])
                for d in _typed(src["interpreter_json"], read_json(src["interpreter_json"]), list,
                                "a list of prompts")]
    _write(out, ["subset", "category", "label", "prompt"], [list(r) for r in _kept(records, exclude)])


def gptfuzz_questions(src: dict[str, Path], out: Path, exclude: list[int] = ()) -> None:
    """GPTFuzz ``question_list.csv`` (index, text) -> id, label (unsafe), prompt."""
    rows = read_csv_rows(src["questions_csv"], ["index", "text"])
    _write(out, ["label", "prompt"], [["unsafe", r["text"]] for r in _kept(rows, exclude)])


def arena_hard_prompts(src: dict[str, Path], out: Path, exclude: list[int] = ()) -> None:
    """Arena-Hard ``question.jsonl`` -> id, category (topic cluster), label (safe), prompt (the first turn)."""
    rows = read_jsonl_rows(src["questions_jsonl"], ["cluster", "turns"])
    _write(out, ["category", "label", "prompt"],
           [[r["cluster"], "safe", r["turns"][0]["content"]] for r in _kept(rows, exclude)])


def coconot_pref_prompts(src: dict[str, Path], out: Path, exclude: list[int] = ()) -> None:
    """``coconot_pref.jsonl`` -> the rows of :data:`COCONOT_SAFETY` as id, category (subcategory), label (safe),
    prompt; ``exclude`` counts every line of the file."""
    rows = read_jsonl_rows(src["coconot_jsonl"], ["category", "subcategory", "prompt"])
    _write(out, ["category", "label", "prompt"],
           [[r["subcategory"], "safe", r["prompt"]] for r in _kept(rows, exclude) if r["category"] == COCONOT_SAFETY])


SHARED_RECIPES: dict[str, Callable[..., None]] = {
    "toxicchat_prompts": toxicchat_prompts,
    "aart_prompts": aart_prompts,
    "sap_prompts": sap_prompts,
    "harmfulqa_prompts": harmfulqa_prompts,
    "cyberseceval_prompts": cyberseceval_prompts,
    "gptfuzz_questions": gptfuzz_questions,
    "arena_hard_prompts": arena_hard_prompts,
    "coconot_pref_prompts": coconot_pref_prompts,
}
