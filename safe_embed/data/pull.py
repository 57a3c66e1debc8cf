"""Dataset cards and ``safe-embed data pull``: download the public originals, verify sha256, derive files.

A card (``data/cards/<name>.json``) lists ``files``; each has ``path`` (relative to the data directory),
``sha256``, ``columns``, and either ``url`` (a pinned public revision) or ``derive`` (``recipe`` and ``inputs``:
other paths of the same card, or ``raw`` downloads kept under ``_raw/``; and ``options`` passed to the recipe, such
as the ids it leaves out).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from safe_embed.checksums import sha256_file
from safe_embed.data.derive import RECIPES
from safe_embed.errors import DataError

logger = logging.getLogger(__name__)


@dataclass
class Card:
    name: str
    title: str
    source: str
    revision: str
    licence: str
    files: list[dict]
    raw: list[dict] = field(default_factory=list)
    notes: str = ""


def parse_card(text: str, origin: str = "card") -> Card:
    """Parse and validate one card's JSON text."""
    try:
        d = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"{origin}: invalid JSON ({e.msg} at line {e.lineno}).") from None
    required = ["name", "title", "source", "revision", "licence", "files"]
    missing = [k for k in required if k not in d]
    if missing:
        raise DataError(f"{origin}: missing key(s) {missing}; a card needs {required}.")
    for f in d["files"] + d.get("raw", []):
        if "path" not in f or "sha256" not in f or not ("url" in f or "derive" in f):
            raise DataError(f"{origin}: file entry {f} needs 'path', 'sha256' and 'url' or 'derive'.")
        if f.get("derive") and f["derive"].get("recipe") not in RECIPES:
            raise DataError(f"{origin}: unknown recipe {f['derive'].get('recipe')!r}; known: {sorted(RECIPES)}.")
    return Card(name=d["name"], title=d["title"], source=d["source"], revision=d["revision"], licence=d["licence"],
                files=d["files"], raw=d.get("raw", []), notes=d.get("notes", ""))


def load_cards() -> dict[str, Card]:
    """All cards shipped with safe-embed (``data/cards/*.json``)."""
    cards = {}
    for entry in sorted(resources.files("safe_embed.data.cards").iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".json"):
            card = parse_card(entry.read_text(encoding="utf-8"), origin=f"data/cards/{entry.name}")
            cards[card.name] = card
    return cards


def download(url: str, dest: Path, sha256: str, timeout: float = 60.0) -> Path:
    """Fetch ``url`` to ``dest`` atomically and verify its sha256 (a mismatch leaves nothing behind)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=dest.parent, delete=False, suffix=".part") as tmp:
        tmp_path = Path(tmp.name)
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r:
                shutil.copyfileobj(r, tmp)
        except OSError as e:
            tmp.close()
            tmp_path.unlink(missing_ok=True)
            raise DataError(f"cannot download {url} ({e}). Fix: check the network, or copy the file to {dest} "
                            "by hand and point --data-dir at its directory.") from None
    verify(tmp_path, sha256, shown=dest, cleanup=True)
    tmp_path.replace(dest)
    return dest


def git_blob_sha1(path: Path) -> str:
    """Git's object id of a file's content (``sha1("blob <size>\\0" + content)``)."""
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def verify(path: Path, sha256: str, shown: Path | None = None, cleanup: bool = False) -> None:
    """Check ``path`` against ``sha256`` (or ``git:<blob sha1>`` for files pinned by their git object id)."""
    got = ("git:" + git_blob_sha1(path)) if sha256.startswith("git:") else sha256_file(path)
    if got != sha256:
        if cleanup:
            path.unlink(missing_ok=True)
        raise DataError(f"checksum mismatch for {shown or path}: expected sha256 {sha256}, got {got}. "
                        "Fix: the upstream file changed or the download was corrupted; delete it and pull again.")


def _valid(path: Path, checksum: str) -> bool:
    try:
        verify(path, checksum)
    except DataError:
        return False
    return True


def pull_card(card: Card, data_dir: Path, force: bool = False) -> list[Path]:
    """Download and derive every file of ``card`` into ``data_dir``; skip files already present and valid."""
    done: list[Path] = []
    raw_dir = data_dir / "_raw" / card.name
    located: dict[str, Path] = {}
    for f in card.raw:
        p = raw_dir / f["path"]
        if force or not p.is_file() or not _valid(p, f["sha256"]):
            download(f["url"], p, f["sha256"])
        located[f["path"]] = p
    for f in card.files:
        dest = data_dir / f["path"]
        if not force and dest.is_file() and sha256_file(dest) == f["sha256"]:
            logger.info("%s: present and verified", dest)
        elif "url" in f:
            download(f["url"], dest, f["sha256"])
        else:
            spec = f["derive"]
            inputs = {k: located.get(v) or data_dir / v for k, v in spec["inputs"].items()}
            for p in inputs.values():
                if not p.is_file():
                    raise DataError(f"{card.name}: input {p} for {f['path']} is missing. Fix: pull it first.")
            RECIPES[spec["recipe"]](inputs, dest, **spec.get("options", {}))
            verify(dest, f["sha256"])
        located[f["path"]] = dest
        done.append(dest)
    return done


def pull(names: list[str] | None, data_dir: Path, force: bool = False) -> list[Path]:
    cards = load_cards()
    unknown = [n for n in names or [] if n not in cards]
    if unknown:
        raise DataError(f"unknown dataset card(s) {unknown}. Fix: choose from {sorted(cards)}.")
    out: list[Path] = []
    for name in names or list(cards):
        logger.info("pulling %s into %s", name, data_dir)
        out += pull_card(cards[name], data_dir, force=force)
    return out
