"""Rasterization for latent-resolution renders: numba on the CPU, nvdiffrast when CUDA has it.

:func:`rasterize` finds the visible face, perspective-correct barycentrics and depth per pixel
(conventions in :mod:`.numba_raster` and :class:`Fragments`), :func:`interpolate` turns per-corner
attributes such as UVs into per-pixel values, and :func:`sample_texture` looks a learnable texture
up at those UVs with gradients to the texture. Cameras are in :mod:`.camera`.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

from . import numba_raster
from .camera import clip_positions, look_at, perspective, spherical_eye
from .checks import check_inputs
from .fragments import Fragments

__all__ = ["Fragments", "clip_positions", "interpolate", "look_at", "perspective", "rasterize",
           "sample_texture", "spherical_eye"]

BACKENDS = ("auto", "numba", "nvdiffrast")


@functools.cache
def nvdiffrast_available() -> bool:
    """True when CUDA is usable and ``nvdiffrast.torch`` imports."""
    if not torch.cuda.is_available():
        return False
    try:
        import nvdiffrast.torch  # noqa: F401
    except Exception:  # a broken install (missing CUDA toolkit, ABI mismatch) counts as absent
        return False
    return True


def _to_numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _to_torch(frags: Fragments, device: torch.device) -> Fragments:
    return Fragments(tri_id=torch.from_numpy(frags.tri_id).to(device=device, dtype=torch.int64),
                     bary=torch.from_numpy(frags.bary).to(device),
                     depth=torch.from_numpy(frags.depth).to(device))


def rasterize(clip_pos, faces, width: int, height: int, backend: str = "auto") -> Fragments:
    """Rasterize triangles in OpenGL clip space into a ``width`` x ``height`` image.

    ``clip_pos`` (V, 4) float and ``faces`` (F, 3) integer, numpy or torch (see
    :func:`.camera.clip_positions`). Returns torch :class:`Fragments` on ``clip_pos``'s device
    (CPU for numpy): tri_id int64 (H, W), -1 where empty; bary float32 (H, W, 3); depth float32
    (H, W) NDC z/w; rows top-down. Not differentiable (gradients reach textures through
    :func:`sample_texture`, not through geometry).

    ``backend``: "numba" (CPU), "nvdiffrast" (CUDA; results are moved back to the input's device),
    or "auto": nvdiffrast when the input is a CUDA tensor and nvdiffrast is usable, else numba.
    Raises ValueError for malformed inputs (shapes, non-finite coordinates, out-of-range indices).
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    device = clip_pos.device if isinstance(clip_pos, torch.Tensor) else torch.device("cpu")
    if backend == "auto":
        backend = "nvdiffrast" if device.type == "cuda" and nvdiffrast_available() else "numba"
    if backend == "numba":
        return _to_torch(numba_raster.rasterize(_to_numpy(clip_pos), _to_numpy(faces), width, height), device)

    if not nvdiffrast_available():
        raise RuntimeError("backend='nvdiffrast' needs CUDA and an importable nvdiffrast.torch")
    from . import nvdiffrast_raster

    cuda = device if device.type == "cuda" else torch.device("cuda", torch.cuda.current_device())
    pos = torch.as_tensor(clip_pos).to(cuda)
    tris = torch.as_tensor(faces).to(cuda)
    check_inputs(pos, tris, width, height)
    if tris.shape[0] == 0:
        return _to_torch(numba_raster.empty_fragments(width, height), device)
    frags = nvdiffrast_raster.rasterize(pos, tris, width, height)
    return Fragments(tri_id=frags.tri_id.to(device), bary=frags.bary.to(device), depth=frags.depth.to(device))


def interpolate(corner_attr: torch.Tensor, frags: Fragments) -> torch.Tensor:
    """Per-pixel attribute ``sum_k bary[..., k] * corner_attr[tri_id, k]``, (H, W, C); zero where empty.

    ``corner_attr`` (F, 3, C) holds one value per face corner (e.g. UVs (F, 3, 2), so seams need no
    vertex splitting); ``frags`` are torch fragments on the same device. Differentiable with
    respect to ``corner_attr`` (not needed for UVs, which callers detach).
    """
    height, width = frags.tri_id.shape
    out_shape = (height, width, corner_attr.shape[-1])
    if corner_attr.shape[0] == 0:
        return corner_attr.new_zeros(out_shape)
    mask = frags.mask
    corners = corner_attr[frags.tri_id.clamp(min=0)]  # (H, W, 3, C)
    values = (frags.bary.to(corner_attr.dtype)[..., None] * corners).sum(dim=-2)
    # where, not multiply: an inf/NaN attribute on face 0 must not leak into empty pixels.
    return torch.where(mask[..., None], values, values.new_zeros(()))


def sample_texture(texture: torch.Tensor, uv: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Bilinear texture lookup at per-pixel UVs, differentiable with respect to ``texture``; (C, H, W).

    ``texture`` is (1, C, Ht, Wt) or (C, Ht, Wt), rows top-down like an image file. ``uv`` (H, W, 2)
    uses Blender's convention: u to the right, v up, (0, 0) the bottom-left corner of the image
    and (1, 1) the top-right corner (so v = 1 is the top edge of row 0). Texel centres sit at
    ((i + 0.5) / Wt, 1 - (j + 0.5) / Ht); lookups outside [0, 1] clamp to the border texels.
    Pixels where ``mask`` (H, W) is False are zero and send no gradient.
    """
    tex = texture if texture.dim() == 4 else texture[None]
    if tex.dim() != 4 or tex.shape[0] != 1:
        raise ValueError(f"texture must be (1, C, Ht, Wt) or (C, Ht, Wt), got {tuple(texture.shape)}")
    uv = uv.to(device=tex.device, dtype=tex.dtype)
    # grid_sample: x = -1 / +1 are the left / right image edges, y = -1 the top edge (row 0).
    grid = torch.stack((2.0 * uv[..., 0] - 1.0, 1.0 - 2.0 * uv[..., 1]), dim=-1)[None]
    out = F.grid_sample(tex, grid, mode="bilinear", padding_mode="border", align_corners=False)[0]
    if mask is not None:
        out = torch.where(mask.to(out.device)[None], out, out.new_zeros(()))
    return out
