"""Typed configuration of Latent-Paint, with the published defaults (REFERENCE.md, "Latent-Paint")."""

from __future__ import annotations

from dataclasses import dataclass

#: Output texture sizes the engine accepts (pixels, square).
TEXTURE_SIZES = (256, 512, 1024, 2048, 4096)


@dataclass
class PaintConfig:
    """Everything that shapes a Latent-Paint run; defaults follow the Latent-NeRF paper's texture mode.

    Geometry is normalised so the mesh's bounding sphere has radius ``mesh_radius`` (scene units
    become irrelevant); cameras sit on a sphere of radius U[radius_range], polar angle
    U[polar_range_deg] from +y (up), azimuth U[0, 360) with 0 = front (+z; Blender's -Y), vertical
    field of view ``fov_deg``. Renders are ``render_size``^2 latent images (SD's 512^2 / 8).
    """

    steps: int = 5000
    lr: float = 1e-2
    betas: tuple[float, float] = (0.9, 0.99)
    eps: float = 1e-15
    #: Latent texture resolution (the SD VAE decodes it to 8x this).
    latent_texture_size: int = 128
    render_size: int = 64
    batch_size: int = 1
    mesh_radius: float = 0.6
    radius_range: tuple[float, float] = (1.0, 1.5)
    polar_range_deg: tuple[float, float] = (0.0, 150.0)
    fov_deg: float = 60.0
    #: Texture init: init_mix * latent(init_rgb) + init_noise * N(0, 1).
    init_rgb: tuple[float, float, float] = (0.5, 0.5, 0.5)
    init_mix: float = 0.3
    init_noise: float = 0.4
    #: Output RGB texture size (pixels) and UV-island padding: None pads every empty texel, so
    #: every mip level is seam-free.
    texture_size: int = 1024
    padding_px: int | None = None
    #: xatlas chart padding (texels at texture_size) when the mesh needs new UVs.
    unwrap_padding_px: int = 4
    preview_every: int = 100
    preview_size: int = 256
    #: Evaluation / preview camera (REFERENCE: radius 1.8, elevation 30 degrees).
    eval_radius: float = 1.8
    eval_elevation_deg: float = 30.0
    seed: int = 0
    raster_backend: str = "auto"

    def validate(self) -> None:
        """Raise ValueError naming the first bad field."""
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if self.texture_size not in TEXTURE_SIZES:
            raise ValueError(f"texture_size must be one of {TEXTURE_SIZES}, got {self.texture_size}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        for name in ("latent_texture_size", "render_size", "batch_size", "preview_every", "preview_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        lo, hi = self.radius_range
        if not 0 < lo <= hi:
            raise ValueError(f"radius_range must be 0 < lo <= hi, got {self.radius_range}")
        if not 0 <= self.polar_range_deg[0] <= self.polar_range_deg[1] <= 180:
            raise ValueError(f"polar_range_deg must lie in [0, 180], got {self.polar_range_deg}")
        if not 0 < self.fov_deg < 180:
            raise ValueError(f"fov_deg must be in (0, 180), got {self.fov_deg}")
        if self.padding_px is not None and self.padding_px < 0:
            raise ValueError(f"padding_px must be >= 0 or None, got {self.padding_px}")
