"""UV-island padding ("dilation"), so bilinear filtering and mipmaps show no seams.

A renderer reading a texture at a point inside a UV island mixes the four texels around it, and
near an island's edge some of those lie outside the island. If they hold the background (black),
the island's border shows as a dark seam on the mesh; each coarser mip level widens the footprint
further. Padding copies each island's border colours outwards so those reads find plausible colours.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .uv_raster import rasterize_uv


def coverage(uv_faces, width: int, height: int, conservative: bool = True) -> np.ndarray:
    """(H, W) bool mask of the texels that belong to UV islands.

    ``uv_faces`` (F, 3, 2) are per-corner UVs (Blender convention, see :mod:`.uv_raster`).

    With ``conservative=True`` (the default) a texel is covered when its square touches any
    triangle (conservative rasterization), not only when its centre lies inside one. The reason:
    bilinear lookups at points inside an island read texels up to one texel beyond the island's
    edge, and a texel whose square overlaps the island contains surface points, so its value means
    something: the paint optimizer writes it through those lookups, and a bake can evaluate it
    (``texel_points(..., conservative=True)`` gives each such texel the nearest surface point).
    Treating those texels as covered keeps their values instead of overwriting them with a copy of
    a neighbour. ``conservative=False`` samples texel centres only; use the same flag for the bake
    and for the mask so that every covered texel has a baked value.
    """
    tri_id, _ = rasterize_uv(uv_faces, width, height, conservative=conservative)
    return tri_id >= 0


def dilate(image: np.ndarray, covered: np.ndarray, pixels: int | None = None) -> np.ndarray:
    """Fill the uncovered texels of ``image`` from the UV islands; return a new array.

    ``image`` is (H, W, C) or (H, W), float or uint8 (rows top-down); ``covered`` (H, W) bool marks
    the island texels, which are returned unchanged. Every uncovered texel whose Euclidean distance
    (between texel centres, in texels) to the nearest covered texel is at most ``pixels`` gets that
    covered texel's colour (``pixels=None``: every uncovered texel). Uncovered texels further away
    get the mean colour of the covered texels rather than staying black, so that coarse mip levels,
    which average large blocks, do not darken near islands. The dtype is kept (the mean is rounded
    for integer images).

    Nearest texels come from ``scipy.ndimage.distance_transform_edt(..., return_indices=True)``:
    an exact Euclidean distance transform, linear in the number of texels.
    """
    img = np.asarray(image)
    mask = np.asarray(covered)
    if img.ndim not in (2, 3) or img.shape[0] == 0 or img.shape[1] == 0:
        raise ValueError(f"image must have shape (H, W) or (H, W, C), got {img.shape}")
    if mask.shape != img.shape[:2]:
        raise ValueError(f"covered must have shape {img.shape[:2]} (the image's H, W), got {mask.shape}")
    if mask.dtype != np.bool_:
        raise ValueError(f"covered must be a bool mask, got dtype {mask.dtype}")
    if pixels is not None and (int(pixels) != pixels or pixels < 0):
        raise ValueError(f"pixels must be a non-negative integer or None, got {pixels!r}")
    if not mask.any():
        raise ValueError("covered has no texels: there is nothing to dilate from")

    out = img.copy()
    if mask.all():
        return out
    dist, (near_r, near_c) = ndimage.distance_transform_edt(~mask, return_indices=True)
    fill = ~mask if pixels is None else ~mask & (dist <= pixels)
    out[fill] = img[near_r[fill], near_c[fill]]
    far = ~mask & ~fill
    if far.any():
        mean = img[mask].astype(np.float64).mean(axis=0)
        if np.issubdtype(img.dtype, np.integer):
            info = np.iinfo(img.dtype)
            mean = np.clip(np.round(mean), info.min, info.max)
        out[far] = mean.astype(img.dtype)
    return out


def pad_texture(image: np.ndarray, uv_faces, pixels: int | None = None, *,
                conservative: bool = True) -> np.ndarray:
    """Convenience: :func:`coverage` of ``uv_faces`` at the image's size, then :func:`dilate`."""
    img = np.asarray(image)
    if img.ndim not in (2, 3):
        raise ValueError(f"image must have shape (H, W) or (H, W, C), got {img.shape}")
    mask = coverage(uv_faces, img.shape[1], img.shape[0], conservative=conservative)
    return dilate(img, mask, pixels)
