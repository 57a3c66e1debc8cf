"""Contrastive losses over a batch of embeddings; each is weighted and they combine by summation.

Every loss takes ``emb``: a dict of L2-normalized (B, d) tensors ``anchor``, ``positive``, ``twin``, ``lookalike``
and ``category`` (B,) long (-1 = unknown), and returns a scalar. ``weight`` scales it in the total.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from safe_embed.errors import ConfigError


class PairLoss(nn.Module):
    """Base class: a named, weighted loss on a batch of embeddings."""

    name = "loss"
    roles: tuple[str, ...] = ("anchor", "positive", "twin", "lookalike")  # the texts this loss needs encoded
    base_roles: tuple[str, ...] = ()  # roles also embedded by the frozen base model (``base_<role>`` keys)

    def __init__(self, weight: float = 1.0) -> None:
        super().__init__()
        if weight < 0:
            raise ConfigError(f"{type(self).__name__}: weight must be >= 0, got {weight}.")
        self.weight = weight

    def forward(self, emb: dict[str, torch.Tensor]) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


def _check_temperature(t: float) -> float:
    if not t > 0:
        raise ConfigError(f"temperature must be > 0, got {t}. Fix: e.g. 0.05.")
    return t


class InfoNCE(PairLoss):
    """InfoNCE with hard negatives: anchor i must pick positive i among all positives, twins and look-alikes.

    ``symmetric`` adds the positive -> anchor direction. With ``positive="self"`` batches this is SimCSE with
    the safe twins as hard negatives.

    >>> import torch.nn.functional as F; e = {k: F.normalize(torch.randn(4, 8), dim=1)
    ...     for k in ("anchor", "positive", "twin", "lookalike")}
    >>> InfoNCE(temperature=0.05)(e).item() > 0
    True
    """

    name = "infonce"

    def __init__(self, temperature: float = 0.05, weight: float = 1.0, symmetric: bool = False) -> None:
        super().__init__(weight)
        self.temperature = _check_temperature(temperature)
        self.symmetric = symmetric

    def forward(self, emb: dict[str, torch.Tensor]) -> torch.Tensor:
        a, p = emb["anchor"], emb["positive"]
        cands = torch.cat([p, emb["twin"], emb["lookalike"]])
        target = torch.arange(len(a), device=a.device)
        loss = F.cross_entropy(a @ cands.T / self.temperature, target)
        if self.symmetric:
            loss = (loss + F.cross_entropy(p @ a.T / self.temperature, target)) / 2
        return loss


class TwinMargin(PairLoss):
    """Push each unsafe anchor below ``margin`` cosine from its safe twin and its benign look-alike.

    Directly targets the Safety-Challenging / Safety-Contrast quantity (the twin cosine). ``softplus`` with a
    ``scale`` is a smooth hinge: ``softplus(scale * (cos - margin)) / scale``.

    >>> e = {k: torch.nn.functional.normalize(torch.ones(2, 4), dim=1) for k in ("anchor", "twin", "lookalike")}
    >>> round(TwinMargin(margin=0.0, smooth=False)(e).item(), 3)
    1.0
    """

    name = "twin_margin"
    roles = ("anchor", "twin", "lookalike")

    def __init__(self, margin: float = 0.1, weight: float = 1.0, lookalike_weight: float = 0.5,
                 smooth: bool = True, scale: float = 20.0) -> None:
        super().__init__(weight)
        if not -1.0 <= margin < 1.0:
            raise ConfigError(f"TwinMargin margin must be in [-1, 1), got {margin}.")
        self.margin = margin
        self.lookalike_weight = lookalike_weight
        self.smooth = smooth
        self.scale = scale

    def _hinge(self, cos: torch.Tensor) -> torch.Tensor:
        if self.smooth:
            return (F.softplus(self.scale * (cos - self.margin)) / self.scale).mean()
        return F.relu(cos - self.margin).mean()

    def forward(self, emb: dict[str, torch.Tensor]) -> torch.Tensor:
        a = emb["anchor"]
        loss = self._hinge((a * emb["twin"]).sum(-1))
        if self.lookalike_weight:
            loss = loss + self.lookalike_weight * self._hinge((a * emb["lookalike"]).sum(-1))
        return loss


class SupCon(PairLoss):
    """Supervised contrastive loss (Khosla et al.) over harm categories of anchors and positives.

    Items with category -1 are ignored. Safe texts (twins, look-alikes) join as negatives only.
    """

    name = "supcon"

    def __init__(self, temperature: float = 0.1, weight: float = 1.0, safe_negatives: bool = True) -> None:
        super().__init__(weight)
        self.temperature = _check_temperature(temperature)
        self.safe_negatives = safe_negatives

    def forward(self, emb: dict[str, torch.Tensor]) -> torch.Tensor:
        cat = emb["category"]
        keep = cat >= 0
        x = torch.cat([emb["anchor"][keep], emb["positive"][keep]])
        y = torch.cat([cat[keep], cat[keep]])
        if len(x) < 2:
            return x.sum() * 0.0
        neg = torch.cat([emb["twin"], emb["lookalike"]]) if self.safe_negatives else x[:0]
        sim = x @ torch.cat([x, neg]).T / self.temperature
        n = len(x)
        self_mask = torch.zeros_like(sim, dtype=torch.bool)
        self_mask[:, :n] = torch.eye(n, dtype=torch.bool, device=x.device)
        sim = sim.masked_fill(self_mask, float("-inf"))
        log_prob = sim - torch.logsumexp(sim, dim=1, keepdim=True)
        pos = torch.zeros_like(sim, dtype=torch.bool)
        pos[:, :n] = (y[:, None] == y[None, :]) & ~self_mask[:, :n]
        n_pos = pos.sum(1)
        has = n_pos > 0
        if not has.any():
            return x.sum() * 0.0
        per = -(log_prob.masked_fill(~pos, 0.0).sum(1)[has] / n_pos[has])
        return per.mean()


class SafetyAxis(PairLoss):
    """Give every embedding a signed component along one learned "safety" direction ``u``.

    Unsafe texts (anchors, positives) are pushed to ``e·u >= margin`` and safe texts (twins, look-alikes) to
    ``e·u <= -margin`` (a smooth hinge with ``scale``). Two unit vectors on opposite sides of the axis have cosine at
    most ``1 - 2 margin^2``, so an unsafe prompt and a look-alike the encoder tells apart are pushed apart however
    many words they share, while pairs of the same label keep their geometry (the shared ``±margin`` component is
    a constant shift). On the paper's balanced random-pair sample the shifts cancel, so the normalizer stays put.
    ``u`` is a trainable parameter of the loss (it is not part of the exported encoder, which carries the axis in
    its own weights). ``dim`` defaults to the encoder's embedding dimension (the module calls :meth:`bind`).

    >>> ax = SafetyAxis(dim=4, margin=0.5)
    >>> e = {k: torch.nn.functional.normalize(torch.randn(3, 4), dim=1) for k in ("anchor", "positive", "twin", "lookalike")}
    >>> ax(e).item() > 0
    True
    """

    name = "safety_axis"

    def __init__(self, dim: int | None = None, margin: float = 0.5, weight: float = 1.0, scale: float = 20.0,
                 seed: int = 0) -> None:
        super().__init__(weight)
        if not 0.0 <= margin < 1.0:
            raise ConfigError(f"SafetyAxis margin must be in [0, 1), got {margin}.")
        if dim is not None and dim < 1:
            raise ConfigError(f"SafetyAxis dim must be the encoder's embedding dimension (>= 1), got {dim}.")
        self.margin = margin
        self.scale = scale
        self.seed = seed
        self.direction: nn.Parameter | None = None
        if dim is not None:
            self.bind(dim)

    def bind(self, dim: int) -> None:
        """Create the direction for ``dim``-dimensional embeddings (no-op when it already has that size)."""
        if self.direction is not None:
            if self.direction.shape[0] != dim:
                raise ConfigError(f"SafetyAxis dim is {self.direction.shape[0]} but the encoder's embedding "
                                  f"dimension is {dim}. Fix: drop init_args.dim or set it to {dim}.")
            return
        g = torch.Generator().manual_seed(self.seed)
        self.direction = nn.Parameter(torch.randn(dim, generator=g) / dim ** 0.5)

    def projections(self, x: torch.Tensor) -> torch.Tensor:
        """``x·u`` with ``u`` the unit safety direction (positive = unsafe side)."""
        if self.direction is None:
            raise ConfigError("SafetyAxis has no dimension yet. Fix: pass dim, or use it inside the training module.")
        if x.shape[-1] != self.direction.shape[0]:
            raise ConfigError(f"SafetyAxis dim is {self.direction.shape[0]} but the embeddings have {x.shape[-1]} "
                              "dimensions. Fix: set init_args.dim to the encoder's embedding dimension.")
        return x @ F.normalize(self.direction, dim=0)

    def forward(self, emb: dict[str, torch.Tensor]) -> torch.Tensor:
        unsafe = torch.cat([emb[r] for r in ("anchor", "positive") if r in emb])
        safe = torch.cat([emb[r] for r in ("twin", "lookalike") if r in emb])
        lu = F.softplus(self.scale * (self.margin - self.projections(unsafe))) / self.scale
        ls = F.softplus(self.scale * (self.projections(safe) + self.margin)) / self.scale
        return (lu.mean() + ls.mean()) / 2


class Uniformity(PairLoss):
    """Wang & Isola's uniformity ``log E exp(-t ||x - y||^2)`` over all distinct batch texts (anti-collapse).

    Keeps the random-pair average cosine (the paper's normalizer) from rising.
    """

    name = "uniformity"
    roles = ("anchor", "twin", "lookalike")

    def __init__(self, t: float = 2.0, weight: float = 0.1) -> None:
        super().__init__(weight)
        self.t = t

    def forward(self, emb: dict[str, torch.Tensor]) -> torch.Tensor:
        x = torch.cat([emb["anchor"], emb["twin"], emb["lookalike"]])
        sq = torch.pdist(x, p=2).pow(2)
        return sq.mul(-self.t).exp().mean().log()


class MeanCosine(PairLoss):
    """Penalize the mean off-diagonal cosine among safe texts and anchors: ``relu(mean_cos - target)^2``."""

    name = "mean_cosine"
    roles = ("anchor", "twin", "lookalike")

    def __init__(self, target: float = 0.05, weight: float = 1.0) -> None:
        super().__init__(weight)
        self.target = target

    def forward(self, emb: dict[str, torch.Tensor]) -> torch.Tensor:
        x = torch.cat([emb["anchor"], emb["twin"], emb["lookalike"]])
        n = len(x)
        mean = ((x @ x.T).sum() - n) / (n * (n - 1))
        return F.relu(mean - self.target).pow(2)


class Preserve(PairLoss):
    """Keep safe texts (twins, look-alikes) where the frozen base model put them: ``mean(1 - cos(f(x), f0(x)))``.

    Forces the tuned model to separate unsafe prompts from their look-alikes by moving the UNSAFE side, and keeps
    the rest of the space (and the random-pair normalizer) close to the base. LoRA only: the base embeddings come
    from the same weights with the adapter disabled.
    """

    name = "preserve"
    roles = ("anchor", "twin", "lookalike")

    def __init__(self, weight: float = 1.0, targets: list[str] | None = None) -> None:
        super().__init__(weight)
        targets = list(targets or ["twin", "lookalike"])
        bad = [t for t in targets if t not in ("anchor", "positive", "twin", "lookalike")]
        if bad:
            raise ConfigError(f"Preserve targets {bad} are not batch roles. Fix: use twin, lookalike, anchor.")
        self.targets = targets
        self.base_roles = tuple(targets)
        self.roles = tuple(dict.fromkeys(["anchor", *targets]))

    def forward(self, emb: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.stack([(1 - (emb[t] * emb[f"base_{t}"]).sum(-1)).mean() for t in self.targets]).mean()
