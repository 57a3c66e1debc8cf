"""Robustness to an attacker's cheap rewrites: recall (unsafe) and FPR (safe) per rewrite at the stored threshold.

Unsafe prompts: the test splits of AdvBench, ALERT, Safety-Tuned LLaMAs, Do-Not-Answer and JBB's harmful
behaviours; safe: the test splits of Alpaca, OKTest, GuardReasoner (its safe rows), JBB's benign twins and
Arena-Hard. Splits are the detector's own (its splits.json); a set its data held out (JBB by default) is taken
whole. ``--split val`` reads the val splits instead (held-out sets left out, the templates of the val split), so
that choices between recipes never look at the test figures. Each set gets an equal share of the sample, a smaller
set giving the rest to the others (a seeded draw). Every rewrite of bench/_rewrites.py is applied to every sampled prompt: the
two-turn rewrites are scored by ``safe_embed.guard.check`` on the conversation (what ``guard()`` decides), the
others by ``detector.classify``. The benign prefix and suffix are ordinary prose: the answers Alpaca's data gives
to the instructions of the split (at least 20 words each; no model reads them in training), joined into a
paragraph. A preface of many unrelated instructions is another matter (a list of requests, each judged) and is
left to the ``prefaced`` evaluation set.

    python bench/robustness.py                                  # the default detector, 600 unsafe / 650 safe
    python bench/robustness.py --detector DIR --quick           # 60 / 65
    python bench/robustness.py --only prefix_300 base64 --out /tmp/r.json
    python bench/robustness.py --merge r_s0.json r_s1.json r_s2.json   # one run per detector seed: mean ± sd

Prints recall and FPR per rewrite with their change from the unrewritten prompts, the FPR on ordinary traffic
(Alpaca, Arena-Hard), and three missed unsafe prompts per rewrite; writes every figure to
``bench/results/robustness.json`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, data_dir, ensure_detector, eval_prompts, machine, table, write_json
from _rewrites import SLOT, JailbreakFrame, Rewrite, standard_rewrites

from safe_embed.data.frames import PROSE_MIN_WORDS, prose_paragraphs
from safe_embed.data.labelled import ALPACA_ANSWERS, load_alpaca_answers

UNSAFE_SETS = ("advbench", "alert", "safety-tuned-llamas", "do-not-answer", "jbb")
SAFE_SETS = ("alpaca", "oktest", "jbb", "guardreasoner-train", "arena-hard")
ORDINARY = ("alpaca", "arena-hard")  # ordinary traffic: their FPR gets columns of its own
NONE = Rewrite("none", "the prompt as it is", lambda text, seed: text)


def set_specs(det, split: str = "test") -> dict[tuple[str, str], str]:
    """(label, set) -> its evaluation-set spec: the ``split`` of the set; a set the detector held out is taken whole
    for the test split and left out of the val split."""
    held = set((det.splits or {}).get("spec", {}).get("held_out", []))
    return {(label, name): name if name in held else f"{name}:{split}"
            for label, names in (("unsafe", UNSAFE_SETS), ("safe", SAFE_SETS)) for name in names
            if split == "test" or name not in held}


def draw(groups: dict, n: int, rng: random.Random) -> dict:
    """Equal shares of ``n`` across ``groups`` (key -> list); a group smaller than its share gives the rest to
    the others. A seeded draw, each group's rows in their own order."""
    sizes, left = {}, n
    order = sorted(groups, key=lambda g: len(groups[g]))
    for i, g in enumerate(order):
        sizes[g] = min(len(groups[g]), left // (len(order) - i))
        left -= sizes[g]
    return {g: [groups[g][i] for i in sorted(rng.sample(range(len(groups[g])), sizes[g]))] for g in groups}


def filler_pool(sets: dict, root: Path) -> list[str]:
    """Ordinary prose: Alpaca's answers (one paragraph each, prose as training reads it: at least
    PROSE_MIN_WORDS words) to the Alpaca instructions of the drawn split."""
    return prose_paragraphs(sets["safe", "alpaca"], load_alpaca_answers(root))


def unseen_templates(det, root: Path, split: str = "test") -> list[tuple[str, str]]:
    """The jailbreak templates the detector's data never trained on: all 77 for a detector without
    ``template-swap`` twins, else the templates its seed put in ``split``."""
    from safe_embed.data.frames import template_split
    from safe_embed.data.shared_sets import load_jailbreak_templates

    templates = load_jailbreak_templates(root)
    spec = (det.splits or {}).get("spec", {})
    if not any(s.get("name") == "template-swap" for s in spec.get("sources", [])):
        return [(t.id, t.text) for t in templates]
    split_of = template_split(templates, int(det.splits.get("seed", 0)), tuple(det.splits.get("fractions")))
    return [(t.id, t.text) for t in templates if split_of[t.id] == split]


OVER_WINDOW = {"windowed", "unchecked_tail", "truncated"}  # flags of a prompt longer than the encoder's window


def run_rewrite(det, rw: Rewrite, texts: list[str], seed: int) -> dict:
    """Rewrite every text and score it: flagged (n,), scores (n,), over_window (n,: longer than the encoder's
    window: flagged ``windowed`` or ``unchecked_tail``, or ``truncated`` by a detector from before windows),
    rewritten, token counts."""
    from safe_embed.guard import check

    out = [rw(t, seed) for t in texts]
    dets = [check(det, m) for m in out] if rw.conversation else det.classify(out)
    tokens = None if rw.conversation else det.encoder.count_tokens(out)
    return {"flagged": np.array([d.label == "unsafe" for d in dets]), "scores": np.array([d.score for d in dets]),
            "over_window": np.array([bool(OVER_WINDOW & set(d.flags)) for d in dets]), "rewritten": out,
            "tokens": tokens}


def summarize(res: dict, base: dict | None, prompts: list[tuple[str, object]], rng: random.Random) -> dict:
    """Recall, FPR, per-set rates, changes against ``base`` (the unrewritten run) and three missed unsafe prompts;
    ``prompts``: (set, prompt) pairs."""
    y = np.array([p.label == "unsafe" for _, p in prompts])
    src = np.array([s for s, _ in prompts])
    f = res["flagged"]
    per_set = {f"{'recall' if lab == 'unsafe' else 'fpr'}/{s}": float(f[(y == (lab == "unsafe")) & (src == s)].mean())
               for lab, sets in (("unsafe", UNSAFE_SETS), ("safe", SAFE_SETS)) for s in sets
               if ((y == (lab == "unsafe")) & (src == s)).any()}  # a val run leaves the held-out sets out
    row = {"recall": float(f[y].mean()), "fpr": float(f[~y].mean()), "per_set": per_set,
           "fpr_ordinary": {s: per_set[f"fpr/{s}"] for s in ORDINARY},
           "over_window": float(res["over_window"].mean()),
           "tokens_median": None if res["tokens"] is None else float(np.median(res["tokens"]))}
    missed = np.flatnonzero(y & ~f)
    if base is not None:
        row["delta_recall"] = row["recall"] - base["recall"]
        row["delta_fpr"] = row["fpr"] - base["fpr"]
        row["unsafe_lost"] = int((y & base["flagged"] & ~f).sum())  # caught unrewritten, missed rewritten
        row["safe_newly_flagged"] = int((~y & ~base["flagged"] & f).sum())
        lost = [i for i in missed if base["flagged"][i]]
        missed = np.array(lost if len(lost) >= 3 else list(missed))
    pick = sorted(rng.sample(list(missed), min(3, len(missed))))
    row["missed_examples"] = [{"set": str(src[i]), "score": float(res["scores"][i]), "prompt": prompts[i][1].text,
                               "rewritten": shown(res["rewritten"][i])[:300]} for i in pick]
    return row


def shown(x) -> str:
    return x if isinstance(x, str) else " | ".join(m["content"] for m in x)


def sample_prompts(det, n_unsafe: int, n_safe: int, seed: int, split: str = "test") -> tuple[dict, dict, dict]:
    """The sets' specs, their prompts ((label, set) -> prompts) and the seeded sample of each."""
    specs = set_specs(det, split)
    sets = {key: [p for p in eval_prompts(det, spec) if p.label == key[0]] for key, spec in specs.items()}
    rng = random.Random(seed)
    sample = {**draw({k: v for k, v in sets.items() if k[0] == "unsafe"}, n_unsafe, rng),
              **draw({k: v for k, v in sets.items() if k[0] == "safe"}, n_safe, rng)}
    return specs, sets, sample


def template_counts(det, frame: JailbreakFrame, prompts: list, flagged: np.ndarray, seed: int) -> dict:
    """Template id -> {label: {flagged, n}, frame_alone: {flagged, score}} for the jailbreak-frame run, ids in file
    order; ``frame_alone``: the detector's verdict on the template with its slot left empty."""
    out: dict = {}
    for (_, p), f in zip(prompts, flagged, strict=True):
        c = out.setdefault(frame.template_for(p.text, seed)[0], {"unsafe": {"flagged": 0, "n": 0},
                                                                  "safe": {"flagged": 0, "n": 0}})[p.label]
        c["flagged"] += int(f)
        c["n"] += 1
    texts = dict(frame.templates)
    alone = det.classify([texts[i].replace(SLOT, "") for i in out])
    for (i, c), d in zip(out.items(), alone, strict=True):
        c["frame_alone"] = {"flagged": d.label == "unsafe", "score": round(float(d.score), 4)}
    return dict(sorted(out.items(), key=lambda kv: int(kv[0])))


def frames_not_flagged_alone(templates: dict, prompts: list, frame: JailbreakFrame, flagged: np.ndarray,
                             base: np.ndarray, seed: int) -> dict:
    """Recall and FPR of the jailbreak-frame run over the prompts whose template, slot left empty, the detector
    does not flag by itself (a frame that is flagged alone is an attack whatever it holds), with the same
    prompts' unrewritten rates."""
    keep = np.array([not templates[frame.template_for(p.text, seed)[0]]["frame_alone"]["flagged"]
                     for _, p in prompts])
    y = np.array([p.label == "unsafe" for _, p in prompts])
    rate = lambda f, m: float(f[m].mean()) if m.any() else None
    return {"templates": sum(not t["frame_alone"]["flagged"] for t in templates.values()),
            "of": len(templates), "n_unsafe": int((keep & y).sum()), "n_safe": int((keep & ~y).sum()),
            "recall": rate(flagged, keep & y), "fpr": rate(flagged, keep & ~y),
            "recall_unrewritten": rate(base, keep & y), "fpr_unrewritten": rate(base, keep & ~y)}


def report(rows: dict, n: str) -> None:
    f3, d3 = "{:.3f}".format, lambda x: "" if x is None else f"{x:+.3f}"
    print(table([{"rewrite": k, "recall": f3(r["recall"]), "Δrecall": d3(r.get("delta_recall")), "FPR": f3(r["fpr"]),
                  "ΔFPR": d3(r.get("delta_fpr")), "FPR alpaca": f3(r["fpr_ordinary"]["alpaca"]),
                  "FPR arena-hard": f3(r["fpr_ordinary"]["arena-hard"]), "over window": f3(r["over_window"]),
                  "tokens p50": "" if r["tokens_median"] is None else f"{r['tokens_median']:.0f}", "n": n}
                 for k, r in rows.items()]))
    for k, r in rows.items():
        if "frames_not_flagged_alone" in r:
            a = r["frames_not_flagged_alone"]
            f = lambda x: "-" if x is None else f"{x:.3f}"
            print(f"\n{k}, the {a['templates']} of {a['of']} templates the detector does not flag alone "
                  f"({a['n_unsafe']}/{a['n_safe']} prompts): recall {f(a['recall'])} (unrewritten "
                  f"{f(a['recall_unrewritten'])}), FPR {f(a['fpr'])} (unrewritten {f(a['fpr_unrewritten'])})")
    print("\nMissed unsafe prompts (three per rewrite; caught before the rewrite where there are three such):")
    for k, r in rows.items():
        for ex in r["missed_examples"]:
            print(f"  {k:<18} {ex['score']:.2f}  {ex['set']:<19} {ex['prompt'][:100]!r}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--detector", default=None, help="detector directory (default: the MiniLM default detector, "
                                                     "built once into bench/results/detector_minilm)")
    ap.add_argument("--n-unsafe", type=int, default=600)
    ap.add_argument("--n-safe", type=int, default=650)
    ap.add_argument("--quick", action="store_true", help="60 unsafe / 65 safe prompts")
    ap.add_argument("--seed", type=int, default=0, help="the sample, the filler text and the template draws")
    ap.add_argument("--split", choices=("test", "val"), default="test",
                    help="the sets' split (val: for choosing between recipes)")
    ap.add_argument("--only", nargs="+", default=None, metavar="REWRITE", help="these rewrites only")
    ap.add_argument("--out", default=None, help="JSON path (default bench/results/robustness.json)")
    ap.add_argument("--merge", nargs="+", default=None, metavar="JSON",
                    help="no scoring: merge one-detector runs of this bench into mean ± sd per rewrite")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.merge:
        from _robustness_merge import merge
        from _robustness_merge import report as merged_report

        merged = merge(args.merge)
        print(merged_report(merged))
        write_json(args.out, "robustness_merged", merged)
        return 0
    from safe_embed.detector import Detector
    from safe_embed.paths import resolve_data_dir

    n_unsafe, n_safe = (60, 65) if args.quick else (args.n_unsafe, args.n_safe)
    path = ensure_detector(args.detector)
    at_start = machine()
    t0 = time.time()
    det = Detector.load(path)
    root = resolve_data_dir(data_dir())
    specs, sets, sample = sample_prompts(det, n_unsafe, n_safe, args.seed, args.split)
    prompts = [(name, p) for (_, name), rows in sample.items() for p in rows]
    filler = filler_pool(sets, root)
    rewrites = standard_rewrites(filler, unseen_templates(det, root, args.split))
    unknown = sorted(set(args.only or []) - set(rewrites))
    if unknown:
        sys.exit(f"error: unknown rewrite(s) {unknown}. Fix: use names from {list(rewrites)}.")

    texts = [p.text for _, p in prompts]
    rows, base, seconds, templates = {}, None, {}, {}
    for rw in [NONE, *(rewrites[n] for n in args.only or rewrites)]:
        t = time.time()
        res = run_rewrite(det, rw, texts, args.seed)
        seconds[rw.name] = round(time.time() - t, 1)
        print(f"{rw.name}: {seconds[rw.name]:.0f} s", file=sys.stderr)
        rows[rw.name] = {"about": rw.about, **summarize(res, base, prompts, random.Random(f"{args.seed}{rw.name}"))}
        base = base or {"recall": rows["none"]["recall"], "fpr": rows["none"]["fpr"], "flagged": res["flagged"]}
        if isinstance(rw.fn, JailbreakFrame):
            templates = template_counts(det, rw.fn, prompts, res["flagged"], args.seed)
            rows[rw.name]["frames_not_flagged_alone"] = frames_not_flagged_alone(
                templates, prompts, rw.fn, res["flagged"], base["flagged"], args.seed)

    n = f"{sum(p.label == 'unsafe' for _, p in prompts)}/{sum(p.label == 'safe' for _, p in prompts)}"
    print(f"\n{path} at its stored threshold {det.calibration.threshold:g}; seed {args.seed}; n = unsafe/safe\n")
    report(rows, n)
    write_json(args.out, "robustness", {
        "detector": str(path.relative_to(ROOT) if path.resolve().is_relative_to(ROOT) else path),
        "manifest_sha256": json.loads((path / "manifest.json").read_text())["manifest_sha256"],
        "encoder": det.encoder.name, "threshold": det.calibration.threshold, "seed": args.seed, "split": args.split,
        "sizes": {"requested": {"unsafe": n_unsafe, "safe": n_safe},
                  "drawn": {f"{lab}/{name}": len(v) for (lab, name), v in sample.items()},
                  "available": {f"{lab}/{name}": len(v) for (lab, name), v in sets.items()}},
        "sets": {f"{lab}/{name}": spec for (lab, name), spec in specs.items()},
        "templates": {"file": "gptfuzz/GPTFuzzer.csv", "ids_used": list(templates), "per_template": templates},
        "filler": {"source": ALPACA_ANSWERS + " (output)", "min_words": PROSE_MIN_WORDS, "paragraphs": len(filler)},
        "rewrites": rows, "seconds": seconds, "seconds_total": round(time.time() - t0, 1), "machine": at_start})
    return 0


if __name__ == "__main__":
    sys.exit(main())
