"""The service's per-request limits (no web framework imported: the ``serve`` command reads its defaults)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from safe_embed.detector.limits import MAX_CHARS, MAX_EXEMPLAR_CHARS
from safe_embed.errors import ConfigError


@dataclass(frozen=True)
class ServiceLimits:
    """Per-request limits; a request over any of them gets a 4xx naming the limit.

    ``max_texts``: texts in one classify request; ``max_chars``: characters in one text; ``max_body_bytes``: request
    body size; ``max_exemplars``: exemplars in one add request; ``max_exemplar_chars``: characters in one exemplar;
    ``max_neighbor_chars``: characters of a neighbour's text in a response (longer ones are cut and marked
    ``truncated``); ``max_response_bytes``: a classify response larger than this drops its neighbours (flag
    ``neighbors_dropped``) rather than grow.

    >>> ServiceLimits(max_texts=0)
    Traceback (most recent call last):
    ...
    safe_embed.errors.ConfigError: service limit max_texts must be a positive integer, got 0.
    """

    max_texts: int = 256
    max_chars: int = MAX_CHARS
    max_body_bytes: int = 2 * 1024 * 1024
    max_exemplars: int = 1000
    max_exemplar_chars: int = MAX_EXEMPLAR_CHARS
    max_neighbor_chars: int = 1000
    max_response_bytes: int = 8 * 1024 * 1024

    def __post_init__(self) -> None:
        for k, v in asdict(self).items():
            if not isinstance(v, int) or v < 1:
                raise ConfigError(f"service limit {k} must be a positive integer, got {v!r}.")

    def to_dict(self) -> dict:
        return asdict(self)
