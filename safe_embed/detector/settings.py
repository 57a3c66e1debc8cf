"""The detector's runtime settings, stored in its manifest."""

from __future__ import annotations

from dataclasses import dataclass, field

from safe_embed.detector.index import IndexSettings


@dataclass
class DetectorSettings:
    """``k_neighbors`` reported per detection, ``max_chars`` a text is cut to, ``batch_size`` of classification,
    the FAISS ``index`` settings and the ``seed`` of the data split."""

    k_neighbors: int = 5
    max_chars: int = 20_000
    batch_size: int = 256
    index: IndexSettings = field(default_factory=IndexSettings)
    seed: int = 0
