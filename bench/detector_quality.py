"""Detector quality on held-out sets, mean ± sd over seeds: one command for the README's quality table.

For each seed it fits the tuned default (``safe-embed fit`` with ``--seed_everything SEED --data.seed SEED``; the
seed moves the split and the training randomness), exports its detector from the run, and builds the frozen-
encoder detectors on the same data and splits. Every detector is measured at its stored threshold on XSTest (450),
JBB (100 pairs, held out whole), BeaverTails (one row per prompt), the test splits of guardreasoner-train,
toxicchat-train (real traffic at its 14% base rate: F1 and AUPRC too), alpaca, arena-hard, coconot-pref,
cyberseceval (its FPR is the false-refusal rate on the MITRE rows), OKTest held-out and Do-Not-Answer, and the
generated ``wrapped`` (unseen jailbreak templates around test requests, and their safe twins) and ``prefaced``
sets, plus one-prompt latency. The tuned detector is compared with each frozen one by a paired bootstrap over
prompts on XSTest and JBB (the same prompts for every seed; each resample averages the AUROC difference over the
seeds). A category table follows (:data:`CATEGORY_SETS`: category accuracy among the flagged categorised unsafe
prompts, reported and argmax, and macro-F1). The Markdown ends with an error reading: per set, the safe prompts scored highest and the unsafe scored
lowest. ``--split val`` measures the val splits only: what a choice of data or recipe may look at.

    python bench/detector_quality.py --seeds 0 1 2                 # the README table (about 50 min per seed)
    python bench/detector_quality.py --seeds 0 --reuse && python bench/detector_quality.py --seeds 1 --reuse ...
    python bench/detector_quality.py --seeds 0 1 2 --reuse         # merges finished seeds (measures them again)
    python bench/detector_quality.py --merge OUT/s0.json OUT/s1.json OUT/s2.json   # merges one-seed runs' JSON
    python bench/detector_quality.py --seeds 0 --split val --frozen none --name mix_val
    python bench/detector_quality.py --seeds 0 --frozen mpnet=sbert-all

Writes ``<out>/detector_quality.json`` (every figure, per seed) and ``<out>/detector_quality.md`` (the table).
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, data_dir, eval_prompts, machine, pct

TEST_SETS = ["xstest", "jbb", "guardreasoner-train:test", "toxicchat-train:test", "wrapped:test", "prefaced:test",
             "alpaca:test", "arena-hard:test", "coconot-pref:test", "cyberseceval:test", "oktest-heldout", "dna-test",
             "beavertails"]
# Model selection reads these only: the val splits of the data a run trains on (never a test split or benchmark).
VAL_SETS = ["guardreasoner-train:val", "toxicchat-train:val", "wrapped:val", "prefaced:val", "alpaca:val",
            "arena-hard:val", "coconot-pref:val", "cyberseceval:val"]
# Category accuracy and macro-F1 read the sets whose categories the taxonomy maps (JBB held out whole: no val split).
CATEGORY_SETS = ["do-not-answer:test", "alert:test", "aart:test", "harmfulqa:test", "jbb"]
CATEGORY_VAL_SETS = ["do-not-answer:val", "alert:val", "aart:val", "harmfulqa:val"]
CATEGORY_COLUMNS = {"accuracy": "accuracy (reported)", "accuracy_argmax": "accuracy (argmax)",
                    "macro_f1": "macro-F1 (reported)", "macro_f1_argmax": "macro-F1 (argmax)",
                    "recall": "flagged share"}
METRICS = ["auroc", "auprc", "f1", "precision", "recall", "fpr", "tpr_at_fpr_1", "tpr_at_fpr_5"]
N_ERRORS = 10  # prompts per side in the error reading
FOCUS = {"xstest": ("precision", "recall", "tpr_at_fpr_5"), "guardreasoner-train": ("tpr_at_fpr_1", "tpr_at_fpr_5"),
         "toxicchat-train": ("f1", "auprc", "precision", "recall"), "wrapped": ("recall", "fpr"),
         "prefaced": ("recall", "fpr")}  # the second table's columns, per set
PAIRED = ("xstest", "jbb")


def fit(config: str, seed: int, run_dir: Path, reuse: bool, extra: list[str]) -> Path:
    if reuse and (run_dir / "encoder" / "modules.json").is_file():
        return run_dir
    cmd = [sys.executable, "-m", "safe_embed.cli", "fit", "--config", config, "--seed_everything", str(seed),
           "--data.seed", str(seed), "--trainer.default_root_dir", str(run_dir), "--trainer.enable_progress_bar",
           "false", *extra]
    t0 = time.time()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    (run_dir / "fit_seconds.txt").write_text(f"{time.time() - t0:.1f}\n")
    return run_dir


def latency_p50(det, n: int = 200) -> float:
    from safe_embed.data import load_labelled

    texts = [p.text for p in load_labelled("xstest", data_dir())][:n]
    for t in texts[:20]:
        det.classify([t])
    times = []
    for t in texts:
        t0 = time.perf_counter()
        det.classify([t])
        times.append(time.perf_counter() - t0)
    return pct(times, 50) * 1000


def evaluate(det, sets: list[str]) -> dict:
    from safe_embed.detector.evaluation import evaluate_named_set

    out = {}
    for name in sets:
        ev = evaluate_named_set(det, name, data_dir=data_dir())
        m = {k: ev.metrics.get(k) for k in METRICS if k in ev.metrics}
        m["n"] = ev.metrics["n"]
        out[name] = {"metrics": m, "scores": ev.scores, "errors": errors(det, name, ev.scores),
                     "overlap": ev.exemplar_overlap}
    return out


def errors(det, name: str, scores: list[float]) -> dict:
    """The :data:`N_ERRORS` highest-scoring safe prompts and lowest-scoring unsafe ones, with their scores."""
    prompts = eval_prompts(det, name)
    safe = sorted((s, p.text) for s, p in zip(scores, prompts, strict=True) if not p.is_unsafe)[::-1]
    unsafe = sorted((s, p.text) for s, p in zip(scores, prompts, strict=True) if p.is_unsafe)
    return {"safe_highest": [[round(s, 3), t] for s, t in safe[:N_ERRORS]],
            "unsafe_lowest": [[round(s, 3), t] for s, t in unsafe[:N_ERRORS]]}


def category_quality(det, sets: list[str]) -> dict:
    """Per set, the category figures of ``det`` on its categorised unsafe prompts (see
    :mod:`safe_embed.detector.category_evaluation`): accuracy and macro-F1 among the flagged ones."""
    from safe_embed.detector.category_evaluation import evaluate_named_categories

    return {name: evaluate_named_categories(det, name, data_dir()).to_dict() for name in sets}


def category_markdown(results: dict, rows: list[str], seeds: list[int], sets: list[str]) -> str:
    """Markdown: per detector and set, category accuracy and macro-F1 among the flagged categorised unsafe prompts
    (``results[seed][row][set]``: :func:`category_quality`'s), mean ± sd over ``seeds``."""
    lines = [(f"Category quality, mean ± sd over seeds {seeds}: among the categorised unsafe prompts the detector "
              "flags, the share whose reported category (or top category score: argmax) is the true one, and "
              "macro-F1 over the true categories. Target: accuracy >= 0.80."), "",
             "| detector | set | n | flagged | " + " | ".join(CATEGORY_COLUMNS.values()) + " |",
             "|---|---|---|---|" + "---|" * len(CATEGORY_COLUMNS)]
    for r in rows:
        for name in sets:
            cells = [fmt([results[str(s)][r][name][k] for s in seeds]) for k in CATEGORY_COLUMNS]
            first = results[str(seeds[0])][r][name]
            lines.append(f"| {r} | {name} | {first['n']} | {first['n_flagged']} | " + " | ".join(cells) + " |")
        pooled = [pooled_categories([results[str(s)][r][name] for name in sets]) for s in seeds]
        cells = [fmt([p[k] for p in pooled]) if k in pooled[0] else "-" for k in CATEGORY_COLUMNS]
        lines.append(f"| {r} | all, pooled | {pooled[0]['n']} | {pooled[0]['n_flagged']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def pooled_categories(per_set: list[dict]) -> dict:
    """The sets' category figures pooled over their prompts: accuracy among all flagged categorised prompts and
    the flagged share (macro-F1 needs the prompts' predictions and is left to the per-set rows).

    >>> pooled_categories([{"n": 10, "n_flagged": 8, "accuracy": 0.5, "accuracy_argmax": 0.5},
    ...                    {"n": 2, "n_flagged": 2, "accuracy": 1.0, "accuracy_argmax": 1.0}])["accuracy"]
    0.6
    """
    n, flagged = sum(d["n"] for d in per_set), sum(d["n_flagged"] for d in per_set)
    out = {"n": n, "n_flagged": flagged, "recall": round(flagged / n, 6) if n else None}
    for k in ("accuracy", "accuracy_argmax"):
        hits = sum((d[k] or 0.0) * d["n_flagged"] for d in per_set)
        out[k] = round(hits / flagged, 6) if flagged else None
    return out


def error_reading(results: dict, row: str, seed: int, sets: list[str]) -> list[str]:
    """Markdown: per set, the safe prompts scored highest and the unsafe ones scored lowest (one seed)."""
    def line(score: float, text: str) -> str:
        flat = " ".join(text.split())
        return f"  - {score:.3f} {flat[:160] + ('...' if len(flat) > 160 else '')}"

    out = ["", f"## Error reading ({row}, seed {seed})", ""]
    for name in sets:
        e = results[str(seed)][row][name]["errors"]
        out.append(f"**{name}**")
        for key, title in (("safe_highest", "safe, highest scores"), ("unsafe_lowest", "unsafe, lowest scores")):
            if e[key]:
                out += [f"- {title}:", *(line(s, t) for s, t in e[key])]
        out.append("")
    return out


def fmt(values: list[float]) -> str:
    v = [x for x in values if x is not None]
    if not v:
        return "-"
    return f"{np.mean(v):.3f}" if len(v) == 1 else f"{np.mean(v):.3f} ± {np.std(v, ddof=1):.3f}"


def paired(results: dict, a: str, b: str, seeds: list[int], name: str, n_boot: int = 2000) -> tuple[float, ...]:
    """Mean over seeds of AUROC(b) - AUROC(a) on ``name``, with a bootstrap interval resampling prompts jointly."""
    from safe_embed import metrics
    from safe_embed.detector.eval_sets import load_eval_set

    y = np.array([p.is_unsafe for p in load_eval_set(name, data_dir=data_dir())], dtype=int)
    sa = [np.asarray(results[str(s)][a][name]["scores"]) for s in seeds]
    sb = [np.asarray(results[str(s)][b][name]["scores"]) for s in seeds]
    point = np.mean([metrics.auroc(y, x2) - metrics.auroc(y, x1) for x1, x2 in zip(sa, sb)])
    rng = np.random.default_rng(0)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    diffs = []
    for _ in range(n_boot):
        idx = np.r_[rng.choice(pos, len(pos)), rng.choice(neg, len(neg))]
        diffs.append(np.mean([metrics.auroc(y[idx], x2[idx]) - metrics.auroc(y[idx], x1[idx])
                              for x1, x2 in zip(sa, sb)]))
    lo, hi = np.quantile(diffs, [0.025, 0.975])
    return float(point), float(lo), float(hi)


def markdown(results: dict, rows: list[str], seeds: list[int], tests: dict, latency: dict, sets: list[str]) -> str:
    head = "| detector | " + " | ".join(sets) + " |\n|---|" + "---|" * len(sets)
    lines = [f"Mean ± sd over seeds {seeds}. Cell: AUROC / F1 / FPR at the stored threshold.", "", head]
    for r in rows:
        cells = []
        for name in sets:
            vals = {k: [results[str(s)][r][name]["metrics"].get(k) for s in seeds] for k in ("auroc", "f1", "fpr")}
            cells.append(" / ".join(fmt(vals[k]) for k in ("auroc", "f1", "fpr")))
        lines.append(f"| {r} | " + " | ".join(cells) + " |")
    focus = [(n, k) for n in sets for k in FOCUS.get(n.partition(":")[0], ())]
    lines += ["", "| detector | " + " | ".join(f"{k} ({n})" for n, k in focus) + " | one-prompt p50 |",
              "|---|" + "---|" * (len(focus) + 1)]
    for r in rows:
        cells = [fmt([results[str(s)][r][n]["metrics"].get(k) for s in seeds]) for n, k in focus]
        lines.append(f"| {r} | " + " | ".join(cells) + f" | {latency.get(r, float('nan')):.1f} ms |")
    if tests:
        lines += ["", "Paired bootstrap (prompts resampled jointly; mean over seeds), AUROC difference, 95% interval:"]
        for (a, b, name), (d, lo, hi) in tests.items():
            lines.append(f"* {b} - {a} on {name}: {d:+.3f} [{lo:+.3f}, {hi:+.3f}]")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--config", default=str(ROOT / "configs" / "train" / "lora_minilm.yaml"),
                    help="the tuned default's training config")
    ap.add_argument("--tuned-name", default="MiniLM tuned (default)")
    ap.add_argument("--frozen", action="append", default=None, metavar="NAME=MODEL[:RULE]",
                    help="frozen-encoder rows (default: the off-the-shelf MiniLM with the default rule and with "
                         "the head rule, and all-mpnet-base-v2 with the default rule; 'none' for no frozen row)")
    ap.add_argument("--tuned-rule", action="append", default=[], metavar="NAME=RULE",
                    help="extra rows: the tuned encoder with another scoring rule")
    ap.add_argument("--fit-arg", action="append", default=[], help="extra argument for safe-embed fit")
    ap.add_argument("--runs", default=str(ROOT / "runs" / "quality"), help="run and detector directories")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    ap.add_argument("--name", default="detector_quality", help="stem of the JSON and Markdown files written")
    ap.add_argument("--reuse", action="store_true", help="reuse finished runs and detectors")
    ap.add_argument("--split", choices=("test", "val"), default="test",
                    help="val: the val splits only (choosing a data mix or a recipe); test: the reported figures")
    ap.add_argument("--merge", nargs="+", default=None, metavar="JSON",
                    help="no fitting: merge the JSON of one-seed runs of this bench into one table (paired "
                         "bootstraps need the prompts' scores and are left out)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.merge:
        return write_merged([json.loads(Path(p).read_text()) for p in args.merge], Path(args.out), args.name,
                            args.tuned_name)
    from safe_embed.detector import Detector, ScoringRule
    from safe_embed.detector.build import export_detector
    from safe_embed.scoring import DEFAULT_RULE

    frozen = [] if args.frozen == ["none"] else args.frozen or [f"MiniLM off-the-shelf ({DEFAULT_RULE})=all-MiniLM-L6-v2:{DEFAULT_RULE}",
                             "MiniLM frozen + head=all-MiniLM-L6-v2:head",
                             f"mpnet off-the-shelf ({DEFAULT_RULE})=sbert-all:{DEFAULT_RULE}"]
    sets = TEST_SETS if args.split == "test" else VAL_SETS
    category_sets = CATEGORY_SETS if args.split == "test" else CATEGORY_VAL_SETS
    categories: dict = {}
    runs = Path(args.runs)
    results: dict = {}
    dets: dict[str, Path] = {}
    fit_seconds, build_seconds = {}, {}
    for seed in args.seeds:
        run = fit(args.config, seed, runs / f"seed{seed}" / "run", args.reuse, args.fit_arg)
        fit_seconds[seed] = float((run / "fit_seconds.txt").read_text()) if (run / "fit_seconds.txt").is_file() else None
        specs = [(args.tuned_name, str(run), DEFAULT_RULE)]
        specs += [(n, str(run), r) for n, r in (x.split("=", 1) for x in args.tuned_rule)]
        for item in frozen:
            name, model = item.split("=", 1)
            model, _, rule = model.partition(":")
            specs.append((name, model, rule or DEFAULT_RULE))
        results[str(seed)] = {}
        for name, model, rule in specs:
            out = runs / f"seed{seed}" / ("det_" + "".join(c if c.isalnum() else "_" for c in name))
            t0 = time.time()
            if args.reuse and (out / "manifest.json").is_file():
                det = Detector.load(out, cache=True)
            else:
                # frozen rows use the tuned run's data and splits (its splits.json): every row sees the same data
                det = export_detector(model, out, rule=ScoringRule(rule),
                                      splits_from=None if model == str(run) else run)
            build_seconds.setdefault(name, {})[seed] = round(time.time() - t0, 1)
            print(f"seed {seed}: {name}: built in {time.time() - t0:.0f} s", file=sys.stderr)
            results[str(seed)][name] = evaluate(det, sets)
            categories.setdefault(str(seed), {})[name] = category_quality(det, category_sets)
            dets[name] = out
    rows = list(results[str(args.seeds[0])])
    tests = {}
    for a in rows[1:]:
        if a.startswith(args.tuned_name):
            continue
        for name in PAIRED if args.split == "test" else ():
            tests[(a, args.tuned_name, name)] = paired(results, a, args.tuned_name, args.seeds, name)
    latency = {name: latency_p50(Detector.load(path)) for name, path in dets.items()}
    md = markdown(results, rows, args.seeds, tests, latency, sets)
    md += "\n" + category_markdown(categories, rows, args.seeds, category_sets)
    md += "\n".join(error_reading(results, args.tuned_name, args.seeds[0], sets)) + "\n"
    print(md)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    payload = {"seeds": args.seeds, "config": args.config, "sets": sets, "split": args.split, "machine": machine(),
               "fit_seconds": fit_seconds, "build_seconds": build_seconds, "latency_p50_ms": latency,
               "paired_bootstrap": [{"a": a, "b": b, "set": n, "diff": d, "lo": lo, "hi": hi}
                                    for (a, b, n), (d, lo, hi) in tests.items()],
               "results": {s: {r: {n: v["metrics"] for n, v in d.items()} for r, d in rr.items()}
                           for s, rr in results.items()},
               "categories": categories, "category_sets": category_sets,
               "errors": {s: {r: {n: v["errors"] for n, v in d.items()} for r, d in rr.items()}
                          for s, rr in results.items()}}
    (out / f"{args.name}.json").write_text(json.dumps(payload, indent=1, default=float) + "\n")
    (out / f"{args.name}.md").write_text(md)
    print(f"wrote {out / (args.name + '.json')} and {out / (args.name + '.md')}", file=sys.stderr)
    return 0


def write_merged(parts: list[dict], out: Path, name: str, tuned_name: str) -> int:
    """One table from one-seed runs of this bench (same split and sets), each seed's figures as measured."""
    if len({(p["split"], tuple(p["sets"])) for p in parts}) != 1:
        sys.exit("error: the runs to merge measured different splits or sets. Fix: merge runs of one --split.")
    seeds = [s for p in parts for s in p["seeds"]]
    if len(set(seeds)) != len(seeds):
        sys.exit(f"error: seeds {seeds} repeat across the runs. Fix: merge one run per seed.")
    sets, category_sets = parts[0]["sets"], parts[0]["category_sets"]
    results = {s: {r: {n: {"metrics": m, "errors": p["errors"][s][r][n]} for n, m in d.items()}
                   for r, d in p["results"][s].items()} for p in parts for s in p["results"]}
    categories = {s: c for p in parts for s, c in p["categories"].items()}
    rows = list(results[str(seeds[0])])
    latency = {r: float(np.median([p["latency_p50_ms"][r] for p in parts])) for r in rows}
    md = markdown(results, rows, seeds, {}, latency, sets)
    md += "\n" + category_markdown(categories, rows, seeds, category_sets)
    md += "\n".join(error_reading(results, tuned_name, seeds[0], sets)) + "\n"
    print(md)
    payload = {"seeds": seeds, "merged_from": [{"seeds": p["seeds"], "machine": p["machine"]} for p in parts],
               "config": parts[0]["config"], "sets": sets, "split": parts[0]["split"],
               "fit_seconds": {str(k): v for p in parts for k, v in p["fit_seconds"].items()},
               "build_seconds": {r: {k: v for p in parts for k, v in p["build_seconds"].get(r, {}).items()}
                                 for r in rows},
               "latency_p50_ms": latency, "paired_bootstrap": [],
               "results": {s: {r: {n: v["metrics"] for n, v in d.items()} for r, d in rr.items()}
                           for s, rr in results.items()},
               "categories": categories, "category_sets": category_sets,
               "errors": {str(seeds[0]): {r: {n: v["errors"] for n, v in d.items()}
                                          for r, d in results[str(seeds[0])].items()}}}  # the others: their runs' JSON
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(payload, indent=1, default=float) + "\n")
    (out / f"{name}.md").write_text(md)
    print(f"wrote {out / (name + '.json')} and {out / (name + '.md')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
