"""``safe-embed serve``: the detector behind an HTTP API (FastAPI + uvicorn)."""

from __future__ import annotations

import argparse
import logging
import os

from safe_embed.commands.options import add_backend, add_category_threshold, add_shared_key
from safe_embed.serve.batcher import ADAPTIVE_WAIT, BATCH_WORKERS, MAX_BATCH, MAX_WAIT_MS
from safe_embed.serve.limits import ServiceLimits
from safe_embed.serve.protocol import PARSERS
from safe_embed.serve.runner import CONNECTION_LIMIT

logger = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    limits = ServiceLimits()  # the defaults
    p = sub.add_parser("serve", help="serve a detector directory over HTTP",
                       description="POST /v1/classify, POST /v1/moderations (OpenAI's shape), POST /v1/exemplars "
                                   "(bearer token), GET /v1/info, GET /healthz, GET /metrics (Prometheus; bearer "
                                   "token when set); OpenAPI docs at /docs. Requests arriving together are batched.")
    p.add_argument("detector", metavar="DETECTOR_DIR")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1; anything else needs "
                                                       "--token)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--token", default=None, help="bearer token for POST /v1/exemplars and GET /metrics (default "
                                                 "$SAFE_EMBED_TOKEN; "
                                                 "the environment keeps it out of `ps`)")
    p.add_argument("--persist", action="store_true", help="journal each addition in the detector directory before "
                                                         "acknowledging it (default: additions live in memory)")
    p.add_argument("--shared", default=None, metavar="URL",
                   help="share exemplar additions with the other replicas through Redis (redis://HOST:PORT/DB): "
                        "each addition is acknowledged once Redis stored it, and every replica applies it; the "
                        "detector directory is the read-only base")
    add_shared_key(p)
    p.add_argument("--shared-optional", action="store_true",
                   help="with --shared: start even when Redis is unreachable (classification serves the base "
                        "detector, /healthz says degraded, additions answer 503 until Redis is back)")
    p.add_argument("--allow-host", action="append", default=None, metavar="NAME",
                   help="a Host name the service answers to (repeatable; default: the bound address and the "
                        "loopback names on loopback, any name otherwise)")
    p.add_argument("--max-connections", type=int, default=CONNECTION_LIMIT,
                   help="concurrent connections before new requests get 503 (default %(default)s)")
    p.add_argument("--max-texts", type=int, default=limits.max_texts,
                   help="texts per classify request (default %(default)s)")
    p.add_argument("--max-chars", type=int, default=limits.max_chars, help="characters per text (default %(default)s)")
    p.add_argument("--max-body-bytes", type=int, default=limits.max_body_bytes,
                   help="request body size in bytes (default %(default)s)")
    p.add_argument("--max-batch", type=int, default=MAX_BATCH, help="texts per micro-batch (default %(default)s)")
    p.add_argument("--wait-ms", type=float, default=MAX_WAIT_MS,
                   help="micro-batch wait window in ms (default %(default)s)")
    p.add_argument("--adaptive-wait", type=float, default=ADAPTIVE_WAIT,
                   help="widen the wait window to this fraction of the recent batch time (default %(default)s; "
                        "0 = off)")
    p.add_argument("--batch-workers", type=int, default=BATCH_WORKERS,
                   help="micro-batches in flight at once (default %(default)s: batches are embedded while another's "
                        "requests are answered and the next gathered; index searches stay one at a time)")
    p.add_argument("--http-parser", default="auto", choices=PARSERS,
                   help="HTTP/1.1 parser (default auto: httptools when installed, else the pure-Python h11)")
    p.add_argument("--threads", type=int, default=None,
                   help="intra-op threads of torch or ONNX Runtime (default: one per core); 1 can win on a busy "
                        "machine")
    p.add_argument("--spin", action="store_true",
                   help="let ONNX Runtime's threads busy-wait between operators (off: they leave the cores to the "
                        "server's other threads)")
    p.add_argument("--allow-non-text", action="store_true",
                   help="POST /v1/moderations: report image, audio and file parts as not checked (the result is "
                        "flagged) instead of refusing them with 422")
    add_category_threshold(p, "override the detector's saved threshold")
    p.add_argument("--device", default=None)
    add_backend(p)
    p.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from safe_embed.detector import Detector
    from safe_embed.detector.categories import parse_category_thresholds
    from safe_embed.errors import ConfigError
    from safe_embed.serve.app import create_app
    from safe_embed.serve.middleware import default_hosts
    from safe_embed.serve.runner import check_bind, server_config

    token = args.token or os.environ.get("SAFE_EMBED_TOKEN") or None
    check_bind(args.host, token)  # before loading the model
    try:
        limits = ServiceLimits(max_texts=args.max_texts, max_chars=args.max_chars,
                               max_body_bytes=args.max_body_bytes)
    except ValueError as e:
        raise ConfigError(f"{e} Fix: give a positive --max-texts/--max-chars/--max-body-bytes.") from None
    if args.max_batch < 1 or args.wait_ms < 0 or args.adaptive_wait < 0:
        raise ConfigError(f"--max-batch must be >= 1 and --wait-ms/--adaptive-wait >= 0, got {args.max_batch}, "
                          f"{args.wait_ms}, {args.adaptive_wait}.")
    if args.batch_workers < 1:
        raise ConfigError(f"--batch-workers must be >= 1, got {args.batch_workers}.")
    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {args.threads}.")
    if args.max_connections < 1:
        raise ConfigError(f"--max-connections must be >= 1, got {args.max_connections}.")
    if args.shared and args.persist:
        raise ConfigError("--persist and --shared both keep additions; choose one. Fix: --shared for replicas that "
                          "share them, --persist for one service writing the detector directory.")
    stream = None
    if args.shared:
        from safe_embed.detector.shared_stream import RedisStream

        stream = RedisStream(args.shared, args.shared_key)
        if not args.shared_optional:
            stream.ping()  # before loading the model: an unreachable Redis is one line and exit 2
    thresholds = parse_category_thresholds(args.category_threshold)
    det = Detector.load(args.detector, device=args.device, backend=args.backend, num_threads=args.threads,
                         spin=args.spin)
    det.set_category_thresholds(thresholds)
    shared = None
    if stream is not None:
        from safe_embed.detector.shared_replica import SharedReplica

        shared = SharedReplica(det, stream).open(optional=args.shared_optional)
    if args.threads is not None and det.backends.active == "torch":
        import torch

        torch.set_num_threads(args.threads)
    hosts = default_hosts(args.host)
    if args.allow_host:
        hosts = (hosts or set()) | set(args.allow_host)
    app = create_app(det, token=token, limits=limits, max_batch=args.max_batch, max_wait_ms=args.wait_ms,
                     adaptive_wait=args.adaptive_wait, persist=args.persist, allowed_hosts=hosts,
                     batch_workers=args.batch_workers, allow_non_text=args.allow_non_text, shared=shared)
    uvicorn.Server(server_config(app, args.host, args.port, args.log_level, args.max_connections,
                                 http_parser=args.http_parser)).run()
    return 0
