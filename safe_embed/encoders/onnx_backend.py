"""The ONNX Runtime CPU backend: a sentence-transformers model exported by :func:`export_onnx`, run without torch.

An exported directory holds ``model.onnx`` (fp32; ``model_int8.onnx`` when quantized), the tokenizer files and
``onnx_config.json``, which records the files with their sha256, the tokenizer settings (``max_seq_length``,
lower-casing, padding token) and the modules after the transformer (pooling modes, Normalize). Tokenization reads
the saved ``tokenizer.json`` with the ``tokenizers`` library (pad to the longest, truncate at ``max_seq_length``:
sentence-transformers' settings); pooling and normalization run in numpy. Neither torch nor transformers is
imported.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np

from safe_embed.checksums import sha256_file
from safe_embed.encoders.base import Encoder, l2_normalize
from safe_embed.encoders.onnx_quantize import exact_on_every_cpu
from safe_embed.encoders.onnx_runtime import require_onnxruntime
from safe_embed.errors import ModelError

logger = logging.getLogger(__name__)

ONNX_CONFIG = "onnx_config.json"
FORMAT = "safe-embed-onnx"
FORMAT_VERSION = 1
POOLING_MODES = ("mean", "mean_sqrt_len_tokens", "cls", "max", "lasttoken")


def read_onnx_config(path: str | Path) -> dict[str, Any]:
    """Read and check ``onnx_config.json`` of an exported directory."""
    p = Path(path) / ONNX_CONFIG
    if not p.is_file():
        raise ModelError(f"{Path(path)} has no {ONNX_CONFIG}, so it is not an exported ONNX model. Fix: export it "
                         "with safe_embed.encoders.onnx_export.export_onnx(st_model_dir, out_dir).")
    try:
        cfg = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ModelError(f"{p} is not valid JSON ({e}). Fix: re-export the model with export_onnx.") from None
    if cfg.get("format") != FORMAT or cfg.get("format_version") != FORMAT_VERSION:
        raise ModelError(f"{p} is format {cfg.get('format')!r} v{cfg.get('format_version')}, this safe-embed reads "
                         f"{FORMAT!r} v{FORMAT_VERSION}. Fix: re-export the model with export_onnx.")
    for mode in cfg["pooling"]["modes"]:
        if mode not in POOLING_MODES:
            raise ModelError(f"{p}: pooling mode {mode!r} is not supported. Fix: use one of {POOLING_MODES}.")
    return cfg


def pool(hidden: np.ndarray, mask: np.ndarray, modes: list[str]) -> np.ndarray:
    """Pool token states ``hidden`` (b, t, h) with ``mask`` (b, t) into (b, h * len(modes)), as sentence-transformers'
    Pooling does (modes concatenated in the given order)."""
    m = mask.astype(np.float32)[..., None]
    counts = np.maximum(m.sum(axis=1), 1e-9)
    out = []
    for mode in modes:
        if mode == "mean":
            out.append((hidden * m).sum(axis=1) / counts)
        elif mode == "mean_sqrt_len_tokens":
            out.append((hidden * m).sum(axis=1) / np.sqrt(counts))
        elif mode == "cls":
            out.append(hidden[np.arange(len(hidden)), mask.argmax(axis=1)])
        elif mode == "max":
            out.append(np.where(m > 0, hidden, -np.inf).max(axis=1))
        elif mode == "lasttoken":
            last = mask.shape[1] - 1 - mask[:, ::-1].argmax(axis=1)
            out.append(hidden[np.arange(len(hidden)), last] * m[np.arange(len(hidden)), last])
        else:
            raise ModelError(f"pooling mode {mode!r} is not supported. Fix: use one of {POOLING_MODES}.")
    return np.concatenate(out, axis=1).astype(np.float32)


class OnnxEncoder(Encoder):
    """A sentence-transformers model exported to ONNX, run with ONNX Runtime on CPU.

    ``variant`` picks a file recorded in ``onnx_config.json`` (``"fp32"``, ``"int8"``); None takes the export's
    default (int8 when it was quantized). ``num_threads`` sets ONNX Runtime's intra-op threads (None: one per core).
    ``spin``: whether those threads busy-wait for work between operators (ONNX Runtime's default). Spinning wins
    about 0.5 ms on one prompt in process; a service turns it off, since a spinning pool holds the cores between
    batches and starves the HTTP, tokenizer and FAISS threads.

    Thread-safe: an ONNX Runtime session and a ``tokenizers`` tokenizer with fixed settings may run from several
    threads at once (both release the GIL), so a service embeds an addition while a batch is being embedded.

    >>> # enc = OnnxEncoder("exports/minilm-onnx", variant="int8", num_threads=2); enc.encode(["hi"]).shape
    """

    thread_safe = True

    def __init__(self, path: str | Path, variant: str | None = None, name: str | None = None, batch_size: int = 64,
                 num_threads: int | None = None, verify: bool = True, spin: bool = True) -> None:
        self.path = Path(path)
        self.config = read_onnx_config(self.path)
        self.variant = variant or self.config["default"]
        files = self.config["files"]
        if self.variant not in files:
            raise ModelError(f"{self.path} has no ONNX variant {self.variant!r}. Fix: use one of {sorted(files)}.")
        self.file = self.path / files[self.variant]["file"]
        self.name = name or f"{self.path.name}:{self.variant}"
        self.batch_size = batch_size
        self.num_threads = num_threads
        self.verify = verify
        self.spin = spin
        self._session = None
        self._tokenizer = None
        self._counter = None
        self._init_lock = threading.Lock()  # the lazy session and tokenizers are created once

    @property
    def identity(self) -> str:
        return f"onnx:{self.path.name}:{self.variant}:{self.config['files'][self.variant]['sha256'][:16]}"

    @property
    def dimension(self) -> int | None:
        return int(self.config["dimension"])

    @property
    def session(self):
        """The ONNX Runtime session, created on first use (checksum verified when ``verify``)."""
        if self._session is None:
            with self._init_lock:
                if self._session is None:
                    self._session = self._load_session()
        return self._session

    def _load_session(self):
        ort = require_onnxruntime()
        if not self.file.is_file():
            raise ModelError(f"ONNX file {self.file} is missing. Fix: re-export the model with export_onnx.")
        if self.verify and sha256_file(self.file) != self.config["files"][self.variant]["sha256"]:
            raise ModelError(f"ONNX file {self.file} does not match the sha256 recorded in {ONNX_CONFIG} (corrupted "
                             "or modified). Fix: re-export the model with export_onnx.")
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.inter_op_num_threads = 1
        if self.num_threads:
            opts.intra_op_num_threads = self.num_threads
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if self.spin else "0")
        try:
            session = ort.InferenceSession(str(self.file), opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001 - onnxruntime raises its own pybind exception types
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise ModelError(f"ONNX Runtime cannot load {self.file} ({first}). Fix: re-export the model with "
                             "export_onnx.") from None
        if self.variant == "int8" and not exact_on_every_cpu(self.config):
            logger.warning("%s was quantized with 8-bit weights, whose int8 products saturate on CPUs without VNNI "
                           "(AVX2), so its embeddings and verdicts depend on the CPU. Fix: export it again with "
                           "export_onnx (7-bit weights: exact on every CPU).", self.file)
        self._input_names = [i.name for i in session.get_inputs()]
        unknown = [n for n in self._input_names if n not in ("input_ids", "attention_mask", "token_type_ids")]
        if unknown:
            raise ModelError(f"ONNX file {self.file} takes inputs {unknown} this backend does not feed. Fix: "
                             "re-export the model with export_onnx.")
        return session

    @property
    def tokenizer(self):
        """The ``tokenizers.Tokenizer`` of ``tokenizer.json``, set to pad to the longest and cut at the window."""
        if self._tokenizer is None:
            with self._init_lock:
                if self._tokenizer is None:
                    self._tokenizer = self._load_tokenizer()
        return self._tokenizer

    def _load_tokenizer(self):
        from tokenizers import Tokenizer

        path = self.path / "tokenizer.json"
        try:
            tok = Tokenizer.from_file(str(path))
        except Exception as e:  # noqa: BLE001 - tokenizers raises its own exception type
            raise ModelError(f"cannot load the tokenizer {path} ({str(e).splitlines()[0] if str(e) else e!r}). "
                             "Fix: re-export the model with export_onnx.") from None
        pad = self.config.get("pad", {})
        tok.enable_truncation(int(self.config["max_seq_length"]))
        tok.enable_padding(pad_id=int(pad.get("id", 0)), pad_type_id=int(pad.get("type_id", 0)),
                           pad_token=str(pad.get("token", "[PAD]")))
        return tok

    def token_window(self) -> int | None:
        return int(self.config["max_seq_length"])

    def count_tokens(self, texts) -> list[int] | None:
        return [len(e.ids) for e in self._untruncated(texts, special=True)]

    def token_spans(self, texts) -> list[list[tuple[int, int]]] | None:
        return [[(int(a), int(b)) for a, b in e.offsets] for e in self._untruncated(texts, special=False)]

    def _untruncated(self, texts, special: bool) -> list:
        """The encodings of ``texts`` by a copy of the tokenizer that neither cuts nor pads."""
        if self._counter is None:
            from tokenizers import Tokenizer

            tok = self.tokenizer
            with self._init_lock:
                if self._counter is None:
                    counter = Tokenizer.from_str(tok.to_str())
                    counter.no_truncation()
                    counter.no_padding()
                    self._counter = counter
        texts = [t.lower() for t in texts] if self.config["do_lower_case"] else list(texts)
        return self._counter.encode_batch(texts, add_special_tokens=special)

    def _forward(self, texts: list[str]) -> tuple[np.ndarray, list[bool]]:
        """One batch: tokenize, run the transformer, pool, normalize; and which texts overflowed the window."""
        cfg = self.config
        if cfg["do_lower_case"]:
            texts = [t.lower() for t in texts]
        session = self.session
        encs = self.tokenizer.encode_batch(texts, add_special_tokens=True)
        mask = np.array([e.attention_mask for e in encs], dtype=np.int64)
        arrays = {"input_ids": lambda: np.array([e.ids for e in encs], dtype=np.int64),
                  "attention_mask": lambda: mask,
                  "token_type_ids": lambda: np.array([e.type_ids for e in encs], dtype=np.int64)}
        feeds = {k: arrays[k]() for k in self._input_names}
        hidden = session.run([cfg["output"]], feeds)[0]
        vec = pool(hidden, mask, cfg["pooling"]["modes"])
        return (l2_normalize(vec) if cfg["normalize"] else vec), [bool(e.overflowing) for e in encs]

    def _encode(self, texts: list[str], batch_size: int, show_progress: bool) -> np.ndarray:
        return self._encode_overflow(texts, batch_size, show_progress)[0]

    def _encode_overflow(self, texts: list[str], batch_size: int, show_progress: bool
                         ) -> tuple[np.ndarray, list[bool]]:
        """One tokenization per text: the truncating tokenizer's encodings say which texts overflowed."""
        if len(texts) <= batch_size:
            return self._forward(texts)
        from tqdm.auto import tqdm

        order = np.argsort([-len(t) for t in texts], kind="stable")  # similar lengths share a batch: less padding
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        over = [False] * len(texts)
        for s in tqdm(range(0, len(texts), batch_size), desc=f"encode {self.name}", disable=not show_progress):
            idx = order[s:s + batch_size]
            out[idx], flags = self._forward([texts[i] for i in idx])
            for i, f in zip(idx, flags, strict=True):
                over[i] = f
        return out, over
