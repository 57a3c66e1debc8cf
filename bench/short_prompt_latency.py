"""One-prompt latency of the current code against another checkout, in one run: two worker processes, one per
tree, time ``classify([prompt])`` on the same detector and prompts in alternating rounds, and the bench reports
each side's p50/p95 and the per-round ratio of p50s (median and range).

    python bench/short_prompt_latency.py --baseline-python /work/wt-base/.venv/bin/python [--detector DIR]

``--baseline-python`` is a Python whose ``safe_embed`` is the other checkout (e.g. a git worktree of the commit to
compare with, with a venv made by ``python -m venv --system-site-packages .venv && .venv/bin/pip install
--no-deps -e .``). Prompts are XSTest's 450 short questions; the worker is this file run with ``--worker``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ensure_detector, machine, pct, prompts, table, write_json


def worker(detector: str, n: int) -> None:
    """Answer each line on stdin ("go") with the latencies (ms) of ``n`` one-prompt classifications, as JSON."""
    from safe_embed.detector import Detector

    det = Detector.load(detector)
    texts = prompts(n)
    det.classify(texts[:20])  # warm up
    print(json.dumps({"ready": True, "module": __import__("safe_embed").__file__}), flush=True)
    for _ in sys.stdin:
        ms = []
        for t in texts:
            t0 = time.perf_counter()
            det.classify([t])
            ms.append((time.perf_counter() - t0) * 1000)
        print(json.dumps(ms), flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline-python", required=False, help="a Python whose safe_embed is the other checkout")
    ap.add_argument("--detector", default=None)
    ap.add_argument("--n", type=int, default=450, help="prompts per round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", default=None)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    path = str(ensure_detector(args.detector))
    if args.worker:
        worker(path, args.n)
        return 0
    if not args.baseline_python:
        sys.exit("error: give --baseline-python (a Python whose safe_embed is the checkout to compare with).")
    sides = {"current": sys.executable, "baseline": args.baseline_python}
    procs, modules = {}, {}
    for name, py in sides.items():
        procs[name] = subprocess.Popen([py, __file__, "--worker", "--detector", path, "--n", str(args.n)],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        modules[name] = json.loads(procs[name].stdout.readline())["module"]
    runs: dict[str, list[list[float]]] = {name: [] for name in sides}
    for r in range(args.rounds):
        for name in (sides if r % 2 == 0 else reversed(list(sides))):  # alternate who goes first
            procs[name].stdin.write("go\n")
            procs[name].stdin.flush()
            runs[name].append(json.loads(procs[name].stdout.readline()))
    for p in procs.values():
        p.stdin.close()
        p.wait()
    ratios = [statistics.median(c) / statistics.median(b) for c, b in zip(runs["current"], runs["baseline"],
                                                                         strict=True)]
    rows = [{"side": name, "module": modules[name], "p50 ms": statistics.median(sum(runs[name], [])),
             "p95 ms": pct(sum(runs[name], []), 95)} for name in sides]
    print(table(rows))
    print(f"\nper-round p50 ratio current/baseline: median {statistics.median(ratios):.3f} "
          f"(range {min(ratios):.3f}-{max(ratios):.3f}; {args.rounds} rounds of {args.n} prompts)")
    write_json(args.out, "short_prompt_latency", {"detector": path, "rows": rows, "ratios": ratios,
                                                  "rounds": args.rounds, "n": args.n, "machine": machine()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
