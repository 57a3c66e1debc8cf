"""``safe-embed evaluate``: the paper's three measures for one or more encoders, with a report."""

from __future__ import annotations

import argparse
import logging

from safe_embed import DEFAULT_MODEL

logger = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="evaluate encoders on Safety-Challenging, Safety-Contrast and CP@k",
                       description="Evaluate encoders on the Safe-Embed measures; writes metrics.json, report.md "
                                   "and PNG figures into --out.")
    p.add_argument("--model", action="append", default=None, metavar="NAME_OR_PATH",
                   help=f"registry name, hub id or model directory; repeat to compare (default {DEFAULT_MODEL})")
    p.add_argument("--model-path", default=None, help="local weights for a single registry --model name")
    p.add_argument("--data-dir", default=None, help="dataset directory (default: $SAFE_EMBED_DATA, then data/cache)")
    p.add_argument("--out", default=None, help="output directory (default results/<model>)")
    p.add_argument("--k", type=int, default=None, help="neighbours for Categorical Purity (default 10)")
    p.add_argument("--avg-cosine", default=None, metavar="FLOAT|paper|sample",
                   help="normalizer: a number, the paper's published value, or computed on the sample (default)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--device", default=None, help="torch device (default: auto)")
    p.add_argument("--no-tsne", action="store_true", help="skip the t-SNE maps")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")
    p.add_argument("--config", default=None, help="YAML file with any of the options (model or models, data_dir, "
                                                  "out, k, avg_cosine, batch_size, device, tsne, cache, model_path)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from safe_embed.evaluate.run import EvalConfig, evaluate_models

    config = EvalConfig.from_yaml(args.config) if args.config else EvalConfig()
    config = config.with_overrides(models=args.model, data_dir=args.data_dir, out=args.out, k=args.k,
                                   avg_cosine=args.avg_cosine, batch_size=args.batch_size, device=args.device,
                                   model_path=args.model_path, tsne=False if args.no_tsne else None,
                                   cache=False if args.no_cache else None)
    config.__post_init__()
    results, failures, out = evaluate_models(config)
    for r in results:
        print(f"{r.model}: avg_cosine={r.avg_cosine:.3f} safety_challenging={r.safety_challenging_mean:.3f} "
              f"safety_contrast={r.safety_contrast_mean:.3f} cp@{r.k}={r.categorical_purity_mean:.3f}",
              file=args.stdout)
    for m, e in failures.items():
        print(f"{m}: not evaluated ({e})", file=args.stdout)
    print(out, file=args.stdout)
    return 0
