"""The shared client for OpenAI-compatible APIs (embeddings and chat): one construction, one retry policy.

The key comes from ``OPENAI_API_KEY``; ``OPENAI_BASE_URL`` (or ``base_url``) points at Azure OpenAI's v1
endpoint or a local OpenAI-compatible server. The SDK's own retries are off; :func:`call_with_retry` retries with
exponential backoff (honouring ``Retry-After``) on 429, 5xx, dropped connections and malformed replies.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
from collections.abc import Callable
from typing import TypeVar

from safe_embed.errors import ModelError

logger = logging.getLogger(__name__)

T = TypeVar("T")


class TransientAPIError(Exception):
    """A reply worth retrying (rate limit, server error, connection problem, malformed body)."""


def make_client(api_key: str | None = None, base_url: str | None = None, timeout: float = 60.0):
    """An ``openai.OpenAI`` client with the SDK's own retries off (we retry ourselves, with backoff).

    >>> make_client(api_key="sk-local", base_url="http://127.0.0.1:9/v1").max_retries
    0
    """
    key = api_key or os.environ.get("OPENAI_API_KEY")
    if not key:
        raise ModelError("no OpenAI API key: set OPENAI_API_KEY (for Azure use its key and set OPENAI_BASE_URL to "
                         "https://<resource>.openai.azure.com/openai/v1/; a local server accepts any non-empty "
                         "key). Fix: export OPENAI_API_KEY=...")
    from openai import OpenAI

    return OpenAI(api_key=key, base_url=base_url or os.environ.get("OPENAI_BASE_URL") or None,
                  max_retries=0, timeout=timeout)


def _retry_after(err: Exception) -> float | None:
    headers = getattr(getattr(err, "response", None), "headers", None) or {}
    try:
        return float(headers.get("retry-after"))
    except (TypeError, ValueError):
        return None


def call_with_retry(fn: Callable[[], T], what: str, max_retries: int = 6, backoff_base: float = 1.0,
                    backoff_max: float = 60.0, sleep: Callable[[float], None] = time.sleep,
                    rng: random.Random | None = None) -> T:
    """Call ``fn`` and retry transient failures with exponential backoff (``base * 2**attempt``, jittered).

    Permanent errors (bad key, bad request, unknown model) raise :class:`ModelError` at once.
    """
    import openai

    rng = rng or random.Random(0)
    for attempt in range(max_retries + 1):
        try:
            return fn()
        except (openai.RateLimitError, openai.InternalServerError, openai.APIConnectionError,
                openai.APIResponseValidationError, json.JSONDecodeError, TransientAPIError) as e:
            status = getattr(e, "status_code", None)
            if attempt == max_retries:
                raise ModelError(f"{what} failed after {max_retries + 1} attempts (last: {type(e).__name__}"
                                 f"{f' {status}' if status else ''}: {str(e)[:200]}). Fix: check the server/base "
                                 "URL and your rate limits, then rerun (finished work is kept).") from None
            delay = _retry_after(e)
            if delay is None:
                delay = min(backoff_max, backoff_base * 2 ** attempt) * (0.5 + rng.random() / 2)
            logger.warning("%s: %s%s; retrying in %.1fs (%d/%d)", what, type(e).__name__,
                           f" {status}" if status else "", delay, attempt + 1, max_retries)
            sleep(delay)
        except openai.AuthenticationError:
            raise ModelError(f"{what}: the API rejected the key (401). Fix: set a valid OPENAI_API_KEY.") from None
        except openai.APIStatusError as e:
            if e.status_code >= 500 or e.status_code == 429:  # other 5xx codes the SDK does not map
                if attempt == max_retries:
                    raise ModelError(f"{what} failed after {max_retries + 1} attempts (HTTP {e.status_code}).") \
                        from None
                sleep(min(backoff_max, backoff_base * 2 ** attempt))
                continue
            raise ModelError(f"{what}: the API answered HTTP {e.status_code}: {str(e)[:300]}. Fix: check the "
                             "model name and inputs.") from None
    raise AssertionError("unreachable")
