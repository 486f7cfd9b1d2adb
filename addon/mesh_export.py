"""The evaluated mesh of an object (modifiers applied) as numpy arrays for the engine.

Reads through ``evaluated_get(depsgraph).to_mesh()`` and frees the copy with ``to_mesh_clear()``:
the user's mesh is never touched. Positions are world space (``matrix_world`` applied), so several
objects can be joined into one sketch in their real placement.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class MeshExportError(ValueError):
    """The object cannot be sent (no faces, not a mesh); the message names it and says why."""


@dataclass
class MeshArrays:
    name: str
    #: (V, 3) float32, world space.
    positions: np.ndarray
    #: (F, 3) int32 indices into positions, counter-clockwise seen from outside.
    faces: np.ndarray
    #: (F, 3, 2) float32 per-corner UVs of the active UV map (v up), or None.
    uv_faces: np.ndarray | None
    #: (F, 3) int32: the loop of the evaluated mesh at each triangle corner.
    corner_loops: np.ndarray
    #: Loops in the evaluated mesh.
    n_loops: int
    #: The evaluated mesh's loops are the original mesh's loops (no topology-changing modifier), so
    #: per-loop results (new UVs) can be stored on the object's own mesh.
    same_topology: bool
    #: Name of the UV map the UVs came from.
    uv_map: str | None

    @property
    def num_faces(self) -> int:
        return int(self.faces.shape[0])


def _get(collection, attr: str, count: int, width: int, dtype) -> np.ndarray:
    out = np.empty(count * width, dtype=dtype)
    collection.foreach_get(attr, out)
    return out.reshape(count, width) if width > 1 else out


def export_object(obj, depsgraph) -> MeshArrays:
    """Arrays of ``obj``'s evaluated mesh. Raises :class:`MeshExportError` for non-mesh objects and
    meshes without faces."""
    if obj.type != "MESH":
        raise MeshExportError(f"{obj.name!r} is not a mesh (it is {obj.type.lower()})")
    if obj.mode == "EDIT":
        # Edits live in the BMesh until written back; export what the user sees.
        obj.update_from_editmode()
        depsgraph.update()
    evaluated = obj.evaluated_get(depsgraph)
    mesh = evaluated.to_mesh()
    try:
        mesh.calc_loop_triangles()
        n_tris, n_verts, n_loops = len(mesh.loop_triangles), len(mesh.vertices), len(mesh.loops)
        if n_tris == 0:
            raise MeshExportError(f"{obj.name!r} has no faces to paint (only vertices or edges)")
        co = _get(mesh.vertices, "co", n_verts, 3, np.float32)
        faces = _get(mesh.loop_triangles, "vertices", n_tris, 3, np.int32)
        corner_loops = _get(mesh.loop_triangles, "loops", n_tris, 3, np.int32)
        layer = mesh.uv_layers.active
        uv_faces = uv_map = None
        if layer is not None:
            uvs = _get(layer.uv, "vector", n_loops, 2, np.float32)
            uv_faces = uvs[corner_loops]
            uv_map = layer.name
        loop_verts = _get(mesh.loops, "vertex_index", n_loops, 1, np.int32)
        matrix = np.array(evaluated.matrix_world, dtype=np.float64)
    finally:
        evaluated.to_mesh_clear()

    original = obj.data
    same = len(original.loops) == n_loops and len(original.vertices) == n_verts
    if same:
        same = bool(np.array_equal(_get(original.loops, "vertex_index", n_loops, 1, np.int32), loop_verts))
    positions = (co.astype(np.float64) @ matrix[:3, :3].T + matrix[:3, 3]).astype(np.float32)
    if np.linalg.det(matrix[:3, :3]) < 0:
        # A mirroring transform turns the winding around; swap two corners to keep faces outward.
        order = [0, 2, 1]
        faces, corner_loops = faces[:, order], corner_loops[:, order]
        uv_faces = None if uv_faces is None else uv_faces[:, order]
    return MeshArrays(obj.name, positions, np.ascontiguousarray(faces), uv_faces,
                      np.ascontiguousarray(corner_loops), n_loops, same, uv_map)


def join(parts: list[MeshArrays], name: str = "sketch") -> MeshArrays:
    """Several objects as one mesh (vertex indices offset), e.g. the primitives of a sketch. UVs are
    dropped (a sketch needs none); ``corner_loops`` are no longer meaningful and are left empty."""
    if not parts:
        raise MeshExportError("nothing to join")
    offsets = np.cumsum([0] + [p.positions.shape[0] for p in parts[:-1]])
    positions = np.concatenate([p.positions for p in parts]).astype(np.float32)
    faces = np.concatenate([p.faces + int(off) for p, off in zip(parts, offsets, strict=True)]).astype(np.int32)
    return MeshArrays(name, positions, faces, None, np.zeros((0, 3), np.int32), 0, False, None)


def bounds(mesh: MeshArrays) -> tuple[list[float], list[float]]:
    return mesh.positions.min(axis=0).tolist(), mesh.positions.max(axis=0).tolist()
