"""Shared helpers for the bench scripts: the default detector, prompts, percentiles, tables, JSON output."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_DETECTOR = RESULTS / "detector_minilm"
ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> str | None:
    """$SAFE_EMBED_DATA, else ../shared/data beside the checkout when present (else the project default)."""
    if os.environ.get("SAFE_EMBED_DATA"):
        return os.environ["SAFE_EMBED_DATA"]
    shared = ROOT.parent / "shared" / "data"
    return str(shared) if shared.is_dir() else None


def ensure_detector(path: str | os.PathLike[str] | None) -> Path:
    """``path``, or the default MiniLM detector (``safe-embed export`` with configs/detector/default.yaml),
    built once into bench/results/detector_minilm."""
    p = Path(path) if path else DEFAULT_DETECTOR
    if not (p / "manifest.json").is_file():
        if path:
            sys.exit(f"error: {p} is not a detector directory. Fix: build one with `safe-embed export --out {p}`.")
        print(f"building the default detector into {p} (safe-embed export, once) ...", file=sys.stderr)
        extra = ["--data-dir", data_dir()] if data_dir() else []
        subprocess.run([sys.executable, "-m", "safe_embed.cli", "export", "--out", str(p), *extra], check=True,
                       stdout=subprocess.DEVNULL)
    return p


def prompts(n: int | None = None) -> list[str]:
    """Real user prompts (XSTest: 450 short questions, safe and unsafe), repeated to ``n`` if asked."""
    from safe_embed.data import load_labelled

    texts = [p.text for p in load_labelled("xstest", data_dir())]
    if n is None:
        return texts
    return [texts[i % len(texts)] for i in range(n)]


def pct(xs, q: float) -> float:
    return float(np.percentile(np.asarray(xs, dtype=np.float64), q)) if len(xs) else float("nan")


def machine() -> dict:
    import torch

    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "python": platform.python_version(), "processor": platform.processor() or platform.machine(),
            "loadavg_at_start": [round(x, 2) for x in load] if load else None,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def table(rows: list[dict], cols: list[str] | None = None, floatfmt: str = "{:.4g}") -> str:
    """A plain-text table of ``rows`` (dicts), columns in ``cols`` order."""
    cols = cols or list(rows[0]) if rows else []
    cell = [[floatfmt.format(r.get(c)) if isinstance(r.get(c), float) else str(r.get(c, "")) for c in cols]
            for r in rows]
    width = [max(len(c), *(len(x[i]) for x in cell)) for i, c in enumerate(cols)]
    line = lambda xs: "  ".join(x.rjust(w) for x, w in zip(xs, width, strict=True))
    return "\n".join([line(cols), line(["-" * w for w in width]), *(line(x) for x in cell)])


def _strict(x):
    """``x`` with every NaN or infinite float (numpy's too) as None, so the file is standard JSON."""
    if isinstance(x, dict):
        return {k: _strict(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_strict(v) for v in x]
    if isinstance(x, (float, np.floating)):
        return float(x) if np.isfinite(x) else None
    return x


def write_json(out: str | os.PathLike[str] | None, name: str, payload: dict) -> Path:
    """Write ``payload`` as standard JSON (NaN as null) to ``out`` or ``bench/results/NAME.json``."""
    path = Path(out) if out else RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_strict(payload), indent=2, default=float, allow_nan=False) + "\n", encoding="utf-8")
    print(f"\nwrote {path}")
    return path


def eval_prompts(det, name: str | dict) -> list:
    """The prompts of evaluation set ``name`` (``alpaca:test``, ``jbb``, a file source spec...) with the splits as
    ``det``'s data assigned them: what ``evaluate_named_set(det, name)`` measures."""
    from safe_embed.data.dataset import Assigned
    from safe_embed.data.splits import DEFAULT_FRACTIONS
    from safe_embed.detector.eval_sets import load_eval_set

    if det.splits is None:
        return load_eval_set(name, seed=det.settings.seed, data_dir=data_dir())
    return load_eval_set(name, seed=int(det.splits.get("seed", det.settings.seed)),
                         fractions=tuple(det.splits.get("fractions", DEFAULT_FRACTIONS)), data_dir=data_dir(),
                         assigned=Assigned.from_json(det.splits, "the detector's splits.json"))
