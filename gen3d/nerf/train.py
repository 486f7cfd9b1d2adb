"""Sketch-to-asset training: a Latent-NeRF fitted by SDS under the Sketch-Shape loss, then an
optional RGB refinement stage. torch.

Latent stage, per step: B random cameras -> 64x64 latent renders (occupancy-grid culled) -> SDS
from the guidance backend (view-dependent prompts) + Sketch-Shape loss on every evaluated sample +
sparsity (binary entropy of opacity). RGB stage: a bias-free Linear(4->3) initialised with the
known latent->RGB map turns the rendered latents into RGB, which is upsampled to the VAE's input
size and encoded (the analytic prior's encoder is the linear map's inverse), and SDS trains the
NeRF and that head through the encoder. Numbers: REFERENCE.md, "Latent-NeRF and Sketch-Shape".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from ..guidance.base import Guidance
from ..guidance.latent_rgb import latent_rgb_matrix, latent_to_rgb
from .cameras import Camera, CameraConfig, batch_rays, random_cameras
from .losses import sparsity_loss
from .model import LatentNeRF, LatentNeRFConfig
from .occupancy import OccupancyConfig, OccupancyGrid
from .render import RenderConfig, render
from .sketch import SketchConfig, SketchField, g3dr_gradient_scale, sketch_shape_loss


@dataclass
class TrainConfig:
    """steps: latent-stage SDS steps (paper: 5000-10000). refine_steps: RGB-stage steps (0 skips it).
    lr_grid / lr_mlp: Adam rates of the hash table and the MLPs. lambda_sparsity: weight of the
    opacity entropy (paper ~5e-4). render_size: latent render edge (SD: 64). preview_every: steps
    between preview images. seed: cameras (numpy) and every torch draw (one torch.Generator)."""

    steps: int = 5000
    refine_steps: int = 0
    batch_size: int = 1
    render_size: int = 64
    lr_grid: float = 1e-2
    lr_mlp: float = 1e-3
    lambda_sparsity: float = 5e-4
    preview_every: int = 100
    preview_size: int = 256
    seed: int = 0
    model: LatentNeRFConfig = field(default_factory=LatentNeRFConfig)
    render: RenderConfig = field(default_factory=RenderConfig)
    occupancy: OccupancyConfig = field(default_factory=OccupancyConfig)
    cameras: CameraConfig = field(default_factory=CameraConfig)
    sketch: SketchConfig = field(default_factory=SketchConfig)

    def validate(self) -> None:
        for name in ("steps", "batch_size", "render_size", "preview_every", "preview_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.refine_steps < 0:
            raise ValueError(f"refine_steps must be >= 0, got {self.refine_steps}")
        if abs(self.model.grid.bound - self.sketch.bound) > 1e-9:
            raise ValueError("the NeRF's bound and the sketch grid's bound must agree")


@dataclass
class TrainStep:
    step: int
    total: int
    stage: str
    sds_grad_norm: float
    shape_loss: float
    sparsity: float
    evaluated_fraction: float


class SketchTrainer:
    """Fits a Latent-NeRF to ``prompt`` inside the sketch ``field`` (normalised frame)."""

    def __init__(self, field: SketchField, guidance: Guidance, prompt: str, negative: str = "",
                 cfg: TrainConfig | None = None):
        self.cfg = cfg = cfg or TrainConfig()
        cfg.validate()
        self.field, self.guidance, self.prompt, self.negative = field, guidance, prompt, negative
        self.device = torch.device(guidance.device)
        self.rng = np.random.default_rng(cfg.seed)
        self.gen = torch.Generator(self.device).manual_seed(cfg.seed)
        guidance.encode_prompt(prompt, negative)  # fail early on bad prompts; cached for every step
        init = torch.Generator("cpu").manual_seed(cfg.seed)
        self.model = LatentNeRF(cfg.model, generator=init).to(self.device)
        self.occupancy = OccupancyGrid(self.model.bound, cfg.occupancy).to(self.device)
        # Bias-free 4 -> 3 head for the RGB stage, initialised with the known map (rgb = (L^T x + 1) / 2).
        self.rgb_head = torch.nn.Linear(4, 3, bias=False).to(self.device)
        with torch.no_grad():
            self.rgb_head.weight.copy_(latent_rgb_matrix(self.device).T)
        self.optimizer = torch.optim.Adam(self.model.param_groups(cfg.lr_grid, cfg.lr_mlp), betas=(0.9, 0.99),
                                          eps=1e-15)
        self.step_count = 0
        self.stage = "latent"

    @property
    def total_steps(self) -> int:
        return self.cfg.steps + self.cfg.refine_steps

    # -- one step -----------------------------------------------------------------------------

    def _g3dr_hook(self, cameras: list[Camera]):
        if not self.cfg.sketch.g3dr:
            return None
        size = self.cfg.render_size
        origins, dirs = batch_rays(cameras, size, size, device=self.device)
        depth = self.field.surface_depth(origins, dirs).to(self.device)

        def hook(t: torch.Tensor, ray_index: torch.Tensor) -> torch.Tensor:
            return g3dr_gradient_scale(t[:, None], depth[ray_index], self.cfg.sketch)[:, 0]

        return hook

    def to_rgb(self, latent: torch.Tensor) -> torch.Tensor:
        """(B, 4, H, W) latents -> (B, 3, H, W) RGB through the (trainable) head."""
        return (torch.einsum("bchw,oc->bohw", latent, self.rgb_head.weight) + 1) / 2

    def step(self) -> TrainStep:
        c = self.cfg
        if self.step_count == c.steps and c.refine_steps and self.stage == "latent":
            self.stage = "rgb"
            self.optimizer.add_param_group({"params": self.rgb_head.parameters(), "lr": c.lr_mlp})
        cameras = random_cameras(c.batch_size, self.rng, c.cameras)
        out = render(self.model, cameras, c.render_size, c.render_size, c.render, self.occupancy, self.gen,
                     sample_grad_scale=self._g3dr_hook(cameras))
        if self.stage == "latent":
            latents = out.latent
        else:
            rgb = self.to_rgb(out.latent).clamp(0, 1)
            size = c.render_size * self.guidance.vae_scale_factor
            if size != rgb.shape[-1]:
                rgb = F.interpolate(rgb, size=(size, size), mode="bilinear", align_corners=False)
            latents = self.guidance.encode(rgb)
        sds = self.guidance.sds(latents, self.prompt, self.negative,
                                azimuth_deg=[cam.azimuth_deg for cam in cameras],
                                elevation_deg=[cam.elevation_deg for cam in cameras], generator=self.gen)
        # REFERENCE's loss is a sum over the marcher's samples (sketch_shape_loss returns the mean):
        # summed, lambda ~ 1 balances it against SDS whatever the sample count.
        n = out.sigma.numel()
        shape = sketch_shape_loss(out.positions, out.sigma, self.field, c.sketch) * n if n else out.latent.new_zeros(())
        sparse = sparsity_loss(out.opacity)
        loss = sds.loss + shape + c.lambda_sparsity * sparse
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.step_count += 1
        self.occupancy.update(self.model, self.step_count, self.gen)
        return TrainStep(self.step_count, self.total_steps, self.stage, sds.grad_norm, float(shape.detach()),
                         float(sparse.detach()), out.n_evaluated / max(out.n_samples_total, 1))

    def run(self, on_step: Callable[[TrainStep], None] | None = None,
            on_preview: Callable[[np.ndarray], None] | None = None,
            check_cancelled: Callable[[], None] | None = None) -> None:
        while self.step_count < self.total_steps:
            if check_cancelled:
                check_cancelled()
            info = self.step()
            if on_step:
                on_step(info)
            if on_preview and (self.step_count % self.cfg.preview_every == 0 or self.step_count == self.total_steps):
                on_preview(self.preview())

    # -- results ------------------------------------------------------------------------------

    @torch.no_grad()
    def preview(self, azimuth_deg: float | None = None) -> np.ndarray:
        """Evaluation view (radius 1.8, elevation 30 degrees), (S, S, 3) uint8; turns 45 degrees per preview."""
        c = self.cfg
        if azimuth_deg is None:
            azimuth_deg = 45.0 * (self.step_count // c.preview_every)
        cam = Camera.spherical(1.8, 60.0, azimuth_deg, 60.0)
        out = render(self.model, [cam], c.render_size, c.render_size, c.render, self.occupancy)
        rgb = self.to_rgb(out.latent) if self.stage == "rgb" else self.guidance.decode(out.latent)
        rgb = F.interpolate(rgb.float().clamp(0, 1), size=(c.preview_size,) * 2, mode="bilinear",
                            align_corners=False, antialias=True)
        return (rgb[0].permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(np.uint8)

    @torch.no_grad()
    def density_fn(self, points: np.ndarray) -> np.ndarray:
        """Density at normalised-frame points (N, 3) -> (N,), for marching cubes."""
        x = torch.as_tensor(points, dtype=torch.float32, device=self.device)
        return self.model.density(x).cpu().numpy()

    @torch.no_grad()
    def color_fn(self, points: np.ndarray) -> np.ndarray:
        """RGB in [0, 1] at normalised-frame points (N, 3) -> (N, 3): the RGB head after refinement,
        else the linear latent->RGB map (decoding per texel through the VAE is not possible: the VAE
        decodes images, not points)."""
        x = torch.as_tensor(points, dtype=torch.float32, device=self.device)
        latent = self.model.color(x)
        if self.stage == "rgb":
            rgb = (latent @ self.rgb_head.weight.T + 1) / 2
        else:
            rgb = latent_to_rgb(latent[:, :, None, None])[:, :, 0, 0]
        return rgb.clamp(0, 1).cpu().numpy()
