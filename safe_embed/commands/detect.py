"""``safe-embed detect``: classify one prompt, or a JSONL/CSV file of prompts into JSONL."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from safe_embed.commands.options import add_backend
from safe_embed.errors import DataError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("detect", help="classify prompts with a detector directory",
                       description="Print one result for PROMPT, or read --input (JSONL with 'text', or CSV with a "
                                   "'text' column) and write one JSONL result per row, in order, keeping 'id'.")
    p.add_argument("detector", metavar="DETECTOR_DIR")
    p.add_argument("prompt", nargs="?", default=None, help="a prompt to classify")
    p.add_argument("--input", default=None, help="JSONL or CSV file of prompts")
    p.add_argument("--output", default=None, help="JSONL results file (default: stdout)")
    p.add_argument("--no-neighbors", action="store_true", help="omit the neighbours from the output")
    p.add_argument("--device", default=None)
    add_backend(p)
    p.set_defaults(func=run)


def _result(det, fields: dict, no_neighbors: bool) -> dict:
    from safe_embed.detector.text_policy import clean_json

    out = {k: fields[k] for k in ("id",) if k in fields}
    d = det.to_dict()
    if no_neighbors:
        d.pop("neighbors")
    return clean_json({**out, **d})  # an echoed id may hold a lone surrogate: repaired, so it encodes


def run(args: argparse.Namespace) -> int:
    from safe_embed.detector import Detector
    from safe_embed.detector.inputs import read_inputs

    if (args.prompt is None) == (args.input is None):
        raise DataError("give either a PROMPT or --input FILE (not both). Fix: e.g. "
                        "`safe-embed detect DIR \"How do I kill a Python process?\"`.")
    if args.output and not args.input:
        raise DataError("--output needs --input. Fix: add --input FILE.")
    rows = read_inputs(args.input) if args.input else None  # fail on bad input before loading the model
    det = Detector.load(args.detector, device=args.device, backend=args.backend)
    if rows is None:
        print(json.dumps(_result(det.classify([args.prompt])[0], {}, args.no_neighbors), indent=2,
                         ensure_ascii=False), file=args.stdout)
        return 0
    results = det.classify([r.text for r in rows])
    lines = [json.dumps({"line": r.line, **_result(d, r.fields, args.no_neighbors)}, ensure_ascii=False) + "\n"
             for r, d in zip(rows, results, strict=True)]
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text("".join(lines), encoding="utf-8")
    else:
        args.stdout.writelines(lines)
    if args.output:
        n_unsafe = sum(d.label == "unsafe" for d in results)
        print(f"{len(results)} prompts, {n_unsafe} unsafe -> {Path(args.output)}", file=sys.stderr)
    return 0
