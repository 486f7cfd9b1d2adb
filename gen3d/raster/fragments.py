"""The rasterizer's per-pixel output, shared by the numpy (numba) and torch front ends."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Fragments:
    """Nearest surface per pixel of an (H, W) image; rows top-down (row 0 is NDC y = +1).

    ``tri_id`` (H, W): index of the visible face, -1 where no triangle covers the pixel centre.
    ``bary`` (H, W, 3) float32: perspective-correct barycentrics of the pixel centre with respect
    to the face's three corners in ``faces`` order (the 3D point is ``sum bary[k] * vertex[k]``);
    they sum to 1, and are all zero where empty.
    ``depth`` (H, W) float32: NDC depth z/w in [-1, 1] (smaller is nearer), +inf where empty.

    The arrays are numpy from :func:`numba_raster.rasterize` and torch tensors from the package's
    :func:`rasterize`; ``mask`` follows suit.
    """

    tri_id: Any
    bary: Any
    depth: Any

    @property
    def mask(self):
        """(H, W) bool, True where a triangle covers the pixel."""
        return self.tri_id >= 0
