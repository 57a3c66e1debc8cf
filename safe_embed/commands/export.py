"""``safe-embed export``: build a detector directory from an encoder and exemplars."""

from __future__ import annotations

import argparse
import json
import logging

from safe_embed import DEFAULT_MODEL

logger = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    from safe_embed.detector.scoring import (
        RULES,  # numpy only; the index kinds are listed here to keep faiss lazy
    )

    kinds = ("auto", "flat", "hnsw", "ivf")

    p = sub.add_parser("export", help="build a FAISS-backed unsafe-prompt detector directory",
                       description="Encode unsafe and safe exemplars into FAISS indexes, fit the scoring rule and "
                                   "calibrate its threshold on a held-out split, and write the detector directory.")
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"registry name or model directory (default {DEFAULT_MODEL})")
    p.add_argument("--exemplars", nargs="+", default=["configs/detector/default.yaml"], metavar="CONFIG_OR_FILE",
                   help="exemplar config YAML (configs/detector/*.yaml) or labelled .jsonl/.csv files (text, label, "
                        "optional category, id); with files, 20%% per label is held out to calibrate")
    p.add_argument("--out", required=True, help="detector directory to write")
    p.add_argument("--rule", default="logistic", choices=RULES, help="scoring rule (default logistic)")
    p.add_argument("--k", type=int, default=10, help="neighbours per class the rule reads (default 10)")
    p.add_argument("--m", type=int, default=1, help="margin rule: top-m similarities averaged (default 1)")
    p.add_argument("--temperature", type=float, default=0.05, help="knn_vote rule temperature (default 0.05)")
    p.add_argument("--threshold", default="fpr", choices=("fpr", "f1"),
                   help="calibrate for a target false-positive rate (default) or for best F1")
    p.add_argument("--target-fpr", type=float, default=0.05, help="target FPR on the calibration split (default 0.05)")
    p.add_argument("--index", default="auto", choices=kinds, help="FAISS index: auto (exact below --hnsw-above), "
                                                                  "flat, hnsw, ivf")
    p.add_argument("--hnsw-above", type=int, default=100_000, help="auto index switches to HNSW above this size")
    p.add_argument("--k-neighbors", type=int, default=5, help="neighbours reported per detection (default 5)")
    p.add_argument("--max-chars", type=int, default=20_000, help="texts are cut to this many characters")
    p.add_argument("--seed", type=int, default=None, help="split seed (default: the config's, else 0)")
    p.add_argument("--data-dir", default=None, help="dataset directory (default: $SAFE_EMBED_DATA, then data/cache)")
    p.add_argument("--device", default=None)
    p.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from safe_embed.detector import Detector, DetectorSettings, IndexSettings, ScoringRule, load_exemplars
    from safe_embed.encoders import load_encoder

    settings = DetectorSettings(k_neighbors=args.k_neighbors, max_chars=args.max_chars, seed=args.seed or 0,
                                index=IndexSettings(kind=args.index, hnsw_above=args.hnsw_above))
    sets = load_exemplars(args.exemplars if len(args.exemplars) > 1 else args.exemplars[0], seed=args.seed,
                          data_dir=args.data_dir)
    settings.seed = int(sets.provenance.get("seed", settings.seed))
    _check_training_seed(args.model, settings.seed)
    _warn_trained_on_held_out(args.model, sets.provenance.get("held_out", []))
    encoder = load_encoder(args.model, cache=not args.no_cache, device=args.device)
    rule = ScoringRule(args.rule, k=args.k, m=args.m, temperature=args.temperature)
    det = Detector.build(encoder, sets, rule=rule, method=args.threshold, target_fpr=args.target_fpr,
                         settings=settings)
    det.provenance["exemplars"] = [str(e) for e in args.exemplars]
    det.provenance["model"] = args.model
    det.save(args.out)
    v = det.calibration.validation
    print(json.dumps({"out": args.out, "unsafe_exemplars": len(det.unsafe), "safe_exemplars": len(det.safe),
                      "rule": det.rule.name, "threshold": round(det.calibration.threshold, 6),
                      "validation": {k: round(v[k], 4) for k in ("auroc", "precision", "recall", "f1", "fpr")
                                     if k in v}}, indent=2))
    return 0


def _check_training_seed(model: str, seed: int) -> None:
    """A tuned encoder saved as ``runs/<exp>/<run>/encoder`` has ``splits.json`` beside it: its split seed must be
    the exemplar seed, or calibration and held-out prompts could be training prompts of the encoder."""
    from pathlib import Path

    from safe_embed.errors import ConfigError

    splits = Path(model).expanduser().parent / "splits.json"
    if not splits.is_file():
        return
    try:
        trained = json.loads(splits.read_text(encoding="utf-8")).get("seed")
    except (OSError, ValueError):
        logger.warning("cannot read %s; the split seed of the encoder is not checked", splits)
        return
    if trained is not None and int(trained) != seed:
        raise ConfigError(f"{splits}: the encoder was trained on splits with seed {trained}, but the exemplars use "
                          f"seed {seed}. Fix: pass --seed {trained} (or set seed: {trained} in the exemplar config).")


def _warn_trained_on_held_out(model: str, held_out: list[str]) -> list[str]:
    """Warn (and return the names) when the encoder's run config trained on a set the exemplars hold out as test
    data: that set's figures for this detector are then not held out."""
    from pathlib import Path

    import yaml

    cfg = Path(model).expanduser().parent / "config.yaml"
    if not held_out or not cfg.is_file():
        return []
    try:
        trained = (yaml.safe_load(cfg.read_text(encoding="utf-8")) or {}).get("data", {}).get("train_sets") or []
    except (OSError, yaml.YAMLError):
        return []
    both = sorted(set(trained) & set(held_out))
    if both:
        logger.warning("the encoder was trained on %s (%s), which the exemplar config holds out as test data: this "
                       "detector's figures on %s are not held out.", both, cfg, both)
    return both
