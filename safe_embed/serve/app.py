"""The FastAPI app: ``POST /v1/classify``, ``POST /v1/moderations`` (OpenAI's shape, see
:mod:`~safe_embed.serve.moderation`), ``POST /v1/exemplars``, ``GET /v1/info``, ``GET /healthz`` and
``GET /metrics`` (Prometheus, see :mod:`~safe_embed.serve.metrics`).

Every error is a JSON body ``{"error": CODE, "message": TEXT}`` with a 4xx status for client mistakes:
400 malformed JSON or a Host header the service does not answer to, 401 missing or wrong bearer token, 413 body
too large, 415 body not sent as JSON, 422 wrong field, type or limit, 503 overloaded or an addition that could
not be saved (retry; nothing changed). An unexpected failure is a JSON 500. Texts may hold any characters (the
detector's text policy repairs them). The OpenAPI schema is at ``/openapi.json`` and the docs at ``/docs``.
"""

from __future__ import annotations

import logging
import time
from contextlib import asynccontextmanager
from functools import partial

from fastapi import Depends, FastAPI, Request
from starlette.responses import Response

from safe_embed import __version__
from safe_embed.data.taxonomy import load_taxonomy
from safe_embed.detector.limits import MAX_FIELD_CHARS
from safe_embed.detector.shared_stream import SharedUnavailableError
from safe_embed.detector.text_policy import clean_text
from safe_embed.encoders.base import check_texts
from safe_embed.errors import ConfigError
from safe_embed.guard_prompts import UnreadablePromptError, decision, prompt_parts
from safe_embed.serve.auth import needs_token
from safe_embed.serve.batcher import (
    ADAPTIVE_WAIT,
    BATCH_WORKERS,
    MAX_BATCH,
    MAX_QUEUE,
    MAX_WAIT_MS,
    MicroBatcher,
)
from safe_embed.serve.http_errors import (
    ServiceError,
    add_error_handlers,
    error_response,
    json_response,
    read_body,
)
from safe_embed.serve.limits import ServiceLimits
from safe_embed.serve.locks import WriterFirstLock
from safe_embed.serve.metrics import ServiceMetrics, add_metrics, count_texts
from safe_embed.serve.middleware import BodyLimit, HostAllowList
from safe_embed.serve.moderation import add_moderations
from safe_embed.serve.schemas import (
    ClassifyRequest,
    ClassifyResponse,
    ErrorResponse,
    ExemplarsRequest,
    ExemplarsResponse,
)
from safe_embed.serve.texts import check_limits
from safe_embed.serve.texts import classify as classify_texts

logger = logging.getLogger(__name__)

_ERRORS = {status: {"model": ErrorResponse} for status in (400, 401, 413, 415, 422, 503)}


def shape_results(detections: list, limits: ServiceLimits, neighbors: bool) -> list[dict]:
    """Detections as response dicts: neighbour texts cut to ``max_neighbor_chars``; the neighbours dropped (flag
    ``neighbors_dropped``) when the results would exceed ``max_response_bytes``."""
    results = []
    for d in detections:
        r = d.to_dict()
        if not neighbors:
            r.pop("neighbors", None)
        else:
            for n in r["neighbors"]:
                n["truncated"] = len(n["text"]) > limits.max_neighbor_chars
                if n["truncated"]:
                    n["text"] = n["text"][: limits.max_neighbor_chars]
        results.append(r)
    if neighbors and sum(len(n["text"]) * 4 + 200 for r in results for n in r["neighbors"]) + 300 * len(results) \
            > limits.max_response_bytes:
        for r in results:
            r["neighbors"] = []
            r["flags"].append("neighbors_dropped")
    return results


