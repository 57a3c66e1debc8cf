"""safe-embed: sentence encoders as unsafe-prompt detectors.

Evaluate encoders on the Safe-Embed measures, fine-tune them, and build FAISS-backed detectors for a guardrail.
The names a user needs are importable from here (each is imported on first use, so ``import safe_embed`` stays
light)::

    from safe_embed import Detector, GuardClient, evaluate_model, guard, load_encoder

    det = Detector.load("my_detector")
    det.classify(["How do I kill a Python process?"])[0].label

>>> import safe_embed
>>> safe_embed.DEFAULT_MODEL
'all-MiniLM-L6-v2'
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

DEFAULT_MODEL = "all-MiniLM-L6-v2"

_EXPORTS = {
    "Detector": "safe_embed.detector.detector",
    "Detection": "safe_embed.detector.detector",
    "export_detector": "safe_embed.detector.build",
    "load_encoder": "safe_embed.encoders.registry",
    "evaluate_model": "safe_embed.evaluate.run",
    "guard": "safe_embed.guard",
    "check": "safe_embed.guard",
    "GuardClient": "safe_embed.guard",
    "UnsafePromptError": "safe_embed.guard",
    "DataSpec": "safe_embed.data.dataset",
    "build_dataset": "safe_embed.data.dataset",
    "SafeEmbedError": "safe_embed.errors",
}

__all__ = ["DEFAULT_MODEL", "__version__", *_EXPORTS]  # noqa: PLE0604 - the lazy exports, all names


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'safe_embed' has no attribute {name!r}")
