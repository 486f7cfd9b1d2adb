"""Mesh cleanup after marching cubes: drop floaters, simplify, check closedness.

Connectivity everywhere here is through shared vertex *indices*: marching-cubes output (e.g.
``skimage.measure.marching_cubes``) already shares vertices between neighbouring triangles, but a
"triangle soup" with duplicated vertices would look like disconnected triangles; weld it first.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from .validate import check_faces, check_mesh


def compact(positions, faces) -> tuple[np.ndarray, np.ndarray]:
    """Drop vertices no face uses and renumber; keeps vertex and face order. Returns (positions, faces)."""
    pos, tri = check_mesh(positions, faces)
    used = np.zeros(pos.shape[0], dtype=bool)
    used[tri.ravel()] = True
    remap = np.cumsum(used) - 1
    return pos[used], remap[tri]


def face_components(faces, n_vertices: int | None = None) -> tuple[int, np.ndarray]:
    """Connected components of faces that share a vertex: (count, label per face (F,) int64)."""
    tri = check_faces(faces, n_vertices)
    n = int(tri.max()) + 1 if n_vertices is None else int(n_vertices)
    f = tri.shape[0]
    # Face-vertex incidence graph: faces are nodes 0..F-1, vertices F..F+V-1.
    rows = np.repeat(np.arange(f), 3)
    cols = f + tri.ravel()
    graph = sparse.coo_matrix((np.ones(rows.size, dtype=np.int8), (rows, cols)), shape=(f + n, f + n))
    _, labels = connected_components(graph, directed=False)
    _, face_labels = np.unique(labels[:f], return_inverse=True)
    face_labels = face_labels.reshape(-1).astype(np.int64)
    return int(face_labels.max()) + 1, face_labels


def remove_small_components(positions, faces, min_fraction: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Remove floaters: keep the connected components that are big relative to the largest.

    A component is kept when its face count is at least ``min_fraction`` times the largest
    component's face count, *or* its surface area is at least ``min_fraction`` times the largest
    component's area (so a coarsely triangulated but large part survives, and so does a finely
    triangulated small detail). Area is in squared position units. Unreferenced vertices are
    dropped; surviving faces and vertices keep their relative order. Returns (positions, faces).
    """
    if not 0.0 <= float(min_fraction) <= 1.0:
        raise ValueError(f"min_fraction must be in [0, 1], got {min_fraction}")
    pos, tri = check_mesh(positions, faces)
    n, labels = face_components(tri, pos.shape[0])
    area = 0.5 * np.linalg.norm(np.cross(pos[tri[:, 1]] - pos[tri[:, 0]], pos[tri[:, 2]] - pos[tri[:, 0]]), axis=1)
    counts = np.bincount(labels, minlength=n)
    areas = np.bincount(labels, weights=area, minlength=n)
    keep = (counts >= min_fraction * counts.max()) | (areas >= min_fraction * areas.max())
    return compact(pos, tri[keep[labels]])


def simplify(positions, faces, target_faces: int, *, aggressiveness: float = 7.0) -> tuple[np.ndarray, np.ndarray]:
    """Reduce a mesh to about ``target_faces`` triangles by quadric edge collapse (fast_simplification).

    Returns the input unchanged (as float64 / int64 copies) when it already has at most
    ``target_faces`` faces. ``aggressiveness`` is fast_simplification's ``agg``: higher is faster
    and coarser; low values may stop short of the target. Unreferenced vertices are dropped.
    Returns (positions (V', 3) float64, faces (F', 3) int64).
    """
    import fast_simplification

    pos, tri = check_mesh(positions, faces)
    target = int(target_faces)
    if target != target_faces or target < 4:
        raise ValueError(f"target_faces must be an integer >= 4, got {target_faces!r}")
    if tri.shape[0] <= target:
        return pos.copy(), tri.copy()
    new_pos, new_tri = fast_simplification.simplify(pos, tri, target_count=target, agg=float(aggressiveness))
    new_pos = np.asarray(new_pos, dtype=np.float64)
    new_tri = np.asarray(new_tri, dtype=np.int64).reshape(-1, 3)
    if new_tri.shape[0] == 0:
        raise ValueError(f"simplification to {target} faces left no triangles")
    return compact(new_pos, new_tri)


def is_manifold(faces) -> bool:
    """True when the triangles form closed, edge-manifold, consistently oriented surfaces.

    Precisely: no triangle repeats a vertex, every undirected edge is shared by exactly two
    triangles, and those two traverse it in opposite directions (each directed edge occurs once).
    That is what a watertight, outward- (or inward-) oriented marching-cubes surface satisfies; a
    hole, a T-junction (3+ faces on an edge) or a flipped face makes it False. Vertex-manifoldness
    (two surfaces touching at a single vertex) is not checked.
    """
    tri = check_faces(faces)
    if np.any((tri[:, 0] == tri[:, 1]) | (tri[:, 1] == tri[:, 2]) | (tri[:, 2] == tri[:, 0])):
        return False
    directed = np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]])
    # Each directed edge at most once (else two faces share an edge with the same orientation).
    if np.unique(directed, axis=0).shape[0] != directed.shape[0]:
        return False
    # ... and each one's reverse present, which makes every undirected edge count exactly two.
    forward = directed[:, 0] * (int(tri.max()) + 1) + directed[:, 1]
    backward = directed[:, 1] * (int(tri.max()) + 1) + directed[:, 0]
    return bool(np.isin(backward, forward).all())
