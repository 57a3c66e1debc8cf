"""LLM2Vec backend on plain transformers + PEFT (no ``llm2vec`` package, no ``trust_remote_code``).

Loads an LLM2Vec model as llm2vec 0.2.3's ``LLM2Vec.from_pretrained(mntp, peft_model_name_or_path=adapter)``
does: the Mistral or Llama base model, its MNTP LoRA merged in, then the second-stage (SimCSE or supervised) LoRA
on top, unmerged; self-attention made bidirectional (no causal mask, only padding masked); texts prepared and
pooled by :mod:`safe_embed.encoders.llm2vec_inputs`.

Where the weights come from: the tokenizer and the MNTP adapter from ``model`` (a hub id or a folder); the base
weights from ``base_model`` when given, else from the ``model`` folder itself when it holds weights, else from
the ``base_model_name_or_path`` its ``adapter_config.json`` names (as transformers does for an adapter repo).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from safe_embed.encoders.base import Encoder
from safe_embed.encoders.llm2vec_inputs import (
    LLM2VecSettings,
    join_instruction,
    length_order,
    pool,
    tokenize,
    wrap_prompt,
)
from safe_embed.encoders.sentence_transformer import directory_fingerprint
from safe_embed.errors import ModelError

logger = logging.getLogger(__name__)

DTYPES = ("bfloat16", "float16", "float32")
ATTENTION = ("sdpa", "eager")  # the two whose masks are plain additive tensors (flash attention ignores them)
MODEL_TYPES = ("mistral", "llama")  # llm2vec's MistralBiModel and LlamaBiModel
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")


def holds_weights(ref: str | None) -> bool:
    """Whether ``ref`` is a local folder with full model weights (not only an adapter)."""
    return bool(ref) and Path(ref).is_dir() and any((Path(ref) / f).is_file() for f in WEIGHT_FILES)


def read_json(ref: str, filename: str) -> dict | None:
    """``filename`` from a local folder or a hub repo, parsed; None when the folder or repo has no such file."""
    path = Path(ref) / filename
    if Path(ref).is_dir():
        try:
            return json.loads(path.read_text()) if path.is_file() else None
        except (OSError, ValueError) as e:
            raise ModelError(f"cannot read {path}: {e}. Fix: restore the file from the model's repo.") from None
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import RemoteEntryNotFoundError

    try:
        return json.loads(Path(hf_hub_download(ref, filename)).read_text())
    except RemoteEntryNotFoundError:  # the repo exists and has no such file
        return None
    except (OSError, ValueError) as e:  # offline and not cached, gated, no such repo, a bad id
        raise ModelError(f"cannot read {filename} of {ref!r} from the Hugging Face hub ({type(e).__name__}: "
                         f"{str(e).splitlines()[0] if str(e) else ''}). Fix: check the name and access to the hub "
                         "(Llama 3 is gated: `hf auth login`), or point at local copies with --model-path DIR "
                         "(DIR/mntp, DIR/adapter, and DIR/base for the base weights).") from None


def base_source(model: str) -> str:
    """Where the base weights of MNTP model ``model`` are: the ``model`` folder itself when it holds weights (or
    has no MNTP adapter), else the ``base_model_name_or_path`` of its ``adapter_config.json``."""
    adapter = None if holds_weights(model) else read_json(model, "adapter_config.json")
    return adapter["base_model_name_or_path"] if adapter else model


def prompt_source(model: str) -> str:
    """The base-model name llm2vec reads its prompt template from (``model.config._name_or_path``).

    A local MNTP folder: its ``config.json``'s ``_name_or_path``. A hub MNTP repo (an adapter repo): the base it
    names, which is where transformers 4.44 loaded the weights from.
    """
    if Path(model).is_dir():
        return (read_json(model, "config.json") or {}).get("_name_or_path", "")
    adapter = read_json(model, "adapter_config.json")
    return adapter["base_model_name_or_path"] if adapter else model


def padding_mask(attention_mask, dtype):
    """A ``(b, 1, t, t)`` additive mask that hides padded keys only: llm2vec's bidirectional mask."""
    import torch

    b, t = attention_mask.shape
    mask = torch.zeros(b, 1, t, t, dtype=dtype, device=attention_mask.device)
    return mask.masked_fill(attention_mask[:, None, None, :] == 0, torch.finfo(dtype).min)


