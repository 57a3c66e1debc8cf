"""Shared by the bench scripts that compare encoder runtimes: a detector with ``encoder/onnx/``, its backends,
and the quality of each backend on the reference sets."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from _common import data_dir, ensure_detector

QUALITY_SETS = ("xstest", "jbb", "guardreasoner-train:test")
MODELS = {"minilm": "all-MiniLM-L6-v2", "mpnet": "sbert-all"}  # --build shorthands; a run directory works too


def add_arguments(ap) -> None:
    ap.add_argument("--detector", default=None, help="detector directory (default: the bench MiniLM detector)")
    ap.add_argument("--build", default=None, metavar="MODEL_OR_RUN",
                    help="build the detector first from a model (minilm, mpnet = sbert-all, any name or directory) "
                         "or a training run directory, into --detector (default bench/results/detector_<name>)")
    ap.add_argument("--onnx", default=None, choices=("fp32", "int8"),
                    help="give the detector encoder/onnx/ (built with it, or added to a copy DIR-onnx)")
    ap.add_argument("--backends", nargs="+", default=None,
                    help="backends to compare (default: torch and every ONNX variant the detector has)")


def refresh_onnx(path: Path) -> Path:
    """Export ``path``'s ``encoder/onnx/`` again when an older version of the export wrote it."""
    from safe_embed.detector.build import add_onnx_to_directory
    from safe_embed.encoders.onnx_export import is_current_export

    meta = json.loads((path / "manifest.json").read_text()).get("onnx") or {}
    cfg = path / meta.get("path", "encoder/onnx") / "onnx_config.json"
    if meta and cfg.is_file() and not is_current_export(json.loads(cfg.read_text())):
        print(f"{path}: encoder/onnx/ was written by an older export; exporting it again ...", file=sys.stderr)
        add_onnx_to_directory(path, meta.get("default", "int8"), data_dir=data_dir())
    return path


def prepare(args) -> Path:
    """The detector directory to measure, built or given ONNX variants as the arguments ask (an ONNX export with
    an older export is exported again)."""
    from safe_embed.detector.build import add_onnx_to_directory, export_detector

    if args.build:
        model = MODELS.get(args.build, args.build)
        out = Path(args.detector or Path(__file__).resolve().parent / "results" /
                   f"detector_{Path(args.build).name}{'-onnx-' + args.onnx if args.onnx else ''}")
        if not (out / "manifest.json").is_file():
            print(f"building {out} from {model} (onnx {args.onnx}) ...", file=sys.stderr)
            export_detector(model, out, data_dir=data_dir(), onnx=args.onnx)
        return refresh_onnx(out)
    path = ensure_detector(args.detector)
    if args.onnx and not json.loads((path / "manifest.json").read_text()).get("onnx"):
        copy = path.with_name(f"{path.name}-onnx-{args.onnx}")
        if not (copy / "manifest.json").is_file():
            print(f"adding encoder/onnx/ ({args.onnx}) to a copy of {path}: {copy} ...", file=sys.stderr)
            shutil.copytree(path, copy, ignore=shutil.ignore_patterns(".lock"))
            add_onnx_to_directory(copy, args.onnx, data_dir=data_dir())
        return refresh_onnx(copy)
    return refresh_onnx(path)


def backends_of(path: Path, wanted: list[str] | None) -> list[str]:
    """torch, then the ONNX variants the detector has (or ``wanted``)."""
    meta = json.loads((path / "manifest.json").read_text()).get("onnx") or {}
    have = ["torch", *[f"onnx-{v}" for v in meta.get("variants", [])]]
    return wanted or have


def quality(det, sets: tuple[str, ...] = QUALITY_SETS) -> dict:
    """AUROC and F1 at the backend's own threshold on each set (a set the data cannot give is skipped)."""
    from safe_embed.detector.evaluation import evaluate_named_set
    from safe_embed.errors import SafeEmbedError

    out = {}
    for name in sets:
        try:
            ev = evaluate_named_set(det, name, data_dir=data_dir())
        except SafeEmbedError as e:
            print(f"skipping {name}: {e}", file=sys.stderr)
            continue
        out[name] = {"auroc": ev.metrics["auroc"], "f1": ev.metrics["f1"]}
    return out
