"""Dataset loaders and schemas: the paper's sets, the normalization sample, and labelled prompts."""

from __future__ import annotations

from safe_embed.data.labelled import NAMED_SETS, load_labelled, load_labelled_file
from safe_embed.data.paper import (
    load_contrast,
    load_do_not_answer,
    load_norm_sample,
    load_xstest_aug,
)
from safe_embed.data.schemas import ContrastItem, LabelledPrompt, PromptPair, TaxonomyPrompt

__all__ = [
    "NAMED_SETS",
    "ContrastItem",
    "LabelledPrompt",
    "PromptPair",
    "TaxonomyPrompt",
    "load_contrast",
    "load_do_not_answer",
    "load_labelled",
    "load_labelled_file",
    "load_norm_sample",
    "load_xstest_aug",
]
