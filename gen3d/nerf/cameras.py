"""Pinhole cameras for the NeRF: random training views and per-pixel rays.

Same frame and angles as Latent-Paint (``gen3d.raster.camera``): world +y up; a camera looks down its
-z axis with +x to the right of the image and +y up; ``polar_deg`` is measured from +y (0 = above,
90 = horizon), ``azimuth_deg`` 0 is the front (+z) and increases toward +x; ``fov_deg`` is the full
*vertical* field of view. Image rows go top-down, columns left-right, and the ray of pixel
``(row, col)`` passes through its centre ``(col + 0.5, row + 0.5)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..raster.camera import look_at, spherical_eye


@dataclass
class Camera:
    """A pinhole camera at ``eye`` looking at ``target`` (world units), vertical FOV ``fov_deg``.

    ``polar_deg`` / ``azimuth_deg`` are set for spherical cameras (view-dependent prompts need them);
    ``None`` otherwise.
    """

    eye: tuple[float, float, float]
    target: tuple[float, float, float] = (0.0, 0.0, 0.0)
    fov_deg: float = 60.0
    up: tuple[float, float, float] = (0.0, 1.0, 0.0)
    polar_deg: float | None = None
    azimuth_deg: float | None = None

    @classmethod
    def spherical(cls, radius: float, polar_deg: float, azimuth_deg: float, fov_deg: float = 60.0) -> Camera:
        """A camera on the sphere of ``radius`` around the origin, looking at the origin."""
        eye = spherical_eye(radius, polar_deg, azimuth_deg)
        return cls(eye=tuple(float(v) for v in eye), fov_deg=float(fov_deg), polar_deg=float(polar_deg),
                   azimuth_deg=float(azimuth_deg))

    @property
    def elevation_deg(self) -> float | None:
        """Degrees above the horizon (90 - polar), for view-dependent prompts."""
        return None if self.polar_deg is None else 90.0 - self.polar_deg

    def basis(self) -> np.ndarray:
        """(3, 3) float64 rows: camera right, up and forward (toward the target) in world space."""
        view = look_at(self.eye, self.target, self.up)
        return np.stack([view[0, :3], view[1, :3], -view[2, :3]])


@dataclass
class CameraConfig:
    """Random training cameras (REFERENCE.md: radius U[1, 1.5], FOV U[40, 70] degrees).

    polar_range_deg: our default keeps the camera at or above 30 degrees below the horizon; the
        sketch-to-asset trainer may narrow it. azimuth_range_deg: uniform, 0 = front.
    """

    radius_range: tuple[float, float] = (1.0, 1.5)
    fov_range_deg: tuple[float, float] = (40.0, 70.0)
    polar_range_deg: tuple[float, float] = (0.0, 120.0)
    azimuth_range_deg: tuple[float, float] = (0.0, 360.0)

    def validate(self) -> None:
        """Raise ValueError naming the first bad field."""
        lo, hi = self.radius_range
        if not 0 < lo <= hi:
            raise ValueError(f"radius_range must be 0 < lo <= hi, got {self.radius_range}")
        lo, hi = self.fov_range_deg
        if not 0 < lo <= hi < 180:
            raise ValueError(f"fov_range_deg must be 0 < lo <= hi < 180, got {self.fov_range_deg}")
        lo, hi = self.polar_range_deg
        if not 0 <= lo <= hi <= 180:
            raise ValueError(f"polar_range_deg must lie in [0, 180], got {self.polar_range_deg}")
        lo, hi = self.azimuth_range_deg
        if not lo <= hi:
            raise ValueError(f"azimuth_range_deg must be lo <= hi, got {self.azimuth_range_deg}")


def random_cameras(n: int, rng: np.random.Generator, cfg: CameraConfig | None = None) -> list[Camera]:
    """``n`` spherical cameras looking at the origin, each range sampled uniformly from ``rng``."""
    cfg = cfg or CameraConfig()
    cfg.validate()
    cams = []
    for _ in range(n):
        radius = rng.uniform(*cfg.radius_range)
        polar = rng.uniform(*cfg.polar_range_deg)
        azimuth = rng.uniform(*cfg.azimuth_range_deg)
        fov = rng.uniform(*cfg.fov_range_deg)
        cams.append(Camera.spherical(radius, polar, azimuth, fov))
    return cams


def camera_rays(camera: Camera, height: int, width: int, device: torch.device | str = "cpu",
                dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
    """Rays through the pixel centres, row-major (top row first): origins (H*W, 3), unit dirs (H*W, 3).

    The aspect ratio is ``width / height`` and ``fov_deg`` spans the image height (as ``perspective``).
    """
    if height < 1 or width < 1:
        raise ValueError(f"image size must be positive, got {height}x{width}")
    if not 0.0 < camera.fov_deg < 180.0:
        raise ValueError(f"fov_deg must be in (0, 180), got {camera.fov_deg}")
    tan_half = math.tan(math.radians(camera.fov_deg) / 2)
    cols = (np.arange(width) + 0.5) / width * 2 - 1  # -1 at the left edge
    rows = 1 - (np.arange(height) + 0.5) / height * 2  # +1 at the top edge
    sx = cols * tan_half * (width / height)
    sy = rows * tan_half
    right, up, forward = camera.basis()
    dirs = (sx[None, :, None] * right + sy[:, None, None] * up + forward).reshape(-1, 3)
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    origins = np.broadcast_to(np.asarray(camera.eye, dtype=np.float64), dirs.shape)
    return (torch.as_tensor(np.ascontiguousarray(origins), dtype=dtype, device=device),
            torch.as_tensor(dirs, dtype=dtype, device=device))


def batch_rays(cameras: Sequence[Camera], height: int, width: int, device: torch.device | str = "cpu",
               dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
    """Rays of several cameras concatenated: (B*H*W, 3) each, camera-major then row-major."""
    pairs = [camera_rays(c, height, width, device, dtype) for c in cameras]
    return torch.cat([p[0] for p in pairs]), torch.cat([p[1] for p in pairs])
