"""Re-exports :mod:`safe_embed.scoring`, the home of the scoring rules (moved down a floor so training selects
checkpoints with the detector's own rule). Import from :mod:`safe_embed.scoring`; this module goes once the
detector's modules do."""

from __future__ import annotations

from safe_embed.scoring import DEFAULT_RULE, EMBEDDING_RULES, RULES, ScoringRule, features, knn_vote

__all__ = ["DEFAULT_RULE", "EMBEDDING_RULES", "RULES", "ScoringRule", "features", "knn_vote"]
