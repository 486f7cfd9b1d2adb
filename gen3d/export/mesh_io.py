"""Read triangle meshes (with their UVs, if any) from common file formats."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .validate import check_mesh, check_uv_faces

#: Extensions read through trimesh; ``.npz`` is read directly.
TRIMESH_EXTENSIONS = (".obj", ".ply", ".glb", ".gltf", ".stl", ".off")
SUPPORTED_EXTENSIONS = (*TRIMESH_EXTENSIONS, ".npz")


@dataclass(frozen=True)
class MeshData:
    """A triangle mesh as the engine uses it.

    ``positions`` (V, 3) float64 in the file's units (glTF: metres); ``faces`` (F, 3) int64;
    ``uv_faces`` (F, 3, 2) float64 per-corner UVs in the Blender convention (v up), or ``None``
    when the file has no texture coordinates.
    """

    positions: np.ndarray
    faces: np.ndarray
    uv_faces: np.ndarray | None = None


def read_mesh(path: str | os.PathLike) -> MeshData:
    """Load a triangle mesh from ``.obj``, ``.ply``, ``.glb``, ``.gltf``, ``.stl``, ``.off`` or ``.npz``.

    Mesh formats go through trimesh without processing (no vertex merging or reordering); a file
    holding a scene has its meshes transformed to world space and concatenated. glTF's top-left
    UV origin is converted to the Blender convention by trimesh. ``.npz`` files hold arrays
    ``positions`` (V, 3), ``faces`` (F, 3) and optionally ``uv_faces`` (F, 3, 2).

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` for an unsupported
    extension, a file without triangles, or invalid arrays.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"mesh file not found: {path}")
    ext = path.suffix.lower()
    if ext == ".npz":
        return _read_npz(path)
    if ext not in TRIMESH_EXTENSIONS:
        raise ValueError(f"unsupported mesh format {ext!r} ({path.name}); supported: {', '.join(SUPPORTED_EXTENSIONS)}")
    return _read_trimesh(path)


def _read_npz(path: Path) -> MeshData:
    with np.load(path, allow_pickle=False) as data:
        missing = [k for k in ("positions", "faces") if k not in data.files]
        if missing:
            raise ValueError(f"{path.name}: missing array(s) {', '.join(missing)}; found {sorted(data.files)}")
        pos, tri = check_mesh(data["positions"], data["faces"])
        uvf = check_uv_faces(data["uv_faces"], tri.shape[0]) if "uv_faces" in data.files else None
    return MeshData(pos, tri, uvf)


def _read_trimesh(path: Path) -> MeshData:
    import trimesh

    try:
        mesh = trimesh.load(path, force="mesh", process=False)
    except Exception as exc:  # trimesh raises many types for malformed files
        raise ValueError(f"{path.name}: could not read mesh: {exc}") from exc
    faces = getattr(mesh, "faces", None)
    if not isinstance(mesh, trimesh.Trimesh) or faces is None or len(faces) == 0:
        raise ValueError(f"{path.name}: the file contains no triangles")
    pos, tri = check_mesh(mesh.vertices, mesh.faces)
    uv = getattr(mesh.visual, "uv", None)
    uvf = None
    if uv is not None and len(uv) == len(pos):
        uvf = check_uv_faces(np.asarray(uv, dtype=np.float64)[tri], tri.shape[0])
    return MeshData(pos, tri, uvf)