def make_bidirectional(model) -> None:
    """Turn off the causal flag of every decoder layer's self-attention (the mask is :func:`padding_mask`)."""
    if model.config.model_type not in MODEL_TYPES:
        raise ModelError(f"model type {model.config.model_type!r} has no bidirectional LLM2Vec variant here. "
                         f"Fix: use an LLM2Vec model built on {' or '.join(MODEL_TYPES)}.")
    for layer in model.layers:
        layer.self_attn.is_causal = False


def load_bidirectional(model: str, adapter: str | None, base_model: str | None, dtype: str, device: str,
                       attn_implementation: str = "sdpa"):
    """The base model, MNTP LoRA merged, bidirectional, second-stage LoRA on top (eval mode)."""
    import warnings

    import torch
    from peft import PeftModel
    from transformers import AutoModel

    base = base_model or base_source(model)
    logger.info("loading LLM2Vec base %s (MNTP %s, adapter %s, %s, %s)", base, model, adapter, dtype, device)
    net = AutoModel.from_pretrained(base, dtype=getattr(torch, dtype), attn_implementation=attn_implementation,
                                    device_map=device)
    make_bidirectional(net)  # the attention modules stay through the LoRA merge and wrap
    with warnings.catch_warnings():
        # weights and MNTP adapter in one folder: transformers has attached the adapter (unmerged); PEFT loads
        # it again in place and the merge applies it once, as in llm2vec (whose PEFT warning says so)
        warnings.filterwarnings("ignore", message="Already found a `peft_config`")
        warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated")  # PEFT's call
        if read_json(model, "adapter_config.json") is not None:
            net = PeftModel.from_pretrained(net, model).merge_and_unload()
            vars(net).pop("peft_config", None)
            net._hf_peft_config_loaded = False
        if adapter:
            net = PeftModel.from_pretrained(net, adapter)
    return net.eval()


