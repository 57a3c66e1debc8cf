"""The FastAPI app: ``POST /v1/classify``, ``POST /v1/exemplars``, ``GET /v1/info``, ``GET /healthz``.

Every error is a JSON body ``{"error": CODE, "message": TEXT}`` with a 4xx status for client mistakes:
400 malformed JSON or a Host header the service does not answer to, 401 missing or wrong bearer token, 413 body
too large, 415 body not sent as JSON, 422 wrong field, type or limit, 503 overloaded or an addition that could
not be saved (retry; nothing changed). An unexpected failure is a JSON 500. Texts may hold any characters (the
detector's text policy repairs them). The OpenAPI schema is at ``/openapi.json`` and the docs at ``/docs``.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from safe_embed import __version__
from safe_embed.detector.text_policy import clean_text
from safe_embed.errors import ConfigError
from safe_embed.serve.batcher import BATCH_WORKERS, MicroBatcher, OverloadedError
from safe_embed.serve.locks import WriterFirstLock
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


class HostAllowList:
    """ASGI middleware: answer 400 to a request whose ``Host`` header is not allowed (DNS rebinding of a loopback
    service: a web page on a rebinding domain reaches 127.0.0.1 with its own host name)."""

    def __init__(self, app, allowed: set[str]) -> None:
        self.app, self.allowed = app, {h.lower() for h in allowed}

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            raw = dict(scope["headers"]).get(b"host", b"").decode("latin-1").strip().lower()
            host = raw[1:raw.index("]")] if raw.startswith("[") and "]" in raw else raw.rsplit(":", 1)[0] \
                if raw.count(":") == 1 else raw
            if host not in self.allowed:
                return await error_response(400, "host_not_allowed", f"Host {raw!r} is not served here. Fix: "
                                            f"call the service by one of {sorted(self.allowed)}, or start it with "
                                            "--allow-host NAME.")(scope, receive, send)
        return await self.app(scope, receive, send)


def default_hosts(bound: str | None) -> set[str] | None:
    """The Host names a service bound to ``bound`` answers to: itself and the loopback names for a loopback
    address; None (any) for another address, which needs a token anyway."""
    from safe_embed.serve.runner import is_loopback

    if bound is None or is_loopback(bound):
        return {"localhost", "127.0.0.1", "::1", *([bound.strip("[]")] if bound else [])}
    return None


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


def _validation_message(errors: list[dict]) -> tuple[int, str, str]:
    """Status, code and message for pydantic validation ``errors`` of a request body."""
    parts = []
    for e in errors[:5]:
        loc = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body"
        parts.append(f"{loc}: {e.get('msg', 'invalid')}")
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return 422, "invalid_request", "; ".join(parts) + more + ". Fix: see the schema at /openapi.json."


def _malformed_json(why: str, pos=None) -> ServiceError:
    where = "" if pos is None else f" at character {pos}"
    return ServiceError(400, "malformed_json", f"the request body is not valid JSON ({why}{where}). "
                        'Fix: send a JSON object such as {"texts": ["..."]}.')


def _not_json(content_type: str) -> ServiceError:
    return ServiceError(415, "unsupported_media_type", f"the body's Content-Type is {content_type or 'missing'!r}; "
                        "this API reads JSON. Fix: send 'Content-Type: application/json'.")


async def read_body(request: Request, model: type[BaseModel]) -> BaseModel:
    """The request body as ``model``, with the service's 400/415/422 errors (those of FastAPI's own body
    validation). Parsed here rather than through a FastAPI body parameter, which skips FastAPI's dependency
    solving: 6% more requests/s through the event loop, measured with a detector that answers at once."""
    ctype = request.headers.get("content-type", "")
    if "json" not in ctype.lower():
        raise _not_json(ctype)
    body = await request.body()
    try:
        data = json.loads(body)
    except json.JSONDecodeError as e:
        raise _malformed_json(e.msg, e.pos) from None
    except UnicodeDecodeError as e:
        raise _malformed_json("a byte sequence that is not UTF-8", e.start) from None
    except RecursionError:
        raise _malformed_json("arrays or objects nested too deeply") from None
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise ServiceError(*_validation_message(e.errors())) from None


def create_app(detector, token: str | None = None, limits: ServiceLimits | None = None, max_batch: int = 64,
               max_wait_ms: float = 1.0, adaptive_wait: float = 0.1, max_queue: int = 4096, persist: bool = False,
               warmup: bool = True, allowed_hosts: set[str] | None = None,
               batch_workers: int = BATCH_WORKERS) -> FastAPI:
    """The guardrail service for ``detector`` (a :class:`safe_embed.detector.Detector`).

    ``max_batch``, ``max_wait_ms``, ``adaptive_wait``, ``batch_workers``: micro-batching (see
    :class:`MicroBatcher`).
    ``token``: when set, ``POST /v1/exemplars`` needs ``Authorization: Bearer <token>`` (``safe-embed serve``
    requires one off loopback). ``persist``: journal each addition in the detector's directory before answering
    (what the service acknowledges is on disk). ``allowed_hosts``: the ``Host`` names it answers to (None: any).

    >>> from safe_embed.detector.demo import demo_detector
    >>> app = create_app(demo_detector(), warmup=False)
    >>> sorted(r.path for r in app.routes if r.path.startswith("/v1"))
    ['/v1/classify', '/v1/exemplars', '/v1/info']
    """
    limits = limits or ServiceLimits()
    if persist and getattr(detector, "origin", None) is None:
        raise ConfigError("persist needs a detector loaded from a directory. Fix: Detector.load(DIR).")
    lock = WriterFirstLock()  # additions go in between two index searches
    batcher = MicroBatcher(detector.classify_prepared, prepare=detector.prepare_classify, max_batch=max_batch,
                           max_wait_ms=max_wait_ms, max_queue=max_queue, lock=lock, adaptive_wait=adaptive_wait,
                           workers=batch_workers)
    started = time.time()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if persist:
            from safe_embed.detector.journal_sync import open_for_writing

            cleaned = open_for_writing(detector.origin.root)  # what a crashed writer left
            if cleaned:
                logger.info("cleaned %s", cleaned)
        batcher.start()
        if warmup:  # load the model lazily held by the encoder before the first request
            await batcher.classify(["warm-up"])
        logger.info("serving %s (%s backend): %d unsafe, %d safe exemplars", getattr(detector.encoder, "name", "?"),
                    getattr(getattr(detector, "backends", None), "active", "?"), len(detector.unsafe),
                    len(detector.safe))
        yield
        batcher.stop()

    app = FastAPI(title="safe-embed guardrail", version=__version__, lifespan=lifespan,
                  description="Classify prompts as safe or unsafe with a safe-embed detector.")
    app.state.detector, app.state.batcher, app.state.limits = detector, batcher, limits
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)
    if allowed_hosts is not None:
        app.add_middleware(HostAllowList, allowed=allowed_hosts)

    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> Response:
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        ctype = request.headers.get("content-type", "")
        errors = exc.errors()
        if "json" not in ctype.lower():
            err = _not_json(ctype)
        elif bad := [e for e in errors if e.get("type") == "json_invalid"]:
            err = _malformed_json((bad[0].get("ctx") or {}).get("error", "invalid JSON"), bad[0].get("loc", ("?",))[-1])
        else:
            err = ServiceError(*_validation_message(errors))
        return error_response(err.status, err.code, err.message)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", f"{type(exc).__name__} while handling the request. Fix: "
                              "retry; if it persists, report it with the service log.")

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
        })

    @app.post("/v1/classify", summary="classify prompts", responses={200: {"model": ClassifyResponse}, **_ERRORS},
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": ClassifyRequest.model_json_schema()}}}})
    async def classify(request: Request) -> Response:
        req = await read_body(request, ClassifyRequest)
        if (req.texts is None) == (req.text is None):
            raise ServiceError(422, "invalid_request", "give exactly one of 'texts' (a list of strings) or 'text' "
                               '(a string). Fix: e.g. {"texts": ["How do I kill a Python process?"]}.')
        texts = req.texts if req.texts is not None else [req.text]
        if req.id is not None and len(req.id) > 200:
            raise ServiceError(422, "invalid_request", f"id has {len(req.id)} characters; the limit is 200.")
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
        rid = clean_text(req.id)[0] if req.id is not None else None  # the text policy applies to echoed ids too
        return json_response({"id": rid, "results": shape_results(detections, limits, req.neighbors)})

    @app.post("/v1/exemplars", summary="add exemplars (bearer token when configured)",
              responses={200: {"model": ExemplarsResponse}, **_ERRORS}, dependencies=[Depends(_check_token)])
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
            if persist:  # validated, journaled (fsync), then applied: memory and disk never diverge
                new_ids = detector.persist_add(*args, source="api", mutex=lock)
            else:  # embedded first; no search runs while the indexes change
                new_ids = detector.add(*args, source="api", mutex=lock)
        except ValueError as e:  # DataError and friends: a bad label, a duplicate id, an empty text
            raise ServiceError(422, "invalid_exemplars", str(e)) from None
        except OSError as e:
            logger.error("could not journal an addition: %s", e)
            raise ServiceError(503, "persist_failed", f"the addition could not be saved ({e.strerror or e}); "
                               "nothing was changed. Fix: retry; check the disk of the detector directory.",
                               {"Retry-After": "1"}) from None
        return json_response({"ids": new_ids, "n_unsafe": len(detector.unsafe), "n_safe": len(detector.safe),
                              "saved": persist})

    return app
