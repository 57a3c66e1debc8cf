"""``manifest.json``: what a detector directory holds, with the sha256 of every file, and its verification.

The manifest is written canonically (sorted keys, indent 2) and carries ``manifest_sha256``, the sha256 of its
own canonical text without that key, so an edit to the manifest itself is caught too. It is replaced atomically
(a temporary file, fsync, rename), so a reader sees the old manifest or the new one, never a mix.

Every listed path must stay inside the directory (no absolute paths, no ``..``, no symlinks); a file the manifest
does not list is refused, except the ones the store keeps beside a snapshot (:func:`is_store_file`: the lock, the
journals, the previous generation's files) and other generations' files under the store's own names (the next
generation while it is written, a retired one until the writer removes it).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path

from safe_embed.checksums import sha256_file
from safe_embed.errors import ModelError

FORMAT = "safe-embed-detector"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
MANIFEST = "manifest.json"
_STORE_FILE = re.compile(r"^(\.lock|journal(\.\d+)?\.jsonl|(unsafe|safe)(-int8)?\.\d+\.faiss|exemplars\.\d+\.jsonl|"
                         r"splits\.\d+\.json|manifest\.json\.tmp-[\w-]+)$")
# top-level names of a snapshot generation's files (see layout.names); an unlisted one belongs to another generation
GENERATION_NAME = re.compile(r"^(?:unsafe|safe|unsafe-int8|safe-int8|exemplars|splits|journal|encoder)(?:\.\d+)?"
                             r"(?:\.(?:faiss|jsonl|json))?$")


class TamperedDetectorError(ModelError):
    """A detector directory failed verification (checksum, missing or extra file, dimension)."""


def _canonical(obj: dict) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def is_store_file(rel: str) -> bool:
    """Files the store keeps beside the listed ones: the lock, journals, older generations, and a save in flight
    (``.tmp-*`` names, removed by the next writer if it crashed)."""
    if rel.startswith(".tmp-"):
        return True
    return "/" not in rel and bool(_STORE_FILE.match(rel))


def _other_generation(top: str, own: set[str], retained: set[str]) -> bool:
    """Whether top-level name ``top`` is another generation's: the previous one, kept for readers still on it
    (``retained``), or one of the store's names that the manifest does not use (``own``), such as the next
    generation being written or a retired one that the writer removes after switching the manifest. Files inside
    the manifest's own names are never exempt.

    >>> [_other_generation(t, {"unsafe.2.faiss", "encoder"}, set()) for t in ("unsafe.faiss", "encoder.3", "encoder",
    ...                                                                      "extra.py")]
    [True, True, False, False]
    """
    return top in retained or (top not in own and bool(GENERATION_NAME.match(top)))


def list_files(root: Path) -> list[str]:
    """Every file under ``root`` except the manifest, as sorted POSIX relative paths; a symlink is refused."""
    out = []
    for p in root.rglob("*"):
        rel = p.relative_to(root).as_posix()
        if p.is_symlink():
            raise TamperedDetectorError(f"{p}: a symbolic link inside the detector directory. Fix: copy the file "
                                        "in place of the link, or rebuild the detector.")
        if p.is_file() and p != root / MANIFEST:
            out.append(rel)
    return sorted(out)


def inside(root: Path, rel: str) -> Path:
    """``root / rel`` when ``rel`` is a plain relative path inside ``root``, else :class:`TamperedDetectorError`."""
    parts = Path(rel).parts
    if not rel or Path(rel).is_absolute() or ".." in parts or "\\" in rel or rel.startswith("~"):
        raise TamperedDetectorError(f"{root / MANIFEST}: path {rel!r} points outside the detector directory. "
                                    "Fix: rebuild the detector.")
    p = root / rel
    for q in [p, *p.parents]:
        if q == root:
            break
        if q.is_symlink():
            raise TamperedDetectorError(f"{q}: a symbolic link inside the detector directory. Fix: copy the file "
                                        "in place of the link, or rebuild the detector.")
    return p


def write_manifest(root: Path, body: dict, files: list[str] | None = None) -> dict:
    """Add format, version and checksums of ``files`` (default: every file under ``root``) to ``body`` and
    replace ``manifest.json`` atomically."""
    rels = [r for r in list_files(root) if not is_store_file(r)] if files is None else sorted(files)
    manifest = {**body, "format": FORMAT, "format_version": FORMAT_VERSION,
                "files": {rel: sha256_file(inside(root, rel)) for rel in rels}}
    manifest.pop("manifest_sha256", None)
    manifest["manifest_sha256"] = hashlib.sha256(_canonical(manifest).encode("utf-8")).hexdigest()
    fd, tmp = tempfile.mkstemp(prefix=MANIFEST + ".tmp-", dir=root)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(_canonical(manifest))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, root / MANIFEST)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return manifest


def read_manifest(root: Path, verify_files: bool = True) -> dict:
    """Read and verify ``root/manifest.json`` and every file it lists; raise :class:`TamperedDetectorError`.

    ``verify_files=False`` checks the manifest's own checksum only (enough to see whether another writer moved the
    directory to a new generation; loading that generation verifies its files)."""
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
    if manifest.get("format_version") not in READABLE_VERSIONS:
        raise TamperedDetectorError(f"{path}: format_version {manifest.get('format_version')!r} is not supported "
                                    f"(this safe-embed reads {list(READABLE_VERSIONS)}). Fix: rebuild the detector.")
    claimed = manifest.pop("manifest_sha256", None)
    if text != _canonical({**manifest, "manifest_sha256": claimed}) or \
            claimed != hashlib.sha256(_canonical(manifest).encode("utf-8")).hexdigest():
        raise TamperedDetectorError(f"{path}: checksum mismatch (the manifest was edited). Fix: rebuild the "
                                    "detector, or restore the original file.")
    manifest["manifest_sha256"] = claimed
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise TamperedDetectorError(f"{path}: lists no files.")
    if verify_files:
        verify_listed(root, manifest)
    return manifest


def verify_listed(root: Path, manifest: dict) -> None:
    """Check that every file ``manifest`` lists is in ``root`` with its checksum, and that ``root`` holds no
    file it does not list (see the module docstring); raise :class:`TamperedDetectorError`."""
    files, root = manifest["files"], Path(root)
    for rel, digest in sorted(files.items()):
        p = inside(root, rel)
        if not p.is_file():
            raise TamperedDetectorError(f"{p}: missing (listed in {MANIFEST}). Fix: restore it or rebuild the "
                                        "detector.")
        if sha256_file(p) != digest:
            raise TamperedDetectorError(f"{p}: sha256 mismatch (the file was modified or truncated). Fix: restore "
                                        "it or rebuild the detector.")
    own, retained = {rel.split("/", 1)[0] for rel in files}, set(manifest.get("retain") or [])
    extra = [rel for rel in list_files(root) if rel not in files and not is_store_file(rel) and
             not _other_generation(rel.split("/", 1)[0], own, retained)]
    if extra:
        raise TamperedDetectorError(f"{root / extra[0]}: not listed in {MANIFEST} ({len(extra)} unexpected "
                                    "file(s)). Fix: remove it or rebuild the detector.")
