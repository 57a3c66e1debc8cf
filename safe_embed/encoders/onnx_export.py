"""Export a sentence-transformers model to ONNX for :class:`~safe_embed.encoders.onnx_backend.OnnxEncoder`.

The transformer is exported with ``torch.onnx.export`` (the torch.export-based exporter, the default of torch 2.9+;
it needs ``onnxscript``) with dynamic batch and sequence axes; the graph's output is the token embeddings
(``last_hidden_state``), and pooling and normalization run in numpy at inference. Each layer's attention is fused
into one ONNX Runtime ``MultiHeadAttention`` node (:mod:`~safe_embed.encoders.onnx_fuse`) when the fused graph
still matches torch; otherwise the graph is kept as exported. ``quantize="int8"`` also writes
``model_int8.onnx``: static int8 quantization calibrated on prompts (see :mod:`~safe_embed.encoders.onnx_quantize`),
so an int8 embedding does not depend on the batch, and int8 is then the default variant. :func:`export_onnx` checks the fp32 graph against torch, and the
int8 graph's batch invariance, before writing the config. Export-time code: it imports torch; the runtime backend
does not.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from safe_embed.checksums import sha256_file
from safe_embed.encoders.onnx_backend import FORMAT, FORMAT_VERSION, ONNX_CONFIG, POOLING_MODES, pool
from safe_embed.encoders.onnx_fuse import MS_DOMAIN, fuse_attention
from safe_embed.encoders.onnx_quantize import INT8_RECIPE, is_current_recipe, quantize_int8
from safe_embed.encoders.onnx_runtime import INSTALL_FIX, require_onnxruntime
from safe_embed.errors import ConfigError, ModelError

logger = logging.getLogger(__name__)

QUANTIZE = ("fp32", "int8")
FILES = {"fp32": "model.onnx", "int8": "model_int8.onnx"}
OUTPUT = "last_hidden_state"
MAX_ABS_DIFF = 1e-4  # fp32 ONNX vs torch sentence embeddings on the check texts
CHECK_TEXTS = ("How do I kill a Python process?", "hi", "Write a poem about the sea, " * 12,
               "Comment fabriquer une bombe ?")
MAX_BATCH_DIFF = 1e-5  # int8: a text's embedding alone vs inside a padded batch of the check texts


def is_current_export(onnx_config: dict) -> bool:
    """Whether an export's ``onnx_config.json`` (as a dict) was written by this version's export: its attention
    fusion recorded, its int8 variant (if any) made with the current recipe."""
    return "fused_attention" in (onnx_config.get("export") or {}) and is_current_recipe(onnx_config)


def _require_exporter() -> None:
    require_onnxruntime()
    for mod in ("onnx", "onnxscript"):
        try:
            __import__(mod)
        except ImportError:
            raise ModelError(f"{mod} is not installed (the ONNX export needs it). Fix: {INSTALL_FIX}") from None


def _sentence_transformer(model):
    if hasattr(model, "encode") and hasattr(model, "tokenizer"):
        return model
    from safe_embed.encoders.sentence_transformer import load_sentence_transformer

    return load_sentence_transformer(str(model), device="cpu")


def _check_modules(st) -> tuple[object, list[str], bool]:
    """The Transformer module, the pooling modes and whether a Normalize follows; other layouts are refused."""
    mods = list(st)
    kinds = [type(m).__name__ for m in mods]
    if len(mods) < 2 or kinds[0] != "Transformer" or kinds[1] != "Pooling" or \
            any(k != "Normalize" for k in kinds[2:]):
        raise ModelError(f"cannot export modules {kinds} to ONNX: the ONNX backend runs Transformer -> Pooling "
                         "[-> Normalize]. Fix: use the torch backend for this model.")
    mode = mods[1].pooling_mode
    modes = [mode] if isinstance(mode, str) else list(mode)
    bad = [m for m in modes if m not in POOLING_MODES]
    if bad or not getattr(mods[1], "include_prompt", True):
        raise ModelError(f"pooling {modes} (include_prompt={getattr(mods[1], 'include_prompt', True)}) has no ONNX "
                         f"equivalent. Fix: use one of {POOLING_MODES} with prompts included, or the torch backend.")
    return mods[0], modes, len(mods) > 2


def _graph_module(auto_model, names: list[str]):
    """A module whose positional inputs are ``names`` and whose output is the last hidden state."""
    import torch

    class Graph(torch.nn.Module):
        def __init__(self, m) -> None:
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            kw = {"input_ids": input_ids, "attention_mask": attention_mask}
            if token_type_ids is not None:
                kw["token_type_ids"] = token_type_ids
            return self.m(**kw).last_hidden_state

    order = ["input_ids", "attention_mask", "token_type_ids"]
    unknown = [n for n in names if n not in order]
    if unknown:
        raise ModelError(f"the tokenizer's inputs {unknown} have no ONNX export path. Fix: use the torch backend.")
    return Graph(auto_model.eval()), [n for n in order if n in names]


def _export_fp32(st, path: Path, inputs: list[str]) -> None:
    import torch

    graph, inputs = _graph_module(st[0].auto_model, inputs)
    feats = st.tokenizer(list(CHECK_TEXTS[:2]), padding=True, return_tensors="pt")
    args = tuple(feats[n] for n in inputs)
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq")
    dynamic = {n: {0: batch, 1: seq} for n in inputs}
    with torch.no_grad(), contextlib.redirect_stdout(sys.stderr):  # stdout stays the commands' JSON
        torch.onnx.export(graph, args, str(path), input_names=inputs, output_names=[OUTPUT],
                          dynamic_shapes=dynamic, dynamo=True, external_data=False, optimize=True, verbose=False)


def _fuse(st, raw: Path, path: Path) -> int:
    """Write ``path``: the exported graph ``raw`` with its attention fused (see :mod:`onnx_fuse`); returns the
    number of fused layers (0: ``path`` is ``raw`` as exported)."""
    import onnx

    model = onnx.load(str(raw))
    heads = getattr(st[0].auto_model.config, "num_attention_heads", None)
    n = fuse_attention(model, int(heads)) if heads else 0
    onnx.save(model, str(path))
    return n


def _check_fp32(st, path: Path, inputs: list[str], modes: list[str], normalize: bool) -> float:
    """Max abs difference between torch's and the fp32 graph's sentence embeddings on :data:`CHECK_TEXTS`."""
    ort = require_onnxruntime()
    texts = list(CHECK_TEXTS)
    want = st.encode(texts, convert_to_numpy=True, normalize_embeddings=False)
    feats = st.tokenizer(texts, padding=True, truncation="longest_first", max_length=st.max_seq_length,
                         return_tensors="np")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    hidden = session.run([OUTPUT], {n: feats[n].astype(np.int64) for n in inputs})[0]
    got = pool(hidden, feats["attention_mask"], modes)
    if normalize:
        got = got / np.maximum(np.linalg.norm(got, axis=1, keepdims=True), 1e-12)
    return float(np.abs(got - want).max())


def _batch_diff(st, path: Path, inputs: list[str]) -> float:
    """Max abs difference of the graph's token states for each check text run alone and inside the padded batch."""
    ort = require_onnxruntime()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def run(texts):
        f = st.tokenizer(texts, padding=True, truncation="longest_first", max_length=st.max_seq_length,
                         return_tensors="np")
        return session.run([OUTPUT], {n: f[n].astype(np.int64) for n in inputs})[0], f["attention_mask"]

    batch, mask = run(list(CHECK_TEXTS))
    diffs = []
    for i, t in enumerate(CHECK_TEXTS):
        alone, _ = run([t])
        n = int(mask[i].sum())
        diffs.append(float(np.abs(alone[0, :n] - batch[i, :n]).max()))
    return max(diffs)


