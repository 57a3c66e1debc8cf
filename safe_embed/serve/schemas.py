"""Request/response models of the HTTP API and the service limits."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from pydantic import BaseModel, ConfigDict, Field


@dataclass(frozen=True)
class ServiceLimits:
    """Per-request limits; a request over any of them gets a 4xx naming the limit.

    ``max_texts``: texts in one classify request; ``max_chars``: characters in one text; ``max_body_bytes``: request
    body size; ``max_exemplars``: exemplars in one add request.
    """

    max_texts: int = 256
    max_chars: int = 20_000
    max_body_bytes: int = 2 * 1024 * 1024
    max_exemplars: int = 1000

    def __post_init__(self) -> None:
        for k, v in asdict(self).items():
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"service limit {k} must be a positive integer, got {v!r}.")

    def to_dict(self) -> dict:
        return asdict(self)


class ClassifyRequest(BaseModel):
    """Give ``texts`` (a list) or ``text`` (one string), not both."""

    model_config = ConfigDict(extra="forbid")

    texts: list[str] | None = Field(None, description="prompts to classify, answered in the same order")
    text: str | None = Field(None, description="one prompt (same as texts=[text])")
    neighbors: bool = Field(True, description="include the nearest exemplars in each result")
    id: str | None = Field(None, max_length=200, description="an opaque request id echoed in the response")


class NeighborOut(BaseModel):
    id: str
    text: str
    label: str
    category: str | None
    similarity: float


class DetectionOut(BaseModel):
    label: str = Field(description="'unsafe' or 'safe'")
    score: float = Field(description="calibrated score in [0, 1]; unsafe when >= the threshold")
    category: str | None = Field(description="majority category of the nearest unsafe exemplars (unsafe only)")
    neighbors: list[NeighborOut] = Field(default_factory=list)
    flags: list[str] = Field(default_factory=list, description="'empty', 'truncated'")


class ClassifyResponse(BaseModel):
    id: str | None = None
    results: list[DetectionOut]


class ExemplarIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1)
    label: str = Field(description="'unsafe' or 'safe'")
    category: str | None = None
    id: str | None = Field(None, description="unique id (default: 'api:<n>')")


class ExemplarsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    exemplars: list[ExemplarIn] = Field(min_length=1)


class ExemplarsResponse(BaseModel):
    ids: list[str]
    n_unsafe: int
    n_safe: int
    saved: bool


class ErrorResponse(BaseModel):
    error: str = Field(description="a short machine-readable code")
    message: str = Field(description="what was wrong and how to fix it")
