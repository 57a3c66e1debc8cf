"""Request/response models of the HTTP API and the service limits."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from pydantic import BaseModel, ConfigDict, Field

from safe_embed.errors import ConfigError


@dataclass(frozen=True)
class ServiceLimits:
    """Per-request limits; a request over any of them gets a 4xx naming the limit.

    ``max_texts``: texts in one classify request; ``max_chars``: characters in one text; ``max_body_bytes``: request
    body size; ``max_exemplars``: exemplars in one add request; ``max_exemplar_chars``: characters in one exemplar;
    ``max_neighbor_chars``: characters of a neighbour's text in a response (longer ones are cut and marked
    ``truncated``); ``max_response_bytes``: a classify response larger than this drops its neighbours (flag
    ``neighbors_dropped``) rather than grow.
    """

    max_texts: int = 256
    max_chars: int = 20_000
    max_body_bytes: int = 2 * 1024 * 1024
    max_exemplars: int = 1000
    max_exemplar_chars: int = 20_000
    max_neighbor_chars: int = 1000
    max_response_bytes: int = 8 * 1024 * 1024

    def __post_init__(self) -> None:
        for k, v in asdict(self).items():
            if not isinstance(v, int) or v < 1:
                raise ConfigError(f"service limit {k} must be a positive integer, got {v!r}.")

    def to_dict(self) -> dict:
        return asdict(self)


class ClassifyRequest(BaseModel):
    """Give ``texts`` (a list) or ``text`` (one string), not both."""

    model_config = ConfigDict(extra="forbid")

    texts: list[str] | None = Field(None, description="prompts to classify, answered in the same order")
    text: str | None = Field(None, description="one prompt (same as texts=[text])")
    neighbors: bool = Field(True, description="include the nearest exemplars in each result")
    id: str | None = Field(None, description="an opaque request id (at most 200 characters) echoed in the response")


class NeighborOut(BaseModel):
    id: str
    text: str = Field(description="the exemplar's text, cut to the service's max_neighbor_chars")
    label: str
    category: str | None
    similarity: float
    truncated: bool = Field(False, description="the text was cut")


class DetectionOut(BaseModel):
    label: str = Field(description="'unsafe' or 'safe'")
    score: float = Field(description="calibrated score in [0, 1]; unsafe when >= the threshold")
    category: str | None = Field(description="majority category of the nearest unsafe exemplars (unsafe only)")
    neighbors: list[NeighborOut] = Field(default_factory=list)
    flags: list[str] = Field(default_factory=list,
                             description="'empty', 'truncated', 'repaired' (see the input policy), "
                                         "'neighbors_dropped' (the response would have been too large)")


class ClassifyResponse(BaseModel):
    id: str | None = None
    results: list[DetectionOut]


class ExemplarIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(description="the exemplar (not empty)")
    label: str = Field(description="'unsafe' or 'safe'")
    category: str | None = Field(None, description="at most 200 characters")
    id: str | None = Field(None, description="unique id, at most 200 characters (default: 'api:<n>')")


class ExemplarsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    exemplars: list[ExemplarIn] = Field(description="at least one")


class ExemplarsResponse(BaseModel):
    ids: list[str]
    n_unsafe: int
    n_safe: int
    saved: bool


class ErrorResponse(BaseModel):
    error: str = Field(description="a short machine-readable code")
    message: str = Field(description="what was wrong and how to fix it")
