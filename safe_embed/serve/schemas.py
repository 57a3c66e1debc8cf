"""Request/response models of the HTTP API (the service's limits are in :mod:`safe_embed.serve.limits`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from safe_embed.detector.limits import MAX_FIELD_CHARS


class ClassifyRequest(BaseModel):
    """Give exactly one of ``texts`` (a list), ``text`` (one string) or ``messages`` (a conversation)."""

    model_config = ConfigDict(extra="forbid")

    texts: list[str] | None = Field(None, description="prompts to classify, answered in the same order")
    text: str | None = Field(None, description="one prompt (same as texts=[text])")
    messages: list[dict] | None = Field(None, description="a conversation in the OpenAI or Anthropic shape: each user "
                                        "message is checked, and the last user messages joined and their seams; "
                                        "'checked' names each result's source and 'verdict' is the conversation's")
    neighbors: bool = Field(True, description="include the nearest exemplars in each result")
    id: str | None = Field(None, description=f"an opaque request id (at most {MAX_FIELD_CHARS} characters) "
                              "echoed in the response")


class NeighborOut(BaseModel):
    id: str
    text: str = Field(description="the exemplar's text, cut to the service's max_neighbor_chars")
    label: str
    category: str | None
    similarity: float
    category_inferred: bool = Field(False, description="the category was inferred from the exemplar's neighbours "
                                    "when the detector was built, not given by its source")
    truncated: bool = Field(False, description="the text was cut")


class DetectionOut(BaseModel):
    label: str = Field(description="'unsafe' or 'safe'")
    score: float = Field(description="calibrated score in [0, 1]; unsafe when >= the threshold")
    category: str | None = Field(description="top category of category_scores when it reaches its threshold "
                                             "(unsafe only)")
    category_scores: dict[str, float] = Field(default_factory=dict, description="category -> share of the nearest "
                                              "categorised unsafe exemplars, in [0, 1]")
    neighbors: list[NeighborOut] = Field(default_factory=list)
    flags: list[str] = Field(default_factory=list,
                             description="'empty', 'repaired', 'matched', 'windowed', 'unchecked_tail', the deciding "
                                         "text view ('normalized', 'decoded:base64', ...; see the input policy), "
                                         "'neighbors_dropped' (the response would have been too large)")
    span: list[int] | None = Field(None, description="[start, end): the characters that decided (of the deciding "
                                                     "view's text)")


class ClassifyResponse(BaseModel):
    id: str | None = None
    results: list[DetectionOut]
    checked: list[str] | None = Field(None, description="for messages: where each result's text comes from "
                                      "('message #i', 'joined')")
    verdict: DetectionOut | None = Field(None, description="for messages: the first unsafe result, else the most "
                                         "unsafe-looking one")


class ModerationRequest(BaseModel):
    """OpenAI's moderation request: ``input`` is one text, a list of texts (one result each) or a list of content
    parts (``{"type": "text", "text": ...}``, ``{"type": "image_url", ...}``; one result for them all)."""

    model_config = ConfigDict(extra="forbid")

    input: str | list[str | dict] = Field(description="a text, a list of texts, or a list of content parts")
    model: str | None = Field(None, description="accepted for compatibility; the service's detector answers")


class ModerationResult(BaseModel):
    flagged: bool = Field(description="the detector's label is unsafe, or a part could not be checked")
    categories: dict[str, bool] = Field(description="OpenAI category -> whether the reported hazard falls in it")
    category_scores: dict[str, float] = Field(description="OpenAI category -> unsafe score x the largest "
                                              "category score among its hazards")
    category_applied_input_types: dict[str, list[str]]
    safe_embed: dict = Field(description="the detector's own verdict: label, score, category, category_scores "
                             "(its categories, e.g. MLCommons hazards), flags, and the parts not checked")


class ModerationResponse(BaseModel):
    id: str
    model: str
    results: list[ModerationResult]


class ExemplarIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(description="the exemplar (not empty)")
    label: str = Field(description="'unsafe' or 'safe'")
    category: str | None = Field(None, description=f"at most {MAX_FIELD_CHARS} characters")
    id: str | None = Field(None, description=f"unique id, at most {MAX_FIELD_CHARS} characters (default: 'api:<n>')")


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
