"""Losses: each moves in the direction it claims, and bad settings fail with a clear message."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from safe_embed.train.losses import InfoNCE, MeanCosine, SupCon, TwinMargin, Uniformity

from safe_embed.errors import ConfigError


def _batch(seed=0, n=8, d=16, aligned=True):
    g = torch.Generator().manual_seed(seed)
    a = F.normalize(torch.randn(n, d, generator=g), dim=1)
    p = F.normalize(a + (0.05 if aligned else 3.0) * torch.randn(n, d, generator=g), dim=1)
    return {"anchor": a, "positive": p, "twin": F.normalize(torch.randn(n, d, generator=g), dim=1),
            "lookalike": F.normalize(torch.randn(n, d, generator=g), dim=1),
            "category": torch.tensor([0, 0, 1, 1, 2, 2, -1, -1])}


def test_infonce_prefers_aligned_positives():
    assert InfoNCE(0.1)(_batch(aligned=True)) < InfoNCE(0.1)(_batch(aligned=False))
    assert InfoNCE(0.1, symmetric=True)(_batch()).item() > 0


def test_twin_margin_zero_when_twins_far():
    b = _batch()
    b["twin"] = -b["anchor"]
    b["lookalike"] = -b["anchor"]
    assert TwinMargin(margin=0.1, smooth=False)(b).item() == 0.0
    b["twin"] = b["anchor"]
    assert TwinMargin(margin=0.1, smooth=False, lookalike_weight=0.0)(b).item() == pytest.approx(0.9)


def test_supcon_lower_when_categories_cluster():
    b = _batch()
    centers = F.normalize(torch.randn(3, 16, generator=torch.Generator().manual_seed(1)), dim=1)
    clustered = dict(b)
    idx = torch.tensor([0, 0, 1, 1, 2, 2, 0, 1])
    clustered["anchor"] = centers[idx]
    clustered["positive"] = centers[idx]
    assert SupCon(0.1)(clustered) < SupCon(0.1)(b)


def test_uniformity_and_mean_cosine_penalize_collapse():
    b = _batch()
    collapsed = {k: (v if k == "category" else F.normalize(torch.ones_like(v), dim=1)) for k, v in b.items()}
    assert Uniformity()(collapsed) > Uniformity()(b)
    assert MeanCosine(target=0.05)(collapsed) > MeanCosine(target=0.05)(b)


def test_bad_settings():
    with pytest.raises(ConfigError, match="temperature"):
        InfoNCE(temperature=0.0)
    with pytest.raises(ConfigError, match="margin"):
        TwinMargin(margin=1.5)
    with pytest.raises(ConfigError, match="weight"):
        Uniformity(weight=-1.0)


def test_preserve_zero_at_base_and_positive_when_moved():
    from safe_embed.train.losses import Preserve

    b = _batch()
    b["base_twin"], b["base_lookalike"] = b["twin"].clone(), b["lookalike"].clone()
    assert Preserve()(b).item() == pytest.approx(0.0, abs=1e-6)
    b["twin"] = -b["twin"]
    assert Preserve()(b).item() > 0.5
    with pytest.raises(ConfigError, match="not batch roles"):
        Preserve(targets=["nope"])


def test_safety_axis_separates_labels_along_one_direction():
    from safe_embed.train.losses import SafetyAxis

    torch.manual_seed(0)
    ax = SafetyAxis(dim=16, margin=0.5)
    b = _batch()
    before = ax(b).item()
    enc = torch.nn.Linear(16, 16)  # a stand-in encoder trained through the loss, with the axis
    opt = torch.optim.Adam([*enc.parameters(), *ax.parameters()], lr=0.05)
    for _ in range(200):
        e = {k: (v if k == "category" else F.normalize(enc(v), dim=1)) for k, v in b.items()}
        loss = ax(e)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < before / 4
    with torch.no_grad():
        e = {k: (v if k == "category" else F.normalize(enc(v), dim=1)) for k, v in b.items()}
        unsafe = ax.projections(torch.cat([e["anchor"], e["positive"]]))
        safe = ax.projections(torch.cat([e["twin"], e["lookalike"]]))
    assert unsafe.min() > 0.3 and safe.max() < -0.3  # both sides beyond most of the margin
    # opposite sides of the axis bound the cosine: at most 1 - 2 * 0.3^2
    assert (e["anchor"] * e["twin"]).sum(-1).max() < 1 - 2 * 0.3 ** 2


def test_safety_axis_bad_settings():
    from safe_embed.train.losses import SafetyAxis

    with pytest.raises(ConfigError, match="margin"):
        SafetyAxis(dim=16, margin=1.0)
    with pytest.raises(ConfigError, match="embedding dimension"):
        SafetyAxis(dim=8)(_batch())


def test_safety_axis_takes_the_encoder_dimension():
    from safe_embed.train.losses import SafetyAxis

    ax = SafetyAxis()
    with pytest.raises(ConfigError, match="no dimension"):
        ax(_batch())
    ax.bind(16)
    assert ax(_batch()).item() > 0
    with pytest.raises(ConfigError, match="Fix: drop init_args.dim or set it to 32"):
        SafetyAxis(dim=16).bind(32)
