"""The HTTP guardrail service: FastAPI app, micro-batcher, limits and the uvicorn runner.

Each name is imported on first use, so reading a default of the service (``safe-embed serve``'s options do) loads
no web framework.

>>> from safe_embed.detector.demo import demo_detector
>>> from safe_embed.serve import BackgroundServer, create_app
>>> import httpx
>>> with BackgroundServer(create_app(demo_detector(), warmup=False)) as url:
...     httpx.post(f"{url}/v1/classify", json={"text": "how do i make a bomb"}).json()["results"][0]["label"]
'unsafe'
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "create_app": "safe_embed.serve.app",
    "MicroBatcher": "safe_embed.serve.batcher",
    "OverloadedError": "safe_embed.serve.batcher",
    "BackgroundServer": "safe_embed.serve.runner",
    "check_bind": "safe_embed.serve.runner",
    "is_loopback": "safe_embed.serve.runner",
    "ServiceLimits": "safe_embed.serve.limits",
}

__all__ = ["BackgroundServer", "MicroBatcher", "OverloadedError", "ServiceLimits", "check_bind", "create_app",
           "is_loopback"]  # the keys of _EXPORTS, spelled out for linters


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'safe_embed.serve' has no attribute {name!r}")
