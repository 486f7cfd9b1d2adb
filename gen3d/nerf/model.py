"""The Latent-NeRF field: hash grid -> small MLP -> (density, 4 latent channels), plus a background net.

World frame: +y up, the scene inside ``[-bound, bound]^3`` (``bound`` = the hash grid's). Densities are
per world unit (optical thickness per unit length). Latent channels are SD-scaled latents, roughly
N(0, 1) and unbounded, so the colour head has no output activation.

Density = trunc_exp(raw + blob(x)), blob(x) = blob_density * exp(-|x|^2 / (2 blob_radius^2)): the
blob makes the initial field a soft ball at the origin so SDS starts from an object rather than from
fog (REFERENCE.md: 5 and 0.2).

The latent colour is what the renderer composites. For RGB refinement a bias-free ``Linear(4 -> 3)``
can be applied to the *rendered* image: compositing is linear in the colours and the weights of
object and background sum to one, so ``head(render) == render(head(colours))``.

All parameters are initialised from the ``torch.Generator`` passed in (no global RNG); build the model
on the CPU with a CPU generator and move it with ``.to(device)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from .hashgrid import HashGrid, HashGridConfig


class _TruncExp(torch.autograd.Function):
    """exp(x) whose backward uses exp(min(x, 15)): huge raw densities cannot overflow the gradient."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        ctx.save_for_backward(x)
        return torch.exp(x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        return grad * torch.exp(x.clamp(max=15.0))


def trunc_exp(x: Tensor) -> Tensor:
    """``exp(x)`` forward; the gradient is ``exp(min(x, 15))`` (instant-ngp / stable-dreamfusion)."""
    return _TruncExp.apply(x)


def init_linear(layer: nn.Linear, generator: torch.Generator, gain: float = 1.0) -> nn.Linear:
    """Fill ``layer`` in place: weights U(-g/sqrt(fan_in), g/sqrt(fan_in)) (torch's default range times
    ``gain``), bias zero. Returns the layer."""
    bound = gain / math.sqrt(layer.in_features)
    with torch.no_grad():
        w = torch.rand(layer.weight.shape, generator=generator, dtype=torch.float64) * 2 - 1
        layer.weight.copy_(w * bound)
        if layer.bias is not None:
            layer.bias.zero_()
    return layer


def make_linear(n_in: int, n_out: int, generator: torch.Generator, bias: bool = True,
                gain: float = 1.0) -> nn.Linear:
    """An ``nn.Linear`` initialised by :func:`init_linear`; ``skip_init`` keeps torch's own init (and
    with it the global RNG) out of the way."""
    layer = torch.nn.utils.skip_init(nn.Linear, n_in, n_out, bias=bias)
    return init_linear(layer, generator, gain)


def mlp(n_in: int, width: int, n_hidden: int, n_out: int, generator: torch.Generator,
        out_gain: float = 1.0) -> nn.Sequential:
    """``n_hidden`` ReLU layers of ``width`` then a linear output (n_hidden = 0: a single Linear)."""
    layers: list[nn.Module] = []
    dim = n_in
    for _ in range(n_hidden):
        layers += [make_linear(dim, width, generator), nn.ReLU(inplace=True)]
        dim = width
    layers.append(make_linear(dim, n_out, generator, gain=out_gain))
    return nn.Sequential(*layers)


def frequency_encode(x: Tensor, n_frequencies: int) -> Tensor:
    """NeRF positional encoding: ``[x, sin(2^k pi x), cos(2^k pi x)]`` for k < n_frequencies.

    (N, D) -> (N, D * (1 + 2 n_frequencies)).
    """
    if n_frequencies == 0:
        return x
    freqs = (2.0 ** torch.arange(n_frequencies, dtype=x.dtype, device=x.device)) * math.pi
    angles = (x.unsqueeze(-1) * freqs).flatten(1)  # (N, D * K)
    return torch.cat([x, torch.sin(angles), torch.cos(angles)], dim=1)


@dataclass
class BackgroundConfig:
    """Background MLP on the unit view direction: frequency encoding -> MLP -> latent channels."""

    n_frequencies: int = 4
    hidden_dim: int = 32
    n_hidden_layers: int = 2


class BackgroundNet(nn.Module):
    """Latent background colour of each view direction: ``forward(dirs (N, 3) unit) -> (N, C)``."""

    def __init__(self, cfg: BackgroundConfig, out_channels: int, *, generator: torch.Generator):
        super().__init__()
        self.cfg = cfg
        n_in = 3 * (1 + 2 * cfg.n_frequencies)
        self.net = mlp(n_in, cfg.hidden_dim, cfg.n_hidden_layers, out_channels, generator)

    def forward(self, dirs: Tensor) -> Tensor:
        return self.net(frequency_encode(dirs, self.cfg.n_frequencies))


@dataclass
class LatentNeRFConfig:
    """The field's shape and the density blob (REFERENCE.md, "Latent-NeRF and Sketch-Shape").

    hidden_dim, n_hidden_layers: the MLP after the hash grid (width 64, 2 hidden layers, tcnn-like).
    latent_channels: colour channels (4 SD latent channels).
    blob_density, blob_radius: ``blob(x) = blob_density * exp(-|x|^2 / (2 blob_radius^2))`` added to
        the raw density before the activation; world units for the radius.
    density_activation: ``"trunc_exp"`` (the paper's) or ``"softplus"``.
    query_chunk: points per MLP call in :meth:`LatentNeRF.density` / :meth:`LatentNeRF.color`, so a
        marching-cubes grid of millions of points fits in memory.
    """

    grid: HashGridConfig = field(default_factory=HashGridConfig)
    hidden_dim: int = 64
    n_hidden_layers: int = 2
    latent_channels: int = 4
    blob_density: float = 5.0
    blob_radius: float = 0.2
    density_activation: str = "trunc_exp"
    background: BackgroundConfig = field(default_factory=BackgroundConfig)
    query_chunk: int = 1 << 18

    def validate(self) -> None:
        """Raise ValueError naming the first bad field."""
        self.grid.validate()
        for name in ("hidden_dim", "latent_channels", "query_chunk"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.n_hidden_layers < 0:
            raise ValueError(f"n_hidden_layers must be >= 0, got {self.n_hidden_layers}")
        if not self.blob_radius > 0:
            raise ValueError(f"blob_radius must be > 0, got {self.blob_radius}")
        if self.density_activation not in ("trunc_exp", "softplus"):
            raise ValueError(f"density_activation must be 'trunc_exp' or 'softplus', got {self.density_activation!r}")


class LatentNeRF(nn.Module):
    """Density + latent colour field over ``[-bound, bound]^3`` and a background on the view direction.

    ``forward(x (N, 3)) -> (sigma (N,), latent (N, C))`` with sigma >= 0 per world unit.
    ``background(dirs (N, 3) unit) -> (N, C)``. The renderer needs exactly these plus ``bound``.
    """

    def __init__(self, cfg: LatentNeRFConfig | None = None, *, generator: torch.Generator):
        super().__init__()
        self.cfg = cfg = cfg or LatentNeRFConfig()
        cfg.validate()
        self.encoding = HashGrid(cfg.grid, generator=generator)
        self.mlp = mlp(self.encoding.output_dim, cfg.hidden_dim, cfg.n_hidden_layers,
                       1 + cfg.latent_channels, generator)
        self.background_net = BackgroundNet(cfg.background, cfg.latent_channels, generator=generator)

    @property
    def bound(self) -> float:
        return self.cfg.grid.bound

    @property
    def latent_channels(self) -> int:
        return self.cfg.latent_channels

    def blob(self, x: Tensor) -> Tensor:
        """The density bias ``blob_density * exp(-|x|^2 / (2 r^2))``, (N,)."""
        r = self.cfg.blob_radius
        return self.cfg.blob_density * torch.exp(-(x * x).sum(dim=1) / (2 * r * r))

    def _activate(self, raw: Tensor) -> Tensor:
        if self.cfg.density_activation == "softplus":
            return nn.functional.softplus(raw)
        return trunc_exp(raw)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``x`` (N, 3) world points -> ``(sigma (N,), latent (N, C))``; one MLP pass, no chunking."""
        h = self.mlp(self.encoding(x))
        sigma = self._activate(h[:, 0] + self.blob(x))
        return sigma, h[:, 1:]

    def _chunked(self, x: Tensor, pick: int) -> Tensor:
        step = self.cfg.query_chunk
        if x.shape[0] <= step:
            return self(x)[pick]
        return torch.cat([self(x[i:i + step])[pick] for i in range(0, x.shape[0], step)])

    def density(self, x: Tensor) -> Tensor:
        """Density (N,) per world unit at ``x`` (N, 3), in chunks of ``cfg.query_chunk`` points.

        Wrap in ``torch.no_grad()`` for occupancy updates or marching cubes (export).
        """
        return self._chunked(x, 0)

    def color(self, x: Tensor) -> Tensor:
        """Latent colour (N, C) at ``x`` (N, 3), chunked like :meth:`density` (export bakes texels)."""
        return self._chunked(x, 1)

    def background(self, dirs: Tensor) -> Tensor:
        """Latent background (N, C) seen along the unit directions ``dirs`` (N, 3)."""
        return self.background_net(dirs)

    def param_groups(self, lr_grid: float = 1e-2, lr_mlp: float = 1e-3) -> list[dict]:
        """Optimiser groups with REFERENCE.md's rates: the hash table at ``lr_grid``, the MLPs at
        ``lr_mlp``."""
        return [
            {"params": list(self.encoding.parameters()), "lr": lr_grid},
            {"params": list(self.mlp.parameters()) + list(self.background_net.parameters()), "lr": lr_mlp},
        ]
