"""The mesh Latent-Paint works on: engine frame, UVs, and the normalisation that keeps results in
the caller's coordinates. numpy only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..export.unwrap import unwrap
from ..export.validate import check_mesh, check_uv_faces

#: Largest mesh the CPU rasterizer is sized for (REFERENCE: latent renders of up to ~500k faces).
MAX_FACES = 500_000


class MeshError(ValueError):
    """A mesh that cannot be painted; the message names the problem."""


def z_up_to_y_up(positions: np.ndarray) -> np.ndarray:
    """Blender (x, y, z; +Z up, front = -Y) -> engine / glTF (x, z, -y; +Y up, front = +Z)."""
    p = np.asarray(positions)
    return np.stack([p[:, 0], p[:, 2], -p[:, 1]], axis=1)


@dataclass
class PaintMesh:
    """A triangle mesh ready to paint.

    positions (V, 3) float64 in the engine frame (+Y up, metres or whatever the caller used);
    faces (F, 3) int64; uv_faces (F, 3, 2) float32 per-corner UVs (Blender convention, v up);
    new_uvs: True when xatlas made the UVs. The optimisation sees ``(positions - center) * scale``,
    which fits in a sphere of the configured radius; results are written in ``positions``' frame.
    """

    positions: np.ndarray
    faces: np.ndarray
    uv_faces: np.ndarray
    new_uvs: bool
    center: np.ndarray
    scale: float

    @property
    def normalized(self) -> np.ndarray:
        return (self.positions - self.center) * self.scale


def prepare_mesh(positions, faces, uv_faces=None, *, up_axis: str = "z", use_existing_uvs: bool = True,
                 mesh_radius: float = 0.6, unwrap_resolution: int = 1024, unwrap_padding_px: int = 4) -> PaintMesh:
    """Validate a mesh, move it to the engine frame, unwrap it if it has no UVs (or they are not wanted).

    ``up_axis``: "z" for Blender's convention (the add-on sends world-space Blender coordinates),
    "y" for meshes already +Y up (glTF, OBJ from most tools). Raises MeshError for an empty mesh,
    non-finite positions, bad indices, more than MAX_FACES faces, or a mesh with no extent.
    """
    try:
        pos, tri = check_mesh(positions, faces)
    except ValueError as exc:
        raise MeshError(str(exc)) from None
    if tri.shape[0] > MAX_FACES:
        raise MeshError(f"mesh has {tri.shape[0]} faces; Latent-Paint takes at most {MAX_FACES} (decimate it first)")
    if up_axis not in ("y", "z"):
        raise MeshError(f"up_axis must be 'y' or 'z', got {up_axis!r}")
    pos = z_up_to_y_up(pos) if up_axis == "z" else pos.astype(np.float64)
    used = pos[np.unique(tri)]
    center = (used.min(axis=0) + used.max(axis=0)) / 2
    radius = float(np.linalg.norm(used - center, axis=1).max())
    if not radius > 1e-12 or not np.isfinite(radius):
        raise MeshError("mesh has no extent (all vertices at one point)")
    if uv_faces is not None and use_existing_uvs:
        try:
            uvf = check_uv_faces(uv_faces, tri.shape[0]).astype(np.float32)
        except ValueError as exc:
            raise MeshError(str(exc)) from None
        new = False
    else:
        # isolate: xatlas has crashed the whole process on large regular meshes; the engine must survive.
        un = unwrap(pos, tri, resolution=unwrap_resolution, padding_px=unwrap_padding_px, isolate=True)
        uvf, new = un.uv_faces.astype(np.float32), True
    return PaintMesh(pos, tri.astype(np.int64), uvf, new, center, mesh_radius / radius)
