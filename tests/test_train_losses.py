"""Losses: each moves in the direction it claims, and bad settings fail with a clear message."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from safe_embed.train.losses import Classification, Preserve, SafetyAxis, SupCon, TwinMargin, Uniformity

from safe_embed.errors import ConfigError


def _batch(seed=0, n=8, d=16):
    g = torch.Generator().manual_seed(seed)
    return {"x": F.normalize(torch.randn(n, d, generator=g), dim=1),
            "label": torch.tensor([1., 0.] * (n // 2)), "category": torch.tensor([0, -1, 0, -1, 1, -1, 1, -1]),
            "weight": torch.ones(n), "twin": torch.tensor([1, 0, 3, 2, -1, -1, -1, -1])}


def _train(loss, batch, steps=200, lr=0.05):
    """Train a stand-in linear encoder (and the loss's own parameters) through ``loss``; return the last batch."""
    torch.manual_seed(0)
    enc = torch.nn.Linear(batch["x"].shape[1], batch["x"].shape[1])
    opt = torch.optim.Adam([*enc.parameters(), *loss.parameters()], lr=lr)
    for _ in range(steps):
        e = {**batch, "x": F.normalize(enc(batch["x"]), dim=1)}
        value = loss(e)
        opt.zero_grad()
        value.backward()
        opt.step()
    with torch.no_grad():
        return {**batch, "x": F.normalize(enc(batch["x"]), dim=1)}, value.item()


def test_classification_learns_the_labels_and_weights_matter():
    b = _batch()
    head = Classification()
    head.bind(16)
    before = head(b).item()
    e, after = _train(head, b)
    assert after < before / 4
    logits = head.logits(e["x"])
    assert (logits[e["label"] == 1].min() > 0) and (logits[e["label"] == 0].max() < 0)
    # a zero weight removes an example from the loss: flipping its label then changes nothing
    w = torch.ones(8)
    w[0] = 0.0
    flipped = {**e, "label": e["label"].clone(), "weight": w}
    flipped["label"][0] = 0.0
    assert head(flipped).item() == pytest.approx(head({**e, "weight": w}).item(), rel=1e-6)


def test_twin_margin_zero_when_twins_far_and_skips_batches_without_twins():
    b = _batch()
    x = b["x"].clone()
    x[1], x[3] = -x[0], -x[2]
    assert TwinMargin(margin=0.1, smooth=False)({**b, "x": x}).item() == 0.0
    x[1] = x[0]
    assert TwinMargin(margin=0.1, smooth=False)({**b, "x": x}).item() == pytest.approx(0.45, abs=1e-5)
    assert TwinMargin()({**b, "twin": torch.full((8,), -1)}).item() == 0.0


def test_supcon_lower_when_classes_cluster_and_by_category_splits_unsafe():
    b = _batch()
    centers = F.normalize(torch.randn(2, 16, generator=torch.Generator().manual_seed(1)), dim=1)
    clustered = {**b, "x": centers[b["label"].long()]}
    assert SupCon(0.1)(clustered) < SupCon(0.1)(b)
    # with by_category, unsafe texts of two categories must not be pulled together
    cat_centers = F.normalize(torch.randn(3, 16, generator=torch.Generator().manual_seed(2)), dim=1)
    idx = torch.where(b["label"] > 0.5, b["category"], torch.tensor(2))
    by_cat = {**b, "x": cat_centers[idx]}
    assert SupCon(0.1, by_category=True)(by_cat) < SupCon(0.1, by_category=True)(clustered)


def test_uniformity_penalizes_collapse():
    b = _batch()
    assert Uniformity()({**b, "x": F.normalize(torch.ones(8, 16), dim=1)}) > Uniformity()(b)


def test_safety_axis_separates_labels_along_one_direction():
    ax = SafetyAxis(margin=0.5)
    ax.bind(16)
    b = _batch()
    before = ax(b).item()
    e, after = _train(ax, b)
    assert after < before / 4
    proj = e["x"] @ F.normalize(ax.direction, dim=0)
    assert proj[e["label"] == 1].min() > 0.3 and proj[e["label"] == 0].max() < -0.3
    twins = (e["x"][0] * e["x"][1]).sum()
    assert twins < 1 - 2 * 0.3 ** 2  # opposite sides of the axis bound the cosine


def test_preserve_zero_at_base_and_positive_when_moved():
    b = _batch()
    b["base_x"] = b["x"].clone()
    assert Preserve()(b).item() == pytest.approx(0.0, abs=1e-6)
    moved = {**b, "x": torch.where(b["label"][:, None] > 0.5, b["x"], -b["x"])}
    assert Preserve(on="safe")(moved).item() > 0.5 and Preserve(on="unsafe")(moved).item() == pytest.approx(0.0, abs=1e-6)


def test_bad_settings():
    with pytest.raises(ConfigError, match="temperature"):
        SupCon(temperature=0.0)
    with pytest.raises(ConfigError, match="margin"):
        TwinMargin(margin=1.5)
    with pytest.raises(ConfigError, match="weight"):
        Uniformity(weight=-1.0)
    with pytest.raises(ConfigError, match="margin"):
        SafetyAxis(margin=1.0)
    with pytest.raises(ConfigError, match="on must be"):
        Preserve(on="twins")
    with pytest.raises(ConfigError, match="no head"):
        Classification()(_batch())
    with pytest.raises(ConfigError, match="no dimension"):
        SafetyAxis()(_batch())
    head = Classification()
    head.bind(16)
    with pytest.raises(ConfigError, match="embedding dimension is 32"):
        head.bind(32)
