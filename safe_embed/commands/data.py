"""``safe-embed data``: dataset cards, ``pull`` (download + verify + derive) and ``list``."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="datasets: pull the public originals, list cards")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION")
    p.set_defaults(func=lambda a: (p.print_help(), 1)[1])
    pull = dsub.add_parser("pull", help="download the public originals into the data directory and verify them")
    pull.add_argument("names", nargs="*", help="card names (default: all)")
    pull.add_argument("--data-dir", default=None, help="destination (default: $SAFE_EMBED_DATA, then data/cache)")
    pull.add_argument("--force", action="store_true", help="download again even if present and valid")
    pull.set_defaults(func=run_pull)
    ls = dsub.add_parser("list", help="show the dataset cards and which files are present and valid")
    ls.add_argument("--data-dir", default=None)
    ls.set_defaults(func=run_list)
    add_make_contrast(dsub)


def run_pull(args: argparse.Namespace) -> int:
    from safe_embed.data.pull import pull
    from safe_embed.paths import resolve_data_dir

    data_dir = resolve_data_dir(args.data_dir)
    for path in pull(args.names, data_dir, force=args.force):
        print(f"ok {path}", file=args.stdout)
    print(data_dir, file=args.stdout)
    return 0


def run_list(args: argparse.Namespace) -> int:
    from safe_embed.data.labelled import NAMED_SETS, TEST_ONLY
    from safe_embed.data.pull import load_cards, sha256_file
    from safe_embed.paths import resolve_data_dir

    data_dir = resolve_data_dir(args.data_dir)
    cards = load_cards()
    state: dict[str, str] = {}
    print(f"data directory: {data_dir}", file=args.stdout)
    for card in cards.values():
        print(f"\n{card.name}: {card.title}\n  source {card.source} @ {card.revision}\n  licence: {card.licence}", file=args.stdout)
        for f in card.files:
            p = data_dir / f["path"]
            s = "missing" if not p.is_file() else "ok" if sha256_file(p) == f["sha256"] else "CHECKSUM MISMATCH"
            state[card.name] = s if state.get(card.name, "ok") == "ok" else state[card.name]
            print(f"  [{s}] {f['path']} ({f.get('rows', '?')} rows; columns {', '.join(f['columns'])})", file=args.stdout)
    print("\nregistered sets (data sources {name: NAME}; pull a missing one with `safe-embed data pull CARD`):", file=args.stdout)
    for name, ns in NAMED_SETS.items():
        use = "test only" if name in TEST_ONLY else "source"
        print(f"  {name:22s} [{state.get(ns.card, 'no card')}] card {ns.card}; {use}; {ns.about}", file=args.stdout)
    return 0


def add_make_contrast(dsub: argparse._SubParsersAction) -> None:
    mc = dsub.add_parser(
        "make-contrast", help="build a Safety-Contrast set: an OpenAI-compatible chat model writes safe minimal "
                              "edits of each unsafe prompt (the paper's template); resumable",
        description="Writes JSONL with the columns of contrast_parsed.jsonl (id, category, original_prompt, "
                    "prompt_#1..prompt_#N). Needs OPENAI_API_KEY; OPENAI_BASE_URL or --base-url for Azure or a "
                    "local server. Rerunning with the same --out resumes; unusable replies are listed in "
                    "OUT.skipped.jsonl and retried on the next run.")
    mc.add_argument("--input", required=True, metavar="SET_OR_FILE",
                    help="a labelled set name (do-not-answer / do_not_answer, advbench, jbb, ...) or a .csv/.jsonl "
                         "file with text, label (and category) columns; only 'unsafe' rows are used")
    mc.add_argument("--model", default="gpt-4o", help="chat model (default gpt-4o, as in the paper)")
    mc.add_argument("--out", required=True, help="output JSONL (appended to; existing rows are kept)")
    mc.add_argument("--data-dir", default=None, help="dataset directory for named sets")
    mc.add_argument("--categories", default=None, metavar="FILE",
                    help="JSON or YAML mapping category -> one-line explanation (default: the paper's 12 "
                         "Do-Not-Answer explanations; other categories are explained by their name)")
    mc.add_argument("--n-edits", type=int, default=5, help="safe edits per prompt (default 5)")
    mc.add_argument("--temperature", type=float, default=0.0, help="sampling temperature (paper: 0)")
    mc.add_argument("--seed", type=int, default=None, help="sampling seed passed to the API, when supported")
    mc.add_argument("--limit", type=int, default=None, help="generate at most N new rows this run")
    mc.add_argument("--base-url", default=None, help="API base URL (default $OPENAI_BASE_URL, else OpenAI)")
    mc.add_argument("--max-attempts", type=int, default=3, help="requests per prompt before skipping it")
    mc.add_argument("--workers", type=int, default=1, help="concurrent requests (rows stay in input order)")
    mc.set_defaults(func=run_make_contrast)


def run_make_contrast(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from safe_embed.data.contrast_gen import ContrastGenerator, contrast_sources, load_explanations
    from safe_embed.data.labelled import NAMED_SETS, load_labelled

    name = args.input
    if name not in NAMED_SETS and name.replace("_", "-") in NAMED_SETS and not Path(name).exists():
        name = name.replace("_", "-")
    sources = contrast_sources(load_labelled(name, args.data_dir))
    gen = ContrastGenerator(model=args.model, n_edits=args.n_edits, temperature=args.temperature,
                            explanations=load_explanations(args.categories), base_url=args.base_url,
                            max_attempts=args.max_attempts, seed=args.seed)
    report = gen.run(sources, Path(args.out), limit=args.limit, workers=args.workers)
    print(f"{report.written} rows written, {report.already_done} already done, {len(report.skipped)} skipped, "
          f"{report.requests} requests", file=args.stdout)
    if report.skipped:
        print(f"skipped ids (rerun to retry; details in {report.skipped_path}): "
              + ", ".join(str(r.id) for r in report.skipped), file=sys.stderr)
    print(report.out, file=args.stdout)
    return 0
