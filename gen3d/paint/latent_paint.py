"""Latent-Paint: score distillation into a UV latent texture through a rasterizer. torch.

Per step: a random camera on a sphere around the normalised mesh, a 64x64 rasterization (triangle
id and barycentrics, detached), the texture looked up at the interpolated UVs (gradients reach only
the texture), a learnable background under the mesh mask, and one SDS step from the guidance
backend. REFERENCE.md ("Latent-Paint") gives the numbers; PaintConfig holds them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .. import raster
from ..export.atomic import encode_png
from ..export.uv_padding import coverage, dilate
from ..guidance.base import Guidance
from ..guidance.latent_rgb import rgb_to_latent
from .config import PaintConfig
from .mesh import PaintMesh


@dataclass
class StepInfo:
    step: int
    loss: float
    grad_norm: float
    t: int
    azimuth_deg: float
    elevation_deg: float


def to_uint8(rgb: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) or (3, H, W) float in [0, 1] -> (H, W, 3) uint8."""
    rgb = rgb[0] if rgb.dim() == 4 else rgb
    return (rgb.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(np.uint8)


class LatentPaint:
    """One Latent-Paint optimisation of ``mesh`` toward ``prompt`` with ``guidance``.

    Randomness: cameras from ``numpy.random.default_rng(cfg.seed)``, texture init and SDS noise
    from a ``torch.Generator`` seeded with ``cfg.seed`` on the guidance's device.
    """

    def __init__(self, mesh: PaintMesh, guidance: Guidance, prompt: str, negative: str = "",
                 cfg: PaintConfig | None = None):
        self.cfg = cfg = cfg or PaintConfig()
        cfg.validate()
        self.mesh, self.guidance = mesh, guidance
        self.prompt, self.negative = prompt, negative
        self.device = torch.device(guidance.device)
        self.rng = np.random.default_rng(cfg.seed)
        self.gen = torch.Generator(self.device).manual_seed(cfg.seed)
        guidance.encode_prompt(prompt, negative)  # fail early (unknown colour, empty prompt) and cache

        self.vertices = torch.as_tensor(mesh.normalized, dtype=torch.float32, device=self.device)
        self.faces = torch.as_tensor(mesh.faces, dtype=torch.int64, device=self.device)
        self.uv_faces = torch.as_tensor(mesh.uv_faces, dtype=torch.float32, device=self.device)
        size = cfg.latent_texture_size
        base = rgb_to_latent(torch.tensor(cfg.init_rgb, dtype=torch.float32)).to(self.device)  # (4,)
        noise = torch.randn((1, 4, size, size), generator=self.gen, device=self.device)
        self.texture = torch.nn.Parameter(cfg.init_mix * base.view(1, 4, 1, 1) + cfg.init_noise * noise)
        self.background = torch.nn.Parameter(base.view(1, 4, 1, 1).clone())
        self.optimizer = torch.optim.Adam([self.texture, self.background], lr=cfg.lr, betas=cfg.betas, eps=cfg.eps)
        self.projection = raster.perspective(cfg.fov_deg, 1.0, 0.05, 10.0)
        #: Texels that received gradient at least once: the part of the texture the cameras saw.
        self.seen = torch.zeros((size, size), dtype=torch.bool, device=self.device)
        self.step_count = 0

    # -- rendering --------------------------------------------------------------------------------

    def camera(self, radius: float, polar_deg: float, azimuth_deg: float) -> np.ndarray:
        """Model-view-projection matrix (4, 4) of a camera on the sphere, looking at the origin."""
        eye = raster.spherical_eye(radius, polar_deg, azimuth_deg)
        return self.projection @ raster.look_at(eye)

    def render(self, mvp: np.ndarray, size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Latent image (1, 4, size, size) of the textured mesh over the background, and its mask."""
        size = size or self.cfg.render_size
        clip = raster.clip_positions(self.vertices, torch.as_tensor(mvp, dtype=torch.float32))
        frags = raster.rasterize(clip.detach(), self.faces, size, size, backend=self.cfg.raster_backend)
        uv = raster.interpolate(self.uv_faces, frags).detach()
        mask = frags.mask
        tex = raster.sample_texture(self.texture, uv, mask)[None]
        m = mask[None, None].to(tex.dtype)
        return tex * m + self.background * (1 - m), mask

    def sample_view(self) -> tuple[float, float, float]:
        """(radius, polar_deg, azimuth_deg) from the training distribution."""
        c = self.cfg
        return (float(self.rng.uniform(*c.radius_range)), float(self.rng.uniform(*c.polar_range_deg)),
                float(self.rng.uniform(0.0, 360.0)))

    # -- optimisation -----------------------------------------------------------------------------

    def step(self) -> StepInfo:
        views = [self.sample_view() for _ in range(self.cfg.batch_size)]
        latents = torch.cat([self.render(self.camera(*v))[0] for v in views])
        azimuth = [((v[2] + 180.0) % 360.0) - 180.0 for v in views]
        elevation = [90.0 - v[1] for v in views]
        self.optimizer.zero_grad(set_to_none=True)
        res = self.guidance.sds(latents, self.prompt, self.negative, azimuth_deg=azimuth, elevation_deg=elevation,
                                generator=self.gen)
        res.loss.backward()
        self.seen |= (self.texture.grad[0] != 0).any(dim=0)
        self.optimizer.step()
        self.step_count += 1
        return StepInfo(self.step_count, float(res.loss.detach()), res.grad_norm, int(res.t[0]), azimuth[0], elevation[0])

    def run(self, on_step: Callable[[StepInfo], None] | None = None,
            on_preview: Callable[[bytes], None] | None = None,
            check_cancelled: Callable[[], None] | None = None) -> None:
        """Run the remaining steps. ``check_cancelled`` is called between steps (it raises to stop);
        ``on_preview`` gets a PNG of the evaluation view every ``preview_every`` steps."""
        while self.step_count < self.cfg.steps:
            if check_cancelled:
                check_cancelled()
            info = self.step()
            if on_step:
                on_step(info)
            if on_preview and (self.step_count % self.cfg.preview_every == 0 or self.step_count == self.cfg.steps):
                on_preview(encode_png(self.preview(), compress_level=1))

    # -- results ----------------------------------------------------------------------------------

    @torch.no_grad()
    def preview(self, azimuth_deg: float | None = None) -> np.ndarray:
        """The evaluation view (radius 1.8, elevation 30 degrees), decoded, (S, S, 3) uint8. The
        azimuth turns 45 degrees per preview unless given."""
        c = self.cfg
        if azimuth_deg is None:
            azimuth_deg = 45.0 * (self.step_count // c.preview_every)
        latents, _ = self.render(self.camera(c.eval_radius, 90.0 - c.eval_elevation_deg, azimuth_deg))
        rgb = self.guidance.decode(latents.to(torch.float32))
        rgb = F.interpolate(rgb.float(), size=(c.preview_size, c.preview_size), mode="bilinear",
                            antialias=True, align_corners=False)
        return to_uint8(rgb)

    @torch.no_grad()
    def texture_rgb(self) -> tuple[np.ndarray, np.ndarray]:
        """Decoded texture at ``texture_size``, UV islands dilated; returns (H, W, 3) uint8 and the
        (H, W) bool mask of texels inside UV islands."""
        c = self.cfg
        rgb = self.guidance.decode(self.texture.detach().to(torch.float32)).float()
        if rgb.shape[-1] != c.texture_size:
            rgb = F.interpolate(rgb, size=(c.texture_size, c.texture_size), mode="bilinear",
                                antialias=rgb.shape[-1] > c.texture_size, align_corners=False)
        image = to_uint8(rgb)
        covered = coverage(self.mesh.uv_faces, c.texture_size, c.texture_size)
        return dilate(image, covered, c.padding_px), covered

    def seen_mask(self, size: int) -> np.ndarray:
        """Texels (at ``size``) whose latent texel was seen by some camera, (size, size) bool."""
        seen = self.seen.float()[None, None]
        return (F.interpolate(seen, size=(size, size), mode="nearest")[0, 0] > 0.5).cpu().numpy()
