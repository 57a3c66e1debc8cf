"""PNG figures in the style of the paper: per-type similarity heatmap, per-category CP heatmap, t-SNE map."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def heatmap(values: np.ndarray, rows: Sequence[str], cols: Sequence[str], path: Path, title: str,
            cmap: str = "Reds", vmin: float | None = None, vmax: float | None = None) -> Path:
    """Annotated heatmap: one row per model, one column per type/category (values to 3 decimals)."""
    plt = _pyplot()
    values = np.asarray(values, dtype=float)
    fig_w = max(6.0, 0.9 * len(cols) + 2.5)
    fig_h = max(2.0, 0.55 * len(rows) + 1.8)
    fig, ax = plt.subplots(figsize=(fig_w, fig_h))
    im = ax.imshow(values, cmap=cmap, aspect="auto", vmin=vmin, vmax=vmax)
    ax.set_xticks(range(len(cols)), labels=list(cols), rotation=40, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), labels=list(rows), fontsize=8)
    lo = np.nanmin(values) if vmin is None else vmin
    hi = np.nanmax(values) if vmax is None else vmax
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            dark = hi > lo and (values[i, j] - lo) / (hi - lo) > 0.6
            ax.text(j, i, f"{values[i, j]:.3f}", ha="center", va="center", fontsize=7,
                    color="white" if dark else "black")
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.03)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def tsne_map(x: np.ndarray, labels: Sequence[str], path: Path, title: str, seed: int = 0) -> Path:
    """2-D t-SNE (cosine metric) of embeddings coloured by category."""
    from sklearn.manifold import TSNE

    plt = _pyplot()
    n = len(x)
    perplexity = float(min(30, max(2, (n - 1) // 3)))
    xy = TSNE(n_components=2, metric="cosine", init="pca", perplexity=perplexity, random_state=seed).fit_transform(
        np.asarray(x, dtype=np.float32))
    cats = list(dict.fromkeys(labels))
    cmap = plt.get_cmap("tab20", max(len(cats), 1))
    fig, ax = plt.subplots(figsize=(9, 7))
    lab = np.asarray(labels)
    for i, c in enumerate(cats):
        m = lab == c
        ax.scatter(xy[m, 0], xy[m, 1], s=8, color=cmap(i), label=c[:45])
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.0, 0.5), markerscale=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
