"""Closed tubes along polylines: the shared shape of twigs, logs, cactus stems and mushroom stalks.

Positions in metres. A tube is a ring of ``sides`` vertices around every polyline point, its
radius taken from ``radii`` times a profile of the angle (ribs, bark ridges), closed at both ends
by a fan to an end vertex: every edge has exactly two faces, so a tube is a closed 2-manifold.
"""

from __future__ import annotations

import numpy as np


def _frames(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tangent and two normals per point, transported along the curve (no twisting flips)."""
    d = np.gradient(points, axis=0)
    t = d / np.linalg.norm(d, axis=1, keepdims=True)
    ref = np.array([0.0, 0.0, 1.0]) if abs(t[0, 2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    n = np.cross(t[0], ref)
    n /= np.linalg.norm(n)
    normals, binormals = [], []
    for ti in t:
        n = n - ti * (n @ ti)
        n /= np.linalg.norm(n)
        normals.append(n)
        binormals.append(np.cross(ti, n))
    return t, np.array(normals), np.array(binormals)


def tube(points, radii, sides: int = 8, profile=None) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """(vertices (k, 3), faces) of a closed tube through ``points`` (n >= 2) with ``radii`` (n,).

    ``profile(theta) -> factor`` shapes the cross-section (1 = round). Faces wind so normals
    point outwards.
    """
    points = np.asarray(points, float)
    radii = np.asarray(radii, float)
    t, n, b = _frames(points)
    theta = np.linspace(0.0, 2 * np.pi, sides, endpoint=False)
    shape = np.ones(sides) if profile is None else np.asarray(profile(theta), float)
    ring = np.cos(theta)[None, :, None] * n[:, None, :] + np.sin(theta)[None, :, None] * b[:, None, :]
    verts = points[:, None, :] + ring * (radii[:, None] * shape[None, :])[..., None]
    verts = verts.reshape(-1, 3)
    m = len(points)
    faces: list[tuple[int, ...]] = []
    for i in range(m - 1):
        for j in range(sides):
            a, c = i * sides + j, i * sides + (j + 1) % sides
            faces.append((a, c, c + sides, a + sides))
    start, end = len(verts), len(verts) + 1
    verts = np.vstack([verts, points[0] - t[0] * radii[0] * 0.3, points[-1] + t[-1] * radii[-1] * 0.3])
    for j in range(sides):
        faces.append((start, (j + 1) % sides, j))
        last = (m - 1) * sides
        faces.append((end, last + j, last + (j + 1) % sides))
    return verts, faces


def merge(parts) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """Concatenate (vertices, faces) parts into one vertex array with re-indexed faces."""
    verts, faces, offset = [], [], 0
    for v, f in parts:
        verts.append(np.asarray(v, float))
        faces += [tuple(i + offset for i in face) for face in f]
        offset += len(v)
    return np.vstack(verts), faces


def mesh_object(name: str, verts, faces, category: str, material=None, collection=None):
    """A validated mesh object from arrays, labelled ``category``, smooth shaded."""
    import bpy

    from ...render_gt.labels import set_label
    from .mesh_utils import link

    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata([tuple(map(float, v)) for v in verts], [], [tuple(f) for f in faces])
    mesh.validate()
    mesh.polygons.foreach_set("use_smooth", np.ones(len(mesh.polygons), bool))
    mesh.update()
    if material is not None:
        mesh.materials.append(material)
    obj = link(bpy.data.objects.new(name, mesh), collection) if collection is not False else \
        bpy.data.objects.new(name, mesh)
    set_label(obj, category)
    return obj
