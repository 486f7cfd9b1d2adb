"""GPU rasterization through nvdiffrast, converted to this package's conventions.

nvdiffrast's ``rasterize`` returns per pixel (u, v, z/w, triangle_id + 1) with rows bottom-up
(OpenGL), where u and v weight corners 1 and 2. Pixel centres, clip space and near/far clipping
match :mod:`numba_raster`; faces are drawn with both windings. Ties at equal depth follow the
GPU's order, so pixels on shared edges may pick either face.
"""

from __future__ import annotations

import functools

import torch

from .fragments import Fragments


@functools.cache
def _context(device_index: int):
    import nvdiffrast.torch as dr

    # Creating a context is slow; one per device serves every call.
    return dr.RasterizeCudaContext(device=torch.device("cuda", device_index))


def rasterize(clip_pos: torch.Tensor, faces: torch.Tensor, width: int, height: int) -> Fragments:
    """Rasterize on the CUDA device of ``clip_pos``; inputs are assumed validated.

    Returns torch :class:`Fragments` on that device: tri_id int64, bary float32, depth float32.
    """
    import nvdiffrast.torch as dr

    device = clip_pos.device
    pos = clip_pos.detach().to(torch.float32).contiguous()
    tri = faces.to(device=device, dtype=torch.int32).contiguous()
    rast, _ = dr.rasterize(_context(device.index if device.index is not None else torch.cuda.current_device()),
                           pos[None], tri, resolution=(int(height), int(width)))
    return from_nvdiffrast(rast[0])


def from_nvdiffrast(rast: torch.Tensor) -> Fragments:
    """Convert one nvdiffrast output image (H, W, 4) = (u, v, z/w, id + 1), rows bottom-up."""
    u, v, zw, tid = rast.flip(0).unbind(-1)
    # Ids are stored as float32 id + 1: exact below 2**24 faces.
    tri_id = tid.round().to(torch.int64) - 1
    mask = tri_id >= 0
    bary = torch.stack((1.0 - u - v, u, v), dim=-1) * mask[..., None]
    depth = torch.where(mask, zw, torch.full_like(zw, float("inf")))
    return Fragments(tri_id=tri_id, bary=bary, depth=depth)
