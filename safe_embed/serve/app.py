"""The FastAPI app: ``POST /v1/classify``, ``POST /v1/exemplars``, ``GET /v1/info``, ``GET /healthz``.

Every error is a JSON body ``{"error": CODE, "message": TEXT}`` with a 4xx status for client mistakes:
400 malformed JSON, 401 missing or wrong bearer token, 413 body too large, 415 body not sent as JSON,
422 wrong field, type or limit,
503 overloaded (retry). The OpenAPI schema is at ``/openapi.json`` and the docs at ``/docs``.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import threading
import time
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from safe_embed import __version__
from safe_embed.serve.batcher import MicroBatcher, OverloadedError
from safe_embed.serve.schemas import (
    ClassifyRequest,
    ClassifyResponse,
    ErrorResponse,
    ExemplarsRequest,
    ExemplarsResponse,
    ServiceLimits,
)

logger = logging.getLogger(__name__)

BEARER = HTTPBearer(auto_error=False, description="the token given to `safe-embed serve --token`")
_ERRORS = {status: {"model": ErrorResponse} for status in (400, 401, 413, 415, 422, 503)}


class ServiceError(Exception):
    """An error answered as ``{"error": code, "message": message}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    try:
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (e.g. in an echoed id): \u-escape everything instead
        content = json.dumps(body, separators=(",", ":")).encode("ascii")
    return Response(content, status_code=status, media_type="application/json", headers=headers)


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response({"error": code, "message": message}, status, headers)


