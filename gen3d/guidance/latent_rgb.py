"""The linear latent -> RGB approximation of the Stable Diffusion VAE, and its ridge inverse.

Latent-NeRF observed that the SD VAE decoder is, to first order, a per-pixel linear map from the 4
latent channels to RGB. ``rgb = (latents^T M + 1) / 2`` with the 4x3 matrix :data:`LATENT_RGB_MATRIX`
(rows are latent channels 1..4, columns R, G, B). It is used to preview latents cheaply, as the
decoder of the analytic test prior, and (inverted) to initialise latents from a colour.

Channel convention: the channel axis is axis 0 for a 1-D vector ``(C,)``, and axis -3 for images
``(C, H, W)`` or ``(B, C, H, W)``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import GuidanceError

#: Rows: latent channels 1..4; columns: R, G, B (from Latent-NeRF; see REFERENCE.md).
LATENT_RGB_MATRIX: tuple[tuple[float, float, float], ...] = (
    (0.298, 0.207, 0.208),
    (0.187, 0.286, 0.173),
    (-0.158, 0.189, 0.264),
    (-0.184, -0.271, -0.473),
)

#: Default Tikhonov term of :func:`rgb_to_latent`. The map is 4 -> 3 and onto R^3 (singular values
#: 0.811, 0.329, 0.132), so every colour is reachable and the plain pseudo-inverse already picks the
#: minimum-norm latent of the 1-D solution line. The ridge only damps the weakest direction
#: (sigma^2 = 0.0174), along which saturated colours need latents far outside the VAE's usual range
#: (pure green needs |z| ~ 12). 1e-4 shrinks that direction by 0.6 %, which changes the colour the
#: linear map gives back by at most 0.004 (per channel, on [0, 1]) for any sRGB colour; 1e-3 would
#: already cost 0.034 on pure green.
RIDGE = 1e-4


def latent_rgb_matrix(device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> Tensor:
    """:data:`LATENT_RGB_MATRIX` as a ``(4, 3)`` tensor."""
    return torch.tensor(LATENT_RGB_MATRIX, device=device, dtype=dtype)


def _channel_axis(x: Tensor, channels: int, what: str) -> int:
    if x.ndim == 1:
        axis = 0
    elif x.ndim in (3, 4):
        axis = x.ndim - 3
    else:
        raise GuidanceError(f"{what} must have shape ({channels},), ({channels}, H, W) or "
                            f"(B, {channels}, H, W); got {tuple(x.shape)}")
    if x.shape[axis] != channels:
        raise GuidanceError(f"{what} must have {channels} channels on axis {axis}; got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise GuidanceError(f"{what} must be a floating-point tensor; got {x.dtype}")
    return axis


def _apply(x: Tensor, matrix: Tensor, axis: int) -> Tensor:
    # Contract the channel axis with the matrix rows and put the result back on the same axis.
    moved = x.movedim(axis, -1) @ matrix
    return moved.movedim(-1, axis)


def latent_to_rgb(latents: Tensor, *, clamp: bool = False) -> Tensor:
    """Map SD latents to approximate RGB with the linear Latent-NeRF map.

    latents: ``(B, 4, H, W)`` (or ``(4, H, W)``, ``(4,)``), SD-scaled latents (roughly N(0, 1)).
    Returns RGB with 3 channels in the same layout and spatial size, nominally in [0, 1]; values
    outside it are kept unless ``clamp`` is True. Differentiable.
    """
    axis = _channel_axis(latents, 4, "latents")
    matrix = latent_rgb_matrix(latents.device, latents.dtype)
    rgb = (_apply(latents, matrix, axis) + 1.0) * 0.5
    return rgb.clamp(0.0, 1.0) if clamp else rgb


def rgb_to_latent(rgb: Tensor, *, ridge: float = RIDGE) -> Tensor:
    """Smallest latents that the linear map sends to ``rgb`` (ridge-regularised pseudo-inverse).

    rgb: ``(B, 3, H, W)`` (or ``(3, H, W)``, ``(3,)``), sRGB in [0, 1]. Returns 4-channel latents
    ``z = M (M^T M + ridge I)^-1 (2 rgb - 1)`` in the same layout. ``ridge=0`` is the exact
    minimum-norm inverse; see :data:`RIDGE` for the default. Differentiable.
    """
    if ridge < 0:
        raise GuidanceError(f"ridge must be >= 0, got {ridge}")
    axis = _channel_axis(rgb, 3, "rgb")
    m = latent_rgb_matrix(rgb.device, torch.float64)
    inverse = m @ torch.linalg.inv(m.T @ m + ridge * torch.eye(3, dtype=torch.float64, device=rgb.device))
    return _apply(rgb * 2.0 - 1.0, inverse.T.to(rgb.dtype), axis)
