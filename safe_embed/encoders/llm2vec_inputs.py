"""LLM2Vec's text side, as llm2vec 0.2.3's ``LLM2Vec.encode`` does it: prompt, tokens, embed mask, pooling.

An input is an ``(instruction, text)`` pair (instruction ``""`` for none). llm2vec joins the pair around a
separator, wraps it in the base model's chat prompt (chosen by the base model's name), tokenizes the joined text
with left padding, and marks in an *embed mask* the last tokens, as many as the part after the separator has on
its own; pooling then averages only those (the instruction and the prompt's prefix are attended to but not
pooled). Every quirk is kept (the word-level ``doc_max_length`` cut, right truncation at ``max_length``, an empty
embed mask pooling the whole row), since the point is to give llm2vec's numbers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from safe_embed.errors import ModelError

SEPARATOR = "!@#$%^&*()"
POOLINGS = ("mean", "weighted_mean", "eos_token", "last_token", "bos_token")
# llm2vec picks the prompt by the exact name of the base model it was trained from (``config._name_or_path``)
LLAMA3_INSTRUCT = "meta-llama/Meta-Llama-3-8B-Instruct"
INST_MODELS = ("mistralai/Mistral-7B-Instruct-v0.2", "meta-llama/Llama-2-7b-chat-hf")
LLAMA3_BASE = "meta-llama/Meta-Llama-3-8B"


@dataclass(frozen=True)
class LLM2VecSettings:
    """Encoding settings, with llm2vec's defaults; ``llm2vec_config.json`` beside the adapter overrides them.

    >>> LLM2VecSettings().max_length
    512
    """

    pooling_mode: str = "mean"
    max_length: int = 512
    doc_max_length: int = 400
    skip_instruction: bool = True

    def __post_init__(self) -> None:
        if self.pooling_mode not in POOLINGS:
            raise ModelError(f"pooling {self.pooling_mode!r} is not supported. Fix: use one of {POOLINGS}.")
        if self.max_length < 1 or self.doc_max_length < 1:
            raise ModelError(f"max_length {self.max_length} / doc_max_length {self.doc_max_length} must be "
                             "positive. Fix: pass a token count of at least 1.")

    @classmethod
    def from_dir(cls, directory: str | None, **overrides) -> LLM2VecSettings:
        """Defaults, then ``directory/llm2vec_config.json`` when ``directory`` is a local folder holding one
        (llm2vec reads it only from a local path, never from the hub), then the non-None ``overrides``."""
        values: dict = {}
        path = Path(directory) / "llm2vec_config.json" if directory else None
        if path is not None and path.is_file():
            try:
                data = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError) as e:
                raise ModelError(f"cannot read {path}: {e}. Fix: repair or delete the file.") from None
            known = {f.name for f in fields(cls)}
            values.update({k: v for k, v in data.items() if k in known})
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def _n_tokens(tokenizer, text: str, max_length: int) -> int:
    return len(tokenizer(text, truncation=True, max_length=max_length, add_special_tokens=False)["input_ids"])


def join_instruction(tokenizer, instruction: str, text: str, settings: LLM2VecSettings) -> str:
    """``instruction`` and ``text`` around :data:`SEPARATOR`, the text first cut to ``doc_max_length`` tokens
    by dropping words (llm2vec's ``_convert_to_str``)."""
    n = _n_tokens(tokenizer, text, settings.max_length)
    while n > settings.doc_max_length:
        words = text.split()
        text = " ".join(words[:int(len(words) * settings.doc_max_length / n)])
        n = _n_tokens(tokenizer, text, settings.max_length)
    return f"{instruction.strip()} {SEPARATOR}{text}" if instruction else f"{SEPARATOR}{text}"


def wrap_prompt(joined: str, source_name: str, model_type: str, pooling_mode: str) -> str:
    """The chat prompt llm2vec puts around a joined input for the base model ``source_name``
    (llm2vec's ``prepare_for_tokenization``, Llama and Mistral branches)."""
    if source_name == LLAMA3_INSTRUCT:
        return "<|start_header_id|>user<|end_header_id|>\n\n" + joined.strip() + "<|eot_id|>"
    if source_name in INST_MODELS:
        joined = "[INST] " + joined.strip() + " [/INST]"
    if pooling_mode == "eos_token":
        if source_name == LLAMA3_BASE:
            joined = joined.strip() + "<|end_of_text|>"
        elif model_type in ("llama", "mistral"):
            joined = joined.strip() + " </s>"
    return joined


def tokenize(tokenizer, prompts: list[str], max_length: int) -> dict:
    """Token ids, attention mask and embed mask ``(b, t)`` tensors for wrapped, joined prompts (left padded)."""
    import torch

    texts, originals = [], []
    for prompt in prompts:
        parts = prompt.split(SEPARATOR)
        texts.append(parts[1] if len(parts) > 1 else "")
        originals.append("".join(parts))
    features = tokenizer(originals, return_tensors="pt", padding=True, truncation=True, max_length=max_length)
    embed_mask = torch.zeros_like(features["attention_mask"])
    for i, text in enumerate(texts):
        n = _n_tokens(tokenizer, text, max_length)
        if n > 0:
            embed_mask[i, -n:] = 1
    return {"input_ids": features["input_ids"], "attention_mask": features["attention_mask"],
            "embed_mask": embed_mask}


def pool(hidden, features: dict, settings: LLM2VecSettings, bos_token_id: int | None):
    """Pool left-padded token states ``(b, t, h)`` into ``(b, h)`` (llm2vec's ``get_pooling``)."""
    import torch

    mask = features["embed_mask"] if settings.skip_instruction else features["attention_mask"]
    lengths = [int(n) for n in mask.sum(dim=-1)]
    mode = settings.pooling_mode
    if mode == "mean":
        return torch.stack([hidden[i, -n:, :].mean(dim=0) for i, n in enumerate(lengths)], dim=0)
    if mode == "weighted_mean":
        weights = torch.zeros(hidden.shape[:2], device=hidden.device)
        for i, n in enumerate(lengths):
            if n > 0:
                weights[i, -n:] = torch.arange(n, device=hidden.device) + 1
                weights[i] /= torch.clamp(weights[i].sum(), min=1e-9)
        return torch.sum(hidden * weights.unsqueeze(-1), dim=1)
    if mode in ("eos_token", "last_token"):
        return hidden[:, -1]
    return hidden[features["input_ids"] == bos_token_id]


def length_order(joined: list[str]) -> np.ndarray:
    """Longest first, as llm2vec batches (its ``np.argsort`` on negative character lengths)."""
    return np.argsort([-len(s) for s in joined])
