"""Test helper: re-sign a detector directory's manifest after a test changed its files on purpose."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from safe_embed.detector.manifest import write_manifest


def rewrite_manifest(root: Path, edit: Callable[[dict], object] | None = None,
                     files: list[str] | None = None, every_file: bool = False) -> dict:
    """Write ``root``'s manifest again with fresh checksums: ``edit(body)`` may change the body in place; ``files``
    lists the files to checksum (default: the manifest's own list; ``every_file``: every file now in ``root``).
    Returns the new manifest."""
    m = json.loads((root / "manifest.json").read_text())
    body = {k: v for k, v in m.items() if k not in ("files", "manifest_sha256", "format", "format_version")}
    if edit is not None:
        edit(body)
    return write_manifest(root, body, None if every_file else list(m["files"]) if files is None else files)
