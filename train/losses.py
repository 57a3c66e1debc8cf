"""Losses over a batch of labelled embeddings; each is weighted and they combine by summation.

Every loss takes ``emb``: ``x`` (B, d) L2-normalized embeddings, ``label`` (B,) float (1 = unsafe), ``category``
(B,) long (-1 = none), ``weight`` (B,) float per-example loss weights, ``twin`` (B,) long (position of a twin with
the other label, -1 = none) and, for losses with ``needs_base``, ``base_x`` (the frozen base model's embeddings).
It returns a scalar; ``weight`` scales it in the total. Losses with parameters (a head, an axis) are sized by
:meth:`PairLoss.bind` to the encoder's dimension and trained with the module's ``head_lr``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from safe_embed.errors import ConfigError


class PairLoss(nn.Module):
    """Base class: a named, weighted loss on a batch of embeddings."""

    name = "loss"
    needs_base = False  # True: the batch also carries ``base_x`` from the frozen base model (LoRA only)

    def __init__(self, weight: float = 1.0) -> None:
        super().__init__()
        if weight < 0:
            raise ConfigError(f"{type(self).__name__}: weight must be >= 0, got {weight}.")
        self.weight = weight

    def bind(self, dim: int) -> None:
        """Create parameters sized for ``dim``-dimensional embeddings (no-op for parameter-free losses)."""

    def forward(self, emb: dict[str, torch.Tensor]) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


def _weighted_mean(values: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return (values * w).sum() / w.sum().clamp(min=1e-12)


def _check_temperature(t: float) -> float:
    if not t > 0:
        raise ConfigError(f"temperature must be > 0, got {t}. Fix: e.g. 0.05.")
    return t


class Classification(PairLoss):
    """A linear head on the embedding with weighted binary cross-entropy (unsafe = 1).

    ``scale`` multiplies the unit-norm embedding before the head so that its logits can grow large with small
    weights. Validation scores the split with this head (``val/auroc``).

    >>> loss = Classification(); loss.bind(4)
    >>> e = {"x": torch.nn.functional.normalize(torch.randn(6, 4), dim=1), "label": torch.tensor([1., 0] * 3),
    ...      "weight": torch.ones(6)}
    >>> loss(e).item() > 0
    True
    """

    name = "classification"

    def __init__(self, weight: float = 1.0, scale: float = 10.0) -> None:
        super().__init__(weight)
        if not scale > 0:
            raise ConfigError(f"Classification scale must be > 0, got {scale}.")
        self.scale = scale
        self.head: nn.Linear | None = None

    def bind(self, dim: int) -> None:
        if self.head is None:
            self.head = nn.Linear(dim, 1)
        elif self.head.in_features != dim:
            raise ConfigError(f"Classification head has {self.head.in_features} inputs but the encoder's embedding "
                              f"dimension is {dim}.")

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        if self.head is None:
            raise ConfigError("Classification has no head yet. Fix: use it inside the training module (bind).")
        return self.head(x * self.scale).squeeze(-1)

    def forward(self, emb: dict[str, torch.Tensor]) -> torch.Tensor:
        losses = F.binary_cross_entropy_with_logits(self.logits(emb["x"]), emb["label"], reduction="none")
        return _weighted_mean(losses, emb["weight"])


class SupCon(PairLoss):
    """Supervised contrastive loss (Khosla et al.): texts of one class pull together, others push apart.

    A class is the label; with ``by_category`` two unsafe texts are of one class only when their categories match
    (an unsafe text without a category matches no other).
    """

    name = "supcon"

    def __init__(self, temperature: float = 0.1, weight: float = 1.0, by_category: bool = False) -> None:
        super().__init__(weight)
        self.temperature = _check_temperature(temperature)
        self.by_category = by_category

    def forward(self, emb: dict[str, torch.Tensor]) -> torch.Tensor:
        x, y = emb["x"], emb["label"]
        n = len(x)
        eye = torch.eye(n, dtype=torch.bool, device=x.device)
        sim = (x @ x.T / self.temperature).masked_fill(eye, float("-inf"))
        log_prob = sim - torch.logsumexp(sim, dim=1, keepdim=True)
        pos = (y[:, None] == y[None, :]) & ~eye
        if self.by_category:
            cat = emb["category"]
            unsafe = y > 0.5
            same = (cat[:, None] == cat[None, :]) & (cat[:, None] >= 0)
            pos = pos & (~(unsafe[:, None] & unsafe[None, :]) | same)
        n_pos = pos.sum(1)
        has = n_pos > 0
        if not has.any():
            return x.sum() * 0.0
        per = -(log_prob.masked_fill(~pos, 0.0).sum(1)[has] / n_pos[has])
        return _weighted_mean(per, emb["weight"][has])


class TwinMargin(PairLoss):
    """Push each text below cosine ``margin`` from its twin (the look-alike with the other label).

    ``softplus(scale * (cos - margin)) / scale`` is a smooth hinge. Batches without twins give 0.

    >>> x = torch.nn.functional.normalize(torch.ones(2, 4), dim=1)
    >>> round(TwinMargin(margin=0.0, smooth=False)({"x": x, "twin": torch.tensor([1, 0]),
    ...                                              "weight": torch.ones(2)}).item(), 3)
    1.0
    """

    name = "twin_margin"

    def __init__(self, margin: float = 0.3, weight: float = 1.0, smooth: bool = True, scale: float = 20.0) -> None:
        super().__init__(weight)
        if not -1.0 <= margin < 1.0:
            raise ConfigError(f"TwinMargin margin must be in [-1, 1), got {margin}.")
        self.margin = margin
        self.smooth = smooth
        self.scale = scale

    def forward(self, emb: dict[str, torch.Tensor]) -> torch.Tensor:
        x, twin = emb["x"], emb["twin"]
        has = twin >= 0
        if not has.any():
            return x.sum() * 0.0
        cos = (x[has] * x[twin[has]]).sum(-1)
        hinge = F.softplus(self.scale * (cos - self.margin)) / self.scale if self.smooth else F.relu(cos - self.margin)
        return _weighted_mean(hinge, emb["weight"][has])


class SafetyAxis(PairLoss):
    """Put every embedding on its side of one learned "safety" direction ``u``: unsafe at ``x·u >= margin``,
    safe at ``x·u <= -margin`` (a smooth hinge). Two texts on opposite sides have cosine at most
    ``1 - 2 margin^2`` however many words they share, while texts of one label keep their geometry.
    """

    name = "safety_axis"

    def __init__(self, margin: float = 0.5, weight: float = 1.0, scale: float = 20.0, seed: int = 0) -> None:
        super().__init__(weight)
        if not 0.0 <= margin < 1.0:
            raise ConfigError(f"SafetyAxis margin must be in [0, 1), got {margin}.")
        self.margin = margin
        self.scale = scale
        self.seed = seed
        self.direction: nn.Parameter | None = None

    def bind(self, dim: int) -> None:
        if self.direction is None:
            g = torch.Generator().manual_seed(self.seed)
            self.direction = nn.Parameter(torch.randn(dim, generator=g) / dim ** 0.5)

    def forward(self, emb: dict[str, torch.Tensor]) -> torch.Tensor:
        if self.direction is None:
            raise ConfigError("SafetyAxis has no dimension yet. Fix: use it inside the training module (bind).")
        proj = emb["x"] @ F.normalize(self.direction, dim=0)
        sign = emb["label"] * 2 - 1  # +1 unsafe, -1 safe
        hinge = F.softplus(self.scale * (self.margin - sign * proj)) / self.scale
        return _weighted_mean(hinge, emb["weight"])


class Uniformity(PairLoss):
    """Wang & Isola's uniformity ``log E exp(-t ||x - y||^2)`` over the batch (keeps the space from collapsing)."""

    name = "uniformity"

    def __init__(self, t: float = 2.0, weight: float = 0.1) -> None:
        super().__init__(weight)
        self.t = t

    def forward(self, emb: dict[str, torch.Tensor]) -> torch.Tensor:
        sq = torch.pdist(emb["x"], p=2).pow(2)
        return sq.mul(-self.t).exp().mean().log()


class Preserve(PairLoss):
    """Keep texts where the frozen base model put them: weighted ``mean(1 - cos(f(x), f0(x)))``.

    ``on``: ``safe`` (default: the safe side stays put, the unsafe side moves), ``unsafe`` or ``all``. LoRA only:
    the base embeddings come from the same weights with the adapter disabled.
    """

    name = "preserve"
    needs_base = True

    def __init__(self, weight: float = 1.0, on: str = "safe") -> None:
        super().__init__(weight)
        if on not in ("safe", "unsafe", "all"):
            raise ConfigError(f"Preserve on must be safe, unsafe or all, got {on!r}.")
        self.on = on

    def forward(self, emb: dict[str, torch.Tensor]) -> torch.Tensor:
        y = emb["label"]
        keep = torch.ones_like(y, dtype=torch.bool) if self.on == "all" else (y > 0.5) == (self.on == "unsafe")
        if not keep.any():
            return emb["x"].sum() * 0.0
        drift = 1 - (emb["x"][keep] * emb["base_x"][keep]).sum(-1)
        return _weighted_mean(drift, emb["weight"][keep])
