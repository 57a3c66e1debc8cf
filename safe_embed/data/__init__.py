"""Datasets: the paper's sets, registered labelled sets, any team's own files, and the one splitter.

>>> from safe_embed.data import DataSpec, build_dataset
>>> spec = DataSpec(sources=[{"name": "alpaca", "sample": 100}, {"name": "advbench"}])
>>> rows = build_dataset(spec).split("train")
>>> sorted({r.source for r in rows}), all(r.split == "train" for r in rows)
(['advbench', 'alpaca'], True)
"""

from __future__ import annotations

from safe_embed.data.dataset import Assigned, DataSpec, SplitDataset, build_dataset
from safe_embed.data.files import load_labelled_file, parse_label
from safe_embed.data.labelled import NAMED_SETS, TEST_ONLY, load_labelled
from safe_embed.data.paper import (
    load_contrast,
    load_do_not_answer,
    load_norm_sample,
    load_xstest_aug,
)
from safe_embed.data.schemas import ContrastItem, LabelledPrompt, PromptPair, TaxonomyPrompt
from safe_embed.data.sources import SourceSpec, parse_sources
from safe_embed.data.splits import assign_splits, text_hash, text_key
from safe_embed.data.taxonomy import Taxonomy, load_taxonomy

__all__ = [
    "NAMED_SETS",
    "TEST_ONLY",
    "Assigned",
    "ContrastItem",
    "DataSpec",
    "LabelledPrompt",
    "PromptPair",
    "SourceSpec",
    "SplitDataset",
    "Taxonomy",
    "TaxonomyPrompt",
    "assign_splits",
    "build_dataset",
    "load_contrast",
    "load_do_not_answer",
    "load_labelled",
    "load_labelled_file",
    "load_norm_sample",
    "load_taxonomy",
    "load_xstest_aug",
    "parse_label",
    "parse_sources",
    "text_hash",
    "text_key",
]
