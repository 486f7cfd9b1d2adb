"""Small helpers shared by the mesh generators: linking objects, smooth noise fields, and
half-space squashing. Positions are in metres unless a docstring says otherwise."""

from __future__ import annotations

import bpy

# bmesh exists only once bpy has started Blender, so it is imported second.
# isort: split
import bmesh
import numpy as np


def link(obj: bpy.types.Object, collection: bpy.types.Collection | None = None) -> bpy.types.Object:
    """Link ``obj`` into ``collection``, or the scene's master collection when None."""
    (collection or bpy.context.scene.collection).objects.link(obj)
    return obj


def vertex_positions(mesh: bpy.types.Mesh) -> np.ndarray:
    """(n, 3) float64 copy of the mesh's vertex positions."""
    co = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", co)
    return co.reshape(-1, 3).astype(np.float64)


def set_vertex_positions(mesh: bpy.types.Mesh, co: np.ndarray) -> None:
    mesh.vertices.foreach_set("co", np.asarray(co, np.float32).ravel())
    mesh.update()


def vertex_normals(mesh: bpy.types.Mesh) -> np.ndarray:
    """(n, 3) unit vertex normals of the mesh as it is now."""
    nor = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertex_normals.foreach_get("vector", nor)
    return nor.reshape(-1, 3).astype(np.float64)


def canonical_bmesh(bm: bmesh.types.BMesh) -> bmesh.types.BMesh:
    """A rebuilt copy of ``bm`` (which is freed) whose element order depends only on geometry:
    vertices sorted by position, each face starting at its lowest vertex, faces sorted.

    Some bmesh operators (extrusion) create elements in an order that follows memory addresses,
    which differ from run to run; later steps that pick elements by index or sum over a
    vertex's edges would then differ too. Vertices must have distinct positions.
    """
    bm.verts.index_update()
    co = np.array([v.co for v in bm.verts])
    order = np.lexsort(co.T[::-1])  # by x, then y, then z
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    faces = []
    for f in bm.faces:
        idx = [int(rank[v.index]) for v in f.verts]
        first = idx.index(min(idx))
        faces.append(tuple(idx[first:] + idx[:first]))
    out = bmesh.new()
    verts = [out.verts.new(co[i]) for i in order]
    for face in sorted(faces):
        out.faces.new([verts[i] for i in face])
    bm.free()
    return out


def smooth_noise(points: np.ndarray, rng: np.random.Generator, frequency: float, octaves: int = 3,
                 waves: int = 12) -> np.ndarray:
    """A smooth random scalar field at ``points`` (n, 3), roughly zero-mean and unit-variance.

    A sum of random plane waves per octave (frequency doubling, amplitude halving): unlike
    lattice noise it is a few vectorised lines, and it is exactly reproducible from ``rng``.
    ``frequency`` is in cycles per unit of ``points``.
    """
    out = np.zeros(len(points))
    amp, freq, var = 1.0, frequency, 0.0
    for _ in range(octaves):
        dirs = rng.normal(size=(waves, 3))
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        phase = rng.uniform(0.0, 2.0 * np.pi, waves)
        out += amp * np.sin(points @ dirs.T * (2.0 * np.pi * freq) + phase).sum(axis=1)
        var += amp**2 * waves * 0.5  # each sine has variance 1/2
        amp *= 0.5
        freq *= 2.0
    return out / np.sqrt(var)


def squash_halfspace(co: np.ndarray, normal, offset: float, keep: float) -> np.ndarray:
    """Scale the part of space beyond the plane ``co . normal = offset`` towards the plane by ``keep``.

    A continuous, monotonic map of space: it flattens (facets, a rock's base) without
    collapsing any face to zero area or making the surface cross itself, which clamping would.
    """
    n = np.asarray(normal, float)
    n = n / np.linalg.norm(n)
    beyond = co @ n - offset
    out = co.copy()
    mask = beyond > 0.0
    out[mask] -= np.outer(beyond[mask] * (1.0 - keep), n)
    return out
