"""``safe-embed compact``: fold a shared Redis stream of exemplar changes into a new detector generation."""

from __future__ import annotations

import argparse
import json

from safe_embed.commands.options import add_backend, add_shared_key


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compact", help="fold a shared stream's exemplar changes into the detector directory",
                       description="Apply the records of the Redis stream that `serve --shared` replicas share to "
                                   "DETECTOR_DIR, save them as its next generation, and trim them from the stream "
                                   "(records appended meanwhile stay). Replicas started on the new generation "
                                   "replay only what follows it. Prints the result as JSON.")
    p.add_argument("detector", metavar="DETECTOR_DIR")
    p.add_argument("--shared", required=True, metavar="URL", help="the Redis URL the replicas share "
                                                                  "(redis://HOST:PORT/DB)")
    add_shared_key(p)
    add_backend(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from safe_embed.detector.shared_compact import compact

    result = compact(args.detector, args.shared, args.shared_key, backend=args.backend)
    print(json.dumps(result.to_dict()), file=args.stdout)
    return 0
