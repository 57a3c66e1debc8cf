"""What the classifying endpoints (``/v1/classify``, ``/v1/moderations``) share: the per-request text limits and
the micro-batched classification with its 503 when the service is overloaded."""

from __future__ import annotations

from safe_embed.serve.batcher import MicroBatcher, OverloadedError
from safe_embed.serve.http_errors import ServiceError
from safe_embed.serve.limits import ServiceLimits


def check_limits(texts: list[str], limits: ServiceLimits, field: str = "texts") -> None:
    """Refuse (422) an empty request, more than ``limits.max_texts`` texts, or a text over ``limits.max_chars``."""
    if not texts:
        raise ServiceError(422, "invalid_request", f"'{field}' is empty. Fix: send at least one text.")
    if len(texts) > limits.max_texts:
        raise ServiceError(422, "too_many_texts", f"{len(texts)} texts in one request; the limit is "
                           f"{limits.max_texts}. Fix: split the request.")
    for i, t in enumerate(texts):
        if len(t) > limits.max_chars:
            raise ServiceError(422, "text_too_long", f"text #{i} has {len(t)} characters; the limit is "
                               f"{limits.max_chars}. Fix: shorten or split it.")


async def classify(batcher: MicroBatcher, texts: list[str]) -> list:
    """The detections of ``texts`` through ``batcher``; 503 (retry after a second) when its queue is full."""
    try:
        return await batcher.classify(texts)
    except OverloadedError as e:
        raise ServiceError(503, "overloaded", f"the service is overloaded: {e} Fix: retry shortly.",
                           {"Retry-After": "1"}) from None
