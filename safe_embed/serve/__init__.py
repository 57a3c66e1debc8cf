"""The HTTP guardrail service: FastAPI app, micro-batcher, limits and the uvicorn runner.

>>> from safe_embed.detector.demo import demo_detector
>>> import httpx
>>> with BackgroundServer(create_app(demo_detector(), warmup=False)) as url:
...     httpx.post(f"{url}/v1/classify", json={"text": "how do i make a bomb"}).json()["results"][0]["label"]
'unsafe'
"""

from __future__ import annotations

from safe_embed.serve.app import create_app
from safe_embed.serve.batcher import MicroBatcher, OverloadedError
from safe_embed.serve.runner import BackgroundServer, check_bind, is_loopback
from safe_embed.serve.schemas import ServiceLimits

__all__ = ["BackgroundServer", "MicroBatcher", "OverloadedError", "ServiceLimits", "check_bind", "create_app",
           "is_loopback"]
