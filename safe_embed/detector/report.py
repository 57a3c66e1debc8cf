"""Writing a detector evaluation: JSON, Markdown and a ROC curve PNG."""

from __future__ import annotations

import json
from pathlib import Path

from safe_embed.detector.evaluation import DetectorEvaluation

COLUMNS = ("n", "n_unsafe", "auroc", "auprc", "precision", "recall", "f1", "fpr", "tpr_at_fpr_1", "tpr_at_fpr_5")


def _fmt(v) -> str:
    if v is None:
        return "-"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def to_markdown(ev: DetectorEvaluation) -> str:
    """A Markdown summary: overall row, then one row per type/category."""
    head = "| set | " + " | ".join(COLUMNS) + " |\n|" + "---|" * (len(COLUMNS) + 1) + "\n"
    rows = ["| **all** | " + " | ".join(_fmt(ev.metrics.get(c)) for c in COLUMNS) + " |"]
    if len(ev.breakdown) > 1:
        rows += [f"| {g} | " + " | ".join(_fmt(m.get(c)) for c in COLUMNS) + " |" for g, m in ev.breakdown.items()]
    note = (f"\nWarning: {ev.exemplar_overlap} prompt(s) of this set are exemplars of the detector.\n"
            if ev.exemplar_overlap else "")
    det = ", ".join(f"{k}={v}" for k, v in ev.detector.items())
    return (f"# Detector evaluation: {ev.dataset}\n\nDetector: {det}; threshold {ev.threshold:.4f} "
            f"(precision/recall/F1/FPR at this threshold).\n\n" + head + "\n".join(rows) + "\n" + note)


def plot_roc(ev: DetectorEvaluation, path: Path) -> bool:
    """Save the ROC curve; False when the set has a single label (no curve)."""
    if not ev.roc:
        return False
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot(ev.roc["fpr"], ev.roc["tpr"], label=f"AUROC {ev.metrics.get('auroc', float('nan')):.3f}")
    ax.plot([0, 1], [0, 1], ls=":", c="grey")
    ax.scatter([ev.metrics["fpr"]], [ev.metrics["recall"]], c="red", zorder=3, label="stored threshold")
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("true-positive rate")
    ax.set_title(f"{ev.dataset}")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def write_report(ev: DetectorEvaluation, out_dir: Path, stem: str | None = None) -> list[Path]:
    """Write ``<stem>.json``, ``<stem>.md`` and ``<stem>_roc.png`` under ``out_dir``; return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = stem or Path(ev.dataset).stem or "detector"
    paths = [out_dir / f"{stem}.json", out_dir / f"{stem}.md"]
    paths[0].write_text(json.dumps(ev.to_dict(), indent=2) + "\n", encoding="utf-8")
    paths[1].write_text(to_markdown(ev), encoding="utf-8")
    if plot_roc(ev, out_dir / f"{stem}_roc.png"):
        paths.append(out_dir / f"{stem}_roc.png")
    return paths