class LLM2VecEncoder(Encoder):
    """An LLM2Vec model: a bidirectional MNTP-trained Mistral or Llama plus a contrastive LoRA adapter.

    ``instruction`` (optional) is put before every text, as llm2vec's ``[instruction, text]`` inputs; it is
    attended to but not pooled. ``pooling`` and ``max_length`` override ``llm2vec_config.json`` and llm2vec's
    defaults (mean, 512).

    Example (downloads about 15 GB from the hub)::

        enc = LLM2VecEncoder("McGill-NLP/LLM2Vec-Mistral-7B-Instruct-v2-mntp",
                             adapter="McGill-NLP/LLM2Vec-Mistral-7B-Instruct-v2-mntp-unsup-simcse")
        enc.encode(["How do I kill a Python process?"]).shape  # (1, 4096)
    """

    def __init__(self, model: str, adapter: str | None = None, name: str | None = None, device: str | None = None,
                 batch_size: int = 32, dtype: str = "bfloat16", pooling: str | None = None,
                 max_length: int | None = None, instruction: str | None = None, base_model: str | None = None,
                 attn_implementation: str = "sdpa") -> None:
        if dtype not in DTYPES:
            raise ModelError(f"dtype {dtype!r} is not supported. Fix: use one of {DTYPES}.")
        if attn_implementation not in ATTENTION:
            raise ModelError(f"attn_implementation {attn_implementation!r} is not supported (its mask is not "
                             f"llm2vec's bidirectional one). Fix: use one of {ATTENTION}.")
        LLM2VecSettings(pooling_mode=pooling or "mean", max_length=max_length or 512)  # check early
        self.model_ref = str(model)
        self.adapter = str(adapter) if adapter else None
        self.base_model = str(base_model) if base_model else None
        self.name = name or self.model_ref
        self.device = device
        self.batch_size = batch_size
        self.dtype = dtype
        self.pooling = pooling
        self.max_length = max_length
        self.instruction = instruction
        self.attn_implementation = attn_implementation
        self._model = None
        self._tokenizer = None
        self._settings: LLM2VecSettings | None = None
        self._source = ""
        self._identity: str | None = None

    def _resolved_device(self) -> str:
        if self.device:
            return self.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def _load(self) -> None:
        from transformers import AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(self.model_ref)
            model = load_bidirectional(self.model_ref, self.adapter, self.base_model, self.dtype,
                                       self._resolved_device(), self.attn_implementation)
        except ModelError:
            raise
        except (OSError, ValueError) as e:
            raise ModelError(f"cannot load LLM2Vec model {self.model_ref!r} (adapter {self.adapter!r}, base "
                             f"{self.base_model or 'from its adapter_config.json'}): {str(e).splitlines()[0]}. "
                             "Fix: check access to the hub (Llama 3 is gated: `hf auth login`), or point at local "
                             "copies with --model-path DIR (DIR/mntp, DIR/adapter, DIR/base).") from None
        tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "left"
        self._settings = LLM2VecSettings.from_dir(self.adapter or self.model_ref, pooling_mode=self.pooling,
                                                  max_length=self.max_length)
        self._source = prompt_source(self.model_ref)
        self._tokenizer, self._model = tokenizer, model

    @property
    def identity(self) -> str:
        if self._identity is None:
            self._identity = self._make_identity()
        return self._identity

    def _make_identity(self) -> str:
        """Refs (local folders by content), settings, dtype and instruction: what changes the embeddings."""
        parts = []
        for ref in (self.model_ref, self.adapter) + ((self.base_model,) if self.base_model else ()):
            p = Path(ref) if ref else None
            parts.append(f"{p.name}:{directory_fingerprint(p)}" if p and p.is_dir() else str(ref))
        ident = f"llm2vec:{'+'.join(parts)}:{self.pooling or 'default'}:{self.max_length or 'default'}:{self.dtype}"
        if self.instruction:
            import hashlib

            ident += f":instruction={hashlib.sha256(self.instruction.encode()).hexdigest()[:12]}"
        return ident

    @property
    def dimension(self) -> int | None:
        return int(self._model.config.hidden_size) if self._model is not None else None

    def _encode(self, texts: list[str], batch_size: int, show_progress: bool) -> np.ndarray:
        return self.encode_pairs([(self.instruction or "", t) for t in texts], batch_size, show_progress)

    def encode_pairs(self, pairs: list[tuple[str, str]], batch_size: int | None = None,
                     show_progress: bool = False) -> np.ndarray:
        """Embed ``(instruction, text)`` pairs (instruction ``""`` for none) into float32 ``(n, d)``."""
        import torch
        from tqdm.auto import tqdm

        pairs = [tuple(p) for p in pairs]
        if not pairs or any(len(p) != 2 or not all(isinstance(x, str) for x in p) for p in pairs):
            raise ModelError(f"encode_pairs takes a non-empty list of (instruction, text) string pairs, got "
                             f"{pairs[:2]!r}. Fix: pass e.g. [('', 'a text'), ('an instruction', 'a text')].")
        if self._model is None:
            self._load()
        tok, settings, model = self._tokenizer, self._settings, self._model
        joined = [join_instruction(tok, instruction, text, settings) for instruction, text in pairs]
        order = length_order(joined)
        device, dtype = next(model.parameters()).device, getattr(torch, self.dtype)
        batch_size = batch_size or self.batch_size
        chunks = []
        for s in tqdm(range(0, len(joined), batch_size), desc=f"encode {self.name}", disable=not show_progress):
            prompts = [wrap_prompt(joined[i], self._source, model.config.model_type, settings.pooling_mode)
                       for i in order[s:s + batch_size]]
            features = {k: v.to(device) for k, v in tokenize(tok, prompts, settings.max_length).items()}
            with torch.inference_mode():
                hidden = model(input_ids=features["input_ids"],
                               attention_mask=padding_mask(features["attention_mask"], dtype)).last_hidden_state
                chunks.append(pool(hidden, features, settings, tok.bos_token_id).float().cpu())
        out = torch.cat(chunks)[np.argsort(order)]
        return out.numpy()
