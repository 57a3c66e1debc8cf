"""Write a trained module's artifacts: ``adapter/`` (PEFT format) and ``encoder/`` (merged SentenceTransformer).

Both are directories of plain files (safetensors + JSON); ``encoder/`` loads with plain
``SentenceTransformer(dir)`` and carries a ``safe_embed_export.json`` manifest with sha256 checksums.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from safe_embed.train.encoder import is_peft, merged_copy, transformer_of
from torch import nn

from safe_embed.checksums import sha256_file

logger = logging.getLogger(__name__)

MANIFEST = "safe_embed_export.json"


def save_adapter(st: nn.Module, out_dir: str | Path) -> Path | None:
    """Save the LoRA adapter (``adapter_config.json`` + ``adapter_model.safetensors``); None for full fine-tunes."""
    if not is_peft(st):
        return None
    out = Path(out_dir)
    transformer_of(st).save_pretrained(str(out), safe_serialization=True)
    return out


def save_merged(st: nn.Module, out_dir: str | Path, meta: dict | None = None) -> Path:
    """Merge LoRA into the base weights and save a plain sentence-transformers directory with a manifest."""
    out = Path(out_dir)
    merged = merged_copy(st)
    merged.save(str(out), safe_serialization=True)
    files = sorted(p for p in out.rglob("*") if p.is_file() and p.name != MANIFEST)
    manifest = {"format": "safe-embed/merged-encoder", "version": 1, **(meta or {}),
                "files": {str(p.relative_to(out)): sha256_file(p) for p in files}}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1))
    logger.info("saved merged encoder to %s", out)
    return out


def export_all(st: nn.Module, run_dir: str | Path, meta: dict | None = None) -> dict[str, str | None]:
    """Write ``adapter/`` (LoRA only) and ``encoder/`` under ``run_dir``; returns their paths."""
    run_dir = Path(run_dir)
    adapter = save_adapter(st, run_dir / "adapter")
    encoder = save_merged(st, run_dir / "encoder", meta)
    return {"adapter": str(adapter) if adapter else None, "encoder": str(encoder)}