class BodyLimit:
    """ASGI middleware: answer 413 to a request body over ``max_bytes`` (declared or streamed) before parsing."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    def _too_large(self, size: str) -> Response:
        return error_response(413, "body_too_large", f"the request body is {size} bytes; the limit is "
                              f"{self.max_bytes} bytes. Fix: send fewer or shorter texts per request.")

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                return await error_response(400, "bad_content_length", f"Content-Length {declared!r} is not "
                                            "an integer.")(scope, receive, send)
            if size > self.max_bytes:
                return await self._too_large(str(size))(scope, receive, send)
            return await self.app(scope, receive, send)
        # No Content-Length (chunked): read at most max_bytes, then replay the body to the app.
        chunks, total, more = [], 0, True
        while more:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return
            chunks.append(msg.get("body", b""))
            total += len(chunks[-1])
            more = msg.get("more_body", False)
            if total > self.max_bytes:
                return await self._too_large(f"more than {self.max_bytes}")(scope, receive, send)
        body, sent = b"".join(chunks), False

        async def replay():
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, send)


def _validation_message(exc: RequestValidationError) -> tuple[int, str, str]:
    errors = exc.errors()
    for e in errors:
        if e.get("type") == "json_invalid":
            why = (e.get("ctx") or {}).get("error", "invalid JSON")
            pos = e.get("loc", ("body", "?"))[-1]
            return 400, "malformed_json", (f"the request body is not valid JSON ({why} at character {pos}). "
                                           'Fix: send a JSON object such as {"texts": ["..."]}.')
    parts = []
    for e in errors[:5]:
        loc = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body"
        parts.append(f"{loc}: {e.get('msg', 'invalid')}")
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return 422, "invalid_request", "; ".join(parts) + more + ". Fix: see the schema at /openapi.json."


def create_app(detector, token: str | None = None, limits: ServiceLimits | None = None, max_batch: int = 64,
               max_wait_ms: float = 1.0, adaptive_wait: float = 0.1, max_queue: int = 4096, persist_dir: str | os.PathLike[str] | None = None,
               warmup: bool = True) -> FastAPI:
    """The guardrail service for ``detector`` (a :class:`safe_embed.detector.Detector` or anything with its
    ``classify``/``add`` methods).

    ``max_batch``, ``max_wait_ms``, ``adaptive_wait``: micro-batching (see :class:`MicroBatcher`).
    ``token``: when set, ``POST /v1/exemplars`` needs ``Authorization: Bearer <token>`` (``safe-embed serve``
    requires one off loopback). ``persist_dir``: save the detector there after each addition.

    >>> # import uvicorn; uvicorn.run(create_app(Detector.load("my_detector")), host="127.0.0.1", port=8000)
    """
    limits = limits or ServiceLimits()
    lock = threading.Lock()
    batcher = MicroBatcher(detector.classify, max_batch=max_batch, max_wait_ms=max_wait_ms, max_queue=max_queue,
                           lock=lock, adaptive_wait=adaptive_wait)
    started = time.time()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        batcher.start()
        if warmup:  # load the model lazily held by the encoder before the first request
            await batcher.classify(["warm-up"])
        logger.info("serving %s: %d unsafe, %d safe exemplars", getattr(detector.encoder, "name", "?"),
                    len(detector.unsafe), len(detector.safe))
        yield
        batcher.stop()

    app = FastAPI(title="safe-embed guardrail", version=__version__, lifespan=lifespan,
                  description="Classify prompts as safe or unsafe with a safe-embed detector.")
    app.state.detector, app.state.batcher, app.state.limits = detector, batcher, limits
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)

    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> Response:
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        ctype = request.headers.get("content-type", "")
        if "json" not in ctype.lower():
            return error_response(415, "unsupported_media_type", f"the body's Content-Type is {ctype or 'missing'!r}; "
                                  "this API reads JSON. Fix: send 'Content-Type: application/json'.")
        status, code, message = _validation_message(exc)
        return error_response(status, code, message)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, f"{request.method} {request.url.path}: {exc.detail}. "
                              "Fix: see the endpoints at /docs.")

    def _check_token(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]) -> None:
        """A dependency, so it runs before the body is validated: no schema hints for unauthenticated callers."""
        if token is None:
            return
        given = creds.credentials.strip() if creds is not None else ""
        if not given or not hmac.compare_digest(given.encode(), token.encode()):
            raise ServiceError(401, "unauthorized", "adding exemplars needs the header "
                               "'Authorization: Bearer <token>' with the service's token. Fix: pass the token "
                               "given to `safe-embed serve --token` (or $SAFE_EMBED_TOKEN).",
                               {"WWW-Authenticate": "Bearer"})

    @app.get("/healthz", summary="liveness: 200 while the batch worker runs")
    async def healthz() -> Response:
        if not batcher.alive:
            return error_response(503, "unhealthy", "the batch worker is not running. Fix: restart the service.")
        return json_response({"status": "ok"})

    @app.get("/v1/info", summary="encoder, dimension, threshold, categories, exemplar counts, version, limits")
    async def info() -> Response:
        enc = detector.encoder
        return json_response({
            "version": __version__,
            "encoder": {"name": getattr(enc, "name", None), "identity": getattr(enc, "identity", None),
                        "dimension": int(detector.unsafe_index.d)},
            "threshold": float(detector.calibration.threshold),
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
        })

    @app.post("/v1/classify", summary="classify prompts", responses={200: {"model": ClassifyResponse}, **_ERRORS})
    async def classify(req: ClassifyRequest) -> Response:
        if (req.texts is None) == (req.text is None):
            raise ServiceError(422, "invalid_request", "give exactly one of 'texts' (a list of strings) or 'text' "
                               '(a string). Fix: e.g. {"texts": ["How do I kill a Python process?"]}.')
        texts = req.texts if req.texts is not None else [req.text]
        if not texts:
            raise ServiceError(422, "invalid_request", "'texts' is empty. Fix: send at least one text.")
        if len(texts) > limits.max_texts:
            raise ServiceError(422, "too_many_texts", f"{len(texts)} texts in one request; the limit is "
                               f"{limits.max_texts}. Fix: split the request.")
        for i, t in enumerate(texts):
            if len(t) > limits.max_chars:
                raise ServiceError(422, "text_too_long", f"text #{i} has {len(t)} characters; the limit is "
                                   f"{limits.max_chars}. Fix: shorten or split it.")
        try:
            detections = await batcher.classify(texts)
        except OverloadedError as e:
            raise ServiceError(503, "overloaded", f"the service is overloaded: {e} Fix: retry shortly.",
                               {"Retry-After": "1"}) from None
        results = [d.to_dict() for d in detections]
        if not req.neighbors:
            for r in results:
                r.pop("neighbors", None)
        return json_response({"id": req.id, "results": results})

    @app.post("/v1/exemplars", summary="add exemplars (bearer token when configured)",
              responses={200: {"model": ExemplarsResponse}, **_ERRORS}, dependencies=[Depends(_check_token)])
    def add_exemplars(req: ExemplarsRequest) -> Response:
        if len(req.exemplars) > limits.max_exemplars:
            raise ServiceError(422, "too_many_exemplars", f"{len(req.exemplars)} exemplars in one request; the "
                               f"limit is {limits.max_exemplars}. Fix: split the request.")
        ex = req.exemplars
        for i, e in enumerate(ex):
            try:
                e.text.encode("utf-8")
            except UnicodeEncodeError:
                raise ServiceError(422, "invalid_exemplars", f"exemplar #{i}'s text is not valid Unicode (a lone "
                                   "surrogate). Fix: send UTF-8 text.") from None
        ids = [e.id for e in ex]
        if any(i is not None for i in ids) and not all(i is not None for i in ids):
            raise ServiceError(422, "invalid_request", "give an 'id' for every exemplar or for none.")
        try:
            with lock:  # no classification runs while the indexes change
                new_ids = detector.add([e.text for e in ex], [e.label for e in ex], [e.category for e in ex],
                                       ids=ids if ids[0] is not None else None, source="api")
                if persist_dir is not None:
                    detector.save(persist_dir)
        except ValueError as e:  # DataError and friends: a bad label, a duplicate id, an empty text
            raise ServiceError(422, "invalid_exemplars", str(e)) from None
        return json_response({"ids": new_ids, "n_unsafe": len(detector.unsafe), "n_safe": len(detector.safe),
                              "saved": persist_dir is not None})

    return app
