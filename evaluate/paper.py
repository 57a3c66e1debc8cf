"""The paper's published figures, for side-by-side checks (Safe-Embed, Figure 3: Safety-Challenging per type)."""

from __future__ import annotations

# Figure 3, SBERT-all row (sentence-transformers/all-mpnet-base-v2, avg cosine 0.092).
PAPER_FIG3_SBERT_ALL: dict[str, float] = {
    "homonyms": 0.394, "figurative_language": 0.296, "target": 0.494, "context": 0.653, "definitions": 0.534,
    "group": 0.514, "action": 0.385, "history": 0.698, "privacy_publicity": 0.396, "privacy_fictionality": 0.511,
}
