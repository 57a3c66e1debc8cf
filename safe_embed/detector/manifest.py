"""``manifest.json``: what a detector directory holds, with the sha256 of every file, and its verification.

The manifest is written canonically (sorted keys, indent 2) and carries ``manifest_sha256``, the sha256 of its
own canonical text without that key, so an edit to the manifest itself is caught too.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from safe_embed.checksums import sha256_file
from safe_embed.errors import ModelError

FORMAT = "safe-embed-detector"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"


class TamperedDetectorError(ModelError):
    """A detector directory failed verification (checksum, missing or extra file, dimension)."""


def _canonical(obj: dict) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def list_files(root: Path) -> list[str]:
    """Every file under ``root`` except the manifest, as sorted POSIX relative paths."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and p != root / MANIFEST)


def write_manifest(root: Path, body: dict) -> dict:
    """Add format, version and checksums of every file under ``root`` to ``body``; write ``manifest.json``."""
    manifest = {**body, "format": FORMAT, "format_version": FORMAT_VERSION,
                "files": {rel: sha256_file(root / rel) for rel in list_files(root)}}
    manifest.pop("manifest_sha256", None)
    manifest["manifest_sha256"] = hashlib.sha256(_canonical(manifest).encode("utf-8")).hexdigest()
    (root / MANIFEST).write_text(_canonical(manifest), encoding="utf-8")
    return manifest


def read_manifest(root: Path) -> dict:
    """Read and verify ``root/manifest.json`` and every file it lists; raise :class:`TamperedDetectorError`."""
    root = Path(root)
    if not root.is_dir():
        raise ModelError(f"detector directory not found: {root}. Fix: build one with `safe-embed export`.")
    path = root / MANIFEST
    if not path.is_file():
        raise TamperedDetectorError(f"{path}: missing. Fix: this is not a detector directory; rebuild it with "
                                    "`safe-embed export`.")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
        manifest = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise TamperedDetectorError(f"{path}: corrupted ({type(e).__name__}: {e}). Fix: rebuild the detector.") \
            from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise TamperedDetectorError(f"{path}: not a safe-embed detector manifest.")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise TamperedDetectorError(f"{path}: format_version {manifest.get('format_version')!r} is not supported "
                                    f"(this safe-embed reads {FORMAT_VERSION}). Fix: rebuild the detector.")
    claimed = manifest.pop("manifest_sha256", None)
    if text != _canonical({**manifest, "manifest_sha256": claimed}) or \
            claimed != hashlib.sha256(_canonical(manifest).encode("utf-8")).hexdigest():
        raise TamperedDetectorError(f"{path}: checksum mismatch (the manifest was edited). Fix: rebuild the "
                                    "detector, or restore the original file.")
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise TamperedDetectorError(f"{path}: lists no files.")
    for rel, digest in sorted(files.items()):
        p = root / rel
        if not p.is_file():
            raise TamperedDetectorError(f"{p}: missing (listed in {MANIFEST}). Fix: restore it or rebuild the "
                                        "detector.")
        if sha256_file(p) != digest:
            raise TamperedDetectorError(f"{p}: sha256 mismatch (the file was modified or truncated). Fix: restore "
                                        "it or rebuild the detector.")
    extra = [rel for rel in list_files(root) if rel not in files]
    if extra:
        raise TamperedDetectorError(f"{root / extra[0]}: not listed in {MANIFEST} ({len(extra)} unexpected "
                                    "file(s)). Fix: remove it or rebuild the detector.")
    return manifest
