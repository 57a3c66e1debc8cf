"""``POST /v1/moderations``: OpenAI's moderation API over the detector, so that ``openai``'s
``client.moderations.create(input=...)`` and the gateways built on it work unchanged.

``input`` is one text (one result), a list of texts (one result each) or a list of content parts (one result for
them all: each text part is checked, and the parts joined, as the turns of a conversation are; the deciding part
gives the result). Each result is the detector's verdict in OpenAI's shape:

* ``flagged``: the detector's label is unsafe (the label ``/v1/classify`` gives the same text), or a part could not
  be checked (fail closed, below);
* ``categories``: OpenAI category -> whether the detection's reported category is one of the hazards the taxonomy's
  ``openai`` table puts under it (``configs/taxonomy/mlcommons.yaml`` documents the table);
* ``category_scores``: OpenAI category -> the detection's unsafe score times the largest of its category scores among
  those hazards (0 when none): the chance the prompt is unsafe times the share of its nearest unsafe exemplars in
  that hazard;
* ``category_applied_input_types``: ``["text"]`` per category (``[]`` when no text was checked);
* ``safe_embed`` (an extra key, kept by OpenAI's client): the detector's own ``label``, ``score``, ``category``,
  ``category_scores`` (its categories, the MLCommons hazards for the default detector), ``flags``, and ``unchecked``:
  the parts it did not read.

An image, audio or file part is refused (422 ``unreadable_prompt``) unless the service allows non-text parts
(``safe-embed serve --allow-non-text``); then it is not checked, named in ``unchecked``, and the result is flagged.
Auth, limits (texts per request, characters per text, body size), micro-batching and errors are ``/v1/classify``'s.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from fastapi import FastAPI, Request
from starlette.responses import Response

from safe_embed.detector.categories import code_of
from safe_embed.detector.results import Detection
from safe_embed.guard_prompts import NON_TEXT_PARTS, UnreadablePromptError, decision, prompt_parts
from safe_embed.serve.batcher import MicroBatcher
from safe_embed.serve.http_errors import ServiceError, json_response, read_body
from safe_embed.serve.limits import ServiceLimits
from safe_embed.serve.metrics import count_texts
from safe_embed.serve.schemas import ErrorResponse, ModerationRequest, ModerationResponse
from safe_embed.serve.texts import check_limits, classify

_ERRORS = {status: {"model": ErrorResponse} for status in (400, 413, 415, 422, 503)}


def openai_result(d: Detection | None, table: Mapping[str, Sequence[str]], unchecked: Sequence[str] = ()) -> dict:
    """One moderation result from the deciding detection ``d`` (None: nothing was checked) and the OpenAI table
    (OpenAI category -> hazard codes); ``unchecked``: the parts not read, which flag the result.

    >>> d = Detection("unsafe", 0.8, "S1: Violent Crimes", category_scores={"S1: Violent Crimes": 0.75,
    ...                                                                     "S2: Non-Violent Crimes": 0.25})
    >>> r = openai_result(d, {"violence": ["S1", "S9"], "illicit": ["S2"], "hate": ["S10"]})
    >>> r["flagged"], r["categories"], r["category_scores"]
    (True, {'violence': True, 'illicit': False, 'hate': False}, {'violence': 0.6, 'illicit': 0.2, 'hate': 0.0})
    """
    by_code: dict[str, float] = {}
    for category, share in (d.category_scores if d is not None else {}).items():
        code = code_of(category)
        by_code[code] = max(by_code.get(code, 0.0), share)
    reported = code_of(d.category) if d is not None and d.label == "unsafe" and d.category else None
    score = d.score if d is not None else 0.0
    applied = ["text"] if d is not None else []
    own = {"label": None, "score": None, "category": None, "category_scores": {}, "flags": []} if d is None else \
        {k: v for k, v in d.to_dict().items() if k not in ("neighbors", "span")}
    return {"flagged": d is None or d.label == "unsafe" or bool(unchecked),
            "categories": {name: reported in codes for name, codes in table.items()},
            "category_scores": {name: round(score * max((by_code.get(c, 0.0) for c in codes), default=0.0), 6)
                                for name, codes in table.items()},
            "category_applied_input_types": {name: list(applied) for name in table},
            "safe_embed": {**own, "unchecked": list(unchecked)}}


def read_input(value: str | list, allow_non_text: bool) -> list[tuple[list[tuple[str, str]], list[str]]]:
    """The texts to check per result, each with where it comes from (as
    :func:`~safe_embed.guard_prompts.prompt_parts` names it), and the parts left unchecked, of a request's
    ``input``.

    >>> read_input(["a", "b"], False)
    [([('prompt', 'a')], []), ([('prompt', 'b')], [])]
    >>> read_input([{"type": "text", "text": "a"}, {"type": "image_url", "image_url": {"url": "x"}}], True)
    [([('message #0', 'a')], ['input part #1 (image_url)'])]
    """
    if isinstance(value, str):
        return [([("prompt", value)], [])]
    if all(isinstance(v, str) for v in value):
        return [([("prompt", v)], []) for v in value]
    if not all(isinstance(v, dict) for v in value):
        raise ServiceError(422, "invalid_request", "'input' mixes strings and content parts. Fix: send a list of "
                           'strings, or a list of parts such as {"type": "text", "text": "..."}.')
    try:  # each part as a turn: every text part is checked, and the parts joined
        parts = prompt_parts([{"role": "user", "content": [part]} for part in value], allow_non_text)
    except UnreadablePromptError as e:
        raise ServiceError(422, "unreadable_prompt", f"{e} (the service's option: --allow-non-text)") from None
    unchecked = [f"input part #{i} ({p.get('type')})" for i, p in enumerate(value)
                 if p.get("type") in NON_TEXT_PARTS and p.get("text") is None]
    return [(parts, unchecked)]


def add_moderations(app: FastAPI, batcher: MicroBatcher, limits: ServiceLimits, model: str,
                    table: Mapping[str, Sequence[str]], allow_non_text: bool = False) -> None:
    """Serve ``POST /v1/moderations`` on ``app`` through ``batcher`` (the ``/v1/classify`` one), answering as
    ``model``, with the OpenAI ``table`` (OpenAI category -> hazard codes)."""

    @app.post("/v1/moderations", summary="OpenAI-compatible moderation",
              responses={200: {"model": ModerationResponse}, **_ERRORS},
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": ModerationRequest.model_json_schema()}}}})
    async def moderations(request: Request) -> Response:
        req = await read_body(request, ModerationRequest)
        groups = read_input(req.input, allow_non_text)
        texts = [t for group, _ in groups for _, t in group]
        count_texts(request.scope, len(texts))
        if texts or not any(unchecked for _, unchecked in groups):  # images alone (allowed) need no text
            check_limits(texts, limits, "input")
        detections = await classify(batcher, texts) if texts else []
        results, start = [], 0
        for group, unchecked in groups:
            mine = detections[start:start + len(group)]
            start += len(group)
            results.append(openai_result(decision(mine, [w for w, _ in group]) if mine else None, table, unchecked))
        return json_response({"id": f"modr-{uuid.uuid4().hex}", "model": model, "results": results})
