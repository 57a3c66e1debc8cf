"""Settings for every test and doctest: the shared data directory (absolute), no network, W&B offline."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("SAFE_EMBED_DATA") or ROOT.parent / "shared" / "data").resolve()

os.environ["SAFE_EMBED_DATA"] = str(DATA_DIR)  # absolute, so subprocesses run elsewhere (DDP) find it too
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def pytest_configure(config) -> None:
    """Import sentence-transformers once, quietly: transformers' W&B integration prints a line to stdout on
    import when WANDB_MODE is set, which would otherwise land in the first doctest that loads a model."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        import sentence_transformers  # noqa: F401
