"""Smooth per-vertex normals for export."""

from __future__ import annotations

import numpy as np

from .validate import check_mesh


def vertex_normals(positions, faces, *, weld: bool = True) -> np.ndarray:
    """Unit, area-weighted vertex normals (V, 3) float64 of a triangle mesh.

    Each face adds its un-normalised cross product (its area times its normal, right-hand rule on
    the corner order) to its corners. With ``weld=True`` vertices at bitwise-equal positions share
    one normal, so a UV-split mesh (vertices duplicated along chart seams) shades smoothly across
    its seams instead of showing them. Vertices no face touches, or whose faces cancel out, get +Z.
    """
    pos, tri = check_mesh(positions, faces)
    fn = np.cross(pos[tri[:, 1]] - pos[tri[:, 0]], pos[tri[:, 2]] - pos[tri[:, 0]])
    if weld:
        _, group = np.unique(pos, axis=0, return_inverse=True)
        group = group.reshape(-1)
    else:
        group = np.arange(pos.shape[0])
    acc = np.zeros((int(group.max()) + 1, 3))
    for k in range(3):
        np.add.at(acc, group[tri[:, k]], fn)
    out = acc[group]
    length = np.linalg.norm(out, axis=1, keepdims=True)
    ok = length[:, 0] > 0
    out[ok] /= length[ok]
    out[~ok] = (0.0, 0.0, 1.0)
    return out
