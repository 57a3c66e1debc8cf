"""``safe-embed export``: build a detector directory from an encoder and exemplars."""

from __future__ import annotations

import argparse
import functools
import json
import logging

from safe_embed import DEFAULT_MODEL
from safe_embed.commands.options import add_category_threshold, sentence_threshold_arg

logger = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    from safe_embed.detector.coverage_verdict import (
        FIRST_SENTENCE_THRESHOLD,
        LAST_SENTENCE_THRESHOLD,
        SENTENCE_THRESHOLD,
        WINDOW_SENTENCE_THRESHOLD,
    )
    from safe_embed.detector.index import KINDS
    from safe_embed.detector.limits import MAX_CHARS
    from safe_embed.scoring import DEFAULT_RULE, RULES

    p = sub.add_parser("export", help="build a FAISS-backed unsafe-prompt detector directory",
                       description="Encode the train-split exemplars into FAISS indexes, fit the scoring rule, "
                                   "calibrate its threshold on the val split, and write the detector directory. "
                                   "With --model RUN (a training run), the run's splits are reused.")
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help=f"registry name, model directory, or a training run directory (default {DEFAULT_MODEL})")
    p.add_argument("--exemplars", nargs="+", default=None, metavar="CONFIG_OR_FILE",
                   help="detector config YAML (configs/detector/*.yaml) or labelled files (text, label, optional "
                        "category, pair_id, id); default: the run's own data for a run, else the default design")
    p.add_argument("--out", required=True, help="detector directory to write")
    p.add_argument("--rule", default=DEFAULT_RULE, choices=RULES, help=f"scoring rule (default {DEFAULT_RULE})")
    p.add_argument("--k", type=int, default=10, help="neighbours per class the rule reads (default 10)")
    p.add_argument("--m", type=int, default=1, help="margin rule: top-m similarities averaged (default 1)")
    p.add_argument("--temperature", type=float, default=0.05, help="knn_vote rule temperature (default 0.05)")
    p.add_argument("--threshold", default="fpr", choices=("fpr", "f1"),
                   help="calibrate for a target false-positive rate (default) or for best F1")
    p.add_argument("--target-fpr", type=float, default=0.05, help="target FPR on the calibration split (default 0.05)")
    p.add_argument("--index", default="auto", choices=KINDS, help="FAISS index: auto (exact below --hnsw-above), "
                                                                  "flat, hnsw, ivf")
    p.add_argument("--hnsw-above", type=int, default=100_000, help="auto index switches to HNSW above this size")
    p.add_argument("--k-neighbors", type=int, default=5, help="neighbours reported per detection (default 5)")
    p.add_argument("--max-chars", type=int, default=MAX_CHARS,
                   help=f"texts are cut to this many characters (default {MAX_CHARS})")
    p.add_argument("--sentence-threshold", type=sentence_threshold_arg, default=SENTENCE_THRESHOLD,
                   help="score from which one sentence of a longer prompt decides alone, in [0.5, 1), or 'off' "
                        f"(default {SENTENCE_THRESHOLD})")
    last = "--last-sentence-threshold"
    p.add_argument(last, type=functools.partial(sentence_threshold_arg, option=last, default=LAST_SENTENCE_THRESHOLD),
                   default=LAST_SENTENCE_THRESHOLD,
                   help="the same for the last sentence of a prompt, where it asks for what it wants, or 'off' to "
                        f"judge it like the others (default {LAST_SENTENCE_THRESHOLD})")
    first = "--first-sentence-threshold"
    p.add_argument(first, type=functools.partial(sentence_threshold_arg, option=first,
                                                 default=FIRST_SENTENCE_THRESHOLD),
                   default=FIRST_SENTENCE_THRESHOLD,
                   help="the same for the first sentence of a prompt, where a request followed by pasted text "
                        f"stands, or 'off' to judge it like the others (default {FIRST_SENTENCE_THRESHOLD})")
    later = "--window-sentence-threshold"
    p.add_argument(later, type=functools.partial(sentence_threshold_arg, option=later,
                                                 default=WINDOW_SENTENCE_THRESHOLD, low=0.0),
                   default=WINDOW_SENTENCE_THRESHOLD,
                   help="a window of a long prompt after its first decides only when a sentence inside it scores "
                        "at least this, in [0, 1), or 'off' to let every window decide alone (default "
                        f"{WINDOW_SENTENCE_THRESHOLD})")
    p.add_argument("--seed", type=int, default=None, help="split seed (default: the config's, else 0)")
    p.add_argument("--data-dir", default=None, help="dataset directory (default: $SAFE_EMBED_DATA, then data/cache)")
    p.add_argument("--device", default=None)
    p.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")
    add_category_threshold(p, "saved with the detector")
    p.add_argument("--onnx", default=None, choices=("fp32", "int8"),
                   help="also write encoder/onnx/ for the ONNX Runtime backend: fp32, or int8 (fp32 and int8, int8 "
                        "the default variant), each calibrated on the val split with its own embeddings "
                        "(needs: pip install 'safe-embed[onnx]')")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from safe_embed.detector import DetectorSettings, IndexSettings
    from safe_embed.detector.build import export_detector
    from safe_embed.detector.categories import CategorySettings, parse_category_thresholds
    from safe_embed.scoring import ScoringRule

    categories = CategorySettings(thresholds=parse_category_thresholds(args.category_threshold))
    settings = DetectorSettings(k_neighbors=args.k_neighbors, max_chars=args.max_chars,
                                index=IndexSettings(kind=args.index, hnsw_above=args.hnsw_above),
                                categories=categories, sentence_threshold=args.sentence_threshold,
                                last_sentence_threshold=args.last_sentence_threshold,
                                first_sentence_threshold=args.first_sentence_threshold,
                                window_sentence_threshold=args.window_sentence_threshold)
    exemplars = args.exemplars if args.exemplars is None or len(args.exemplars) > 1 else args.exemplars[0]
    det = export_detector(args.model, args.out, exemplars,
                          rule=ScoringRule(args.rule, k=args.k, m=args.m, temperature=args.temperature),
                          method=args.threshold, target_fpr=args.target_fpr, settings=settings, seed=args.seed,
                          data_dir=args.data_dir, device=args.device, cache=not args.no_cache, onnx=args.onnx)
    v = det.calibration.validation
    print(json.dumps({"out": args.out, "unsafe_exemplars": len(det.unsafe), "safe_exemplars": len(det.safe),
                      "rule": det.rule.name, "threshold": round(det.calibration.threshold, 6),
                      "categories": det.categories,
                      "category_scores": det.settings.categories.to_dict(),
                      "validation": {k: round(v[k], 4) for k in ("auroc", "precision", "recall", "f1", "fpr")
                                     if k in v},
                      **({"backends": _backends(det)} if args.onnx else {})}, indent=2), file=args.stdout)
    return 0


def _backends(det) -> dict:
    """Each ONNX backend's threshold and validation figures (torch's are the top-level ones)."""
    out = {}
    for name, state in sorted(det.backends.states.items()):
        if name == "torch":
            continue
        v = state["calibration"]["validation"]
        out[name] = {"threshold": round(state["calibration"]["threshold"], 6),
                     "validation": {k: round(v[k], 4) for k in ("auroc", "precision", "recall", "f1", "fpr") if k in v}}
    return out
