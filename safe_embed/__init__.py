"""safe-embed: sentence encoders as unsafe-prompt detectors.

Evaluate encoders on the Safe-Embed measures, fine-tune them with LoRA, and export FAISS-backed detectors.
"""

from __future__ import annotations

__version__ = "0.1.0"

DEFAULT_MODEL = "all-MiniLM-L6-v2"

__all__ = ["DEFAULT_MODEL", "__version__"]