def create_app(detector, token: str | None = None, limits: ServiceLimits | None = None, max_batch: int = MAX_BATCH,
               max_wait_ms: float = MAX_WAIT_MS, adaptive_wait: float = ADAPTIVE_WAIT, max_queue: int = MAX_QUEUE,
               persist: bool = False, warmup: bool = True, allowed_hosts: set[str] | None = None,
               batch_workers: int = BATCH_WORKERS, allow_non_text: bool = False, shared=None) -> FastAPI:
    """The guardrail service for ``detector`` (a :class:`safe_embed.detector.Detector`).

    ``max_batch``, ``max_wait_ms``, ``adaptive_wait``, ``batch_workers``: micro-batching (see
    :class:`MicroBatcher`).
    ``token``: when set, ``POST /v1/exemplars`` and ``GET /metrics`` need ``Authorization: Bearer <token>``
    (``safe-embed serve`` requires one off loopback). ``allow_non_text``: ``/v1/moderations`` reports image, audio
    and file parts as not checked (flagged) instead of refusing them. ``persist``: journal each addition in the
    detector's directory before answering (what the service acknowledges is on disk). ``allowed_hosts``: the ``Host`` names it answers to (None: any).
    ``shared``: a :class:`~safe_embed.detector.shared_replica.SharedReplica` of ``detector`` (opened): additions go
    through Redis to every replica; while Redis is unreachable they answer 503 and ``/healthz`` says ``degraded``.

    >>> from safe_embed.detector.demo import demo_detector
    >>> app = create_app(demo_detector(), warmup=False)
    >>> sorted(r.path for r in app.routes if r.path.startswith("/v1"))
    ['/v1/classify', '/v1/exemplars', '/v1/info', '/v1/moderations']
    """
    limits = limits or ServiceLimits()
    if persist and getattr(detector, "origin", None) is None:
        raise ConfigError("persist needs a detector loaded from a directory. Fix: Detector.load(DIR).")
    lock = WriterFirstLock()  # additions go in between two index searches
    metrics = ServiceMetrics(detector)
    batcher = MicroBatcher(detector.classify_prepared, prepare=detector.prepare_classify, max_batch=max_batch,
                           max_wait_ms=max_wait_ms, max_queue=max_queue, lock=lock, adaptive_wait=adaptive_wait,
                           workers=batch_workers, check=partial(check_texts, allow_empty=True),
                           observe=metrics.observe_verdicts)
    metrics.watch(batcher)
    started = time.time()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if persist:
            from safe_embed.detector.journal_sync import open_for_writing

            cleaned = open_for_writing(detector.origin.root)  # what a crashed writer left
            if cleaned:
                logger.info("cleaned %s", cleaned)
        batcher.start()
        if shared is not None:
            shared.start(mutex=lock)
        if warmup:  # load the encoder's model and the text views' word tables before the first request
            from safe_embed.detector.text_views import load_tables

            load_tables()
            await batcher.classify(["warm-up"])
        logger.info("serving %s (%s backend): %d unsafe, %d safe exemplars", getattr(detector.encoder, "name", "?"),
                    getattr(getattr(detector, "backends", None), "active", "?"), len(detector.unsafe),
                    len(detector.safe))
        yield
        if shared is not None:
            shared.stop()
        batcher.stop()

    app = FastAPI(title="safe-embed guardrail", version=__version__, lifespan=lifespan,
                  description="Classify prompts as safe or unsafe with a safe-embed detector.")
    app.state.detector, app.state.batcher, app.state.limits = detector, batcher, limits
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)
    if allowed_hosts is not None:
        app.add_middleware(HostAllowList, allowed=allowed_hosts)

    add_error_handlers(app)

    @app.get("/healthz", summary="liveness: 200 while the batch worker runs")
    async def healthz() -> Response:
        if not batcher.alive:
            return error_response(503, "unhealthy", "the batch worker is not running. Fix: restart the service.")
        if shared is not None and not shared.healthy:  # classification still serves the last applied state
            return json_response({"status": "degraded", "reason": shared.status().reason})
        return json_response({"status": "ok"})

    @app.get("/v1/info", summary="encoder, dimension, threshold, categories, exemplar counts, version, limits")
    async def info() -> Response:
        enc = detector.encoder
        return json_response({
            "version": __version__,
            "encoder": {"name": getattr(enc, "name", None), "identity": getattr(enc, "identity", None),
                        "dimension": int(detector.dimension)},
            "backend": getattr(getattr(detector, "backends", None), "active", None),
            "threshold": float(detector.calibration.threshold),
            "raw_threshold": detector.calibration.raw_threshold,
            "rule": detector.rule.to_dict() if hasattr(detector.rule, "to_dict") else str(detector.rule),
            "categories": detector.categories,
            "exemplars": {"unsafe": len(detector.unsafe), "safe": len(detector.safe),
                          "total": len(detector.unsafe) + len(detector.safe)},
            "limits": limits.to_dict(),
            "batching": {"max_batch": batcher.max_batch, "max_wait_ms": batcher.max_wait * 1000,
                         "adaptive_wait": batcher.adaptive_wait, "wait_window_ms": round(1000 * batcher.wait_window, 3),
                         **batcher.stats.to_dict()},
            "writes_need_token": token is not None,
            "uptime_s": round(time.time() - started, 1),
            **({"shared": shared.status().to_dict()} if shared is not None else {}),
        })

    @app.post("/v1/classify", summary="classify prompts", responses={200: {"model": ClassifyResponse}, **_ERRORS},
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": ClassifyRequest.model_json_schema()}}}})
    async def classify(request: Request) -> Response:
        req = await read_body(request, ClassifyRequest)
        if sum(v is not None for v in (req.texts, req.text, req.messages)) != 1:
            raise ServiceError(422, "invalid_request", "give exactly one of 'texts' (a list of strings), 'text' "
                               "(a string) or 'messages' (a conversation). Fix: e.g. "
                               '{"texts": ["How do I kill a Python process?"]}.')
        checked = None
        if req.messages is not None:
            try:
                parts = prompt_parts(req.messages)
            except UnreadablePromptError as e:
                raise ServiceError(422, "unreadable_prompt", str(e)) from None
            checked, texts = [where for where, _ in parts], [text for _, text in parts]
            if not texts:
                raise ServiceError(422, "invalid_request", "'messages' holds no message to check (only system or "
                                   "assistant messages). Fix: include the user's messages.")
        else:
            texts = req.texts if req.texts is not None else [req.text]
        if req.id is not None and len(req.id) > MAX_FIELD_CHARS:
            raise ServiceError(422, "invalid_request", f"id has {len(req.id)} characters; the limit is "
                               f"{MAX_FIELD_CHARS}. Fix: send a shorter id.")
        count_texts(request.scope, len(texts))
        check_limits(texts, limits)
        detections = await classify_texts(batcher, texts)
        rid = clean_text(req.id)[0] if req.id is not None else None  # the text policy applies to echoed ids too
        results = shape_results(detections, limits, req.neighbors)
        if checked is None:
            return json_response({"id": rid, "results": results})
        verdict = shape_results([decision(detections, checked)], limits, req.neighbors)[0]
        return json_response({"id": rid, "results": results, "checked": checked, "verdict": verdict})

    @app.post("/v1/exemplars", summary="add exemplars (bearer token when configured)",
              responses={200: {"model": ExemplarsResponse}, **_ERRORS},
              dependencies=[Depends(needs_token(token, "adding exemplars"))])
    def add_exemplars(req: ExemplarsRequest) -> Response:
        if len(req.exemplars) > limits.max_exemplars:
            raise ServiceError(422, "too_many_exemplars", f"{len(req.exemplars)} exemplars in one request; the "
                               f"limit is {limits.max_exemplars}. Fix: split the request.")
        ex = req.exemplars
        if not ex:
            raise ServiceError(422, "invalid_request", "'exemplars' is empty. Fix: send at least one.")
        for i, e in enumerate(ex):
            if len(e.text) > limits.max_exemplar_chars:
                raise ServiceError(422, "exemplar_too_long", f"exemplar #{i} has {len(e.text)} characters; the limit "
                                   f"is {limits.max_exemplar_chars}. Fix: add the part that carries the attack.")
        args = ([e.text for e in ex], [e.label for e in ex], [e.category for e in ex], [e.id for e in ex])
        try:
            if shared is not None:  # validated, embedded, stored in Redis, then applied
                new_ids = shared.add(*args, source="api")
            elif persist:  # validated, journaled (fsync), then applied: memory and disk never diverge
                new_ids = detector.persist_add(*args, source="api", mutex=lock)
            else:  # embedded first; no search runs while the indexes change
                new_ids = detector.add(*args, source="api", mutex=lock)
        except ValueError as e:  # DataError and friends: a bad label, a duplicate id, an empty text
            raise ServiceError(422, "invalid_exemplars", str(e)) from None
        except SharedUnavailableError as e:
            raise ServiceError(503, "shared_unavailable", f"the addition was not stored: {e}",
                               {"Retry-After": "1"}) from None
        except OSError as e:
            logger.error("could not journal an addition: %s", e)
            raise ServiceError(503, "persist_failed", f"the addition could not be saved ({e.strerror or e}); "
                               "nothing was changed. Fix: retry; check the disk of the detector directory.",
                               {"Retry-After": "1"}) from None
        return json_response({"ids": new_ids, "n_unsafe": len(detector.unsafe), "n_safe": len(detector.safe),
                              "saved": persist or shared is not None})

    add_moderations(app, batcher, limits, f"safe-embed/{getattr(detector.encoder, 'name', None) or 'detector'}",
                    load_taxonomy("mlcommons").openai, allow_non_text)
    add_metrics(app, metrics, token)  # the outermost middleware: every request is counted
    return app
