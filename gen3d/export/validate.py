"""Input checks shared by the export modules.

Every public export function calls these first, so bad input fails early with a ``ValueError``
that names the argument and the problem, instead of a numba/xatlas crash deep inside.
"""

from __future__ import annotations

import numpy as np


def check_positions(positions, *, name: str = "positions") -> np.ndarray:
    """Return ``positions`` as a C-contiguous float64 (V, 3) array; reject empty, wrong shape or non-finite."""
    arr = np.asarray(positions)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"{name} must have shape (V, 3), got {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: the mesh has no vertices")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"{name} must be real numbers, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if not np.isfinite(arr).all():
        bad = int(np.count_nonzero(~np.isfinite(arr).all(axis=1)))
        raise ValueError(f"{name} has {bad} vertices with NaN or infinite coordinates")
    return arr


def check_faces(faces, n_vertices: int | None = None, *, name: str = "faces") -> np.ndarray:
    """Return ``faces`` as a C-contiguous int64 (F, 3) array.

    Rejects empty arrays, non-integer dtypes (floats holding whole numbers are accepted, since
    some loaders return them) and, when ``n_vertices`` is given, indices outside ``[0, n_vertices)``.
    """
    arr = np.asarray(faces)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"{name} must have shape (F, 3), got {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: the mesh has no triangles")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all() or not np.array_equal(arr, np.round(arr)):
            raise ValueError(f"{name} must hold integer vertex indices, got non-integer values")
    elif not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must be integer vertex indices, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.int64)
    if n_vertices is not None:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi >= n_vertices:
            raise ValueError(f"{name} has indices out of range [0, {n_vertices}): min {lo}, max {hi}")
    return arr


def check_mesh(positions, faces) -> tuple[np.ndarray, np.ndarray]:
    """Check a triangle mesh; return (positions float64 (V, 3), faces int64 (F, 3))."""
    pos = check_positions(positions)
    return pos, check_faces(faces, pos.shape[0])


def check_uv_faces(uv_faces, n_faces: int | None = None, *, name: str = "uv_faces") -> np.ndarray:
    """Return per-corner UVs as a float64 (F, 3, 2) array; reject wrong shape, empty or non-finite."""
    arr = np.asarray(uv_faces)
    if arr.ndim != 3 or arr.shape[1:] != (3, 2):
        raise ValueError(f"{name} must have shape (F, 3, 2), got {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: there are no triangles")
    if n_faces is not None and arr.shape[0] != n_faces:
        raise ValueError(f"{name} has {arr.shape[0]} triangles but the mesh has {n_faces} faces")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} has NaN or infinite coordinates")
    return arr


def check_uvs(uvs, n_vertices: int, *, name: str = "uvs") -> np.ndarray:
    """Return per-vertex UVs as a float64 (V, 2) array matching ``n_vertices``."""
    arr = np.asarray(uvs)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{name} must have shape (V, 2), got {arr.shape}")
    if arr.shape[0] != n_vertices:
        raise ValueError(f"{name} has {arr.shape[0]} entries but there are {n_vertices} vertices")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} has NaN or infinite coordinates")
    return arr


def check_size(width, height) -> tuple[int, int]:
    """Return (width, height) as positive ints."""
    w, h = int(width), int(height)
    if w != width or h != height or w <= 0 or h <= 0:
        raise ValueError(f"texture size must be positive integers, got width={width!r}, height={height!r}")
    return w, h
