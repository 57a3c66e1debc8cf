"""``safe-embed evaluate``: the paper's three measures for one or more encoders, with a report."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import yaml

from safe_embed import DEFAULT_MODEL
from safe_embed.errors import ConfigError, SafeEmbedError

logger = logging.getLogger(__name__)

CONFIG_KEYS = {"model", "models", "data_dir", "out", "k", "avg_cosine", "batch_size", "device", "tsne", "cache",
               "model_path"}


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
    p.add_argument("--config", default=None, help="YAML file with any of: " + ", ".join(sorted(CONFIG_KEYS)))
    p.set_defaults(func=run)


def load_config(path: str | None) -> dict:
    if not path:
        return {}
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}. Fix: give an existing YAML file.")
    try:
        cfg = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: invalid YAML ({e}).") from None
    if not isinstance(cfg, dict):
        raise ConfigError(f"{p}: expected a mapping of options, got {type(cfg).__name__}.")
    unknown = set(cfg) - CONFIG_KEYS
    if unknown:
        raise ConfigError(f"{p}: unknown key(s) {sorted(unknown)}. Fix: use only {sorted(CONFIG_KEYS)}.")
    return cfg


def run(args: argparse.Namespace) -> int:
    from safe_embed.encoders.registry import load_encoder
    from safe_embed.evaluate.report import slug, write_report
    from safe_embed.evaluate.suite import SafeEmbedSuite
    from safe_embed.paths import resolve_data_dir

    cfg = load_config(args.config)
    models = args.model or cfg.get("models") or ([cfg["model"]] if cfg.get("model") else None) or [DEFAULT_MODEL]
    if isinstance(models, str):
        models = [models]
    k = args.k if args.k is not None else int(cfg.get("k", 10))
    if k < 1:
        raise ConfigError(f"--k {k} must be at least 1.")
    data_dir = resolve_data_dir(args.data_dir or cfg.get("data_dir"))
    avg = args.avg_cosine if args.avg_cosine is not None else cfg.get("avg_cosine", "sample")
    batch_size = args.batch_size or int(cfg.get("batch_size", 64))
    model_path = args.model_path or cfg.get("model_path")
    if model_path and len(models) != 1:
        raise ConfigError("--model-path applies to a single --model. Fix: evaluate one model at a time, or give "
                          "directories as --model values.")
    out = Path(args.out or cfg.get("out") or Path("results") / slug(models[0]))
    use_cache = not args.no_cache and cfg.get("cache", True)

    suite = SafeEmbedSuite.from_data_dir(data_dir, k=k, avg_cosine=avg)  # data errors surface before any model
    results, failures = [], {}
    for m in models:
        t0 = time.perf_counter()
        try:
            enc = load_encoder(m, cache=use_cache, device=args.device or cfg.get("device"), batch_size=batch_size,
                               model_path=model_path)
            enc.show_progress = True
            if hasattr(enc, "inner"):
                enc.inner.show_progress = True
            results.append(suite.run(enc))
        except SafeEmbedError as e:
            if len(models) == 1:
                raise
            logger.warning("skipping %s: %s", m, e)
            failures[m] = str(e)
            continue
        logger.info("%s evaluated in %.1fs", m, time.perf_counter() - t0)
    if not results:
        raise SafeEmbedError("no model could be evaluated: " + "; ".join(f"{m}: {e}" for m, e in failures.items()))
    write_report(results, out, failures, tsne=not args.no_tsne and cfg.get("tsne", True))
    for r in results:
        print(f"{r.model}: avg_cosine={r.avg_cosine:.3f} safety_challenging={r.safety_challenging_mean:.3f} "
              f"safety_contrast={r.safety_contrast_mean:.3f} cp@{r.k}={r.categorical_purity_mean:.3f}")
    for m, e in failures.items():
        print(f"{m}: not evaluated ({e})")
    print(out)
    return 0
