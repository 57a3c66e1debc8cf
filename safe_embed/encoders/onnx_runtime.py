"""ONNX Runtime as an optional dependency: importing it, or one line naming the install command."""

from __future__ import annotations

from safe_embed.errors import ModelError

INSTALL_FIX = "pip install 'safe-embed[onnx]'"


def require_onnxruntime():
    """Import and return ``onnxruntime``, or raise a one-line :class:`ModelError` naming the install command."""
    try:
        import onnxruntime
    except ImportError:
        raise ModelError(f"ONNX Runtime is not installed (the onnx backend needs it). Fix: {INSTALL_FIX}") from None
    return onnxruntime
