"""Volume rendering of latent images from a density + latent-colour field.

Per ray (origin ``o``, unit direction ``d``, world units):

1. Clip to the box ``[-bound, bound]^3`` (slab test) -> ``[near, far]``, with ``near >= min_near``.
   Rays that miss the box see only the background.
2. Stratified samples: the segment is cut into ``S = n_samples`` equal bins of width
   ``delta = (far - near) / S``; sample ``i`` sits at ``t_i = near + (i + u_i) delta`` with
   ``u_i ~ U[0, 1)`` drawn from the ``generator`` (training) or ``u_i = 1/2`` when no generator is
   given (evaluation). Each sample stands for its whole bin, so ``delta_i = delta`` and the deltas of
   a ray sum to exactly ``far - near``.
3. Samples in cells the occupancy grid marks empty are *not evaluated*: their density is 0. Only the
   M occupied samples go through the field (the point of the grid).
4. ``alpha_i = 1 - exp(-sigma_i delta_i)``, ``T_i = prod_{j<i} (1 - alpha_j)``, ``w_i = T_i alpha_i``;
   ``latent = sum_i w_i f_i + (1 - sum_i w_i) background(d)``, ``opacity = sum_i w_i`` (computed as
   ``1 - T_{S}``, equal up to rounding and never above 1),
   ``depth = sum_i w_i t_i / max(opacity, eps)`` (distance along the unit ray, 0 on empty rays).

Compositing keeps a padded (rays, S) layout (unevaluated entries are alpha = 0) and a cumulative
product along S, so variable numbers of evaluated samples per ray cost nothing special.

``sample_grad_scale(t (M,), ray_index (M,)) -> k (M,) or None`` scales the *gradient* of each
evaluated sample's alpha and colour by ``k`` while the forward values stay bit-identical (G3DR's depth
regulariser). The scaling is applied to the sample's optical thickness ``sigma_i delta_i``, of which
its alpha and its share of later samples' transmittance are functions, so the scaled gradient reaches
the sample through every path (its own weight and the occlusion of later samples).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from .cameras import Camera, batch_rays

#: Optical thickness beyond which a sample (or a ray prefix) counts as fully opaque.
_TAU_MAX = 60.0

#: ``hook(t (M,), ray_index (M,)) -> k (M,) or None``: per-sample gradient scale (see module doc).
GradScaleHook = Callable[[Tensor, Tensor], Tensor | None]


@dataclass
class RenderConfig:
    """n_samples: samples per ray (64 as Latent-NeRF without the CUDA marcher; 128 for nicer evals).
    min_near: rays start at least this far from their origin (world units).
    chunk_rays: rays composited per chunk; bounds peak memory of a no-grad render (with grad the
        graph of all chunks is kept anyway).
    depth_eps: floor of the opacity in the depth normalisation.
    fused_composite: composite with ``gen3d.cuda.composite`` (a fused kernel on float32 CUDA inputs,
        its torch reference elsewhere) on padded (rays, S, C) colours, instead of the compact
        scatter below. Same results; off by default until the kernel is validated on a GPU.
    """

    n_samples: int = 64
    min_near: float = 0.0
    chunk_rays: int = 4096
    depth_eps: float = 1e-6
    fused_composite: bool = False

    def validate(self) -> None:
        """Raise ValueError naming the first bad field."""
        for name in ("n_samples", "chunk_rays"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.min_near < 0:
            raise ValueError(f"min_near must be >= 0, got {self.min_near}")


@dataclass
class RenderOutput:
    """What a render returns.

    Per ray / pixel, from :func:`render_rays` with R rays: ``latent`` (R, C), ``opacity`` (R,),
    ``depth`` (R,), ``background`` (R, C). From :func:`render` with B cameras of H x W pixels the same
    fields are images: ``latent`` and ``background`` (B, C, H, W), ``opacity`` and ``depth``
    (B, 1, H, W); ray ``r`` is pixel ``(r // (H W), (r // W) % H, r % W)`` = (camera, row, col).

    Per evaluated sample (M of them; the Sketch-Shape loss and G3DR work on these):
    ``positions`` (M, 3) world points (no grad), ``sigma`` (M,) densities, ``alpha`` (M,) (after the
    gradient scaling, same values), ``t`` (M,) distances along the ray, ``weights`` (M,) the
    compositing weights, ``ray_index`` (M,) int64 ray of each sample.
    ``n_samples_total`` counts all R * S samples, ``n_evaluated`` the M that reached the field.
    """

    latent: Tensor
    opacity: Tensor
    depth: Tensor
    background: Tensor
    positions: Tensor
    sigma: Tensor
    alpha: Tensor
    t: Tensor
    weights: Tensor
    ray_index: Tensor
    n_samples_total: int
    n_evaluated: int


class _ScaleGrad(torch.autograd.Function):
    """Identity forward (the same values, bit for bit); backward multiplies the gradient by ``k``."""

    @staticmethod
    def forward(ctx, x: Tensor, k: Tensor) -> Tensor:
        ctx.save_for_backward(k)
        return x.clone()

    @staticmethod
    def backward(ctx, grad: Tensor):
        (k,) = ctx.saved_tensors
        return grad * k, None


def scale_grad(x: Tensor, k: Tensor) -> Tensor:
    """``x`` unchanged in the forward pass; its gradient is multiplied by ``k`` (broadcast to ``x``)."""
    return _ScaleGrad.apply(x, k.detach().to(x.dtype))


def ray_aabb(origins: Tensor, dirs: Tensor, bound: float) -> tuple[Tensor, Tensor, Tensor]:
    """Entry and exit distances of rays (R, 3) with the cube ``[-bound, bound]^3``: near, far (R,) and
    a hit mask (R,) (``far > near`` and ``far > 0``). ``near`` may be negative when the origin is
    inside the cube. Axis-parallel rays are handled by nudging zero direction components to 1e-12."""
    safe = torch.where(dirs.abs() < 1e-12, torch.full_like(dirs, 1e-12).copysign(dirs), dirs)
    inv = 1.0 / safe
    t0 = (-bound - origins) * inv
    t1 = (bound - origins) * inv
    near = torch.minimum(t0, t1).amax(dim=1)
    far = torch.maximum(t0, t1).amin(dim=1)
    hit = (far > near) & (far > 0)
    return near, far, hit


def _transmittance(optical_depth: Tensor) -> Tensor:
    """exp(-optical_depth), exactly 0 beyond _TAU_MAX (never subnormal)."""
    clamped = optical_depth.clamp(max=_TAU_MAX)
    return torch.where(optical_depth < _TAU_MAX, torch.exp(-clamped), torch.zeros_like(clamped))


def render_rays(model, origins: Tensor, dirs: Tensor, cfg: RenderConfig | None = None, occupancy=None,
                generator: torch.Generator | None = None,
                sample_grad_scale: GradScaleHook | None = None) -> RenderOutput:
    """Render rays (R, 3) with unit ``dirs`` through ``model`` (see the module doc for the maths).

    ``model`` provides ``bound``, ``forward(x (M, 3)) -> (sigma (M,), latent (M, C))`` and
    ``background(dirs (R, 3)) -> (R, C)`` (a :class:`~.model.LatentNeRF`). ``occupancy`` is an
    :class:`~.occupancy.OccupancyGrid` over the same box or None (evaluate every sample). A
    ``generator`` on the rays' device jitters the samples; without one they sit at bin midpoints.
    Differentiable w.r.t. the model's parameters.
    """
    cfg = cfg or RenderConfig()
    cfg.validate()
    bound = float(model.bound)
    if occupancy is not None and abs(occupancy.bound - bound) > 1e-9:
        raise ValueError(f"occupancy grid bound {occupancy.bound} differs from the model's {bound}")
    if origins.shape != dirs.shape or origins.dim() != 2 or origins.shape[1] != 3:
        raise ValueError(f"origins and dirs must both be (R, 3), got {tuple(origins.shape)}, {tuple(dirs.shape)}")
    parts = [_render_chunk(model, origins[s:s + cfg.chunk_rays], dirs[s:s + cfg.chunk_rays], s, bound, cfg,
                           occupancy, generator, sample_grad_scale)
             for s in range(0, origins.shape[0], cfg.chunk_rays)]
    if len(parts) == 1:
        return parts[0]
    cat = {name: torch.cat([getattr(p, name) for p in parts])
           for name in ("latent", "opacity", "depth", "background", "positions", "sigma", "alpha", "t",
                        "weights", "ray_index")}
    return RenderOutput(**cat, n_samples_total=sum(p.n_samples_total for p in parts),
                        n_evaluated=sum(p.n_evaluated for p in parts))


def _render_chunk(model, o: Tensor, d: Tensor, first_ray: int, bound: float, cfg: RenderConfig, occupancy,
                  generator, hook) -> RenderOutput:
    n_rays, n_s = o.shape[0], cfg.n_samples
    near, far, hit = ray_aabb(o, d, bound)
    near = near.clamp(min=cfg.min_near)
    hit = hit & (far > near)
    span = torch.where(hit, far - near, torch.zeros_like(near))
    bins = torch.arange(n_s, dtype=o.dtype, device=o.device)
    if generator is not None:
        u = torch.rand(n_rays, n_s, generator=generator, dtype=o.dtype, device=o.device)
    else:
        u = torch.full((n_rays, n_s), 0.5, dtype=o.dtype, device=o.device)
    delta = span / n_s  # (R,)
    t = near[:, None] + (bins + u) * delta[:, None]  # (R, S)
    pts = o[:, None, :] + t[..., None] * d[:, None, :]  # (R, S, 3)

    keep = hit[:, None].expand(n_rays, n_s)
    if occupancy is not None:
        keep = keep & occupancy.occupied(pts.reshape(-1, 3)).view(n_rays, n_s)
    flat = keep.reshape(-1).nonzero().squeeze(1)  # (M,) indices into the padded (R*S) layout
    ray_local = flat // n_s
    x = pts.reshape(-1, 3)[flat]
    t_m = t.reshape(-1)[flat]

    bg = model.background(d)  # (R, C)
    if flat.numel() > 0:
        sigma_m, feat_m = model(x)
    else:  # nothing to evaluate: skip the field entirely
        sigma_m = bg.new_zeros(0)
        feat_m = bg.new_zeros(0, bg.shape[1])
    # Optical thickness tau = sigma delta; alpha and the transmittance are functions of tau alone, so
    # scaling tau's gradient is exactly scaling alpha's (and colour's) gradient as G3DR asks.
    tau_m = sigma_m * delta[ray_local]
    if hook is not None:
        k = hook(t_m, ray_local + first_ray)
        if k is not None:
            tau_m = scale_grad(tau_m, k)
            feat_m = scale_grad(feat_m, k[:, None])
    # Clamping tau at _TAU_MAX keeps exp() out of the subnormal range (exp(-60) ~ 9e-27 is still a
    # normal float32): subnormals make CPU arithmetic ~50x slower, and the clamped samples are opaque
    # to 26 digits anyway.
    alpha_m = 1 - torch.exp(-tau_m.clamp(max=_TAU_MAX))

    # Scatter into the padded layout (out-of-place, so autograd gathers the gradient back).
    tau = tau_m.new_zeros(n_rays * n_s).index_put((flat,), tau_m).view(n_rays, n_s)
    if cfg.fused_composite:
        from ..cuda.composite import composite

        colors = feat_m.new_zeros(n_rays * n_s, feat_m.shape[1]).index_put((flat,), feat_m)
        latent, opacity, depth, weights = composite(tau, colors.view(n_rays, n_s, -1), t, bg, cfg.depth_eps)
        w_m = weights.reshape(-1)[flat]
    else:
        alpha = alpha_m.new_zeros(n_rays * n_s).index_put((flat,), alpha_m).view(n_rays, n_s)
        # T_i = prod_{j<i} (1 - alpha_j) = exp(-sum_{j<i} tau_j); exactly 0 once the sum passes _TAU_MAX.
        inclusive = torch.cumsum(tau, dim=1)
        weights = alpha * _transmittance(inclusive - tau)
        w_m = weights.reshape(-1)[flat]
        # 1 - T_S rather than sum(w): the same value up to rounding, but never above 1 in float32.
        left = _transmittance(inclusive[:, -1])
        opacity = 1 - left
        latent = bg.new_zeros(n_rays, bg.shape[1]).index_add(0, ray_local, w_m[:, None] * feat_m)
        latent = latent + left[:, None] * bg
        depth = (weights * t).sum(dim=1) / opacity.clamp(min=cfg.depth_eps)
    return RenderOutput(latent=latent, opacity=opacity, depth=depth, background=bg, positions=x,
                        sigma=sigma_m, alpha=alpha_m, t=t_m, weights=w_m, ray_index=ray_local + first_ray,
                        n_samples_total=n_rays * n_s, n_evaluated=int(flat.numel()))


def render(model, cameras: Sequence[Camera], height: int = 64, width: int = 64, cfg: RenderConfig | None = None,
           occupancy=None, generator: torch.Generator | None = None,
           sample_grad_scale: GradScaleHook | None = None) -> RenderOutput:
    """Render B cameras to (B, C, H, W) latent images (and (B, 1, H, W) opacity / depth).

    Rays are built on the device and in the dtype of the model's parameters (float32 normally).
    Per-sample fields stay flat, indexed by ``ray_index`` into the B*H*W rays (camera-major,
    row-major). Arguments as :func:`render_rays`.
    """
    param = next(iter(model.parameters()), None) if hasattr(model, "parameters") else None
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None else torch.float32
    origins, dirs = batch_rays(cameras, height, width, device=device, dtype=dtype)
    out = render_rays(model, origins, dirs, cfg, occupancy, generator, sample_grad_scale)
    b = len(cameras)

    def image(v: Tensor) -> Tensor:
        return v.view(b, height, width, -1).permute(0, 3, 1, 2).contiguous()

    out.latent = image(out.latent)
    out.background = image(out.background)
    out.opacity = image(out.opacity)
    out.depth = image(out.depth)
    return out
