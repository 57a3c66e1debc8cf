"""Where data and caches live: ``--data-dir``, then ``SAFE_EMBED_DATA``, then the project's ``data/cache``."""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "SAFE_EMBED_DATA"
CACHE_ENV = "SAFE_EMBED_CACHE"

_PROJECT_ROOT = Path(__file__).resolve().parent.parent


def project_data_cache() -> Path:
    """The project's git-ignored ``data/cache`` in a source checkout, else ``~/.cache/safe-embed/data``."""
    if (_PROJECT_ROOT / "data" / "cards").is_dir():
        return _PROJECT_ROOT / "data" / "cache"
    return cache_root() / "data"


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Resolve the data directory: the argument, then ``$SAFE_EMBED_DATA``, then :func:`project_data_cache`.

    >>> resolve_data_dir("/tmp").name
    'tmp'
    """
    if data_dir:
        return Path(data_dir).expanduser()
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    return project_data_cache()


def cache_root() -> Path:
    """Root of safe-embed's caches (embeddings, assembled models): ``$SAFE_EMBED_CACHE`` or ``~/.cache/safe-embed``."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "safe-embed"
