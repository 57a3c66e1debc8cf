"""``safe-embed add-exemplars``: append (or remove) exemplars of a detector directory, without retraining."""

from __future__ import annotations

import argparse
import sys

from safe_embed.commands.options import add_backend
from safe_embed.data.schemas import LABELS
from safe_embed.errors import DataError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("add-exemplars", help="add exemplars to a detector (or remove them by id)",
                       description="Append exemplars from FILE (JSONL or CSV: text, label (unless --label), optional "
                                   "category and id) to a detector directory; new categories are allowed. "
                                   "--remove deletes exemplars by id. Each change is one journal record under the "
                                   "directory's writer lock, so a running `serve --persist` keeps it too.")
    p.add_argument("detector", metavar="DETECTOR_DIR")
    p.add_argument("file", nargs="?", default=None, metavar="FILE")
    p.add_argument("--label", choices=LABELS, default=None, help="label for rows without one")
    p.add_argument("--category", default=None, help="category for rows without one")
    p.add_argument("--source", default="added", help="source name recorded with the exemplars (default 'added')")
    p.add_argument("--remove", nargs="+", default=None, metavar="ID", help="exemplar ids to remove")
    p.add_argument("--device", default=None)
    add_backend(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from safe_embed.detector import Detector
    from safe_embed.detector.inputs import read_inputs

    if args.file is None and not args.remove:
        raise DataError("nothing to do. Fix: give FILE to add exemplars, or --remove ID ...")
    rows = read_inputs(args.file) if args.file else []
    texts = [r.text for r in rows]
    labels = []
    for r in rows:
        label = r.fields.get("label") or args.label
        if label is None:
            raise DataError(f"{args.file}:{r.line}: row has no 'label' and no --label was given. Fix: add "
                            "label safe/unsafe to the row or pass --label.")
        labels.append(label)
    cats = [r.fields.get("category", args.category) for r in rows]
    ids = [None if r.fields.get("id") in (None, "") else f"{args.source}:{r.fields['id']}" for r in rows]
    det = Detector.load(args.detector, device=args.device, backend=args.backend)
    removed = det.persist_remove(args.remove) if args.remove else 0  # each change is one journal record
    added = det.persist_add(texts, labels, cats, ids=ids, source=args.source) if texts else []
    print(f"added {len(added)}, removed {removed}; now {len(det.unsafe)} unsafe and {len(det.safe)} safe "
          f"exemplars in {args.detector}", file=sys.stderr)
    return 0
