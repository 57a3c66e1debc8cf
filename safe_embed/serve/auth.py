"""The bearer token of the service's protected endpoints (writes, metrics): one dependency per endpoint."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from safe_embed.serve.http_errors import ServiceError

BEARER = HTTPBearer(auto_error=False, description="the token given to `safe-embed serve --token`")


def needs_token(token: str | None, what: str) -> Callable[..., None]:
    """A FastAPI dependency refusing (401) a request without ``Authorization: Bearer <token>`` when the service has
    a ``token``; ``what`` names the endpoint's action in the message. A dependency runs before the body is
    validated, so unauthenticated callers get no schema hints."""

    def check(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]) -> None:
        if token is None:
            return
        given = creds.credentials.strip() if creds is not None else ""
        if not given or not hmac.compare_digest(given.encode(), token.encode()):
            raise ServiceError(401, "unauthorized", f"{what} needs the header 'Authorization: Bearer <token>' with "
                               "the service's token. Fix: pass the token given to `safe-embed serve --token` (or "
                               "$SAFE_EMBED_TOKEN).", {"WWW-Authenticate": "Bearer"})

    return check
