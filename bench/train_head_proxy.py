"""Cheap proxy for choosing training losses: train a residual MLP head on FROZEN base embeddings with the same
batches and losses as the LoRA module, then report the held-out figures (XSTest-aug, DNA test) per loss setting.

It is a design aid (seconds per setting), not the deliverable: the LoRA encoder can change token-level features,
the head cannot. Usage: python bench/train_head_proxy.py [--steps 300]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F
from safe_embed.evaluate import AvgCosine
from safe_embed.train.datamodule import SafetyPairDataModule
from safe_embed.train.losses import InfoNCE, SupCon, TwinMargin, Uniformity

from safe_embed.data import load_xstest_aug
from safe_embed.encoders import load_encoder
from safe_embed.metrics import (
    categorical_purity,
    group_mean,
    mean_cross_cosine,
    normalize_cosine,
    pair_cosine,
)

SETTINGS = {
    "infonce": [InfoNCE(0.05)],
    "infonce+twin+unif": [InfoNCE(0.05), TwinMargin(0.1), Uniformity(weight=0.1)],
    "twin+unif": [TwinMargin(0.1), Uniformity(weight=0.1)],
    "twin(m=0)+unif": [TwinMargin(0.0), Uniformity(weight=0.1)],
    "twin x3+infonce+unif": [TwinMargin(0.1, weight=3.0), InfoNCE(0.05), Uniformity(weight=0.1)],
    "twin+supcon+unif": [TwinMargin(0.1), SupCon(0.1, weight=0.5), Uniformity(weight=0.1)],
    "twin+unif(1.0)": [TwinMargin(0.1), Uniformity(weight=1.0)],
}


class Head(torch.nn.Module):
    def __init__(self, d: int, h: int = 384) -> None:
        super().__init__()
        self.a = torch.nn.Linear(d, h)
        self.b = torch.nn.Linear(h, d)
        torch.nn.init.zeros_(self.b.weight)
        torch.nn.init.zeros_(self.b.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x + self.b(F.gelu(self.a(x))), dim=-1)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--only", nargs="*")
    args = ap.parse_args()
    enc = load_encoder("all-MiniLM-L6-v2")
    dm = SafetyPairDataModule(batch_size=32, seed=0)
    dm.setup()
    loader = dm.train_dataloader()
    texts = set()
    batches = []
    torch.manual_seed(0)
    while len(batches) < 60:
        for b in loader:
            batches.append(b)
            texts.update(t for r in ("anchor", "positive", "twin", "lookalike") for t in b[r])
    pairs = load_xstest_aug()
    test = dm.eval_sets("test")
    norm = AvgCosine.from_data_dir()
    ev_texts = norm.texts + [p.unsafe for p in pairs] + [p.safe for p in pairs] + [p.text for p in test.taxonomy] \
        + [c.original for c in test.contrast] + [e for c in test.contrast for e in c.edits]
    allt = sorted(texts | set(ev_texts))
    x = enc.encode(allt, show_progress=True)
    idx = {t: i for i, t in enumerate(allt)}
    X = torch.from_numpy(x)

    def figures(f) -> dict:
        with torch.no_grad():
            e = lambda ts: f(X[[idx[t] for t in ts]]).numpy()
            v = e(norm.texts)
            avg = mean_cross_cosine(v[norm.head], v[norm.tail])
            sc = normalize_cosine(pair_cosine(e([p.unsafe for p in pairs]), e([p.safe for p in pairs])), avg)
            per = group_mean(sc, [p.type for p in pairs])
            cp = categorical_purity(e([p.text for p in test.taxonomy]), [p.category for p in test.taxonomy], 10)
            o = e([c.original for c in test.contrast])
            ed = e([d for c in test.contrast for d in c.edits]).reshape(len(o), 5, -1)
            ct = np.mean(normalize_cosine(np.max(np.einsum("nd,nkd->nk", o, ed), axis=1), avg))
        return {"avg": avg, "sc": float(np.mean(sc)), "per": per, "cp": float(np.mean(
            list(group_mean(cp, [p.category for p in test.taxonomy]).values()))), "ct": float(ct)}

    base = figures(lambda z: F.normalize(z, dim=-1))
    print(f"{'setting':<24}{'XSTest':>8}{'types':>6}{'avgcos':>8}{'CP@10':>7}{'contr':>7}{'sec':>6}")
    print(f"{'base':<24}{base['sc']:>8.3f}{'':>6}{base['avg']:>8.4f}{base['cp']:>7.3f}{base['ct']:>7.3f}")
    for name, losses in SETTINGS.items():
        if args.only and name not in args.only:
            continue
        torch.manual_seed(0)
        head = Head(X.shape[1])
        opt = torch.optim.AdamW(head.parameters(), lr=1e-3)
        t0 = time.time()
        for step in range(args.steps):
            b = batches[step % len(batches)]
            emb = {r: head(X[[idx[t] for t in b[r]]]) for r in ("anchor", "positive", "twin", "lookalike")}
            emb["category"] = b["category"]
            loss = sum(l.weight * l(emb) for l in losses)
            opt.zero_grad()
            loss.backward()
            opt.step()
        r = figures(head)
        types = sum(r["per"][t] < base["per"][t] for t in base["per"])
        print(f"{name:<24}{r['sc']:>8.3f}{types:>6}{r['avg']:>8.4f}{r['cp']:>7.3f}{r['ct']:>7.3f}"
              f"{time.time() - t0:>6.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