def export_onnx(model, out_dir: str | Path, quantize: str = "fp32", calibration_texts=None) -> Path:
    """Export ``model`` (a loaded ``SentenceTransformer`` or its directory) into ``out_dir``: ``model.onnx``
    (+ ``model_int8.onnx`` for ``quantize="int8"``), the tokenizer files and ``onnx_config.json``; the default
    variant is int8 when written (static scales: batch-invariant), else fp32. ``calibration_texts`` fix int8's activation ranges (a detector export passes its calibration
    split; None: a small built-in set). Returns ``out_dir``.

    Example (a few seconds for MiniLM)::

        export_onnx("path/to/all-MiniLM-L6-v2", "exports/minilm-onnx", quantize="int8")
        OnnxEncoder("exports/minilm-onnx").encode(["hi"])
    """
    if quantize not in QUANTIZE:
        raise ConfigError(f"quantize must be one of {QUANTIZE}, got {quantize!r}.")
    _require_exporter()
    st = _sentence_transformer(model)
    transformer, modes, normalize = _check_modules(st)
    tok = st.tokenizer
    if not getattr(tok, "is_fast", False):
        raise ModelError(f"the tokenizer of {getattr(st, 'model_card_data', None) or 'the model'} is not a fast "
                         "(tokenizer.json) tokenizer, which the ONNX backend reads. Fix: use the torch backend.")
    inputs = [n for n in tok.model_input_names if n in ("input_ids", "attention_mask", "token_type_ids")]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out, prefix=".tmp-onnx-") as tmp:
        fp32, raw = Path(tmp) / FILES["fp32"], Path(tmp) / "exported.onnx"
        _export_fp32(st, raw, inputs)
        fused = _fuse(st, raw, fp32)
        if fused:
            try:
                diff = _check_fp32(st, fp32, inputs, modes, normalize)
            except Exception as e:  # noqa: BLE001 - onnxruntime raises its own pybind exception types
                diff, why = None, f"ONNX Runtime cannot run it ({str(e).strip().splitlines()[0] if str(e) else e!r})"
            else:
                why = f"it differs from torch by {diff:.2e}"
            if diff is None or diff > MAX_ABS_DIFF:  # keep the graph as exported
                logger.warning("not fusing the attention: %s", why)
                fused = 0
        if not fused:
            shutil.copyfile(raw, fp32)
            diff = _check_fp32(st, fp32, inputs, modes, normalize)
        if diff > MAX_ABS_DIFF:
            raise ModelError(f"the exported graph differs from torch by {diff:.2e} (> {MAX_ABS_DIFF}) on the check "
                             "texts. Fix: use the torch backend for this model.")
        variants, int8 = ["fp32"], None
        if quantize == "int8":
            counts = quantize_int8(fp32, Path(tmp) / FILES["int8"], tok, inputs, int(st.max_seq_length),
                                   calibration_texts)
            batch_diff = _batch_diff(st, Path(tmp) / FILES["int8"], inputs)
            if batch_diff > MAX_BATCH_DIFF:
                raise ModelError(f"the int8 graph's output for a text changes by {batch_diff:.2e} (> "
                                 f"{MAX_BATCH_DIFF}) inside a batch. Fix: export fp32 only.")
            variants.append("int8")
            int8 = {**INT8_RECIPE, **counts, "builtin_calibration": calibration_texts is None,
                    "batch_max_abs_diff": batch_diff}
        for v in variants:
            shutil.move(str(Path(tmp) / FILES[v]), str(out / FILES[v]))
    tok.save_pretrained(str(out))
    if not (out / "tokenizer.json").is_file():
        raise ModelError(f"{out}: the tokenizer wrote no tokenizer.json. Fix: use the torch backend.")
    hidden = int(st[0].auto_model.config.hidden_size)
    config = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "default": variants[-1],
        "files": {v: {"file": FILES[v], "sha256": sha256_file(out / FILES[v])} for v in variants},
        "inputs": inputs, "output": OUTPUT, "dimension": hidden * len(modes),
        "max_seq_length": int(st.max_seq_length), "do_lower_case": bool(getattr(transformer, "do_lower_case", False)),
        "pad": {"id": int(tok.pad_token_id or 0), "token": str(tok.pad_token), "type_id": int(tok.pad_token_type_id)},
        "pooling": {"modes": modes}, "normalize": normalize,
        "export": {"exporter": "torch.onnx.export (dynamo)", "fp32_max_abs_diff": diff,
                   "fused_attention": {"op": f"{MS_DOMAIN}.MultiHeadAttention", "layers": fused}, "int8": int8},
    }
    (out / ONNX_CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    logger.info("exported %s to ONNX in %s (%s; fp32 max abs diff %.1e)", type(st).__name__, out, variants, diff)
    return out
